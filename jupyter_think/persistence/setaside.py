"""What one persistence loop keeps in the spill file: changes the store refuses, and what is left at exit.

:class:`SetAside` is the loop's side of :mod:`.spill`. When the store refuses a change for what it
holds, :meth:`SetAside.isolate` commits every session's changes on its own, and in the refusing
session the longest run the store takes; the refused change and the later changes of its session
go to the spill file, in order, with one warning. From then on that session is *held*: its new
changes are kept behind the refused one (:meth:`SetAside.hold_back`) until ``jupyter-think
recover`` (in any process) has stored them, so the order of a session is never broken.
:meth:`SetAside.flush_error` is what ``flush()`` raises while changes made here are kept.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from jupyter_think.core.models import Change
from jupyter_think.persistence.messages import _cause, _warn
from jupyter_think.persistence.queue import Pending
from jupyter_think.persistence.refusal import (
    as_store_error,
    commit_longest_prefix,
    describe,
    refused_for_content,
)
from jupyter_think.persistence.replay import caught_up_line, recover_command, refused_words, replay
from jupyter_think.persistence.spill import Spill, Spilled, SpillError, ToSpill
from jupyter_think.store import Store

Where = Callable[[str], tuple[int | None, datetime | None]]
"""Session id -> (the row its writer knows, when the session was created): what a kept change needs."""


class SetAside:
    """The spill file of one persistence loop, and the sessions held behind a refused change.

    The loop calls it under its store lock; only what ``flush()`` and ``status()`` read from the
    caller's thread (the changes kept here) has a lock of its own."""

    def __init__(self, spill: Spill) -> None:
        self.spill = spill
        self.held: set[str] = set()
        self.replay_pending = False  # what an earlier process kept at exit goes in first
        self._mine: set[int] = set()  # ids of entries kept by this loop: flush() names them until recovered
        self._mine_lock = threading.Lock()  # (flush() reads it from the caller's thread)
        self._said: set[str] = set()
        if spill.exists():  # (a stat; the file is read only when it exists)
            try:
                entries = spill.entries()
            except OSError:
                self.replay_pending = True  # the first write tries again, and says what is wrong
            else:
                self.replay_pending = any(entry.state == "exit" for entry in entries)
                self.held = {entry.session_id for entry in entries if entry.state != "exit"}

    @property
    def count(self) -> int:
        """How many changes this loop has kept in the spill file (as far as it knows)."""
        return len(self._mine)

    # --- an earlier process's exit ---

    def catch_up(self, store: Store) -> None:
        """Replay what an earlier process kept at exit (once it succeeds); raises the store's error."""
        if not self.replay_pending:
            return
        try:
            result = replay(store, self.spill, everything=False)
        except SpillError as exc:  # (the file itself is damaged: nothing else must wait for it)
            self.replay_pending = False
            _warn(
                f"what an earlier process kept for {self.spill.location} cannot be replayed: {exc.strerror}"
            )
            return
        self.replay_pending = False
        self.held |= self.spill.held()
        if result.caught_up or result.refused:
            _warn(caught_up_line(result, self.spill))

    # --- refusals while running ---

    def hold_back(self, items: list[Pending], where: Where) -> list[Pending]:
        """Keep the items of held sessions behind their refused change; return the items kept.

        A session whose kept changes were recovered meanwhile (another process ran ``recover``) is
        no longer held: its items are left to be written."""
        kept: list[Pending] = []
        for session_id, its in _by_session(item for item in items if item.session_id in self.held).items():
            ids = self.spill.add_behind(
                session_id, _to_spill(its, where), "kept behind a change the store refuses"
            )
            if ids is None:
                self.held.discard(session_id)
                self._said.discard(session_id)
                continue
            with self._mine_lock:
                self._mine.update(ids)
            kept.extend(its)
            if session_id not in self._said:  # held by a refusal an earlier process kept
                self._said.add(session_id)
                refused = [entry for entry in self.spill.entries(session_id) if entry.state == "refused"]
                named = refused_words(refused[:1]) or "see jupyter-think recover"
                _warn(
                    f"session {session_id!r} has a change kept in {self.spill.path} that "
                    f"{self.spill.location} refuses ({named}): the changes made here are kept behind it, "
                    f"in order, until {recover_command(self.spill.location)} stores them"
                )
        return kept

    def isolate(
        self,
        items: list[Pending],
        commit: Callable[[Sequence[Pending]], None],
        position: Callable[[str], int | None],
        where: Where,
        handled: list[Pending],
    ) -> None:
        """``items`` were refused as one transaction for a change's content: commit each session's
        changes on its own; in a session the store refuses, commit the longest run it takes and set
        the rest aside. Appends to ``handled`` what is committed or kept, as it goes; raises what
        the store raises for another reason (the rest is then retried as usual)."""

        def committing(run: Sequence[Pending]) -> None:
            commit(run)
            handled.extend(run)

        for session_id, its in _by_session(items).items():
            try:
                committing(its)
            except Exception as exc:
                if not refused_for_content(exc):
                    raise
                found = commit_longest_prefix(its, committing, as_store_error(exc))
                if found is not None:
                    index, refusal = found
                    self._set_aside(session_id, its[index:], refusal, position(session_id), where)
                    handled.extend(its[index:])

    def _set_aside(
        self, session_id: str, items: list[Pending], refusal: OSError, at: int | None, where: Where
    ) -> None:
        cause = _cause(refusal, self.spill.location)
        ids = self.spill.set_aside(_to_spill(items, where), cause, at)
        with self._mine_lock:
            self._mine.update(ids)
        self.held.add(session_id)
        self._said.add(session_id)
        later = f" with the {len(items) - 1} later change(s) of that session" if len(items) > 1 else ""
        change = f"change {at} ({describe(items[0].change)})" if at is not None else describe(items[0].change)
        _warn(
            f"session {session_id!r}: {change} cannot be saved to {self.spill.location}: {cause}. It is set "
            f"aside{later} in {self.spill.path}; the next changes of {session_id!r} made here are kept "
            f"behind it, in order, until {recover_command(self.spill.location)} stores them. Every other "
            "change is saved, and the session stays as it is here."
        )

    # --- what flush() says ---

    def holds(self, session_id: str) -> bool:
        """True when ``session_id`` still has changes kept behind a refused one (looks at the file)."""
        if session_id not in self.held:
            return False
        if not self.spill.entries(session_id):
            self.held.discard(session_id)
            return False
        return True

    def held_error(self, session_id: str) -> OSError:
        """What a sync write to a held session raises: it would be stored before the changes kept."""
        return OSError(
            errno.EINVAL,
            f"session {session_id!r} has changes kept in {self.spill.path} that {self.spill.location} "
            f"refuses; a change made now would be saved before them: run "
            f"{recover_command(self.spill.location)} first",
        )

    def outstanding(self) -> list[Spilled]:
        """The changes kept by this loop that are still in the spill file (no file read when none)."""
        with self._mine_lock:
            asked = sorted(self._mine)
        if not asked:
            return []
        found = self.spill.entries(ids=asked)
        with self._mine_lock:
            self._mine -= set(asked) - {entry.id for entry in found}  # recovered meanwhile, by any process
        return found

    def flush_error(self) -> OSError | None:
        """An ``OSError`` naming the changes kept here until they are recovered (``None``: none are)."""
        try:
            found = self.outstanding()
        except OSError as exc:
            return OSError(exc.errno or errno.EIO, f"jupyter-think cannot read {self.spill.path}: {exc}")
        if not found:
            return None
        sessions = list(dict.fromkeys(entry.session_id for entry in found))
        refused = [
            next((e for e in self.spill.entries(session_id) if e.state == "refused"), None)
            for session_id in sessions
        ]
        named = (
            refused_words([entry for entry in refused if entry is not None]) or "a change kept before them"
        )
        return OSError(
            errno.EINVAL,
            f"jupyter-think: {len(found)} change(s) of session(s) {', '.join(map(repr, sessions))} made "
            f"here are set aside, not saved to {self.spill.location}, which refuses {named}. They are kept in "
            f"{self.spill.path}; fix the cause, then run {recover_command(self.spill.location)}",
        )

    # --- exit ---

    def keep_at_exit(self, items: list[Pending], where: Where, cause: str, code: int) -> OSError:
        """Keep what the store did not take before the loop stops (``cause``: why); the ``OSError`` (errno
        ``code``) that says where it is kept — or that it is lost, when the spill file refuses too."""
        sessions = ", ".join(map(repr, dict.fromkeys(item.session_id for item in items)))
        spill = self.spill
        try:
            spill.keep_at_exit(_to_spill(items, where), cause)
        except OSError as exc:
            return OSError(
                code,
                f"{len(items)} change(s) of session(s) {sessions} could not be saved to "
                f"{spill.location} ({cause}) nor kept in {spill.path} ({exc.strerror or exc}): "
                "they are lost when this process exits",
            )
        return OSError(
            code,
            f"{len(items)} change(s) of session(s) {sessions} could not be saved to {spill.location} "
            f"({cause}); they are kept in {spill.path}: the next process opening this store saves them first, "
            f"or run {recover_command(spill.location)}",
        )

    def after_fork_in_child(self) -> None:
        self._mine = set()  # the parent's kept changes are the parent's to report
        self._mine_lock = threading.Lock()
        self._said = set()


def _by_session(items: Iterable[Pending]) -> dict[str, list[Pending]]:
    grouped: dict[str, list[Pending]] = {}
    for item in items:
        grouped.setdefault(item.session_id, []).append(item)
    return grouped


def _to_spill(items: Sequence[Pending], where: Where) -> list[ToSpill]:
    kept = []
    for item in items:
        expected, created = where(item.session_id)
        change: Change = item.change
        kept.append(ToSpill(item.session_id, change, expected, created))
    return kept
