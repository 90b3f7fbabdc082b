"""The PostgreSQL store (``psycopg`` 3, extra ``jupyter-think[postgres]``): one store for many kernels on many machines.

Chosen by a URL, ``postgresql://user@host/db`` (``$JUPYTER_THINK_STORE`` or
``%config ThinkConfig.store``), the way JupyterHub takes ``db_url``. The tables live in the schema
``jupyter_think``, created on first use and upgraded under an advisory lock (:mod:`.schema`). A
writer locks the session's row to number its changes (:mod:`.rows`, which follows the plans of
:mod:`~jupyter_think.store.rows` and :mod:`~jupyter_think.store.lifecycle`); sessions are written in
id order, so two batches cannot deadlock. Each transaction that changes a session sends ``NOTIFY
jupyter_think``: a kernel following the session hears it at once (:mod:`.listen`).

A server that is down or refuses (read-only standby, full disk, a broken connection) gives a
:class:`~jupyter_think.store.base.StoreError`; the next call reconnects. No call waits on the server
longer than the store's ``timeout`` (``ThinkConfig.store_timeout``): a frozen server is given up
client-side (:mod:`.link`). Who may see what is the database's to decide (:mod:`.policies`); this
store says it in words.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import partial
from typing import Any

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError("a postgresql:// store needs psycopg 3: pip install 'jupyter-think[postgres]'") from exc

from jupyter_think.core.ids import split_ref, validate_ref
from jupyter_think.core.models import Change
from jupyter_think.store.base import (
    LIVE,
    LOAD_BATCH,
    SCHEMA_VERSION,
    SEARCH_WINDOW,
    Head,
    LoadedChanges,
    SearchHit,
    SessionNotFound,
    SessionWrite,
    Share,
    State,
    Store,
    StoredSession,
    StoreError,
    Written,
)
from jupyter_think.store.codec import decode_batches, decode_rows
from jupyter_think.store.lifecycle import Lifecycle
from jupyter_think.store.migrations import WORDS_INDEXED
from jupyter_think.store.postgres import commit, sharing
from jupyter_think.store.postgres.experiments import PostgresExperiments
from jupyter_think.store.postgres.link import STORE_TIMEOUT, Link
from jupyter_think.store.postgres.listen import notifications
from jupyter_think.store.postgres.policies import SECURED
from jupyter_think.store.postgres.rows import OWNER_NAME, ROW, PostgresRows, named, notify, stored
from jupyter_think.store.postgres.schema import CHANNEL, SCHEMA, commits_at_once, migrate, version
from jupyter_think.store.redaction import safe_location
from jupyter_think.store.rows import RowPlan
from jupyter_think.store.search import check_limit, query_terms, snippet

__all__ = ["CHANNEL", "SCHEMA", "PostgresStore"]


class _Bytes(psycopg.adapt.Loader):
    """Text as the server sends it (UTF-8 bytes): a payload's checksum is computed on these."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def _payload_cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor that reads text columns as bytes (for ``seq, payload, checksum`` rows)."""
    cursor = conn.cursor()
    cursor.adapters.register_loader("text", _Bytes)
    return cursor


class PostgresStore(Store):
    """Sessions in a PostgreSQL database given by ``url`` (see the module docstring)."""

    def __init__(self, url: str, *, timeout: float = STORE_TIMEOUT) -> None:
        self.url = url
        self.location = safe_location(url)
        self.timeout = timeout
        self._link = Link(url, self.location, timeout, self._set_up)
        self._read_only: str | None = None
        self._schema_version = SCHEMA_VERSION  # of the database (older only on a read-only server)
        self._me: sharing.Me | None = None  # the role connected, and the name the class knows it by
        self._at_once = False  # the role may store a batch in one round trip (:mod:`.commit`)
        sql = PostgresRows(self.canonical)
        self._rows = RowPlan(sql)
        self._lifecycle = Lifecycle(sql)
        self.experiments = PostgresExperiments(self, SCHEMA)

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
            migrate(conn, self.location, self._link.still_answering)
            self._schema_version = SCHEMA_VERSION
            self._at_once = commits_at_once(conn)
        else:
            self._schema_version = version(conn)
            self._at_once = False
        self._me = sharing.who_am_i(conn, SCHEMA) if self._schema_version >= SECURED else None

    def _refuse_if_read_only(self) -> None:
        if self._read_only is not None:
            raise StoreError(errno.EROFS, f"the store {self.location} is read-only: {self._read_only}")

    def _missing_schema(self, conn: psycopg.Connection[Any]) -> bool:
        """True on a read-only server where this package never created its tables (nothing stored)."""
        return self._read_only is not None and version(conn) == 0

    # --- writing ------------------------------------------------------------------------------------

    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        for write in writes:
            validate_ref(write.session_id)
        order = sorted(range(len(writes)), key=lambda i: writes[i].session_id)  # no deadlock between batches
        results: list[Written | None] = [None] * len(writes)
        with self._connection() as conn:
            self._refuse_if_read_only()
            if self._at_once and all(commit.takes(write) for write in writes):
                try:
                    found = commit.append_at_once(
                        conn,
                        SCHEMA,
                        [(writes[index], *self._owner_and_id(writes[index].session_id)) for index in order],
                    )
                except psycopg.Error as exc:
                    if exc.sqlstate != commit.PLAN_NEEDED:
                        raise
                else:
                    by_order = dict(zip(order, found, strict=True))
                    return [by_order[index] for index in range(len(writes))]
            committing = False
            try:
                with conn.transaction():
                    for index in order:
                        results[index] = self._rows.append_one(conn, writes[index])
                    notify(conn)
                    committing = True  # what fails from here on may have been committed
            except psycopg.OperationalError as exc:
                exc.commit_unknown = committing  # type: ignore[attr-defined]  # (read by the writer: may it have been recorded?)
                raise
        return [result for result in results if result is not None]

    def _owner_and_id(self, session_id: str) -> tuple[str | None, str]:
        """(owner's name, or None for this role's own session; the plain id) of a session to write."""
        return split_ref(self.canonical(session_id))

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
                        f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)
                    ).fetchone()
                else:
                    where, params = named(session_id)
                    found = conn.execute(
                        f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE {where} AND state = %s "
                        "ORDER BY state_changed_at DESC, key DESC LIMIT 1",
                        (*params, state),
                    ).fetchone()
                if found is None:
                    return None
                row = stored(found)
                cursor = _payload_cursor(conn).execute(
                    f"SELECT seq, payload, checksum FROM {SCHEMA}.changes WHERE session_key = %s "
                    "ORDER BY seq",
                    (row.key,),
                )
                entries, skipped = decode_batches(row.ref, iter(partial(cursor.fetchmany, LOAD_BATCH), []))
        return LoadedChanges(row, entries, skipped)

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
            found = conn.execute(f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return decode_rows(stored(found).ref if found else str(key), rows)[0]

    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        if not session_ids:
            return {}
        with self._connection() as conn:
            if self._missing_schema(conn):
                return {}
            heads = {}
            for session_id in session_ids:
                where, params = named(session_id)
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
            found = conn.execute(f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE key = %s", (key,)).fetchone()
        return None if found is None else stored(found)

    def sessions(self, states: Collection[State] = LIVE) -> list[StoredSession]:
        with self._connection() as conn:
            if self._missing_schema(conn):
                return []
            rows = conn.execute(
                f"SELECT {ROW} FROM {SCHEMA}.sessions WHERE state = ANY(%s) "
                "ORDER BY owner <> current_user, owner, id, state_changed_at DESC, key DESC",
                (list(states),),
            ).fetchall()
        return [stored(row) for row in rows]

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
                f"SELECT CASE WHEN s.owner = current_user THEN s.id ELSE {OWNER_NAME.replace('sessions.', 's.')} "
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
        where, params = named(session_id)
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
            return sharing.share(conn, SCHEMA, plain_id, user, write=write)

    def unshare(self, session_id: str, user: str | None) -> str:
        plain_id = self._own(session_id, "change who it is shared with")
        with self._connection() as conn:
            self._refuse_if_read_only()
            return sharing.unshare(conn, SCHEMA, plain_id, user)

    def shares(self) -> list[Share]:
        with self._connection() as conn:
            if self._missing_schema(conn) or self._schema_version < SECURED:
                return []
            return sharing.shares(conn, SCHEMA)

    # --- following ---------------------------------------------------------------------------------------

    def changed(self) -> bool:
        """Polling is not how PostgreSQL is followed (see :meth:`watch`): always true, so a poller re-checks."""
        return True

    def watch(self, interval: float) -> AsyncIterator[None]:
        """Yield as soon as another connection commits a change (``LISTEN jupyter_think``, :mod:`.listen`):
        a frozen or vanished server is noticed within ``timeout``, and an unreachable one retried every
        ``interval``."""
        return notifications(self._link.conninfo(), self.timeout, interval, self._link.backend_pid)

    # --- trash, archive, retention (the plan is :mod:`~jupyter_think.store.lifecycle`'s) ------------

    def trash(self, session_id: str) -> StoredSession:
        session_id = self._own(session_id, "move it to the trash")
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                found = self._lifecycle.trash(conn, session_id)
                notify(conn)
        return found

    def restore(self, session_id: str, state: State = "trashed", *, key: int | None = None) -> StoredSession:
        session_id = self._own(session_id, "restore it")
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                found = self._lifecycle.restore(conn, session_id, state, key)
                notify(conn)
        return found

    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                return self._lifecycle.purge(conn, older_than)

    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        keep = {self.canonical(session_id) for session_id in keep}
        with self._connection() as conn:
            self._refuse_if_read_only()
            with conn.transaction():
                return self._lifecycle.trash_idle(conn, older_than, keep)
