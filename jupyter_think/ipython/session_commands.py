"""What ``%session`` and ``%%session`` do, once their line is parsed: switch, list, show the graph,
export, delete, flush, diff, search, share, and run a cell with a session active.

:class:`SessionCommands` is what the ``%session`` magic of :mod:`.magics` hands its parsed options to:
it checks that they go together, then acts on the process-wide manager and displays the result. Every
user mistake is exactly a one-line ``UsageError`` that says what to do, raised before anything changes.
"""

from __future__ import annotations

import ast
import html
import linecache
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from jupyter_think.core.ids import validate_ref
from jupyter_think.core.session.session import Session
from jupyter_think.ipython.errors import one_line as _one_line
from jupyter_think.ipython.errors import user_errors as _user_errors
from jupyter_think.manager import SessionManager, get_manager
from jupyter_think.views.display import Card, search_table, session_table
from jupyter_think.views.export import FORMATS, export

ACTIONS = ("list", "graph", "export", "delete", "flush", "diff", "search")
"""The options of ``%session`` that each do one thing (at most one at a time)."""


def text_card(text: str) -> Card:
    """A one-line (or few-line) confirmation with the same text in both forms."""
    return Card(text, f'<div class="jupyter-think-note">{html.escape(text)}</div>')


def session_named(manager: SessionManager, session_id: str | None) -> Session:
    """The session an option names (``-s/--session ID``, or ``%session ID``), else the active one."""
    with _user_errors():
        return manager.session(session_id) if session_id else manager.active


class SessionCommands:
    """The actions of ``%session`` / ``%%session`` in ``shell`` (see the module docstring)."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell

    @property
    def manager(self) -> SessionManager:
        """The process-wide session manager the magics write to."""
        return get_manager()

    def line(self, args: Any) -> None:
        """``%session [ID] [--ACTION ...]``: the options checked together, then the one action done."""
        __tracebackhide__ = True  # IPython hides this frame in tracebacks
        if args.quiet:
            raise UsageError("--quiet belongs to the cell magic: %%session ID --quiet")
        sharing = args.share is not None or args.unshare is not None or args.whole_class
        actions = [name for name in ACTIONS if getattr(args, name)]
        if sharing:
            actions.append("share")
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
        if action == "share":
            self._share(args)
        elif action == "list":
            self._list()
        elif action == "delete":
            self._delete(args.delete)
        elif action == "flush":
            self._flush()
        elif action == "diff":
            self._diff(*args.diff)
        elif action == "search":
            self._search(args.search, args.limit)
        elif action == "graph":
            display(session_named(self.manager, args.session_id).graph())
        elif action == "export":
            self._export(session_named(self.manager, args.session_id), args.export)
        elif args.session_id is not None:
            with _user_errors():
                validate_ref(args.session_id)
                if args.new:
                    self.manager.new_session(args.session_id)
                self.manager.activate(args.session_id)
            display(self.manager.active.summary())
        else:
            display(self.manager.active.summary())

    def cell(self, args: Any, cell: str) -> Any:
        """``%%session ID [--new] [--quiet]``: run ``cell`` with ID active; its graph, then its value."""
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
        code, last = self._compile(cell, args.session_id)
        with _user_errors():
            if args.new:
                self.manager.new_session(args.session_id)
            activation = self.manager.activate(args.session_id)
        with activation as session:
            namespace = self.shell.user_ns
            exec(code, self.shell.user_global_ns, namespace)  # noqa: S102 (the cell is the user's code, run as IPython runs it)
            value = eval(last, self.shell.user_global_ns, namespace) if last is not None else None
        if not args.quiet:
            display(session.graph())
        return value

    def _compile(self, cell: str, session_id: str) -> tuple[Any, Any]:
        """Compile a cell body like IPython does; split off a last expression to return its value."""
        __tracebackhide__ = True  # IPython hides this frame in tracebacks
        source = self.shell.transform_cell(cell)
        filename = f"<%%session {session_id}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        tree = self.shell.transform_ast(self.shell.compile.ast_parse(source, filename))
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        try:
            code = self.shell.compile(tree, filename, "exec")
            return code, (self.shell.compile(last, filename, "eval") if last is not None else None)
        except SyntaxError as exc:
            if "await" not in str(exc.msg):
                raise
            raise UsageError(
                "%%session cannot run top-level await; in a normal cell write "
                f"`with jupyter_think.get_manager().activate({session_id!r}):` and await inside it"
            ) from None

    def _search(self, words: list[str], limit: int | None) -> None:
        with _user_errors():
            hits = self.manager.search(" ".join(words), limit=50 if limit is None else limit)
        display(search_table(hits, " ".join(words)))

    def _share(self, args: Any) -> None:
        """``%session [ID] --share USER|--class [--write]`` and ``--unshare USER|--class``."""
        if (args.share is None) == (args.unshare is None):
            raise UsageError("give --share or --unshare, with a USER or --class: %session [ID] --share USER")
        user = args.share if args.share is not None else args.unshare
        if bool(user) == bool(args.whole_class):
            raise UsageError("name one user or --class: %session [ID] --share USER, or --share --class")
        if args.unshare is not None and args.write:
            raise UsageError("--write goes with --share; --unshare takes the whole share back")
        manager = self.manager
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

    def _list(self) -> None:
        manager = self.manager
        stored = {row.ref: row.thoughts for row in manager.stored_sessions()}
        rows = []
        for session_id in sorted(set(stored) | set(manager.loaded())):
            loaded = manager.is_loaded(session_id)
            count = len(manager.session(session_id)) if loaded else stored[session_id]
            rows.append((session_id, "memory" if loaded else "store", count, session_id == manager.active_id))
        display(session_table(rows))

    def _delete(self, session_id: str) -> None:
        manager = self.manager
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

    def _diff(self, first: str, second: str) -> None:
        from jupyter_think.experiments.diff import diff

        manager = self.manager
        with _user_errors():
            for session_id in (first, second):
                validate_ref(session_id)
                if not manager.is_loaded(session_id) and session_id not in manager.sessions():
                    raise UsageError(f"no session {session_id!r} to diff; see %session --list")
        display(diff(manager.session(first), manager.session(second)))

    def _flush(self) -> None:
        try:
            self.manager.flush()
        except OSError as exc:
            cause = exc.strerror or str(exc)
            if "jupyter-think" not in cause:  # the persistence loop's messages name the store already
                cause = f"jupyter-think could not save the sessions: {cause}"
            raise UsageError(
                _one_line(f"{cause}; fix the store (space, permissions, server), then %session --flush")
            ) from None
        display(text_card("Flushed: every change is saved in the store."))

    def _export(self, session: Session, export_args: list[str]) -> None:
        if len(export_args) > 2:
            raise UsageError(
                "--export takes FORMAT and an optional PATH: %session --export markdown notes.md"
            )
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
