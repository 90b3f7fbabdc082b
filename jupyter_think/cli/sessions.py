"""``jupyter-think list``, ``show``, ``export``, ``diff`` and ``search``: reading what the store holds.

Each reads the sessions this user may read (another user's as ``OWNER/ID``), prints text from the store
with its control characters escaped on a terminal, and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jupyter_think.cli.common import (
    STATES,
    CommandError,
    CommandStore,
    format_table,
    valid_ref,
    write_out,
)
from jupyter_think.core.ids import file_stem

if TYPE_CHECKING:
    from jupyter_think.store.base import State


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
    from jupyter_think.views.tree import render_text

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
    from pathlib import Path  # (imported here: --help needs no pathlib)

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
    from jupyter_think.store.search import check_limit, query_terms
    from jupyter_think.views.listings import search_table

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


COMMANDS = {"list": _list, "show": _show, "export": _export, "diff": _diff, "search": _search}
