"""PostgreSQL's SQL for the row plans (:class:`~jupyter_think.store.rows.RowSQL`): find, create, fill, move
and delete a session's rows, inside the store's write transaction.

A writer locks the session's row (``SELECT … FOR UPDATE``) to number its changes, so concurrent writers
on many machines never collide. Rows are named per owner: an id is this role's own session, ``OWNER/ID``
another user's (:func:`named`); row-level security (:mod:`.policies`) decides what this role may read
and change, and a session of another user is never created here.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import psycopg

from jupyter_think.core.ids import split_ref, validate_ref
from jupyter_think.core.models import Change
from jupyter_think.store.base import NotWritable, State, StoredSession
from jupyter_think.store.codec import checksum, encode
from jupyter_think.store.postgres.schema import CHANNEL, INDEX_TEXT, SCHEMA, index_rows
from jupyter_think.store.rows import RowCounts, change_time
from jupyter_think.store.search import searchable

OWNER_NAME = (
    f"coalesce((SELECT m.user_name FROM {SCHEMA}.members m WHERE m.role = sessions.owner), sessions.owner)"
)
"""The owner as the class knows them (the user name given to ``class add``), else the role."""
ROW = (
    "key, id, " + OWNER_NAME + ", state, created_at, last_activity, state_changed_at, thoughts, branches, "
    "status, last_seq, "
    f"CASE WHEN sessions.owner = current_user THEN id ELSE {OWNER_NAME} || '/' || id END, trashed_by"
)
"""A session row as :func:`stored` reads it (also in ``RETURNING``): the owner's name and how this role
names the session (``ID`` when it is its own, else ``OWNER/ID``), and who trashed it."""
MY_NAME = f"coalesce((SELECT m.user_name FROM {SCHEMA}.members m WHERE m.role = current_user), current_user)"
"""The connected role as the class knows it (what ``trashed_by`` records)."""

Conn = psycopg.Connection[Any]


class PostgresRows:
    """The primitives of :class:`~jupyter_think.store.rows.RowSQL` in PostgreSQL; ``canonical`` is the
    store's (how this role names a session)."""

    def __init__(self, canonical: Callable[[str], str]) -> None:
        self._canonical = canonical

    def live_key(self, conn: Conn, session_id: str) -> int | None:
        where, params = named(session_id)
        row = conn.execute(
            f"SELECT key FROM {SCHEMA}.sessions WHERE {where} AND state = 'live' FOR UPDATE", params
        ).fetchone()
        return None if row is None else int(row[0])

    def newest_key(self, conn: Conn, session_id: str, state: State, key: int | None = None) -> int | None:
        where, params = named(session_id)
        row = conn.execute(
            f"SELECT key FROM {SCHEMA}.sessions WHERE {where} AND state = %s "
            "AND (%s::bigint IS NULL OR key = %s) "
            "ORDER BY state_changed_at DESC, key DESC LIMIT 1 FOR UPDATE",
            (*params, state, key, key),
        ).fetchone()
        return None if row is None else int(row[0])

    def row_state(self, conn: Conn, key: int) -> str | None:
        row = conn.execute(
            f"SELECT state FROM {SCHEMA}.sessions WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, conn: Conn, key: int, state: State, *, by: str | None = None) -> None:
        if state == "trashed":
            conn.execute(
                f"UPDATE {SCHEMA}.sessions SET state = %s, state_changed_at = now(), "
                f"trashed_by = coalesce(%s, {MY_NAME}) WHERE key = %s",
                (state, by, key),
            )
            return
        conn.execute(
            f"UPDATE {SCHEMA}.sessions SET state = %s, state_changed_at = now() WHERE key = %s", (state, key)
        )

    def create(self, conn: Conn, session_id: str, created_at: datetime) -> int:
        owner, plain_id = split_ref(self._canonical(session_id))
        if owner is not None:  # another user's session: nobody but its owner makes it (again)
            where, params = named(session_id)
            if conn.execute(
                f"SELECT 1 FROM {SCHEMA}.sessions WHERE {where} AND state = 'live'", params
            ).fetchone():
                # live and readable, not writable (its row is not ours to lock): never shared for
                # writing, or the share was taken back while this writer had it open
                raise NotWritable(
                    errno.EACCES, f"{session_id} belongs to {owner}; you can read it, not change it"
                )
            raise NotWritable(
                errno.EACCES,
                f"{session_id} is not there for you to write to: its owner, {owner}, moved it to the trash, "
                "started it anew or no longer shares it with you; ask them",
            )
        row = conn.execute(  # (the owner is the database's current_user: its default, checked by a policy)
            f"INSERT INTO {SCHEMA}.sessions (id, state, created_at, last_activity, state_changed_at) "
            "VALUES (%s, 'live', %s, %s, now()) ON CONFLICT (owner, id) WHERE state = 'live' DO NOTHING RETURNING key",
            (plain_id, created_at, created_at),
        ).fetchone()
        if row is not None:
            return int(row[0])
        live = self.live_key(conn, session_id)  # created by a concurrent writer: join it
        assert live is not None
        return live

    def created_at_is(self, conn: Conn, key: int, at: datetime) -> bool:
        row = conn.execute(f"SELECT created_at FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return row is not None and row[0] == at

    def started_anew(self, conn: Conn, old_key: int, new_key: int) -> None:
        """The fresh row keeps the shares of the row it replaces (a lesson shared with the class and
        started anew is still the class's to follow)."""
        conn.execute(
            f"INSERT INTO {SCHEMA}.shares (session_key, grantee, grantee_name, can_write) "
            f"SELECT %s, grantee, grantee_name, can_write FROM {SCHEMA}.shares WHERE session_key = %s "
            "ON CONFLICT DO NOTHING",
            (new_key, old_key),
        )

    def insert(
        self, conn: Conn, key: int, run: Sequence[Change], status: str | None = None
    ) -> tuple[int, int]:
        last_seq, last_activity = conn.execute(
            f"SELECT last_seq, last_activity FROM {SCHEMA}.sessions WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()  # type: ignore[misc]  # (the row this transaction locks: it exists)
        if not run:
            return last_seq + 1, last_seq
        rows = []
        texts = []
        latest = last_activity
        for offset, change in enumerate(run, start=1):
            at = change_time(change)
            latest = max(latest, at)
            payload = encode(change)
            rows.append((key, last_seq + offset, change.kind, payload, at, checksum(payload)))
            found = searchable(change)
            if found is not None:
                texts.append((key, last_seq + offset, *found))
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {SCHEMA}.changes (session_key, seq, kind, payload, created_at, checksum) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
            if texts:
                cursor.executemany(INDEX_TEXT, index_rows(texts))
        counts = RowCounts.of(run)
        new_branches = 0
        for branch_id in sorted(counts.branch_ids):
            cursor = conn.execute(
                f"INSERT INTO {SCHEMA}.branches (session_key, branch_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key, branch_id),
            )
            new_branches += max(cursor.rowcount, 0)
        conn.execute(
            f"UPDATE {SCHEMA}.sessions SET last_seq = %s, last_activity = %s, thoughts = thoughts + %s, "
            "branches = branches + %s, status = coalesce(%s, status) WHERE key = %s",
            (last_seq + len(run), latest, counts.thoughts, new_branches, status or counts.status, key),
        )
        return last_seq + 1, last_seq + len(run)

    def stored(self, conn: Conn, key: int) -> StoredSession:
        return stored(conn.execute(f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone())  # type: ignore[arg-type]  # (the key is a live row)

    def own_rows(
        self,
        conn: Conn,
        state: State,
        *,
        changed_before: datetime | None = None,
        active_before: datetime | None = None,
    ) -> list[StoredSession]:
        where, params = ["owner = current_user", "state = %s"], list[object]([state])
        for column, before in (("state_changed_at", changed_before), ("last_activity", active_before)):
            if before is not None:
                where.append(f"{column} < %s")
                params.append(before)
        rows = conn.execute(
            f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE {' AND '.join(where)} ORDER BY id FOR UPDATE OF sessions",
            params,
        ).fetchall()
        return [stored(row) for row in rows]

    def delete(self, conn: Conn, key: int) -> None:
        conn.execute(
            f"DELETE FROM {SCHEMA}.sessions WHERE key = %s", (key,)
        )  # (its rows go with it: ON DELETE CASCADE)


# --- helpers ---------------------------------------------------------------------------------------------


def named(session_id: str) -> tuple[str, tuple[str, ...]]:
    """The condition on ``sessions`` that picks the rows named ``session_id`` by this role, and its
    parameters: an id is the role's own; ``OWNER/ID`` is the owner's (a class user name, or a role)."""
    owner, plain_id = split_ref(validate_ref(session_id))
    if owner is None:
        return "owner = current_user AND id = %s", (plain_id,)
    return f"owner = {SCHEMA}.role_of(%s) AND id = %s", (owner, plain_id)


def notify(conn: Conn) -> None:
    """Tell listeners something changed, and nothing else: anyone may LISTEN, so the notification names
    no session; a listener re-reads what it follows under its own policies."""
    conn.execute(f"NOTIFY {CHANNEL}")


def stored(row: tuple[Any, ...]) -> StoredSession:
    """A ``sessions`` row selected as :data:`ROW`."""
    (key, session_id, owner, state, created, activity, changed, thoughts, branches, status, last_seq, ref,
     trashed_by) = row  # fmt: skip
    return StoredSession(
        int(key),
        session_id,
        owner,
        state,
        utc(created),
        utc(activity),
        utc(changed),
        int(thoughts),
        int(branches),
        status,
        int(last_seq),
        trashed_by=trashed_by,
        ref=ref,
    )


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
