"""The PostgreSQL store (``psycopg`` 3, extra ``jupyter-think[postgres]``): one store for many kernels on many machines.

Chosen by a URL, ``postgresql://user@host/db`` (``$JUPYTER_THINK_STORE`` or
``%config ThinkConfig.store``), the way JupyterHub takes ``db_url``. The tables live in the schema
``jupyter_think`` (created on first use, migrated under an advisory lock). A writer locks the
session's row (``SELECT … FOR UPDATE``) to number its changes, so concurrent writers on many
machines never collide; sessions are written in id order, so two batches cannot deadlock. Each
transaction that changes a session sends ``NOTIFY jupyter_think, '<session id>'``: a kernel
following the session hears it at once through :meth:`PostgresStore.watch`, on psycopg's async
connection.

A server that is down or refuses (read-only standby, full disk, a broken connection) gives a
:class:`~jupyter_think.store.base.StoreError`; the next call reconnects. No call waits on the server
longer than the store's ``timeout`` (``ThinkConfig.store_timeout``): a frozen server is given up
client-side (:mod:`.postgres_link`), and the LISTEN connection of :meth:`PostgresStore.watch` asks
the server for a sign of life whenever it has been quiet that long.
"""

from __future__ import annotations

import errno
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractContextManager
from functools import partial
from datetime import datetime, timedelta, timezone
from typing import Any

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("a postgresql:// store needs psycopg 3: pip install 'jupyter-think[postgres]'") from exc

from jupyter_think.core.ids import split_ref, validate_ref
from jupyter_think.core.models import Change
from jupyter_think.store.base import (
    LOAD_BATCH,
    SCHEMA_VERSION,
    SEARCH_WINDOW,
    Head,
    LoadedChanges,
    NotWritable,
    SearchHit,
    RowCounts,
    SessionNotFound,
    Share,
    SessionWrite,
    State,
    Store,
    StoredSession,
    StoreError,
    Written,
    age_cutoff,
    change_time,
    encode,
    searchable,
    utc,
)
from jupyter_think.store.postgres import roles as klass
from jupyter_think.store.postgres.presenter import presenter_sql
from jupyter_think.store.postgres.link import STORE_TIMEOUT, Link, safe_location
from jupyter_think.store.codec import checksum, decode_batches, decode_rows, searchable_payloads
from jupyter_think.store.rows import RowPlan
from jupyter_think.store.search import check_limit, query_terms, snippet
from jupyter_think.store.search import words as words_of
from jupyter_think.store.postgres.watchdog import WATCHDOG

SCHEMA = "jupyter_think"
CHANNEL = "jupyter_think"
WORDS_INDEXED = 4
"""The schema version whose migration rebuilds the search index from the stored payloads."""
_MIGRATION_LOCK = 0x6A7468696E6B  # pg_advisory_xact_lock key for schema changes ("jthink")

_MIGRATIONS: dict[int, str] = {
    1: f"""
    CREATE TABLE {SCHEMA}.sessions (
        key BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL,
        owner TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('live', 'trashed', 'archived')),
        created_at TIMESTAMPTZ NOT NULL,
        last_activity TIMESTAMPTZ NOT NULL,
        state_changed_at TIMESTAMPTZ NOT NULL,
        last_seq BIGINT NOT NULL DEFAULT 0,
        thoughts BIGINT NOT NULL DEFAULT 0,
        branches BIGINT NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'open'
    );
    CREATE UNIQUE INDEX sessions_live_id ON {SCHEMA}.sessions (id) WHERE state = 'live';
    CREATE INDEX sessions_by_id ON {SCHEMA}.sessions (id, state, state_changed_at);
    CREATE INDEX sessions_by_activity ON {SCHEMA}.sessions (state, last_activity);
    CREATE TABLE {SCHEMA}.changes (
        session_key BIGINT NOT NULL REFERENCES {SCHEMA}.sessions (key) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (session_key, seq)
    );
    CREATE TABLE {SCHEMA}.branches (
        session_key BIGINT NOT NULL REFERENCES {SCHEMA}.sessions (key) ON DELETE CASCADE,
        branch_id TEXT NOT NULL,
        PRIMARY KEY (session_key, branch_id)
    );
    """,
    2: f"""
    CREATE TABLE {SCHEMA}.thought_text (
        session_key BIGINT NOT NULL REFERENCES {SCHEMA}.sessions (key) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        thought_number BIGINT NOT NULL,
        body TEXT NOT NULL,
        tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
        PRIMARY KEY (session_key, seq)
    );
    CREATE INDEX thought_text_tsv ON {SCHEMA}.thought_text USING GIN (tsv);
    """,
    3: f"""
    ALTER TABLE {SCHEMA}.changes ADD COLUMN IF NOT EXISTS checksum BIGINT;
    """,
    4: f"""
    DROP TABLE IF EXISTS {SCHEMA}.thought_text;
    CREATE TABLE {SCHEMA}.thought_text (
        session_key BIGINT NOT NULL REFERENCES {SCHEMA}.sessions (key) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        thought_number BIGINT NOT NULL,
        body TEXT NOT NULL,
        words TEXT[] NOT NULL,
        PRIMARY KEY (session_key, seq)
    );
    CREATE INDEX thought_text_words ON {SCHEMA}.thought_text USING GIN (words);
    """,
    5: klass.security_sql(SCHEMA),
    6: "",  # (experiments: issue 22 fills it)
    7: f"ALTER TABLE {SCHEMA}.sessions ADD COLUMN IF NOT EXISTS trashed_by TEXT NOT NULL DEFAULT '';"
    + presenter_sql(SCHEMA),
}
"""Schema version -> the SQL that brings the previous version to it (kept in ``meta``).

3: ``changes.checksum``, the CRC-32 of the payload (:mod:`.payloads`; ``NULL`` in rows written
before: unverified)."""


class _Bytes(psycopg.adapt.Loader):
    """Text as the server sends it (UTF-8 bytes): a payload's checksum is computed on these."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def _payload_cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor that reads text columns as bytes (for ``seq, payload, checksum`` rows)."""
    cursor = conn.cursor()
    cursor.adapters.register_loader("text", _Bytes)
    return cursor


_INDEX_TEXT = (
    f"INSERT INTO {SCHEMA}.thought_text (session_key, seq, thought_number, body, words) "
    "VALUES (%s, %s, %s, %s, %s)"
)
"""Index one text: (session key, seq, thought number, text, its words as :func:`.search.words` makes them)."""
_OWNER_NAME = (
    f"coalesce((SELECT m.user_name FROM {SCHEMA}.members m WHERE m.role = sessions.owner), sessions.owner)"
)
"""The owner as the class knows them (the user name given to ``class add``), else the role."""
_ROW = (
    "key, id, " + _OWNER_NAME + ", state, created_at, last_activity, state_changed_at, thoughts, branches, "
    "status, last_seq, "
    f"CASE WHEN sessions.owner = current_user THEN id ELSE {_OWNER_NAME} || '/' || id END, trashed_by"
)
_MY_NAME = f"coalesce((SELECT m.user_name FROM {SCHEMA}.members m WHERE m.role = current_user), current_user)"
"""The connected role as the class knows it (what ``trashed_by`` records)."""
"""A session row as :func:`_stored` reads it (also in ``RETURNING``): the owner's name and how this role
names the session (``ID`` when it is its own, else ``OWNER/ID``)."""


class PostgresStore(RowPlan, Store):
    """Sessions in a PostgreSQL database given by ``url`` (see the module docstring)."""

    def __init__(self, url: str, *, timeout: float = STORE_TIMEOUT) -> None:
        self.url = url
        self.location = safe_location(url)
        self.timeout = timeout
        self._link = Link(url, self.location, timeout, self._set_up)
        self._read_only: str | None = None
        self._schema_version = SCHEMA_VERSION  # of the database (older only on a read-only server)
        self._me: klass.Me | None = None  # the role connected, and the name the class knows it by

    # --- connection ------------------------------------------------------------------------------

    @property
    def read_only(self) -> str | None:
        with self._connection():
            return self._read_only

    def after_fork_in_child(self) -> None:
        self._link.after_fork_in_child()

    def close(self) -> None:
        self._link.close()

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """The store's connection for one administrative call (``class init``, ``class add``): migrated,
        bounded by ``timeout`` like every call, errors as :class:`StoreError`."""
        return self._link.connection()

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """The connection for one call, bounded by ``timeout`` (errors as :class:`StoreError`)."""
        return self._link.connection()

    def _set_up(self, conn: psycopg.Connection[Any]) -> None:
        """On a new connection: is the server read-only; the schema migrated (when it is not)."""
        read_only = conn.execute("SHOW transaction_read_only").fetchone()
        self._read_only = (
            "the server only takes reads (a standby, or default_transaction_read_only)"
            if read_only and read_only[0] == "on"
            else None
        )
        if self._read_only is None:
            self._migrate(conn)
            self._schema_version = SCHEMA_VERSION
        else:
            self._schema_version = self._version(conn)
        self._me = klass.who_am_i(conn, SCHEMA) if self._schema_version >= klass.SECURED else None

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        version = self._version(conn)
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                errno.EPROTO,
                f"{self.location} was written by a newer jupyter-think (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade jupyter-think",
            )
        if not klass.may_migrate(conn, SCHEMA):
            raise StoreError(
                errno.EACCES,
                f"the tables of {self.location} are at schema version {version} and this jupyter-think needs "
                f"{SCHEMA_VERSION}; only the database's owner may upgrade them: ask the admin to run "
                "`jupyter-think class init` with the owner's URL",
            )
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            version = self._version(conn)  # another process may have migrated meanwhile
            with klass.unrestricted(conn, SCHEMA):
                self._migrate_from(conn, version)

    def _migrate_from(self, conn: psycopg.Connection[Any], version: int) -> None:
        """Run the migrations after ``version`` (in the caller's transaction, policies lifted for the owner)."""
        for target in range(version + 1, SCHEMA_VERSION + 1):
            if _MIGRATIONS[target].strip():
                conn.execute(_MIGRATIONS[target])
            if target == WORDS_INDEXED and version >= 1:  # index the text of the changes stored before
                self._reindex(conn)
            conn.execute(
                f"INSERT INTO {SCHEMA}.meta (key, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(target),),
            )

    def _reindex(self, conn: psycopg.Connection[Any], batch: int = 2000) -> None:
        """Fill the (empty) search index from the stored thoughts and amendments, ``batch`` rows at a
        time (each batch heard from the server gives the migration another ``timeout``)."""
        names = dict(conn.execute(f"SELECT key, id FROM {SCHEMA}.sessions").fetchall())
        with conn.cursor(name="jupyter_think_reindex") as rows:
            rows.execute(
                f"SELECT session_key, seq, payload, checksum FROM {SCHEMA}.changes "
                "WHERE kind IN ('thought', 'amend') ORDER BY session_key, seq"
            )
            while chunk := rows.fetchmany(batch):
                self._link.still_answering()
                with conn.cursor() as cursor:
                    cursor.executemany(_INDEX_TEXT, _index_rows(searchable_payloads(chunk, names)))

    @staticmethod
    def _version(conn: psycopg.Connection[Any]) -> int:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.meta",)).fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    # --- writing ------------------------------------------------------------------------------------

    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        for write in writes:
            validate_ref(write.session_id)
        order = sorted(range(len(writes)), key=lambda i: writes[i].session_id)  # no deadlock between batches
        results: list[Written | None] = [None] * len(writes)
        with self._connection() as conn:
            self._refuse_if_read_only()
            committing = False
            try:
                with conn.transaction():
                    for index in order:
                        results[index] = self._append_one(conn, writes[index])
                    _notify(conn)
                    committing = True  # what fails from here on may have been committed
            except psycopg.OperationalError as exc:
                exc.commit_unknown = committing  # type: ignore[attr-defined]
                raise
        return [result for result in results if result is not None]

    def _refuse_if_read_only(self) -> None:
        if self._read_only is not None:
            raise StoreError(errno.EROFS, f"the store {self.location} is read-only: {self._read_only}")

    # (the plan of an append is RowPlan's; these are its primitives in PostgreSQL's SQL)

    def _live_key(self, conn: psycopg.Connection[Any], session_id: str) -> int | None:
        where, params = _named(session_id)
        row = conn.execute(
            f"SELECT key FROM {SCHEMA}.sessions WHERE {where} AND state = 'live' FOR UPDATE", params
        ).fetchone()
        return None if row is None else int(row[0])

    def _row_state(self, conn: psycopg.Connection[Any], key: int) -> str | None:
        row = conn.execute(
            f"SELECT state FROM {SCHEMA}.sessions WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _set_state(self, conn: psycopg.Connection[Any], key: int, state: str) -> None:
        conn.execute(
            f"UPDATE {SCHEMA}.sessions SET state = %s, state_changed_at = now() WHERE key = %s", (state, key)
        )

    def _create(self, conn: psycopg.Connection[Any], session_id: str, created_at: datetime) -> int:
        owner, plain_id = split_ref(self.canonical(session_id))
        if owner is not None:  # another user's session: nobody but its owner makes it (again)
            where, params = _named(session_id)
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
        live = self._live_key(conn, session_id)  # created by a concurrent writer: join it
        assert live is not None
        return live

    def _reset(self, conn: psycopg.Connection[Any], session_id: str, at: datetime) -> int:
        """As :meth:`RowPlan._reset`, and the fresh row keeps the shares of the row it replaces (a lesson
        shared with the class and started anew is still the class's to follow)."""
        before = self._live_key(conn, session_id)
        key = super()._reset(conn, session_id, at)
        if before is not None and key != before:
            conn.execute(
                f"INSERT INTO {SCHEMA}.shares (session_key, grantee, grantee_name, can_write) "
                f"SELECT %s, grantee, grantee_name, can_write FROM {SCHEMA}.shares WHERE session_key = %s "
                "ON CONFLICT DO NOTHING",
                (key, before),
            )
        return key

    def _created_at_is(self, conn: psycopg.Connection[Any], key: int, at: datetime) -> bool:
        row = conn.execute(f"SELECT created_at FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return row is not None and row[0] == at

    def _insert(
        self, conn: psycopg.Connection[Any], key: int, run: Sequence[Change], status: str | None = None
    ) -> tuple[int, int]:
        last_seq, last_activity = conn.execute(
            f"SELECT last_seq, last_activity FROM {SCHEMA}.sessions WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()  # type: ignore[misc]
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
                cursor.executemany(_INDEX_TEXT, _index_rows(texts))
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

    # --- reading ------------------------------------------------------------------------------------

    def load(self, session_id: str, *, state: State = "live", key: int | None = None) -> LoadedChanges | None:
        with self._connection() as conn:
            if self._missing_schema(conn):
                return None
            with conn.transaction():
                conn.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                )  # the row and its changes agree
                if key is not None:
                    found = conn.execute(
                        f"SELECT {_ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)
                    ).fetchone()
                else:
                    where, params = _named(session_id)
                    found = conn.execute(
                        f"SELECT {_ROW} FROM {SCHEMA}.sessions WHERE {where} AND state = %s "
                        "ORDER BY state_changed_at DESC, key DESC LIMIT 1",
                        (*params, state),
                    ).fetchone()
                if found is None:
                    return None
                row = _stored(found)
                cursor = _payload_cursor(conn).execute(
                    f"SELECT seq, payload, checksum FROM {SCHEMA}.changes WHERE session_key = %s "
                    "ORDER BY seq",
                    (row.key,),
                )
                entries, skipped = decode_batches(row.ref, iter(partial(cursor.fetchmany, LOAD_BATCH), []))
        return LoadedChanges(row, entries, skipped)

    def _missing_schema(self, conn: psycopg.Connection[Any]) -> bool:
        """True on a read-only server where this package never created its tables (nothing stored)."""
        return self._read_only is not None and self._version(conn) == 0

    def changes_since(self, key: int, seq: int) -> list[tuple[int, Change]]:
        with self._connection() as conn:
            if self._missing_schema(conn):
                return []
            rows = (
                _payload_cursor(conn)
                .execute(
                    f"SELECT seq, payload, checksum FROM {SCHEMA}.changes "
                    "WHERE session_key = %s AND seq > %s ORDER BY seq",
                    (key, seq),
                )
                .fetchall()
            )
            found = conn.execute(f"SELECT {_ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return decode_rows(_stored(found).ref if found else str(key), rows)[0]

    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        if not session_ids:
            return {}
        with self._connection() as conn:
            if self._missing_schema(conn):
                return {}
            heads = {}
            for session_id in session_ids:
                where, params = _named(session_id)
                found = conn.execute(
                    f"SELECT key, last_seq FROM {SCHEMA}.sessions WHERE {where} AND state = 'live'", params
                ).fetchone()
                if found is not None:
                    heads[session_id] = Head(int(found[0]), int(found[1]))
        return heads

    def row(self, key: int) -> StoredSession | None:
        with self._connection() as conn:
            if self._missing_schema(conn):
                return None
            found = conn.execute(f"SELECT {_ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return None if found is None else _stored(found)

    def sessions(self, states: Collection[State] = ("live",)) -> list[StoredSession]:
        with self._connection() as conn:
            if self._missing_schema(conn):
                return []
            rows = conn.execute(
                f"SELECT {_ROW} FROM {SCHEMA}.sessions WHERE state = ANY(%s) "
                "ORDER BY owner <> current_user, owner, id, state_changed_at DESC, key DESC",
                (list(states),),
            ).fetchall()
        return [_stored(row) for row in rows]

    def search(
        self, words: str, session_ids: Collection[str] | None = None, limit: int = 50
    ) -> list[SearchHit]:
        terms = query_terms(words)
        limit = check_limit(limit)
        if not terms or (session_ids is not None and not session_ids):
            return []
        where = "" if session_ids is None else " AND s.key = ANY(%(keys)s)"
        window = "" if session_ids is None else " AND t.session_key = ANY(%(keys)s)"
        # the rank: how often the query's words occur in the thought (one C call per word, no subquery)
        named = {f"term{index}": term for index, term in enumerate(terms)}
        score = " + ".join(f"cardinality(array_positions(r.words, %({name})s::text))" for name in named)
        with self._connection() as conn:
            if self._missing_schema(conn):
                return []
            self._refuse_old_index()
            keys = [head.key for head in self.heads(session_ids).values()] if session_ids is not None else []
            if session_ids is not None and not keys:
                return []
            rows = conn.execute(
                # rank only the newest SEARCH_WINDOW matches, found through the GIN index of the words
                # (the rank is of the thought alone)
                "WITH recent AS (SELECT t.session_key, t.seq, t.thought_number, t.body, t.words "
                f"FROM {SCHEMA}.thought_text t WHERE t.words @> %(terms)s::text[]{window} "
                f"ORDER BY t.session_key DESC, t.seq DESC LIMIT {SEARCH_WINDOW}) "
                f"SELECT CASE WHEN s.owner = current_user THEN s.id ELSE {_OWNER_NAME.replace('sessions.', 's.')} "
                "|| '/' || s.id END, r.thought_number, r.seq, r.body, "
                f"{score} AS score "
                f"FROM recent r JOIN {SCHEMA}.sessions s ON s.key = r.session_key "
                f"WHERE s.state = 'live'{where} "
                'ORDER BY score DESC, s.id COLLATE "C", r.seq LIMIT %(limit)s',
                {"terms": terms, "keys": keys, "limit": limit, **named},
            ).fetchall()
        return [
            SearchHit(session_id, int(number), int(seq), snippet(body, terms), float(score))
            for session_id, number, seq, body, score in rows
        ]

    def _refuse_old_index(self) -> None:
        if self._schema_version < WORDS_INDEXED:
            raise StoreError(
                errno.EROFS,
                f"the store {self.location} is read-only and was written by an older jupyter-think: it has no "
                "search index yet for this version (it is built the first time the server takes writes)",
            )

    # --- who may do what (row-level security decides; these say it in words) ------------------------

    def canonical(self, session_id: str) -> str:
        owner, plain_id = split_ref(validate_ref(session_id))
        if owner is None:
            return plain_id
        if self._me is None:
            with self._connection():
                pass  # (connecting learns who we are)
        return plain_id if self._me is not None and owner in (self._me.user, self._me.role) else session_id

    def writable(self, session_id: str) -> str | None:
        session_id = self.canonical(session_id)
        owner, _ = split_ref(session_id)
        if owner is None:
            return None
        where, params = _named(session_id)
        with self._connection() as conn:
            found = conn.execute(
                f"SELECT {SCHEMA}.may_write(key) FROM {SCHEMA}.sessions WHERE {where} AND state = 'live'",
                params,
            ).fetchone()
        if found is None or found[0]:
            return None
        return f"{session_id} belongs to {owner}; you can read it, not change it"

    def _own(self, session_id: str, doing: str) -> str:
        """``session_id`` when it is this role's own session; else the error to give (never saying that
        a session this role cannot read exists)."""
        session_id = self.canonical(session_id)
        owner, plain_id = split_ref(session_id)
        if owner is None:
            return plain_id
        if self.heads([session_id]):
            raise StoreError(errno.EACCES, f"{session_id} belongs to {owner}; only they can {doing}")
        raise SessionNotFound(session_id)

    def share(self, session_id: str, user: str | None, *, write: bool = False) -> str:
        plain_id = self._own(session_id, "share it")
        with self._connection() as conn:
            self._refuse_if_read_only()
            return klass.share(conn, SCHEMA, plain_id, user, write=write)

    def unshare(self, session_id: str, user: str | None) -> str:
        plain_id = self._own(session_id, "change who it is shared with")
        with self._connection() as conn:
            self._refuse_if_read_only()
            return klass.unshare(conn, SCHEMA, plain_id, user)

    def shares(self) -> list[Share]:
        with self._connection() as conn:
            if self._missing_schema(conn) or self._schema_version < klass.SECURED:
                return []
            return klass.shares(conn, SCHEMA)

    # --- following ---------------------------------------------------------------------------------------

    def changed(self) -> bool:
        """Polling is not how PostgreSQL is followed (see :meth:`watch`): always true, so a poller re-checks."""
        return True

    async def watch(self, interval: float) -> AsyncIterator[None]:
        """Yield as soon as another connection commits a change (``LISTEN jupyter_think``).

        Runs on psycopg's async connection. When no notification came for ``timeout`` seconds it asks
        the server for a sign of life (``SELECT 1``, given up after ``timeout`` like every call), so a
        frozen or vanished server is noticed and the connection made anew. While the server is
        unreachable it retries every ``interval`` and yields after reconnecting (changes may have
        been missed meanwhile).
        """
        import anyio

        while True:
            try:
                aconn = await psycopg.AsyncConnection.connect(self._link.conninfo(), autocommit=True)
            except psycopg.Error:
                await anyio.sleep(interval)
                continue
            try:
                await self._bounded(aconn, f"LISTEN {CHANNEL}")
                yield  # (re)connected: whatever happened while we were away is checked once
                heard_at = time.monotonic()
                while True:
                    heard = False
                    async for _ in aconn.notifies(timeout=interval, stop_after=1):
                        heard = True
                    if heard:
                        heard_at = time.monotonic()
                        yield
                    elif time.monotonic() - heard_at >= self.timeout:
                        await self._bounded(aconn, "SELECT 1")
                        heard_at = time.monotonic()
            except psycopg.Error:
                await anyio.sleep(interval)
            finally:
                with anyio.CancelScope(shield=True):
                    await aconn.close()

    async def _bounded(self, aconn: psycopg.AsyncConnection[Any], statement: str) -> None:
        """Run ``statement``; its socket is shut down when the server has not answered within ``timeout``.

        (Shielded: cancelled mid-statement, psycopg would send a cancel request to the server and log
        a warning when that is cut short too; the watchdog ends the wait anyway.)"""
        import anyio

        ticket = WATCHDOG.arm(aconn.pgconn.socket, time.monotonic() + self.timeout)
        try:
            with anyio.CancelScope(shield=True):
                await aconn.execute(statement)
        finally:
            WATCHDOG.disarm(ticket)

    # --- trash, archive, retention ------------------------------------------------------------------

    def trash(self, session_id: str) -> StoredSession:
        session_id = self._own(session_id, "move it to the trash")
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                key = self._live_key(conn, session_id)
                if key is None:
                    raise SessionNotFound(session_id)
                found = conn.execute(
                    f"UPDATE {SCHEMA}.sessions SET state = 'trashed', state_changed_at = now(), "
                    f"trashed_by = {_MY_NAME} WHERE key = %s RETURNING {_ROW}",
                    (key,),
                ).fetchone()
                _notify(conn)
        return _stored(found)

    def restore(self, session_id: str, state: State = "trashed", *, key: int | None = None) -> StoredSession:
        session_id = self._own(session_id, "restore it")
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                row = conn.execute(
                    f"SELECT key FROM {SCHEMA}.sessions WHERE owner = current_user AND id = %s AND state = %s "
                    "AND (%s::bigint IS NULL OR key = %s) "
                    "ORDER BY state_changed_at DESC, key DESC LIMIT 1 FOR UPDATE",
                    (session_id, state, key, key),
                ).fetchone()
                if row is None:
                    raise SessionNotFound(session_id, state)
                live = self._live_key(conn, session_id)
                if live is not None:
                    if state == "trashed":
                        raise StoreError(
                            errno.EEXIST,
                            f"a session {session_id!r} exists; move it to the trash first "
                            f"(jupyter-think rm {session_id}), then restore",
                        )
                    conn.execute(
                        f"UPDATE {SCHEMA}.sessions SET state = 'archived', state_changed_at = now() WHERE key = %s",
                        (live,),
                    )
                found = conn.execute(
                    f"UPDATE {SCHEMA}.sessions SET state = 'live', state_changed_at = now() WHERE key = %s "
                    f"RETURNING {_ROW}",
                    (row[0],),
                ).fetchone()
                _notify(conn)
        return _stored(found)

    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        cutoff = age_cutoff(older_than) or datetime.max.replace(tzinfo=timezone.utc)
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                rows = conn.execute(
                    f"DELETE FROM {SCHEMA}.sessions WHERE owner = current_user AND state = 'trashed' "
                    f"AND state_changed_at < %s RETURNING {_ROW}",
                    (cutoff,),
                ).fetchall()
        return sorted((_stored(row) for row in rows), key=lambda row: row.id)

    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        cutoff = age_cutoff(older_than)
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                rows = conn.execute(
                    f"UPDATE {SCHEMA}.sessions SET state = 'trashed', state_changed_at = now(), "
                    "trashed_by = 'retention' "
                    f"WHERE owner = current_user AND state = 'live' AND last_activity < %s AND NOT (id = ANY(%s)) "
                    f"RETURNING {_ROW}",
                    (cutoff, [self.canonical(session_id) for session_id in keep]),
                ).fetchall()
        return sorted((_stored(row) for row in rows), key=lambda row: row.id)


# --- helpers ---------------------------------------------------------------------------------------------


def _named(session_id: str) -> tuple[str, tuple[str, ...]]:
    """The condition on ``sessions`` that picks the rows named ``session_id`` by this role, and its
    parameters: an id is the role's own; ``OWNER/ID`` is the owner's (a class user name, or a role)."""
    owner, plain_id = split_ref(validate_ref(session_id))
    if owner is None:
        return "owner = current_user AND id = %s", (plain_id,)
    return f"owner = {SCHEMA}.role_of(%s) AND id = %s", (owner, plain_id)


def _notify(conn: psycopg.Connection[Any]) -> None:
    """Tell listeners something changed, and nothing else: anyone may LISTEN, so the notification names
    no session; a listener re-reads what it follows under its own policies."""
    conn.execute(f"NOTIFY {CHANNEL}")


def _stored(row: tuple[Any, ...]) -> StoredSession:
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


def _index_rows(texts: Sequence[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str, list[str]]]:
    """(key, seq, number, text) rows to index, with the words of each text."""
    return [(key, seq, number, text, words_of(text)) for key, seq, number, text in texts]
