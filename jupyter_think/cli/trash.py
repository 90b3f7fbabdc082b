"""``jupyter-think rm``, ``trash``, ``archive`` and ``gc``: moving sessions to the trash and back, and retention.

Every one is a change of state in the store (:mod:`jupyter_think.store.lifecycle`): nothing is copied,
and only ``trash empty`` and ``gc`` delete (what was in the trash).
"""

from __future__ import annotations

import argparse
import errno
import sys
from datetime import timedelta

from jupyter_think.cli.common import (
    ARCHIVED,
    TRASHED,
    CommandError,
    CommandStore,
    format_table,
    natural_key,
    session_order,
    trash_table,
    valid_ref,
    when_text,
)
from jupyter_think.views.text import plural


def _rm(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store import SessionNotFound

    ref = valid_ref(args.session_id)
    store = where.writing()
    try:
        row = store.trash(ref)
    except SessionNotFound:
        raise CommandError(where.unknown(ref)) from None
    where.say(f"Moved session {row.ref} ({plural(row.thoughts, 'thought')}) to the trash.")
    where.say(f"To restore it: jupyter-think trash restore {row.ref}")
    return 0


def _trash(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store import SessionNotFound

    action = getattr(args, "trash_action", None)
    if action == "restore":
        ref = valid_ref(args.session_id)
        chosen = getattr(args, "row", None)
        if chosen is not None and not 1 <= chosen < 2**63:
            raise CommandError(f"--row must be a ROW number that `jupyter-think trash` shows, not {chosen}")
        try:
            row = where.writing().restore(ref, "trashed", key=chosen)
        except SessionNotFound:
            which = f"row {chosen} of " if chosen is not None else ""
            raise CommandError(
                f"no {which}session {ref!r} in your trash; `jupyter-think trash` lists it"
            ) from None
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            raise CommandError(exc.strerror or str(exc)) from None
        where.say(f"Restored session {row.ref} ({plural(row.thoughts, 'thought')}).")
        return 0
    if action == "empty":
        days = args.older_than
        if days is not None and not (0 <= days <= 1_000_000):
            raise CommandError(f"--older-than must be a number of days from 0 to 1000000, not {days}")
        purged = where.writing().purge_trash(None if days is None else timedelta(days=days))
        if not purged:
            print("The trash holds nothing to delete.")
        for row in sorted(purged, key=session_order):
            where.say(
                f"Deleted {row.ref} ({plural(row.thoughts, 'thought')}, trashed {when_text(row.state_changed_at)})"
            )
        return 0
    rows = where.store().sessions(TRASHED)
    if not rows:
        print("The trash is empty.")
        return 0
    print(trash_table(rows))
    print("Restore one: jupyter-think trash restore ID --row N", file=sys.stderr)
    return 0


def _archive(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.store import SessionNotFound

    if getattr(args, "archive_action", None) == "restore":
        ref = valid_ref(args.session_id)
        try:
            row = where.writing().restore(ref, "archived")
        except SessionNotFound:
            raise CommandError(
                f"no session {ref!r} in your archive; `jupyter-think archive` lists it"
            ) from None
        where.say(
            f"Restored the archived session {row.ref} ({plural(row.thoughts, 'thought')}); the one it replaced is archived."
        )
        return 0
    rows = where.store().sessions(ARCHIVED)
    if not rows:
        print("The archive is empty.")
        return 0
    print(format_table(rows, when="state_changed_at", when_title="ARCHIVED"))
    return 0


def _gc(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.persistence.retention import clean_up

    days = 30.0 if args.days is None else args.days
    trash_days = 30.0 if args.trash_days is None else args.trash_days
    for option, value in (("--days", days), ("--trash-days", trash_days)):
        if not (0 <= value <= 1_000_000):  # also refuses nan and inf
            raise CommandError(f"{option} must be a number of days from 0 to 1000000, not {value}")
    cleaned = clean_up(where.writing(), days, trash_days, keep=())
    if days == 0:
        print("Retention is 0 days: no session is moved to the trash.")
    elif not cleaned.trashed:
        print(f"No session idle for more than {days:g} days.")
    for session_id in sorted(cleaned.trashed, key=natural_key):
        where.say(f"Moved {session_id} to the trash (idle more than {days:g} days)")
    for session_id in sorted(cleaned.purged, key=natural_key):
        where.say(f"Deleted {session_id} from the trash (trashed more than {trash_days:g} days ago)")
    return 0


COMMANDS = {"rm": _rm, "trash": _trash, "archive": _archive, "gc": _gc}
