"""``jupyter-think runs [NAME]``: the stored experiments, or one experiment's runs and its table by variant.

Without NAME, one line per experiment this role can read (its own first; a teacher's: the class's, as
``OWNER/NAME``): name, owner, runs, their statuses, when it was stored. With NAME, the experiment as
``load_experiment`` gives it: its runs (variant, repeat, session, status, score, counts, tokens,
answer) and, when a variant ran more than once or runs were scored, one row per variant (pass@1,
pass@k, pass^k, mean score, tokens, the shape of the reasoning).
"""

from __future__ import annotations

import argparse

from jupyter_think.cli.common import (
    CommandError,
    CommandStore,
    natural_key,
    session_of,
    table,
    when_text,
    write_out,
)


def runs(where: CommandStore, args: argparse.Namespace) -> int:
    """``jupyter-think runs [NAME]`` (see the module docstring)."""
    store = where.store()
    if args.name is None:
        found = store.experiments.list()
        if not found:
            where.say(f"No experiments in {store.location}.")
            return 0
        ordered = sorted(found, key=lambda e: ("/" in e.ref, natural_key(e.ref)))
        cells = [
            [
                e.ref,
                e.owner,
                str(e.runs),
                " · ".join(f"{n} {s}" for s, n in sorted(e.statuses.items())),
                when_text(e.created_at),
            ]
            for e in ordered
        ]
        print(table(["NAME", "OWNER", "RUNS", "STATUSES", "STORED"], cells, right=(2,)))
        return 0
    from jupyter_think.experiments.compare import compare
    from jupyter_think.experiments.stored import rebuilt
    from jupyter_think.store.experiments import ExperimentTable

    try:
        name = ExperimentTable.checked_ref(args.name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    stored = store.experiments.load(name)
    if stored is None:
        raise CommandError(f"no experiment {name!r} in {store.location}; `jupyter-think runs` lists them")

    def session(ref: str) -> object:
        loaded = store.load(ref)
        if loaded is None:  # the session was deleted since: an empty one stands for it
            from jupyter_think.core.session.session import Session

            return Session(ref)
        return session_of(loaded)

    experiment = rebuilt(stored, session)  # type: ignore[arg-type]  # (a Session, imported late: `runs` lists without it)
    text = experiment.as_text()
    results = list(experiment)
    if any(r.repeat > 1 or r.score is not None for r in results):
        text += "\n\n" + compare(experiment, by="variant", dataframe=False).as_text()
    write_out(text, terminal=True)
    return 0
