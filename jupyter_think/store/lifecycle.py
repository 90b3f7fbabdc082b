"""Trash, restore, purge and retention: what each does to a session's rows, decided once for every engine.

Every one is a change of row states in one transaction (nothing is copied): ``trash`` moves the live
row to the trash; ``restore`` makes the newest row in the trash (or the archive) live again — from the
trash it refuses while a live session has the id (that one is trashed first, by hand), from the archive
it archives the live one (nothing is ever destroyed); ``purge`` deletes trashed rows, ``trash_idle``
moves idle live rows to the trash except those a process has loaded. A row in the trash says
when and by whom it went there (a user, or ``retention``); ``restore`` can name that row. :class:`Lifecycle` holds these
decisions; the engine runs them in its write transaction through its :class:`~.rows.RowSQL` primitives.

Example:
    >>> import tempfile
    >>> from jupyter_think.core.models import Thought, ThoughtAdded
    >>> from jupyter_think.store import SessionWrite, open_store
    >>> store = open_store(tempfile.mkdtemp())
    >>> thought = Thought(thought="Keep it", thought_number=1, total_thoughts=1, next_thought_needed=False)
    >>> _ = store.append([SessionWrite("demo", [ThoughtAdded(thought=thought)])])
    >>> store.trash("demo").state, store.restore("demo").state
    ('trashed', 'live')
"""

from __future__ import annotations

import errno
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from typing import Generic

from jupyter_think.store.base import SessionNotFound, State, StoredSession, StoreError
from jupyter_think.store.rows import Conn, RowSQL


class Lifecycle(Generic[Conn]):
    """The trash and retention plan of one store, over its engine's :class:`~.rows.RowSQL`; every
    method runs in the caller's write transaction ``conn``."""

    def __init__(self, sql: RowSQL[Conn]) -> None:
        self.sql = sql

    def trash(self, conn: Conn, session_id: str) -> StoredSession:
        """Move the live row of ``session_id`` to the trash (:class:`SessionNotFound` when there is none)."""
        key = self.sql.live_key(conn, session_id)
        if key is None:
            raise SessionNotFound(session_id)
        self.sql.set_state(conn, key, "trashed")
        return self.sql.stored(conn, key)

    def restore(self, conn: Conn, session_id: str, state: State, chosen: int | None = None) -> StoredSession:
        """Make the newest row of ``session_id`` in ``state`` (or row ``chosen`` of them) live again
        (see the module docstring)."""
        key = self.sql.newest_key(conn, session_id, state, chosen)
        if key is None:
            raise SessionNotFound(session_id, state)
        live = self.sql.live_key(conn, session_id)
        if live is not None:
            if state == "trashed":
                raise StoreError(
                    errno.EEXIST,
                    f"a session {session_id!r} exists; move it to the trash first "
                    f"(jupyter-think rm {session_id}), then restore",
                )
            self.sql.set_state(conn, live, "archived")
        self.sql.set_state(conn, key, "live")
        return self.sql.stored(conn, key)

    def purge(self, conn: Conn, older_than: timedelta | None) -> list[StoredSession]:
        """Delete the rows trashed more than ``older_than`` ago (``None``: all of them); return them by id."""
        rows = self.sql.own_rows(conn, "trashed", changed_before=age_cutoff(older_than))
        for row in rows:
            self.sql.delete(conn, row.key)
        return sorted(rows, key=lambda row: row.id)

    def trash_idle(self, conn: Conn, older_than: timedelta, keep: Collection[str]) -> list[StoredSession]:
        """Move live rows idle longer than ``older_than`` to the trash, except ids in ``keep`` (as the
        store names them); return them, trashed, by id."""
        idle = self.sql.own_rows(conn, "live", active_before=age_cutoff(older_than))
        trashed = []
        for row in idle:
            if row.id in keep:
                continue
            self.sql.set_state(conn, row.key, "trashed", by="retention")
            trashed.append(self.sql.stored(conn, row.key))
        return sorted(trashed, key=lambda row: row.id)


def age_cutoff(older_than: timedelta | None) -> datetime | None:
    """The time before which something is older than ``older_than`` (``None``: no limit)."""
    return None if older_than is None else datetime.now(timezone.utc) - older_than
