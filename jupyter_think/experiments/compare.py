"""Runs and sessions as tables: ``compare`` (one row per run, per variant, or per session) and ``to_records``.

:func:`compare` takes an experiment, its run results, or plain sessions:

- runs, ``by=None``: one row per run (:data:`~.summary.RUN_COLUMNS`: variant, status, score, the
  counts of its thoughts, tokens, cost, seconds, the answer);
- runs, ``by="variant"``: one row per variant with pass@1 / pass@k / pass^k, the mean score and its
  standard error, usage, the shape of the reasoning and, with ``baseline``, each variant's difference
  from the baseline with a 95% interval (:mod:`.summary`, :mod:`.stats`);
- sessions: one row per session (:data:`COLUMNS`: thoughts, branches, revisions, retractions,
  completed, conclusion, duration), as before.

A pandas ``DataFrame`` when pandas is installed, else a :class:`~.tables.Table` (a list of dicts with
a deterministic text and HTML display). Every count is read through :func:`~.counts.session_counts`.

Example:
    >>> from jupyter_think import Session
    >>> a = Session("a"); _ = a.think("Plan", total=2); _ = a.think("Answer: 4", done=True)
    >>> b = Session("b"); _ = b.think("Guess")
    >>> rows = compare([a, b], dataframe=False)
    >>> [(r["session"], r["thoughts"], r["completed"], r["conclusion"]) for r in rows]
    [('a', 2, True, 'Answer: 4'), ('b', 1, False, None)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jupyter_think.core.models import Thought
from jupyter_think.experiments.counts import Counts, session_counts
from jupyter_think.experiments.tables import PANDAS_HINT, Table, pandas_module

if TYPE_CHECKING:
    import pandas

    from jupyter_think.core.session.session import Session

__all__ = ["COLUMNS", "PANDAS_HINT", "Comparison", "Counts", "compare", "session_counts", "to_records"]

COLUMNS = (
    "session",
    "thoughts",
    "branches",
    "revisions",
    "retractions",
    "completed",
    "conclusion",
    "duration",
)
"""The columns of :func:`compare` for sessions, in order."""
Comparison = Table
"""The rows :func:`compare` returns without pandas (kept under its earlier name)."""


def _conclusion(session: Session) -> str | None:
    """The conclusion's text (the last counted thought on the chosen path, when it ends the thinking)."""
    conclusion = session.snapshot().conclusion
    return None if conclusion is None else conclusion.thought


def _duration(session: Session) -> float | None:
    """Seconds from the first thought to the last (``None`` for an empty session)."""
    thoughts = session.thoughts
    if not thoughts:
        return None
    return (thoughts[-1].created_at - thoughts[0].created_at).total_seconds()


def as_session(item: Any) -> Session:
    """A :class:`Session` from a session, or from anything holding one as ``.session`` (a run result).

    Raises ``TypeError`` saying how to get a session from an id.
    """
    from jupyter_think.core.session.session import Session

    if isinstance(item, Session):
        return item
    session = getattr(item, "session", None)
    if isinstance(session, Session):
        return session
    if isinstance(item, str):
        raise TypeError(
            f"expected a Session, got the id {item!r}: pass jupyter_think.get_manager().session({item!r})"
        )
    raise TypeError(f"expected a Session (or a run result), got {type(item).__name__}")


def compare_rows(sessions: Iterable[Any]) -> list[dict[str, Any]]:
    """One dict per session with the :data:`COLUMNS` (what :func:`compare` tabulates for sessions)."""
    rows = []
    for item in sessions:
        session = as_session(item)
        counts = session_counts(session)
        rows.append(
            {
                "session": session.id,
                **counts.as_dict(),
                "completed": session.status == "complete",
                "conclusion": _conclusion(session),
                "duration": _duration(session),
            }
        )
    return rows


def _items(runs: Any) -> tuple[list[Any], int | None]:
    """The items given (an experiment's results, or the list), and the experiment's ``repeat`` if known."""
    if isinstance(runs, str) or not isinstance(runs, Iterable):
        raise TypeError(
            "compare() takes an experiment, its runs or a list of sessions, e.g. compare(runs) or compare([s1, s2])"
        )
    return list(runs), getattr(runs, "repeat", None)


def compare(
    runs: Any,
    by: str | None = None,
    k: int | None = None,
    baseline: str | None = None,
    pass_threshold: float = 1.0,
    *,
    dataframe: bool | None = None,
) -> Any:
    """A table of runs (one row per run, or per variant with ``by="variant"``), or of sessions.

    ``runs`` is an experiment, a list of its :class:`~jupyter_think.experiments.results.RunResult`, or a
    list of sessions (one row per session, as before). ``k`` (default: the experiment's ``repeat``)
    picks pass@k and pass^k; a run passes when it ended ``ok`` with a score ``True`` or
    ``>= pass_threshold``; ``baseline`` names the variant the others are compared with (95%
    intervals: Newcombe for pass@1, a bootstrap with a fixed seed for the mean score). Returns a
    pandas ``DataFrame`` when pandas is installed (``dataframe=None``; ``True`` requires it, ``False``
    never uses it), else a :class:`~.tables.Table`; ``variant`` and ``run`` are columns, sessions
    index their table by id.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("run-1"); _ = s.think("Only step", done=True)
        >>> print(compare([s], dataframe=False).as_text())
        session  thoughts  branches  revisions  retractions  completed  conclusion
        run-1           1         0          0            0  yes        Only step
    """
    from jupyter_think.experiments.results import RunResult
    from jupyter_think.experiments.summary import RUN_COLUMNS, run_rows, variant_columns, variant_rows

    items, repeat = _items(runs)
    results = [item for item in items if isinstance(item, RunResult)]
    if by not in (None, "variant"):
        raise ValueError(f"by must be None (a row per run) or 'variant', got {by!r}")
    if items and len(results) == len(items):
        if by is None:
            table = Table(run_rows(results), RUN_COLUMNS)
        else:
            k = _check_k(k if k is not None else repeat or max(r.repeat for r in results))
            threshold = _check_threshold(pass_threshold)
            table = Table(variant_rows(results, k, baseline, threshold), variant_columns(k, baseline))
    elif by is not None:
        raise ValueError("by='variant' needs the runs of an experiment (compare(runs, by='variant'))")
    else:
        table = Table(compare_rows(items), COLUMNS, index="session", empty="No sessions to compare.")
    if dataframe is False:
        return table
    try:
        import pandas  # noqa: F401 (only to know it is there)
    except ImportError:
        if dataframe:
            raise ImportError(PANDAS_HINT) from None
        return table
    return table.to_dataframe()


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    return k


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ValueError(f"pass_threshold must be a number, got {threshold!r}")
    return float(threshold)


# --- one record per thought ----------------------------------------------------------------------------


def to_records(session: Session) -> list[dict[str, Any]]:
    """One dict per thought in arrival order: ``session_id``, ``position`` (1, 2, …) and its fields.

    The fields are the thought model's (``thought``, ``thought_number``, ``branch_id``, ``id``,
    ``created_at``, …), so fields added to thoughts later appear here by themselves.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("r"); _ = s.think("First", total=2)
        >>> record = to_records(s)[0]
        >>> record["session_id"], record["position"], record["thought"], record["thought_number"]
        ('r', 1, 'First', 1)
    """
    return [
        {"session_id": session.id, "position": position, **thought.model_dump()}
        for position, thought in enumerate(session.thoughts, start=1)
    ]


def to_dataframe(session: Session) -> pandas.DataFrame:
    """The session's :func:`to_records` as a pandas ``DataFrame`` (needs pandas)."""
    pd = pandas_module()
    records = to_records(session)
    if records:
        return pd.DataFrame(records)
    columns = ["session_id", "position", *Thought.model_fields]
    return pd.DataFrame(columns=columns)
