"""``jupyter-think recover``: save the changes kept in this store's spill file (refused by the store, or
left by a process that exited while the store refused), and say which the store still refuses.

``--export FILE`` writes the changes still refused to FILE (one JSON object per line, mode 0600);
``--discard`` then deletes them from the spill file (only exported ones: nothing acknowledged is
deleted without a copy).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jupyter_think.cli.common import CommandError, CommandStore
from jupyter_think.views.text import plural


def recover(where: CommandStore, args: argparse.Namespace) -> int:
    """``jupyter-think recover [--export FILE] [--discard]`` (see the module docstring)."""
    from jupyter_think.persistence.replay import replay
    from jupyter_think.persistence.spill import Spill

    store = where.store()
    spill = Spill.for_store(store)
    if not spill.entries():
        where.say(f"Nothing is kept for {store.location}.")
        return 0
    result = replay(store, spill, everything=True)
    stored: dict[str, int] = {}
    for entry in result.stored:
        stored[entry.session_id] = stored.get(entry.session_id, 0) + 1
    for session_id, count in stored.items():
        note = (
            " (it was in the trash: it is live again)"
            if session_id in result.restored
            else " (in its trashed copy: a new session has taken the id)"
            if session_id in result.in_trash
            else ""
        )
        where.say(f"Stored {plural(count, 'change')} of session {session_id}{note}.")
    if result.already:
        print(f"{plural(len(result.already), 'change')} were in the store already (not written twice).")
    left = spill.entries()
    for entry in (entry for entry in left if entry.state == "refused"):
        behind = sum(1 for other in left if other.session_id == entry.session_id and other.state == "behind")
        waiting = (
            f"; {plural(behind, 'later change')} {'waits' if behind == 1 else 'wait'} behind it"
            if behind
            else ""
        )
        where.say(f"Still refused: session {entry.session_id} {entry.describe()}: {entry.cause}{waiting}")
    if args.export is not None:
        target = Path(args.export).expanduser()
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as file:
                file.writelines(entry.as_json() + "\n" for entry in left)
                file.flush()
                os.fsync(file.fileno())
        except OSError as exc:
            raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
        spill.mark_exported([entry.id for entry in left], str(target))
        where.say(f"Wrote {plural(len(left), 'change')} still kept to {target}.")
        left = spill.entries()
    if args.discard and left:
        unexported = [entry for entry in left if entry.exported_to is None]
        if unexported:
            raise CommandError(
                f"{plural(len(unexported), 'change')} kept for {store.location} were never exported: "
                "add --export FILE (nothing acknowledged is deleted without a copy)"
            )
        spill.discard([entry.id for entry in left])
        exported = ", ".join(sorted({entry.exported_to or "" for entry in left}))
        where.say(f"Discarded {plural(len(left), 'change')} (exported to {exported}).")
        left = []
    if left:
        where.say(
            f"{plural(len(left), 'change')} stay kept in {spill.path}: fix the cause and run recover again, "
            "or --export FILE --discard",
            file=sys.stderr,
        )
        return 1
    return 0
