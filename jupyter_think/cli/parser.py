"""The argument parser of ``jupyter-think``: one sub-command per action, each taking ``--dir`` or
``--store``; the sharing and ``class`` commands are added by :mod:`.classroom`. Importing it is
cheap (``--help`` answers at once), and its usage errors never echo a password.

Example:
    >>> build_parser().parse_args(["show", "ada/homework"]).session_id
    'ada/homework'
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from jupyter_think.cli import classroom as cli_class

REF = "ID"
REF_HELP = "the session: its id (yours), or OWNER/ID (another user's, on a store shared by a class)"


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors never echo a password given on the command line."""

    def error(self, message: str) -> Any:
        from jupyter_think.store.redaction import redact, safe_location

        message = re.sub(r"\S*://\S*", lambda url: safe_location(url[0]), redact(message))
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``jupyter-think`` (one sub-command per action)."""
    parser = _Parser(
        prog="jupyter-think",
        description="Sessions of sequential thinking kept by jupyter-think: list, show, export, remove, "
        "restore, share, set up a class, serve over MCP.",
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

    listing = command(
        "list",
        "list the sessions you can read (yours first; a teacher's: the whole class, as OWNER/ID): "
        "id, owner, thoughts, branches, status, last activity",
    )
    listing.add_argument("--all", action="store_true", help="also the sessions in the trash and the archive")
    show = command("show", "print a session as a text tree (long lanes elided; export shows every thought)")
    show.add_argument("session_id", metavar=REF, help=REF_HELP)
    export = command("export", "write a session as Markdown, JSON, Mermaid, HTML or SVG")
    export.add_argument("session_id", metavar=REF, help=REF_HELP)
    export.add_argument(
        "--format",
        "-f",
        dest="fmt",
        required=True,
        metavar="FORMAT",
        help="md (markdown), json, mermaid (mmd), html or svg",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    diff = command(
        "diff", "align two sessions step by step: where they agree, where they diverge, what each did after"
    )
    diff.add_argument("first", metavar="A", help="a session: ID, or OWNER/ID")
    diff.add_argument("second", metavar="B", help="the other session: ID, or OWNER/ID")
    search = command(
        "search", "the thoughts of every session that hold all WORDS, best first, with a snippet"
    )
    search.add_argument("words", nargs="+", metavar="WORD")
    search.add_argument(
        "--session",
        "-s",
        action="append",
        default=None,
        metavar="ID",
        help="only in session ID or OWNER/ID (repeatable)",
    )
    search.add_argument(
        "--limit", type=int, default=50, metavar="N", help="at most N matches (default 50, at most 1000)"
    )
    runs = command("runs", "list the stored experiments, or print one's runs and its table by variant")
    runs.add_argument(
        "name", nargs="?", metavar="NAME", help="an experiment: its name, or OWNER/NAME (another user's)"
    )
    rm = command("rm", "move a session to the store's trash (restorable with: trash restore ID)")
    rm.add_argument("session_id", metavar=REF, help=REF_HELP)
    trash = command("trash", "list the trash; restore a session from it, or empty it")
    trash_actions = trash.add_subparsers(dest="trash_action", metavar="ACTION")
    restore = command(
        "restore", "make a trashed copy of ID (the newest, or --row N) a live session again", trash_actions
    )
    restore.add_argument("session_id", metavar=REF, help=REF_HELP)
    restore.add_argument(
        "--row",
        type=int,
        default=None,
        metavar="N",
        help="the copy in the ROW column of `jupyter-think trash`",
    )
    empty = command("empty", "delete the sessions in the trash for good", trash_actions)
    empty.add_argument(
        "--older-than", type=float, default=None, metavar="DAYS", help="only those trashed DAYS ago or more"
    )
    archive = command("archive", "list sessions started anew (%%session ID --new); restore one")
    archive_actions = archive.add_subparsers(dest="archive_action", metavar="ACTION")
    unarchive = command(
        "restore",
        "make the newest archived copy of ID live again (the live one is archived)",
        archive_actions,
    )
    unarchive.add_argument("session_id", metavar=REF, help=REF_HELP)
    gc = command("gc", "move sessions idle longer than the retention period to the trash; empty old trash")
    gc.add_argument(
        "--days",
        type=float,
        default=None,
        metavar="N",
        help="retention in days (default: 30; 0 keeps everything)",
    )
    gc.add_argument(
        "--trash-days",
        type=float,
        default=None,
        metavar="N",
        help="empty trash older than N days (default: 30; 0 keeps it)",
    )
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
    cli_class.add_commands(command, commands)
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
