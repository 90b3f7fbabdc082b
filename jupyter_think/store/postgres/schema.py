"""The PostgreSQL store's tables: their schema, its versions, and the upgrade that brings them up to date.

The tables live in the schema ``jupyter_think``; its version is kept in ``meta``. A connection that is
not read-only upgrades them when they are older (:func:`migrate`): only the role that owns the schema
may (else an error says who should), under an advisory lock, with the policies lifted for the owner
so that a back-fill sees every row. The driver and its back-fills are
:func:`~jupyter_think.store.migrations.upgrade`'s; :class:`PostgresSchema` gives it PostgreSQL's SQL.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from jupyter_think.store.base import SCHEMA_VERSION, StoreError
from jupyter_think.store.migrations import upgrade
from jupyter_think.store.postgres.commit import ensure_routine, usable
from jupyter_think.store.postgres.policies import (
    experiment_grants_sql,
    experiment_policies_sql,
    security_sql,
    unrestricted,
)
from jupyter_think.store.postgres.presenter import presenter_sql
from jupyter_think.store.postgres.sharing import may_migrate
from jupyter_think.store.search import words

SCHEMA = "jupyter_think"
CHANNEL = "jupyter_think"
_MIGRATION_LOCK = 0x6A7468696E6B  # pg_advisory_xact_lock key for schema changes ("jthink")


def experiments_migration(schema: str) -> str:
    """Schema version 6: the two tables, their policies, and the class's groups' grants when a class exists
    (so an upgraded class works before ``class init`` runs again); it can run again."""
    s = schema
    return f"""
    CREATE TABLE IF NOT EXISTS {s}.experiments (
        key BIGSERIAL PRIMARY KEY,
        owner TEXT NOT NULL DEFAULT current_user,
        name TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        payload TEXT NOT NULL,
        UNIQUE (owner, name)
    );
    CREATE TABLE IF NOT EXISTS {s}.experiment_runs (
        experiment_key BIGINT NOT NULL REFERENCES {s}.experiments (key) ON DELETE CASCADE,
        owner TEXT NOT NULL DEFAULT current_user,
        run INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        variant TEXT NOT NULL,
        repeat INTEGER NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (experiment_key, run)
    );
    CREATE INDEX IF NOT EXISTS experiment_runs_by_session ON {s}.experiment_runs (owner, session_id);
    {experiment_policies_sql(s)}
    DO $$ DECLARE grp TEXT; BEGIN
        FOR grp IN SELECT value FROM {s}.meta WHERE key IN ('students_role', 'teachers_role') LOOP
            EXECUTE format('{experiment_grants_sql(s, "%I")}', grp);
        END LOOP;
    END $$;
    """


MIGRATIONS: dict[int, str] = {
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
    5: security_sql(SCHEMA),
    6: experiments_migration(SCHEMA),
    7: f"ALTER TABLE {SCHEMA}.sessions ADD COLUMN IF NOT EXISTS trashed_by TEXT NOT NULL DEFAULT '';"
    + presenter_sql(SCHEMA),
}
"""Schema version -> the SQL that brings the previous version to it (kept in ``meta``).

3: ``changes.checksum``, the CRC-32 of the payload (:mod:`~jupyter_think.store.codec`; ``NULL`` in rows
written before: unverified). 5: row-level security and shares (:mod:`.policies`). 6: stored experiments
(:mod:`.experiments`). 7: who trashed a session (``trashed_by``) and the presenter's step of each session
(:mod:`.presenter`)."""

INDEX_TEXT = (
    f"INSERT INTO {SCHEMA}.thought_text (session_key, seq, thought_number, body, words) "
    "VALUES (%s, %s, %s, %s, %s)"
)
"""Index one text: (session key, seq, thought number, text, its words as :func:`.search.words` makes them)."""


def index_rows(texts: Sequence[tuple[int, int, int, str]]) -> list[tuple[int, int, int, str, list[str]]]:
    """(key, seq, number, text) rows to index, with the words of each text."""
    return [(key, seq, number, text, words(text)) for key, seq, number, text in texts]


def version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the tables (0: there are none)."""
    exists = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.meta",)).fetchone()
    if not exists or exists[0] is None:
        return 0
    row = conn.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any], location: str, still_answering: Callable[[], None]) -> None:
    """Bring the tables to :data:`SCHEMA_VERSION` (nothing when they are; ``StoreError`` when they are
    newer, or older and this role may not upgrade them). ``still_answering`` is called after each batch
    of a long back-fill (the server answered: the call gets more time)."""
    found = version(conn)
    if found == SCHEMA_VERSION:
        return
    if found > SCHEMA_VERSION:
        raise StoreError(
            errno.EPROTO,
            f"{location} was written by a newer jupyter-think (schema {found}, this one knows "
            f"{SCHEMA_VERSION}); upgrade jupyter-think",
        )
    if not may_migrate(conn, SCHEMA):
        raise StoreError(
            errno.EACCES,
            f"the tables of {location} are at schema version {found} and this jupyter-think needs "
            f"{SCHEMA_VERSION}; only the database's owner may upgrade them: ask the admin to run "
            "`jupyter-think class init` with the owner's URL",
        )
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        found = version(conn)  # another process may have migrated meanwhile
        with unrestricted(conn, SCHEMA):
            upgrade(PostgresSchema(still_answering), conn, found)


def commits_at_once(conn: psycopg.Connection[Any]) -> bool:
    """True when this role may store a batch in one round trip (:mod:`.commit`); the tables' owner
    creates the function first in a store made before it (idempotent, under the migration lock)."""
    if usable(conn, SCHEMA):
        return True
    if not may_migrate(conn, SCHEMA):
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        ensure_routine(conn, SCHEMA)
    return usable(conn, SCHEMA)


class PostgresSchema:
    """The SQL of :func:`~jupyter_think.store.migrations.upgrade` in PostgreSQL (its
    :class:`~jupyter_think.store.migrations.SchemaSQL`)."""

    def __init__(self, still_answering: Callable[[], None]) -> None:
        self._still_answering = still_answering

    def apply(self, conn: psycopg.Connection[Any], version: int) -> None:
        if MIGRATIONS[version].strip():
            conn.execute(MIGRATIONS[version])

    def set_version(self, conn: psycopg.Connection[Any], version: int) -> None:
        conn.execute(
            f"INSERT INTO {SCHEMA}.meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )

    def fill_top_numbers(self, conn: psycopg.Connection[Any]) -> None:
        """(PostgreSQL keeps no top number: a damaged database is the server's to repair, not ours.)"""

    def session_ids(self, conn: psycopg.Connection[Any]) -> dict[int, str]:
        return dict(conn.execute(f"SELECT key, id FROM {SCHEMA}.sessions").fetchall())

    def stored_texts(self, conn: psycopg.Connection[Any], batch: int) -> Iterator[list[Any]]:
        with conn.cursor(name="jupyter_think_reindex") as rows:
            rows.execute(
                f"SELECT session_key, seq, payload, checksum FROM {SCHEMA}.changes "
                "WHERE kind IN ('thought', 'amend') ORDER BY session_key, seq"
            )
            while chunk := rows.fetchmany(batch):
                self._still_answering()  # (each batch heard from the server gives the upgrade more time)
                yield chunk

    def index(self, conn: psycopg.Connection[Any], texts: Sequence[tuple[int, int, int, str]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(INDEX_TEXT, index_rows(texts))
