"""The ``jupyter-think`` command line (also ``jupyter think``): list, show, export, diff, search, rm, trash,
archive, gc, recover, mcp; the sharing and ``class`` commands are in :mod:`.cli_class`.

Every command works on one session store: ``--store URL`` or ``--dir DIR``, else
``$JUPYTER_THINK_STORE``, ``$JUPYTER_THINK_DIR``, else ``<jupyter data dir>/think/sessions``; the
store's connection is closed when the command ends. User errors (an invalid or unknown id, a bad
format, a file that cannot be written) print one line on stderr and exit with status 2; a store that
refuses exits with status 1. No message shows a password (see :mod:`.store.redaction`).

A session is named by its id (your own) or, on a PostgreSQL store shared by a class, by
``OWNER/ID`` (another user's: a teacher reads ``ada/homework``). A session you may not read is
unknown, exactly as one that does not exist. Lists show each session as you name it, your own first,
ids in natural order (``ten-2`` before ``ten-10``).

Thought text and store text (ids, owners, user names) printed to a terminal have their control
characters shown escaped (``\x1b[31m``, ``\u202e``: :func:`~jupyter_think.views.render.escape_controls`),
so a thought or a user name cannot recolour, move or reorder what the terminal shows. ``show``
always escapes; ``export`` escapes only when its output is a terminal (to a file or a pipe it writes
the session exactly).

Examples::

    jupyter-think list
    jupyter-think show Design-Review
    jupyter-think show ada/homework
    jupyter-think export Design-Review --format md -o review.md
    jupyter-think diff run-1 run-2
    jupyter-think search serializer cache
    jupyter-think rm scratch
    jupyter-think trash restore scratch
    jupyter-think gc --days 7
    jupyter-think recover --export refused.jsonl
    jupyter-think --store postgresql://think@db.example/class list
    jupyter-think share homework bob
    jupyter-think mcp --dir /data/think
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_think.cli import classroom as cli_class
from jupyter_think.cli import recover as cli_recover
from jupyter_think.cli.common import (
    ARCHIVED,
    REFUSED,
    STATES,
    TRASHED,
    USAGE_ERROR,
    CommandError,
    CommandStore,
    format_table,
    natural_key,
    plural,
    session_order,
    trash_table,
    valid_ref,
    when_text,
    write_out,
)
from jupyter_think.cli.parser import build_parser
from jupyter_think.core.ids import file_stem

if TYPE_CHECKING:
    from jupyter_think.store.base import State


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jupyter-think`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["--dir", "/nonexistent/think-store", "list"])
        No sessions in /nonexistent/think-store.
        0
        >>> main(["--dir", "/nonexistent/think-store", "show", "../etc"])  # the message goes to stderr
        2
    """
    args = build_parser().parse_args(argv)
    where = CommandStore(_location(args))
    handler = _COMMANDS[args.command]
    name = " ".join(part for part in (args.command, getattr(args, "class_action", None)) if part)
    fail = partial(_fail, where, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = partial(_warn_line, where)
            try:
                return handler(where, args)
            finally:
                where.close()
    except CommandError as exc:
        return fail(str(exc), USAGE_ERROR)
    except (
        ValueError,
        ImportError,
    ) as exc:  # a store URL of an unknown kind, psycopg missing, a bad user name
        return fail(str(exc), USAGE_ERROR)
    except LookupError as exc:  # (a session that is not there: SessionNotFound)
        return fail(getattr(exc, "strerror", None) or str(exc), USAGE_ERROR)
    except OSError as exc:  # the store refused, not the user's input
        return fail(exc.strerror or str(exc), REFUSED)
    except KeyboardInterrupt:
        return 130


def _fail(where: CommandStore, name: str, message: str, status: int) -> int:
    where.say(f"jupyter-think {name}: {message}", file=sys.stderr)
    return status


def _warn_line(where: CommandStore, message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    where.say(f"warning: {message}", file=sys.stderr)


# --- commands ------------------------------------------------------------------------------------------


def _location(args: argparse.Namespace) -> str:
    from jupyter_think.core.config import default_store_location

    if getattr(args, "store", None):
        return args.store
    if getattr(args, "dir", None):
        return str(Path(args.dir).expanduser().absolute())
    return default_store_location()


def _list(where: CommandStore, args: argparse.Namespace) -> int:
    states: tuple[State, ...] = STATES if args.all else ("live",)
    store = where.store()
    rows = store.sessions(states)
    if not rows:
        where.say(f"No sessions in {store.location}.")
        return 0
    from dataclasses import replace

    marked = [replace(row, status=f"{row.status} DAMAGED") if row.damaged else row for row in rows]
    print(format_table(marked, with_state=args.all))
    for row in rows:  # a session that lost changes to a damaged database: how many, and where they are
        if row.damaged:
            said = f"DAMAGED {row.id}: {row.missing} of its {row.last_seq} changes could not be read"
            print(f"{said} (kept in {' and '.join(row.kept_in)})")
    return 0


def _show(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.views.render import render_text

    session, _ = where.load(args.session_id)
    write_out(render_text(session), terminal=True)
    return 0


def _export(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.views.export import FORMATS, SUFFIXES, export

    kind = FORMATS.get(args.fmt.lower())
    if kind is None:
        raise CommandError(f"unknown format {args.fmt!r}: use md, json, mermaid, html or svg")
    session, row = where.load(args.session_id, titled=kind != "json")
    text = export(session, kind)
    if args.output is None:
        write_out(text, terminal=sys.stdout.isatty())
        return 0
    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / f"{file_stem(row.ref)}{SUFFIXES[kind]}"
    try:
        # A lone surrogate (possible in text an agent sent) cannot be UTF-8: written as an escape (\udc80).
        target.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    where.say(f"Wrote {kind} export of {row.ref} to {target}")
    return 0


def _diff(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.experiments.diff import diff

    first, _ = where.load(args.first)
    second, _ = where.load(args.second)
    write_out(diff(first, second).as_text(), terminal=True)
    return 0


def _search(where: CommandStore, args: argparse.Namespace) -> int:
    from jupyter_think.views.display import search_table
    from jupyter_think.store.search import check_limit, query_terms

    sessions = None if args.session is None else [valid_ref(ref) for ref in args.session]
    words = " ".join(args.words)
    try:
        check_limit(args.limit)
        query_terms(words)
    except ValueError as exc:
        raise CommandError(str(exc).replace("the search limit", "--limit")) from None
    hits = where.store().search(words, sessions, args.limit)
    write_out(search_table(hits, words).plain, terminal=True)
    return 0


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


def _mcp(where: CommandStore, args: argparse.Namespace) -> int:
    try:
        from jupyter_think.agent import mcp_server
    except ImportError as exc:  # pragma: no cover - the mcp extra is missing
        raise CommandError(
            f"the MCP server needs the 'mcp' package: pip install 'jupyter-think[mcp]' ({exc})"
        ) from None
    from jupyter_think.core.config import ENV_DIR, ENV_STORE

    if args.session is not None:
        valid_ref(args.session)
    location = where.location
    variable = ENV_STORE if "://" in location else ENV_DIR
    os.environ[variable] = location  # the server's manager: --dir / --store win over the environment
    mcp_server.run(location, session_id=args.session, durability=args.durability)
    return 0


_COMMANDS = {
    "list": _list,
    "show": _show,
    "export": _export,
    "diff": _diff,
    "search": _search,
    "rm": _rm,
    "trash": _trash,
    "archive": _archive,
    "gc": _gc,
    "recover": cli_recover.recover,
    "mcp": _mcp,
    **cli_class.COMMANDS,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
