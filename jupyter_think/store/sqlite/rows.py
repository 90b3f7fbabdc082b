"""SQLite's SQL for the row plans (:class:`~jupyter_think.store.rows.RowSQL`): find, create, fill, move
and delete a session's rows, inside the store's write transaction (``BEGIN IMMEDIATE``: the whole
database is locked for writing, so no row lock is needed).

Times are stored as UNIX seconds (``REAL``); each change's text is indexed for search in the same
transaction (:data:`~.schema.INDEX_TEXT`).
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jupyter_think.store.base import State, StoredSession
from jupyter_think.store.rows import RowCounts, change_time
from jupyter_think.store.search import searchable
from jupyter_think.store.sqlite.schema import INDEX_TEXT, ROW

if TYPE_CHECKING:
    from jupyter_think.core.models import Change


class SQLiteRows:
    """The primitives of :class:`~jupyter_think.store.rows.RowSQL` in SQLite (a personal store: every
    row is the user's own)."""

    def live_key(self, conn: sqlite3.Connection, session_id: str) -> int | None:
        return one(conn, "SELECT key FROM sessions WHERE id = ? AND state = 'live'", (session_id,))

    def newest_key(
        self, conn: sqlite3.Connection, session_id: str, state: State, key: int | None = None
    ) -> int | None:
        return one(
            conn,
            "SELECT key FROM sessions WHERE id = ? AND state = ? AND (? IS NULL OR key = ?) "
            "ORDER BY state_changed_at DESC, key DESC",
            (session_id, state, key, key),
        )

    def row_state(self, conn: sqlite3.Connection, key: int) -> str | None:
        return one(conn, "SELECT state FROM sessions WHERE key = ?", (key,))

    def set_state(self, conn: sqlite3.Connection, key: int, state: State, *, by: str | None = None) -> None:
        if state == "trashed":
            conn.execute(
                "UPDATE sessions SET state = ?, state_changed_at = ?, trashed_by = ? WHERE key = ?",
                (state, _now(), by or default_owner(), key),
            )
            return
        conn.execute(
            "UPDATE sessions SET state = ?, state_changed_at = ? WHERE key = ?", (state, _now(), key)
        )

    def create(self, conn: sqlite3.Connection, session_id: str, created_at: datetime) -> int:
        at = created_at.timestamp()
        cursor = conn.execute(
            "INSERT INTO sessions (id, owner, state, created_at, last_activity, state_changed_at) "
            "VALUES (?, ?, 'live', ?, ?, ?)",
            (session_id, default_owner(), at, at, _now()),
        )
        return int(cursor.lastrowid)  # type: ignore[arg-type]  # (an INSERT always sets it)

    def created_at_is(self, conn: sqlite3.Connection, key: int, at: datetime) -> bool:
        return bool(one(conn, "SELECT created_at FROM sessions WHERE key = ?", (key,)) == at.timestamp())

    def started_anew(self, conn: sqlite3.Connection, old_key: int, new_key: int) -> None:
        """(A personal store: a fresh row takes nothing from the one it replaces.)"""

    def insert(
        self, conn: sqlite3.Connection, key: int, run: Sequence[Change], status: str | None = None
    ) -> tuple[int, int]:
        from jupyter_think.store.codec import checksum, encode

        last_seq, last_activity = conn.execute(
            "SELECT last_seq, last_activity FROM sessions WHERE key = ?", (key,)
        ).fetchone()
        if not run:
            return last_seq + 1, last_seq
        rows = []
        texts = []
        latest = last_activity
        for offset, change in enumerate(run, start=1):
            at = change_time(change).timestamp()
            latest = max(latest, at)
            payload = encode(change)
            rows.append((key, last_seq + offset, change.kind, payload, at, checksum(payload)))
            found = searchable(change)
            if found is not None:
                texts.append((found[1], key, last_seq + offset, found[0]))
        conn.executemany(
            "INSERT INTO changes (session_key, seq, kind, payload, created_at, checksum) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(INDEX_TEXT, texts)
        counts = RowCounts.of(run)
        new_branches = 0
        for branch_id in counts.branch_ids:
            new_branches += conn.execute(
                "INSERT OR IGNORE INTO branches (session_key, branch_id) VALUES (?, ?)", (key, branch_id)
            ).rowcount
        conn.execute(
            "UPDATE sessions SET last_seq = ?, last_activity = ?, thoughts = thoughts + ?, "
            "branches = branches + ?, status = coalesce(?, status), top_number = max(top_number, ?) "
            "WHERE key = ?",
            (
                last_seq + len(run),
                latest,
                counts.thoughts,
                new_branches,
                status or counts.status,
                counts.top_number,
                key,
            ),
        )
        return last_seq + 1, last_seq + len(run)

    def stored(self, conn: sqlite3.Connection, key: int) -> StoredSession:
        return stored(conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone())

    def own_rows(
        self,
        conn: sqlite3.Connection,
        state: State,
        *,
        changed_before: datetime | None = None,
        active_before: datetime | None = None,
    ) -> list[StoredSession]:
        where, params = ["state = ?"], list[object]([state])
        for column, before in (("state_changed_at", changed_before), ("last_activity", active_before)):
            if before is not None:
                where.append(f"{column} < ?")
                params.append(before.timestamp())
        rows = conn.execute(
            f"SELECT {ROW} FROM sessions WHERE {' AND '.join(where)} ORDER BY id", params
        ).fetchall()
        return [stored(row) for row in rows]

    def delete(self, conn: sqlite3.Connection, key: int) -> None:
        conn.execute(  # (the search index is no foreign key: its rowids are key * 2**32 + seq, see INDEX_TEXT)
            "DELETE FROM thought_text WHERE rowid BETWEEN ?1 * 4294967296 AND ?1 * 4294967296 + 4294967295",
            (key,),
        )
        conn.execute("DELETE FROM sessions WHERE key = ?", (key,))


# --- helpers ---------------------------------------------------------------------------------------------


def one(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Any:
    """The first column of the first row ``sql`` gives (``None``: no row)."""
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def default_owner() -> str:
    """Who owns new sessions: ``$JUPYTERHUB_USER``, else the OS user name (else the uid)."""
    owner = os.environ.get("JUPYTERHUB_USER")
    if owner:
        return owner
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, timezone.utc)


def stored(row: tuple[Any, ...]) -> StoredSession:
    """A ``sessions`` row selected as :data:`~.schema.ROW`."""
    (key, session_id, owner, state, created, activity, changed, thoughts, branches, status, last_seq,
     missing, kept_in, top_number, trashed_by) = row  # fmt: skip
    return StoredSession(
        key,
        session_id,
        owner,
        state,
        _time(created),
        _time(activity),
        _time(changed),
        thoughts,
        branches,
        status,
        last_seq,
        missing,
        tuple(line for line in kept_in.split("\n") if line) if kept_in else (),
        top_number,
        trashed_by,
    )
