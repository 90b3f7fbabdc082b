"""The IPython magics: ``%think`` / ``%%think``, ``%branch``, ``%session`` / ``%%session``.

Thin adapters over the session manager: parse the line, call the manager or session, display the
result. Every user mistake becomes exactly :class:`IPython.core.error.UsageError` with one line
that says what to do in magic syntax (the session's typed errors are worded here), raised before
anything changes — a refused magic does not even leave a new session behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from jupyter_think.core.ids import TRUNK, validate_ref
from jupyter_think.core.models import Outcome
from jupyter_think.core.session.session import Session
from jupyter_think.ipython import session_actions
from jupyter_think.ipython.errors import one_line as _one_line
from jupyter_think.ipython.errors import user_errors as _user_errors
from jupyter_think.ipython.parser import parse_think_line, split_note, whole_number
from jupyter_think.manager import SessionManager, get_manager
from jupyter_think.views.display import card_in, thought_card
from jupyter_think.views.listings import branch_table, search_table

T = TypeVar("T")


@magics_class
class ThinkMagics(Magics):
    """Sequential thinking in the notebook: record thoughts, branch, switch and export sessions."""

    @property
    def manager(self) -> SessionManager:
        """The process-wide session manager these magics write to."""
        return get_manager()

    def _target(self, session_id: str | None) -> Session:
        """The session an option ``-s/--session ID`` names, else the active one."""
        with _user_errors():
            return self.manager.session(session_id) if session_id else self.manager.active

    def _on_target(
        self, session_id: str | None, magic: str, action: Callable[[Session], T]
    ) -> tuple[Session, T]:
        """Run ``action`` on the session ``-s ID`` names (else the active one); return it and the result.

        A session that does not exist yet is tried first as a detached, empty copy: when the
        action is refused there, the ``UsageError`` leaves nothing behind (no session loaded,
        listed or stored).
        """
        manager = self.manager
        with _user_errors(magic):
            if session_id is not None and not manager.is_loaded(session_id):
                validate_ref(session_id)
                if session_id not in manager.sessions():
                    settings = manager.settings
                    trial = Session(
                        session_id,
                        max_thought_chars=settings.max_thought_chars,
                        max_thoughts=settings.max_thoughts,
                    )
                    action(trial)
            session = manager.session(session_id) if session_id else manager.active
            return session, action(session)

    # --- %think -----------------------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def think(self, line: str, cell: str | None = None) -> None:
        """Record the next thought in the active session and branch, and show its card.

        Options stand before the text. The first word that is not an option starts the text,
        and the text runs to the end of the line: ``%think Set the timeout with -t 30`` records
        the whole line. ``--`` ends the options explicitly, so what follows it is text even when
        it looks like an option. The text is kept exactly as typed: quotes, apostrophes, ``#``,
        backslashes, ``$x`` and ``{x}`` are not interpreted.

        A magic line cannot carry a ``# comment``: after ``%think`` it becomes part of the
        thought, after ``%branch`` or ``%session`` it is an error. Put comments on their own line.

        ``%%think`` takes options on its first line and the cell body (Markdown) as the text.

        Teaching: ``--amend N TEXT`` corrects thought N of the active lane (a typo, not a change
        of mind: the thought keeps its place, is marked amended, and its earlier text stays in its
        history); ``--retract N`` withdraws thought N (kept, greyed and struck through, no longer
        counted). Only ``-s`` and ``-q`` may join them.

        Options:
          -t, --total N     estimate of the thoughts needed (kept from the last thought if omitted)
          -n, --number N    the thought's number (default: one above the highest in its lane);
                            a number already used in the lane is refused
          -r, --revise N    this thought revises thought N (the latest one, if N was recorded twice)
          -b, --branch ID   record in branch ID; with --from N, create it forking at thought N
          --from N          the thought a new branch forks at
          -s, --session ID  record in session ID without switching to it
          --done            the last thought: no further thought needed
          --more            more thoughts are needed than estimated
          -q, --quiet       record without showing the card
          --amend N         correct thought N: the text is its new text
          --retract N       withdraw thought N (no text)

        Examples:
          %think -t 4 Restate the problem: users lose "quoted" data on save
          %think -r 1 The data is lost on load, not on save
          %think -b cache --from 2 What if we cache the parsed file?
          %think Set the timeout with -t 30
          %think -- -1 is the sentinel, not an error
          %think --done Ship the loader fix
          %think --amend 1 Restate the problem: users lose "quoted" data on load
          %think --retract 3

          %%think -t 5
          ## Plan
          - read the file once
          - keep `$HOME` literal
        """
        with _user_errors():
            args = parse_think_line(line, cell)
        if args.amend is not None or args.retract is not None:
            self._teach(args)
            return
        session, thought = self._on_target(
            args.session,
            "think",
            lambda target: target.think(
                args.text,
                total=args.total,
                done=args.done,
                branch=args.branch,
                branch_from=args.branch_from,
                number=args.number,
                revises=args.revise,
                more=args.more,
            ),
        )
        if not args.quiet:
            shown_id = session.id if args.session else None
            display(thought_card(thought, shown_id))

    def _teach(self, args: Any) -> None:
        """``%think --amend N TEXT`` / ``%think --retract N``: change thought N, show its card."""
        if args.amend is not None:
            session, thought = self._on_target(
                args.session, "think", lambda target: target.amend(args.amend, args.text)
            )
        else:
            session, thought = self._on_target(
                args.session, "think", lambda target: target.retract(args.retract)
            )
        if not args.quiet:
            display(card_in(session, thought, session.id if args.session else None))

    # --- %branch ----------------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "branch_id",
        nargs="?",
        metavar="ID",
        help="branch to create, switch to, decide, or merge into; 'main' is the trunk",
    )
    @argument("--from", dest="from_thought", metavar="N", help="create branch ID forking at thought N")
    @argument("--chosen", action="store_true", help="record that branch ID is the way chosen")
    @argument("--abandoned", action="store_true", help="record that branch ID is abandoned (a dead end)")
    @argument(
        "--merge", metavar="BRANCH", help="merge BRANCH into ID: ID continues from BRANCH's last thought"
    )
    @argument("-s", "--session", metavar="SESSION", help="work on this session without switching to it")
    @no_var_expand
    @line_magic
    def branch(self, line: str) -> None:
        """List, create, switch, decide or merge branches of the active session.

        ``%branch`` alone shows the branches: fork point, size, which one is active, decisions and
        merges. ``%branch ID --from N`` creates branch ID forking at thought N and makes it active,
        ``%branch ID`` switches to it and ``%branch main`` goes back to the trunk. A ``# comment``
        after the magic is an error: put it on a line of its own.

        Teaching: ``%branch ID --chosen`` or ``%branch ID --abandoned`` records how branch ID ended
        (the latest decision wins), with ``--note TEXT`` saying why: ``--note`` comes last, and
        everything after it is the note, as typed. With a branch chosen, the graph draws the trunk and
        the chosen branch bold and the conclusion is the last thought on that path; abandoned
        branches are faded. ``%branch TARGET --merge ID`` merges branch ID back into TARGET (``main``
        for the trunk): TARGET becomes active and its next thought follows ID's last thought.

        Examples:
          %branch
          %branch cache --from 2
          %branch cache
          %branch main
          %branch cache --chosen --note parsing once is enough
          %branch rewrite --abandoned --note too big for this release
          %branch main --merge cache
        """
        head, note = split_note(line)
        args = self._parse(self.branch, head)
        decision: Outcome | None = "chosen" if args.chosen else "abandoned" if args.abandoned else None
        if args.chosen and args.abandoned:
            raise UsageError("give --chosen or --abandoned, not both")
        if note is not None and decision is None:
            raise UsageError("--note goes with --chosen or --abandoned: %branch ID --chosen --note TEXT")
        if note == "":
            raise UsageError("--note needs text after it: %branch ID --chosen --note why")
        given = [
            name
            for name, value in (("--from", args.from_thought), ("--merge", args.merge))
            if value is not None
        ]
        given += [f"--{decision}"] if decision else []
        if len(given) > 1:
            raise UsageError(f"give one of {' / '.join(given)} at a time")
        if decision is not None or args.merge is not None:
            self._branch_teach(args, decision, note)
            return
        if args.branch_id is None:
            if args.from_thought is not None:
                raise UsageError("--from needs a branch id: %branch ID --from N")
            display(branch_table(self._target(args.session)))
            return
        if args.from_thought is not None:
            if args.branch_id == TRUNK:
                raise UsageError("'main' is the trunk; it has no fork point, drop --from")
            with _user_errors("branch"):
                fork = whole_number("--from", args.from_thought)
            session, _ = self._on_target(
                args.session, "branch", lambda target: target.branch(args.branch_id, fork)
            )
        else:
            session, _ = self._on_target(
                args.session, "branch", lambda target: target.switch_branch(args.branch_id)
            )
        display(branch_table(session))

    def _branch_teach(self, args: Any, decision: Outcome | None, note: str | None) -> None:
        """``%branch ID --chosen|--abandoned [--note TEXT]`` and ``%branch TARGET --merge ID``."""
        if decision is not None:
            if args.branch_id is None:
                raise UsageError(f"--{decision} needs a branch id: %branch ID --{decision}")
            session, _ = self._on_target(
                args.session, "branch", lambda target: target.decide(args.branch_id, decision, note=note)
            )
        else:
            if args.branch_id is None:
                raise UsageError(
                    f"--merge needs the target first: %branch main --merge {args.merge} (or %branch TARGET --merge ...)"
                )
            session, _ = self._on_target(
                args.session, "branch", lambda target: target.merge(args.merge, into=args.branch_id)
            )
        display(branch_table(session))

    # --- %session / %%session ---------------------------------------------------------------

    @magic_arguments()
    @argument("session_id", nargs="?", metavar="ID", help="switch to session ID (created or restored)")
    @argument("--list", action="store_true", help="list the sessions in memory and in the store")
    @argument("--graph", action="store_true", help="show the branch graph of the session")
    @argument(
        "--export",
        nargs="+",
        metavar=("FORMAT", "PATH"),
        help="export as markdown, json, mermaid, html or svg; to PATH, or shown here",
    )
    @argument("--delete", metavar="ID", help="delete session ID (moved to the store's trash)")
    @argument("--flush", action="store_true", help="wait until every change is saved in the store")
    @argument("--diff", nargs=2, metavar=("A", "B"), help="align sessions A and B step by step")
    @argument(
        "--search",
        nargs="+",
        metavar="WORD",
        help="the thoughts of every session that hold all WORDs, best first",
    )
    @argument(
        "--limit", type=int, default=None, metavar="N", help="with --search: at most N matches (default 50)"
    )
    @argument(
        "--share",
        nargs="?",
        const="",
        metavar="USER",
        help="let USER (or --class) read the session; --write: and change it",
    )
    @argument(
        "--unshare", nargs="?", const="", metavar="USER", help="take back what --share USER (or --class) gave"
    )
    @argument(
        "--class", dest="whole_class", action="store_true", help="with --share/--unshare: the whole class"
    )
    @argument("--write", action="store_true", help="with --share: may change it too, not only read it")
    @argument("--new", action="store_true", help="start session ID empty (the old content is archived)")
    @argument("-q", "--quiet", action="store_true", help="%%%%session: do not show the graph afterwards")
    @line_cell_magic
    def session(self, line: str, cell: str | None = None) -> Any:
        """Show, switch, list, export, delete or flush sessions; as ``%%session``, scope a cell.

        ``%session`` alone shows a summary of the active session. ``--graph`` and ``--export``
        act on session ID when given, else on the active session (without switching).
        ``%session ID --new`` starts session ID empty (its earlier content is archived, not
        destroyed) and switches to it: a notebook that starts its sessions this way gives the
        same output every time it runs, even though sessions persist on disk.

        ``%%session ID [--new] [--quiet]`` runs the cell as Python with session ID active, so
        every ``%think``, API call and agent tool call in it goes to ID; the previous session is
        active again afterwards, even when the cell raises. Then the session's graph is shown
        (unless ``--quiet``), and the value of a last expression, like any cell.

        ``%session ID`` switches to session ID (created, or restored from disk); ``--list`` shows
        the sessions in memory and on disk; ``--export FORMAT`` alone shows the export here;
        ``--delete ID`` moves a saved session to the store's trash; ``--diff A B`` aligns two
        sessions step by step (where they agree, where they diverge, what each did after);
        ``--search WORDS [--limit N]`` finds the thoughts of every session in the store that hold
        all the words (accents and case ignored, no stemming), best first, with a snippet. On a
        store shared by a class, another user's session is ``OWNER/ID`` (``%session ada/homework``
        opens it to read); ``--share USER [--write]`` / ``--share --class`` shows your session (ID,
        else the active one) to a user or the whole class, ``--unshare`` takes it back. A
        ``# comment`` after the magic is an error: put it on a line of its own.

        Examples:
          %session
          %session design-review
          %session design-review --new
          %session --list
          %session --graph
          %session --export markdown
          %session --export html review.html
          %session --delete scratch
          %session --flush
          %session --diff run-1 run-2
          %session --search serializer cache
          %session --search cache --limit 5
          %session lesson --share --class
          %session homework --share bob --write

          %%session agent-run --new
          tool.call({"thought": "...", "thoughtNumber": 1, "totalThoughts": 3, "nextThoughtNeeded": True})
        """
        __tracebackhide__ = True  # IPython hides this frame in tracebacks
        args = self._parse(self.session, line)
        if cell is not None:
            return session_actions.run_cell(self.shell, self.manager, args, cell)
        action = session_actions.chosen_action(args)
        if action == "share":
            session_actions.share(self.manager, args)
        elif action == "list":
            session_actions.list_sessions(self.manager)
        elif action == "delete":
            session_actions.delete_session(self.manager, args.delete)
        elif action == "flush":
            session_actions.flush(self.manager)
        elif action == "diff":
            session_actions.diff_sessions(self.manager, *args.diff)
        elif action == "search":
            with _user_errors():
                hits = self.manager.search(
                    " ".join(args.search), limit=50 if args.limit is None else args.limit
                )
            display(search_table(hits, " ".join(args.search)))
        elif action == "graph":
            display(self._target(args.session_id).graph())
        elif action == "export":
            session_actions.export_session(self._target(args.session_id), args.export)
        elif args.session_id is not None:
            with _user_errors():
                validate_ref(args.session_id)
                if args.new:
                    self.manager.new_session(args.session_id)
                self.manager.activate(args.session_id)
            display(self.manager.active.summary())
        else:
            display(self.manager.active.summary())
        return None

    @staticmethod
    def _parse(magic: Callable[..., Any], line: str) -> Any:
        """Parse a magic's argument line; an argparse complaint becomes a one-line UsageError."""
        name = magic.__name__
        if re.search(r"(?:^|\s)#", line):
            raise UsageError(f"%{name} cannot carry a # comment; put the comment on a line of its own")
        try:
            return parse_argstring(magic, line)
        except (UsageError, ValueError) as exc:  # argparse's complaint, or unbalanced quotes
            raise UsageError(_one_line(f"%{name}: {exc} (see %{name}?)")) from None
