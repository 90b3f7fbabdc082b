"""Where a write lands: the plan every engine follows, with the SQL left to each engine.

A :class:`~jupyter_think.store.base.SessionWrite` goes to the live row of its session, unless the
row the writer knows (``expected_key``) was trashed by someone else (then that row is made live
again, or, when a new live row has taken the id, written in the trash); a reset among the changes
archives the live row and starts a fresh one in the same transaction (idempotent: a retried batch
finds the fresh row it made). :class:`RowPlan` holds that logic once; an engine implements its few
primitives (:meth:`RowPlan._live_key` and friends) in its own SQL, inside its write transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jupyter_think.core.models import Change
from jupyter_think.store.base import Segment, SessionWrite, Written, change_time, split_at_resets


class RowPlan(ABC):
    """The engine-independent half of an append (mixed into each engine's store class)."""

    # --- what each engine provides, in its SQL (``conn``: its connection, in a write transaction) ---

    @abstractmethod
    def _live_key(self, conn: Any, session_id: str) -> int | None:
        """The live row of ``session_id`` (locked for this transaction where the engine locks rows)."""

    @abstractmethod
    def _row_state(self, conn: Any, key: int) -> str | None:
        """The state of row ``key``; ``None`` when it was purged."""

    @abstractmethod
    def _set_state(self, conn: Any, key: int, state: str) -> None:
        """Move row ``key`` to ``state`` (its ``state_changed_at`` now)."""

    @abstractmethod
    def _create(self, conn: Any, session_id: str, created_at: datetime) -> int:
        """A new live row for ``session_id`` created at ``created_at`` (or the one a concurrent writer made)."""

    @abstractmethod
    def _created_at_is(self, conn: Any, key: int, at: datetime) -> bool:
        """True when row ``key`` was created at ``at`` exactly (in the engine's own time type)."""

    @abstractmethod
    def _insert(self, conn: Any, key: int, run: Sequence[Change], status: str | None) -> tuple[int, int]:
        """Store ``run`` in row ``key`` with the next seqs (and ``status`` in its list column, when
        given); return (first seq, last seq)."""

    # --- the plan ---

    def _append_one(self, conn: Any, write: SessionWrite) -> Written:
        key, restored, in_trash = self._row_for(conn, write)
        segments = []
        runs = split_at_resets(write.changes)
        for index, (reset, run) in enumerate(runs):
            if reset is not None:
                key = self._reset(conn, write.session_id, reset.at)
            if key is None:
                if not run:
                    continue
                key = self._create(conn, write.session_id, write.created_at or change_time(run[0]))
            first, last = self._insert(conn, key, run, write.status if index == len(runs) - 1 else None)
            segments.append(Segment(key, first, last, after_reset=reset is not None))
        return Written(write.session_id, tuple(segments), restored=restored, in_trash=in_trash)

    def _row_for(self, conn: Any, write: SessionWrite) -> tuple[int | None, bool, bool]:
        """(row to append to, or None to create one; restored from the trash; kept in the trash)."""
        live = self._live_key(conn, write.session_id)
        expected = write.expected_key
        if expected is None or expected == live:
            return live, False, False
        if self._row_state(conn, expected) == "trashed":
            if live is None:
                self._set_state(conn, expected, "live")
                return expected, True, False
            return expected, False, True
        return live, False, False  # archived (started anew elsewhere) or purged: the live row

    def _reset(self, conn: Any, session_id: str, at: datetime) -> int:
        """Archive the live row and start a fresh one created at the reset's time ``at``."""
        live = self._live_key(conn, session_id)
        if live is not None:
            if self._created_at_is(conn, live, at):  # this very reset was stored already (a retried batch)
                return live
            self._set_state(conn, live, "archived")
        return self._create(conn, session_id, at)
