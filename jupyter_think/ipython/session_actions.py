"""What ``%session``'s options do, and ``%%session``'s cell: each a function of the manager.

:class:`~jupyter_think.ipython.magics.ThinkMagics` parses the line and calls one of these; each turns a
user's mistake into exactly one ``UsageError`` line that says what to do, and shows its result.
"""

from __future__ import annotations

import ast
import html
import linecache
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from jupyter_think.core.ids import natural_key, validate_ref
from jupyter_think.core.session.session import Session
from jupyter_think.ipython.errors import one_line as _one_line
from jupyter_think.ipython.errors import user_errors as _user_errors
from jupyter_think.manager import SessionManager
from jupyter_think.views.display import Card
from jupyter_think.views.export import FORMATS, export
from jupyter_think.views.listings import session_table


def text_card(text: str) -> Card:
    """A one-line (or few-line) confirmation with the same text in both forms."""
    return Card(text, f'<div class="jupyter-think-note">{html.escape(text)}</div>')


ACTIONS = ("list", "graph", "export", "delete", "flush", "diff", "search")
"""The options of ``%session`` that each do one thing (``--share``/``--unshare`` are one more: ``share``)."""


def chosen_action(args: Any) -> str | None:
    """The one action a ``%session`` line asks for (``None``: show or switch), else a ``UsageError``."""
    if args.quiet:
        raise UsageError("--quiet belongs to the cell magic: %%session ID --quiet")
    sharing = args.share is not None or args.unshare is not None or args.whole_class
    actions = [name for name in ACTIONS if getattr(args, name)] + (["share"] if sharing else [])
    if args.write and not sharing:
        raise UsageError("--write goes with --share: %session [ID] --share USER --write")
    if args.new and (args.session_id is None or actions):
        raise UsageError("--new starts one session empty and switches to it: %session ID --new")
    if len(actions) > 1:
        raise UsageError(f"give one of --{' / --'.join(actions)} at a time")
    action = actions[0] if actions else None
    if args.limit is not None and action != "search":
        raise UsageError("--limit goes with --search: %session --search WORD... --limit N")
    if action in ("list", "delete", "flush", "diff", "search") and args.session_id is not None:
        raise UsageError(f"--{action} takes no session ID before it: %session --{action}")
    return action


def run_cell(shell: Any, manager: SessionManager, args: Any, cell: str) -> Any:
    """``%%session ID [--new] [--quiet]``: run the cell as Python with session ID active, then show its graph."""
    __tracebackhide__ = True  # IPython hides this frame in tracebacks
    if args.session_id is None:
        raise UsageError("%%session needs a session id: %%session ID [--new] [--quiet]")
    others = [name for name in ACTIONS if getattr(args, name)]
    if args.limit is not None:
        others.append("limit")
    if others:
        raise UsageError(f"%%session takes only ID, --new and --quiet, not --{others[0]}")
    with _user_errors():
        validate_ref(args.session_id)
    code, last = _compile(shell, cell, args.session_id)
    with _user_errors():
        if args.new:
            manager.new_session(args.session_id)
        activation = manager.activate(args.session_id)
    with activation as session:
        namespace = shell.user_ns
        exec(code, shell.user_global_ns, namespace)
        value = eval(last, shell.user_global_ns, namespace) if last is not None else None
    if not args.quiet:
        display(session.graph())
    return value


def _compile(shell: Any, cell: str, session_id: str) -> tuple[Any, Any]:
    """Compile a cell body like IPython does; split off a last expression to return its value."""
    __tracebackhide__ = True  # IPython hides this frame in tracebacks
    source = shell.transform_cell(cell)
    filename = f"<%%session {session_id}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    tree = shell.transform_ast(shell.compile.ast_parse(source, filename))
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    try:
        code = shell.compile(tree, filename, "exec")
        return code, (shell.compile(last, filename, "eval") if last is not None else None)
    except SyntaxError as exc:
        if "await" not in str(exc.msg):
            raise
        raise UsageError(
            "%%session cannot run top-level await; in a normal cell write "
            f"`with jupyter_think.get_manager().activate({session_id!r}):` and await inside it"
        ) from None


def share(manager: SessionManager, args: Any) -> None:
    """``%session [ID] --share USER|--class [--write]`` and ``--unshare USER|--class``."""
    if (args.share is None) == (args.unshare is None):
        raise UsageError("give --share or --unshare, with a USER or --class: %session [ID] --share USER")
    user = args.share if args.share is not None else args.unshare
    if bool(user) == bool(args.whole_class):
        raise UsageError("name one user or --class: %session [ID] --share USER, or --share --class")
    if args.unshare is not None and args.write:
        raise UsageError("--write goes with --share; --unshare takes the whole share back")
    store = manager.store
    if store is None:
        raise UsageError(
            "sharing needs a store shared by a class (%config ThinkConfig.store = 'postgresql://…')"
        )
    session_id = args.session_id or manager.active_id
    with _user_errors():
        validate_ref(session_id)
        manager.flush()  # (a session shared before it is saved would be shared empty)
        if args.share is not None:
            said = store.share(session_id, user or None, write=args.write)
            display(text_card(f"Session {session_id} is shared with {said}."))
        else:
            said = store.unshare(session_id, user or None)
            display(text_card(f"Session {session_id} is no longer shared with {said}."))


def list_sessions(manager: SessionManager) -> None:
    """``%session --list``: the sessions in memory and in the store."""
    stored = {row.ref: row.thoughts for row in manager.stored_sessions()}
    rows = []
    for session_id in sorted(set(stored) | set(manager.loaded()), key=natural_key):
        loaded = manager.is_loaded(session_id)
        count = len(manager.session(session_id)) if loaded else stored[session_id]
        rows.append((session_id, "memory" if loaded else "store", count, session_id == manager.active_id))
    display(session_table(rows))


def delete_session(manager: SessionManager, session_id: str) -> None:
    """``%session --delete ID``: move a session to the store's trash (or forget one never saved)."""
    with _user_errors("session"):
        validate_ref(session_id)
        if session_id not in manager.sessions():
            raise UsageError(f"no session {session_id!r} to delete; see %session --list")
        try:
            stored = manager.delete(session_id)
        except OSError as exc:
            raise UsageError(_one_line(f"could not delete {session_id!r}, it is kept: {exc}")) from None
    if stored:
        display(text_card(f"Deleted session {session_id} (moved to the store's trash)."))
    else:
        display(
            text_card(
                f"Deleted session {session_id} from memory (it was never saved: nothing went to the trash)."
            )
        )


def diff_sessions(manager: SessionManager, first: str, second: str) -> None:
    """``%session --diff A B``: two sessions aligned step by step."""
    from jupyter_think.experiments.diff import diff

    with _user_errors():
        for session_id in (first, second):
            validate_ref(session_id)
            if not manager.is_loaded(session_id) and session_id not in manager.sessions():
                raise UsageError(f"no session {session_id!r} to diff; see %session --list")
    display(diff(manager.session(first), manager.session(second)))


def flush(manager: SessionManager) -> None:
    """``%session --flush``: wait until every change is saved; a refusing store is a one-line UsageError."""
    try:
        manager.flush()
    except OSError as exc:
        cause = exc.strerror or str(exc)
        if "jupyter-think" not in cause:  # the persistence loop's messages name the store already
            cause = f"jupyter-think could not save the sessions: {cause}"
        raise UsageError(
            _one_line(f"{cause}; fix the store (space, permissions, server), then %session --flush")
        ) from None
    display(text_card("Flushed: every change is saved in the store."))


def export_session(session: Session, export_args: list[str]) -> None:
    """``%session --export FORMAT [PATH]``: show the export here, or write it to PATH."""
    if len(export_args) > 2:
        raise UsageError("--export takes FORMAT and an optional PATH: %session --export markdown notes.md")
    fmt = export_args[0]
    if fmt.lower() not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use markdown, json, mermaid, html or svg")
    text = export(session, fmt)
    if len(export_args) == 1:
        print(text)
        return
    path = Path(export_args[1]).expanduser()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            _one_line(f"could not write {str(path)!r}: {exc.strerror or exc}; pick another PATH")
        ) from None
    display(text_card(f"Exported session {session.id} as {FORMATS[fmt.lower()]} to {export_args[1]}."))
