"""The ``jupyter-think`` command line (also ``jupyter think``): list, show, export, diff, search, rm, trash, gc,
recover, mcp.

Every command works on one session store: ``--store URL`` or ``--dir DIR``, else
``$JUPYTER_THINK_STORE``, ``$JUPYTER_THINK_DIR``, else ``<jupyter data dir>/think/sessions``.
User errors (an invalid or unknown id, a bad format, a file that cannot be written) print one
line on stderr and exit with status 2; a store that refuses exits with status 1.

Thought text printed to a terminal has its control characters shown escaped (``\x1b[31m``,
``\u202e``: :func:`~jupyter_think.render.escape_controls`), so a thought cannot recolour, move or
reorder what the terminal shows. ``show`` always escapes; ``export`` escapes only when its output
is a terminal (to a file or a pipe it writes the session exactly).

Examples::

    jupyter-think list
    jupyter-think show Design-Review
    jupyter-think export Design-Review --format md -o review.md
    jupyter-think diff run-1 run-2
    jupyter-think search serializer cache
    jupyter-think rm scratch
    jupyter-think trash restore scratch
    jupyter-think gc --days 7
    jupyter-think recover --export refused.jsonl
    jupyter-think --store postgresql://think@db.example/class list
    jupyter-think mcp --dir /data/think
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .config import ENV_DIR, ENV_STORE, default_store_location
from .export import FORMATS, SUFFIXES
from .ids import validate_id

USAGE_ERROR = 2


class CommandError(Exception):
    """A user mistake: the message is printed as one line and the exit status is 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``jupyter-think`` (one sub-command per action)."""
    parser = argparse.ArgumentParser(
        prog="jupyter-think",
        description="Sessions of sequential thinking kept by jupyter-think: list, show, export, remove, "
        "restore, serve over MCP.",
    )
    where = parser.add_mutually_exclusive_group()
    dir_help = "SQLite store directory (default: $JUPYTER_THINK_DIR, else <jupyter data dir>/think/sessions)"
    store_help = "store URL: postgresql://… or sqlite:///DIR (default: $JUPYTER_THINK_STORE)"
    where.add_argument("--dir", metavar="DIR", help=dir_help)
    where.add_argument("--store", metavar="URL", help=store_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, parent: Any = commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub_where = sub.add_mutually_exclusive_group()
        sub_where.add_argument("--dir", metavar="DIR", default=argparse.SUPPRESS, help=dir_help)
        sub_where.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=store_help)
        return sub

    listing = command("list", "list the sessions: id, owner, thoughts, branches, status, last activity")
    listing.add_argument("--all", action="store_true", help="also the sessions in the trash and the archive")
    show = command("show", "print a session as a text tree (long lanes elided; export shows every thought)")
    show.add_argument("session_id", metavar="ID")
    export = command("export", "write a session as Markdown, JSON, Mermaid, HTML or SVG")
    export.add_argument("session_id", metavar="ID")
    export.add_argument(
        "--format",
        "-f",
        dest="fmt",
        required=True,
        metavar="FORMAT",
        help="md (markdown), json, mermaid (mmd), html or svg",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    diff = command("diff", "align two sessions step by step: where they agree, where they diverge, what each did after")
    diff.add_argument("first", metavar="A")
    diff.add_argument("second", metavar="B")
    search = command("search", "the thoughts of every session that hold all WORDS, best first, with a snippet")
    search.add_argument("words", nargs="+", metavar="WORD")
    search.add_argument("--session", "-s", action="append", default=None, metavar="ID", help="only in session ID (repeatable)")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="at most N matches (default 50, at most 1000)")
    rm = command("rm", "move a session to the store's trash (restorable with: trash restore ID)")
    rm.add_argument("session_id", metavar="ID")
    trash = command("trash", "list the trash; restore a session from it, or empty it")
    trash_actions = trash.add_subparsers(dest="trash_action", metavar="ACTION")
    restore = command("restore", "make the newest trashed copy of ID a live session again", trash_actions)
    restore.add_argument("session_id", metavar="ID")
    empty = command("empty", "delete the sessions in the trash for good", trash_actions)
    empty.add_argument("--older-than", type=float, default=None, metavar="DAYS", help="only those trashed DAYS ago or more")
    archive = command("archive", "list sessions started anew (%%session ID --new); restore one")
    archive_actions = archive.add_subparsers(dest="archive_action", metavar="ACTION")
    unarchive = command(
        "restore", "make the newest archived copy of ID live again (the live one is archived)", archive_actions
    )
    unarchive.add_argument("session_id", metavar="ID")
    gc = command("gc", "move sessions idle longer than the retention period to the trash; empty old trash")
    gc.add_argument(
        "--days",
        type=float,
        default=None,
        metavar="N",
        help="retention in days (default: 30; 0 keeps everything)",
    )
    gc.add_argument("--trash-days", type=float, default=None, metavar="N", help="empty trash older than N days (default: 30; 0 keeps it)")
    recover = command(
        "recover",
        "save the changes kept in this store's spill file (refused by the store, or left by a process that "
        "exited while the store refused); say which the store still refuses",
    )
    recover.add_argument(
        "--export", metavar="FILE", help="write the changes still refused to FILE, one JSON object per line"
    )
    recover.add_argument(
        "--discard",
        action="store_true",
        help="then delete the changes still refused from the spill file (only exported ones: with --export, or after one)",
    )
    mcp = command("mcp", "serve the sequentialthinking tool over MCP on stdin/stdout")
    mcp.add_argument(
        "--session",
        metavar="ID",
        default=None,
        help="write to session ID (default: a new session mcp-<time>-<pid>-1)",
    )
    mcp.add_argument(
        "--durability",
        choices=("async", "sync"),
        default="async",
        help="async (default): group commit, each thought committed within 0.2 s, many per transaction, "
        "all flushed at exit (a kill -9 can lose the last 0.2 s); "
        "sync: each thought committed before its result is sent (one transaction per call, slower)",
    )
    return parser


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
    location = _location(args)
    handler = _COMMANDS[args.command]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _warn_line
            return handler(location, args)
    except CommandError as exc:
        print(f"jupyter-think {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except (ValueError, ImportError) as exc:  # a store URL of an unknown kind, psycopg missing
        print(f"jupyter-think {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:  # the store refused, not the user's input
        print(f"jupyter-think {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _warn_line(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --- commands ------------------------------------------------------------------------------------------


def _location(args: argparse.Namespace) -> str:
    if getattr(args, "store", None):
        return args.store
    if getattr(args, "dir", None):
        return str(Path(args.dir).expanduser().absolute())
    return default_store_location()


def _list(location: str, args: argparse.Namespace) -> int:
    states = ("live", "trashed", "archived") if args.all else ("live",)
    store = _store(location)
    rows = store.sessions(states)
    if not rows:
        print(f"No sessions in {store.location}.")
        return 0
    from dataclasses import replace

    marked = [replace(row, status=f"{row.status} DAMAGED") if row.damaged else row for row in rows]
    print(format_table(marked, with_state=args.all))
    for row in rows:  # a session that lost changes to a damaged database: how many, and where they are
        if row.damaged:
            said = f"DAMAGED {row.id}: {row.missing} of its {row.last_seq} changes could not be read"
            print(f"{said} (kept in {' and '.join(row.kept_in)})")
    return 0


def _show(location: str, args: argparse.Namespace) -> int:
    from .render import render_text

    _write_out(render_text(_load(location, args.session_id)), terminal=True)
    return 0


def _export(location: str, args: argparse.Namespace) -> int:
    from .export import export

    kind = FORMATS.get(args.fmt.lower())
    if kind is None:
        raise CommandError(f"unknown format {args.fmt!r}: use md, json, mermaid, html or svg")
    session = _load(location, args.session_id)
    text = export(session, kind)
    if args.output is None:
        _write_out(text, terminal=sys.stdout.isatty())
        return 0
    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / f"{session.id}{SUFFIXES[kind]}"
    try:
        # A lone surrogate (possible in text an agent sent) cannot be UTF-8: written as an escape (\udc80).
        target.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"Wrote {kind} export of {session.id} to {target}")
    return 0


def _diff(location: str, args: argparse.Namespace) -> int:
    from .sessiondiff import diff

    _write_out(diff(_load(location, args.first), _load(location, args.second)).as_text(), terminal=False)
    return 0


def _search(location: str, args: argparse.Namespace) -> int:
    from .display import search_table

    from .store.search import check_limit, query_terms

    sessions = None if args.session is None else [_valid(session_id) for session_id in args.session]
    words = " ".join(args.words)
    try:
        check_limit(args.limit)
        query_terms(words)
    except ValueError as exc:
        raise CommandError(str(exc).replace("the search limit", "--limit")) from None
    hits = _store(location).search(words, sessions, args.limit)
    _write_out(search_table(hits, words).plain, terminal=True)
    return 0


def _rm(location: str, args: argparse.Namespace) -> int:
    from .store import SessionNotFound

    store = _writing_store(location)
    session_id = _valid(args.session_id)
    try:
        row = store.trash(session_id)
    except SessionNotFound:
        raise CommandError(_unknown(store, session_id)) from None
    print(f"Moved session {row.id} ({_plural(row.thoughts, 'thought')}) to the trash.")
    print(f"To restore it: jupyter-think trash restore {row.id}")
    return 0


def _trash(location: str, args: argparse.Namespace) -> int:
    from .store import SessionNotFound

    action = getattr(args, "trash_action", None)
    store = _writing_store(location) if action else _store(location)
    if action == "restore":
        session_id = _valid(args.session_id)
        try:
            row = store.restore(session_id, "trashed")
        except SessionNotFound:
            raise CommandError(f"no session {session_id!r} in the trash; `jupyter-think trash` lists it") from None
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            raise CommandError(exc.strerror or str(exc)) from None
        print(f"Restored session {row.id} ({_plural(row.thoughts, 'thought')}).")
        return 0
    if action == "empty":
        days = args.older_than
        if days is not None and not (0 <= days <= 1_000_000):
            raise CommandError(f"--older-than must be a number of days from 0 to 1000000, not {days}")
        purged = store.purge_trash(None if days is None else timedelta(days=days))
        if not purged:
            print("The trash holds nothing to delete.")
        for row in purged:
            print(f"Deleted {row.id} ({_plural(row.thoughts, 'thought')}, trashed {_when(row.state_changed_at)})")
        return 0
    rows = store.sessions(("trashed",))
    if not rows:
        print("The trash is empty.")
        return 0
    print(format_table(rows, when="state_changed_at", when_title="TRASHED"))
    return 0


def _archive(location: str, args: argparse.Namespace) -> int:
    from .store import SessionNotFound

    restoring = getattr(args, "archive_action", None) == "restore"
    store = _writing_store(location) if restoring else _store(location)
    if restoring:
        session_id = _valid(args.session_id)
        try:
            row = store.restore(session_id, "archived")
        except SessionNotFound:
            raise CommandError(f"no session {session_id!r} in the archive; `jupyter-think archive` lists it") from None
        print(f"Restored the archived session {row.id} ({_plural(row.thoughts, 'thought')}); the one it replaced is archived.")
        return 0
    rows = store.sessions(("archived",))
    if not rows:
        print("The archive is empty.")
        return 0
    print(format_table(rows, when="state_changed_at", when_title="ARCHIVED"))
    return 0


def _gc(location: str, args: argparse.Namespace) -> int:
    from .persistence.retention import clean_up

    days = 30.0 if args.days is None else args.days
    trash_days = 30.0 if args.trash_days is None else args.trash_days
    for name, value in (("--days", days), ("--trash-days", trash_days)):
        if not (0 <= value <= 1_000_000):  # also refuses nan and inf
            raise CommandError(f"{name} must be a number of days from 0 to 1000000, not {value}")
    cleaned = clean_up(_writing_store(location), days, trash_days, keep=())
    if days == 0:
        print("Retention is 0 days: no session is moved to the trash.")
    elif not cleaned.trashed:
        print(f"No session idle for more than {days:g} days.")
    for session_id in cleaned.trashed:
        print(f"Moved {session_id} to the trash (idle more than {days:g} days)")
    for session_id in cleaned.purged:
        print(f"Deleted {session_id} from the trash (trashed more than {trash_days:g} days ago)")
    return 0


def _recover(location: str, args: argparse.Namespace) -> int:
    from .persistence.replay import replay
    from .persistence.spill import Spill

    store = _store(location)
    spill = Spill.for_store(store)
    if not spill.entries():
        print(f"Nothing is kept for {store.location}.")
        return 0
    result = replay(store, spill, everything=True)
    stored: dict[str, int] = {}
    for entry in result.stored:
        stored[entry.session_id] = stored.get(entry.session_id, 0) + 1
    for session_id, count in stored.items():
        where = (
            " (it was in the trash: it is live again)"
            if session_id in result.restored
            else " (in its trashed copy: a new session has taken the id)"
            if session_id in result.in_trash
            else ""
        )
        print(f"Stored {_plural(count, 'change')} of session {session_id}{where}.")
    if result.already:
        print(f"{_plural(len(result.already), 'change')} were in the store already (not written twice).")
    left = spill.entries()
    for entry in (entry for entry in left if entry.state == "refused"):
        behind = sum(1 for other in left if other.session_id == entry.session_id and other.state == "behind")
        waiting = f"; {_plural(behind, 'later change')} {'waits' if behind == 1 else 'wait'} behind it" if behind else ""
        print(f"Still refused: session {entry.session_id} {entry.describe()}: {entry.cause}{waiting}")
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
        print(f"Wrote {_plural(len(left), 'change')} still kept to {target}.")
        left = spill.entries()
    if args.discard and left:
        unexported = [entry for entry in left if entry.exported_to is None]
        if unexported:
            raise CommandError(
                f"{_plural(len(unexported), 'change')} kept for {store.location} were never exported: "
                "add --export FILE (nothing acknowledged is deleted without a copy)"
            )
        spill.discard([entry.id for entry in left])
        print(f"Discarded {_plural(len(left), 'change')} (exported to {', '.join(sorted({e.exported_to or '' for e in left}))}).")
        left = []
    if left:
        print(f"{_plural(len(left), 'change')} stay kept in {spill.path}: fix the cause and run recover again, "
              "or --export FILE --discard", file=sys.stderr)
        return 1
    return 0


def _mcp(location: str, args: argparse.Namespace) -> int:
    try:
        from . import mcp_server
    except ImportError as exc:  # pragma: no cover - the mcp extra is missing
        raise CommandError(
            f"the MCP server needs the 'mcp' package: pip install 'jupyter-think[mcp]' ({exc})"
        ) from None
    if args.session is not None:
        _valid(args.session)
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
    "recover": _recover,
    "mcp": _mcp,
}


# --- the store -----------------------------------------------------------------------------------------


def _store(location: str) -> Any:
    from .store import open_store

    return open_store(location)


def _writing_store(location: str) -> Any:
    """The store, after saving what an earlier process kept at exit (one line on stderr says so)."""
    from .persistence.replay import caught_up_line, replay
    from .persistence.spill import Spill

    store = _store(location)
    spill = Spill.for_store(store)
    if spill.exists():
        result = replay(store, spill, everything=False)
        if result.caught_up or result.refused:
            print(f"jupyter-think: {caught_up_line(result, spill)}", file=sys.stderr)
    return store


def _valid(session_id: str) -> str:
    try:
        return validate_id(session_id)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _unknown(store: Any, session_id: str) -> str:
    trashed = any(row.id == session_id for row in store.sessions(("trashed",)))
    hint = f"; it is in the trash: jupyter-think trash restore {session_id}" if trashed else (
        "; `jupyter-think list` shows the sessions"
    )
    return f"no session {session_id!r} in {store.location}{hint}"


def _load(location: str, session_id: str) -> Any:
    """The live session ``session_id`` (a store that is read-only is read all the same)."""
    from .session import Session

    store = _store(location)
    _valid(session_id)
    loaded = store.load(session_id)
    if loaded is None:
        raise CommandError(_unknown(store, session_id))
    return Session.from_changes(session_id, loaded.entries, created_at=loaded.row.created_at, max_thoughts=10**9)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


# --- output --------------------------------------------------------------------------------------------


def _write_out(text: str, *, terminal: bool) -> None:
    """Print ``text`` (with a final newline); for a terminal, control characters shown escaped."""
    from .render import escape_controls

    if terminal:
        text = escape_controls(text)
    if not text.endswith("\n"):
        text += "\n"
    encoding = sys.stdout.encoding or "utf-8"  # what it cannot encode (a lone surrogate) is written as an escape
    sys.stdout.write(text.encode(encoding, errors="backslashreplace").decode(encoding))
    sys.stdout.flush()


def format_table(
    rows: Sequence[Any], *, with_state: bool = False, when: str = "last_activity", when_title: str = "LAST ACTIVITY"
) -> str:
    """The table of ``list``, ``trash`` and ``archive``: one stored session per line.

    Example:
        >>> from jupyter_think.store import StoredSession
        >>> at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        >>> print(format_table([StoredSession(1, "a", "ada", "live", at, at, at, 3, 1, "open", 4)]))
        ID  OWNER  THOUGHTS  BRANCHES  STATUS  LAST ACTIVITY
        a   ada           3         1  open    2026-01-02 03:04 UTC
    """
    header = ["ID", "OWNER", "THOUGHTS", "BRANCHES", "STATUS", when_title]
    if with_state:
        header.insert(1, "STATE")
    cells = []
    for row in rows:
        values = [row.id, row.owner, str(row.thoughts), str(row.branches), row.status, _when(getattr(row, when))]
        if with_state:
            values.insert(1, row.state)
        cells.append(values)
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(len(header))]
    right = {header.index("THOUGHTS"), header.index("BRANCHES")}

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(c) for c in cells)])


def _when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
