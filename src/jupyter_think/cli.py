"""The ``jupyter-think`` command line (also ``jupyter think``): list, show, export, diff, rm, gc, mcp.

Every command works on one session store: ``--dir DIR``, else ``$JUPYTER_THINK_DIR``, else
``<jupyter data dir>/think/sessions``. User errors (an invalid or unknown id, a bad format, a
file that cannot be written) print one line on stderr and exit with status 2.

Examples::

    jupyter-think list
    jupyter-think show Design-Review
    jupyter-think export Design-Review --format md -o review.md
    jupyter-think diff run-1 run-2
    jupyter-think rm scratch
    jupyter-think gc --days 7
    jupyter-think mcp --dir /data/think
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .config import ENV_DIR, default_sessions_dir
from .export import FORMATS, SUFFIXES
from .ids import validate_id

USAGE_ERROR = 2


class CommandError(Exception):
    """A user mistake: the message is printed as one line and the exit status is 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``jupyter-think`` (one sub-command per action)."""
    parser = argparse.ArgumentParser(
        prog="jupyter-think",
        description="Sessions of sequential thinking kept by jupyter-think: list, show, export, remove, serve over MCP.",
    )
    dir_help = "session store directory (default: $JUPYTER_THINK_DIR, else <jupyter data dir>/think/sessions)"
    parser.add_argument("--dir", metavar="DIR", help=dir_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--dir", metavar="DIR", default=argparse.SUPPRESS, help=dir_help)
        return sub

    command("list", "list the stored sessions: id, thoughts, branches, status, last activity")
    show = command("show", "print a session as a text tree (long lanes elided; export shows every thought)")
    show.add_argument("session_id", metavar="ID")
    export = command("export", "write a session as Markdown, JSON, Mermaid or HTML")
    export.add_argument("session_id", metavar="ID")
    export.add_argument(
        "--format",
        "-f",
        dest="fmt",
        required=True,
        metavar="FORMAT",
        help="md (markdown), json, mermaid (mmd) or html",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    diff = command("diff", "align two sessions step by step: where they agree, where they diverge, what each did after")
    diff.add_argument("first", metavar="A")
    diff.add_argument("second", metavar="B")
    rm = command("rm", "move a session to the store's trash (restorable)")
    rm.add_argument("session_id", metavar="ID")
    gc = command("gc", "move sessions idle longer than the retention period to the trash")
    gc.add_argument(
        "--days",
        type=float,
        default=None,
        metavar="N",
        help="retention in days (default: 30; 0 keeps everything)",
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
        help="async (default): group commit, each thought fsynced within 0.2 s, many per fsync, "
        "all flushed at exit (a kill -9 or power loss can lose the last 0.2 s); "
        "sync: each thought fsynced before its result is sent (one fsync per call, slower)",
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
    store_dir = Path(args.dir).expanduser().absolute() if args.dir else default_sessions_dir()
    handler = _COMMANDS[args.command]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _warn_line
            return handler(store_dir, args)
    except CommandError as exc:
        print(f"jupyter-think {args.command}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:  # the disk or the store directory, not the user's input
        print(f"jupyter-think {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _warn_line(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    print(f"warning: {message}", file=sys.stderr)


# --- commands ------------------------------------------------------------------------------------------


def _list(store_dir: Path, args: argparse.Namespace) -> int:
    store = _store(store_dir)
    rows = [
        row for row in (_describe(store, session_id) for session_id in store.list_ids()) if row is not None
    ]
    if not rows:
        print(f"No sessions in {store_dir}.")
        return 0
    print(format_table(rows))
    return 0


def _show(store_dir: Path, args: argparse.Namespace) -> int:
    from .render import render_text

    print(render_text(_load(store_dir, args.session_id)))
    return 0


def _export(store_dir: Path, args: argparse.Namespace) -> int:
    from .export import export

    kind = FORMATS.get(args.fmt.lower())
    if kind is None:
        raise CommandError(f"unknown format {args.fmt!r}: use md, json, mermaid or html")
    session = _load(store_dir, args.session_id)
    text = export(session, kind)
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    target = Path(args.output).expanduser()
    if target.is_dir():
        target = target / f"{session.id}{SUFFIXES[kind]}"
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"Wrote {kind} export of {session.id} to {target}")
    return 0


def _diff(store_dir: Path, args: argparse.Namespace) -> int:
    from .sessiondiff import diff

    print(diff(_load(store_dir, args.first), _load(store_dir, args.second)).as_text())
    return 0


def _rm(store_dir: Path, args: argparse.Namespace) -> int:
    store = _store(store_dir)
    session_id = _known_id(store, args.session_id)
    where = store.trash(session_id)
    print(f"Moved session {session_id} to {where}")
    print(f"To restore it: mv {where} {store.root / session_id}")
    return 0


def _gc(store_dir: Path, args: argparse.Namespace) -> int:
    days = 30.0 if args.days is None else args.days
    if not (0 <= days <= 1_000_000):  # also refuses nan and inf
        raise CommandError(f"--days must be a number of days from 0 to 1000000, not {args.days}")
    if days == 0:
        print("Retention is 0 days: nothing is removed.")
        return 0
    removed = _store(store_dir).remove_idle(timedelta(days=days))
    if not removed:
        print(f"No session idle for more than {days:g} days.")
        return 0
    for session_id in removed:
        print(f"Moved {session_id} to the trash (idle more than {days:g} days)")
    return 0


def _mcp(store_dir: Path, args: argparse.Namespace) -> int:
    try:
        from . import mcp_server
    except ImportError as exc:  # pragma: no cover - the mcp extra is missing
        raise CommandError(
            f"the MCP server needs the 'mcp' package: pip install 'jupyter-think[mcp]' ({exc})"
        ) from None
    if args.session is not None:
        _valid(args.session)
    os.environ[ENV_DIR] = str(store_dir)  # the server's manager: --dir wins over the environment
    mcp_server.run(store_dir, session_id=args.session, durability=args.durability)
    return 0


_COMMANDS = {"list": _list, "show": _show, "export": _export, "diff": _diff, "rm": _rm, "gc": _gc, "mcp": _mcp}


# --- the store -----------------------------------------------------------------------------------------


def _store(store_dir: Path) -> Any:
    from .store import SessionStore

    return SessionStore(store_dir)


def _valid(session_id: str) -> str:
    try:
        return validate_id(session_id)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _known_id(store: Any, session_id: str) -> str:
    _valid(session_id)
    if session_id not in store.list_ids():
        raise CommandError(
            f"no session {session_id!r} in {store.root}; `jupyter-think list` shows the sessions"
        )
    return session_id


def _load(store_dir: Path, session_id: str) -> Any:
    store = _store(store_dir)
    _known_id(store, session_id)
    loaded = store.load(session_id)  # a damaged file is moved to .quarantine, with a warning
    if loaded is None:
        raise CommandError(
            f"session {session_id!r} could not be read; its files were moved to {store.root / '.quarantine'}"
        )
    return loaded.session


def _describe(store: Any, session_id: str) -> dict[str, Any] | None:
    """The ``list`` row of a session; a damaged one is repaired or quarantined first (``None``: gone)."""
    info = store.describe(session_id)
    if info["status"] != "damaged":
        return info
    try:
        store.load(session_id)  # cuts a damaged journal tail, or moves a damaged session aside
    except OSError as exc:
        warnings.warn(f"session {session_id!r} could not be read: {exc}")
        return info
    if session_id not in store.list_ids():
        return None
    return store.describe(session_id)


# --- output --------------------------------------------------------------------------------------------


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The ``list`` table: id, thoughts, branches, status and last activity, one session per line.

    Example:
        >>> print(format_table([{"id": "a", "thoughts": 3, "branches": 1, "status": "open",
        ...                      "last_activity": "2026-01-02T03:04:05+00:00"}]))
        ID  THOUGHTS  BRANCHES  STATUS  LAST ACTIVITY
        a          3         1  open    2026-01-02 03:04 UTC
    """
    header = ("ID", "THOUGHTS", "BRANCHES", "STATUS", "LAST ACTIVITY")
    cells = [
        (
            str(row["id"]),
            str(row.get("thoughts", "-")),
            str(_count(row.get("branches", "-"))),
            str(row.get("status", "-")),
            _when(row.get("last_activity")),
        )
        for row in rows
    ]
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(len(header))]
    right = {1, 2}

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), *(line(c) for c in cells)])


def _count(value: Any) -> Any:
    return len(value) if isinstance(value, (list, tuple, dict, set)) else value


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
