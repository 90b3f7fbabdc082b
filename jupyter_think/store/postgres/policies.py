"""Row-level security for a store shared by a class: the migration, the policies and what a group may do.

PostgreSQL does the access control; this module only writes the SQL that sets it up (run by the
database owner). Every table of the schema has row-level security (``FORCE``d, so the owner's own
kernels obey it too): a role sees and changes the sessions it owns (``owner DEFAULT current_user``,
checked on insert, a column nobody may update), reads those shared with it or with a group it belongs
to, and writes those shared with it for writing; members of the class's teacher group read every
session. Stored experiments (schema 6) are each owner's alone, read by the teachers too. Only the
database owner can alter the schema. Notifications carry no session id (see
:mod:`.store`): a listener re-reads under its own policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_think.store.postgres.commit import routine_sql
from jupyter_think.store.postgres.presenter import presenter_grants_sql, presenter_sql

SECURED = 5
"""The schema version that brought row-level security, members and shares."""

SESSION_TABLES = ("changes", "branches", "thought_text")
"""Tables whose rows belong to a session (``session_key``): readable with it, appended by its writers."""

OWNER_UPDATABLE = (
    "state",
    "state_changed_at",
    "last_activity",
    "last_seq",
    "thoughts",
    "branches",
    "status",
    "trashed_by",
)
"""The columns of ``sessions`` a writer updates (never ``key``, ``id``, ``owner``, ``created_at``)."""


def security_sql(schema: str) -> str:
    """The migration that puts a store's tables under row-level security (by the owner; it can run again).

    Sessions are named per owner (``UNIQUE (owner, id)`` among live rows), the owner is set by the
    database, shares and members get their tables, and each table its policies. Rows written before
    by a client-chosen owner that is no role go to the migrating role (the store's single role then).
    The policies' functions run with ``search_path = pg_catalog, pg_temp``: a caller's own temporary
    table named ``pg_roles``, or a ``pg_has_role`` of hers first in her search_path, changes nothing.
    """
    s = schema
    return f"""
    UPDATE {s}.sessions SET owner = current_user WHERE owner NOT IN (SELECT rolname FROM pg_roles);
    {policies_sql(schema)}"""


def policies_sql(schema: str) -> str:
    """The tables, functions, policies and revocations of :func:`security_sql` without its one rewrite of
    data: safe to run again (``class init`` does, so an upgrade's policies reach an existing class)."""
    s = schema
    child_policies = "".join(
        f"""
    ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {s}.{table} FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS readable ON {s}.{table};
    CREATE POLICY readable ON {s}.{table} FOR SELECT
        USING (EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session_key));
    DROP POLICY IF EXISTS writable ON {s}.{table};
    CREATE POLICY writable ON {s}.{table} FOR INSERT WITH CHECK ({s}.may_write(session_key));
    DROP POLICY IF EXISTS purgeable ON {s}.{table};
    CREATE POLICY purgeable ON {s}.{table} FOR DELETE
        USING (EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session_key AND se.owner = current_user));
    """
        for table in SESSION_TABLES
    )
    return f"""
    ALTER TABLE {s}.sessions ALTER COLUMN owner SET DEFAULT current_user;
    DROP INDEX IF EXISTS {s}.sessions_live_id;
    CREATE UNIQUE INDEX IF NOT EXISTS sessions_live_owner_id ON {s}.sessions (owner, id) WHERE state = 'live';
    CREATE INDEX IF NOT EXISTS sessions_by_owner ON {s}.sessions (owner, id, state, state_changed_at);
    CREATE TABLE IF NOT EXISTS {s}.members (
        role TEXT PRIMARY KEY,
        user_name TEXT NOT NULL UNIQUE,
        teacher BOOLEAN NOT NULL DEFAULT false,
        added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        removed_at TIMESTAMPTZ
    );
    CREATE TABLE IF NOT EXISTS {s}.shares (
        session_key BIGINT NOT NULL REFERENCES {s}.sessions (key) ON DELETE CASCADE,
        owner TEXT NOT NULL DEFAULT current_user,
        grantee OID NOT NULL,
        grantee_name TEXT NOT NULL,
        can_write BOOLEAN NOT NULL DEFAULT false,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (session_key, grantee)
    );
    CREATE OR REPLACE FUNCTION {s}.role_of(user_name TEXT) RETURNS text LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT coalesce((SELECT m.role FROM {s}.members m WHERE m.user_name = role_of.user_name), user_name)
    $$;
    CREATE OR REPLACE FUNCTION {s}.is_teacher() RETURNS boolean LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT coalesce(pg_has_role(current_user,
            (SELECT oid FROM pg_roles WHERE rolname = (SELECT value FROM {s}.meta WHERE key = 'teachers_role')),
            'MEMBER'), false)
    $$;
    CREATE OR REPLACE FUNCTION {s}.shared(session BIGINT, writing BOOLEAN) RETURNS boolean LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT EXISTS (SELECT 1 FROM {s}.shares sh WHERE sh.session_key = session AND (sh.can_write OR NOT writing)
                       AND coalesce(pg_has_role(current_user, sh.grantee, 'MEMBER'), false))
    $$;
    CREATE OR REPLACE FUNCTION {s}.acting_as_group() RETURNS boolean LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT current_user IN (SELECT value FROM {s}.meta WHERE key IN ('students_role', 'teachers_role'))
    $$;
    CREATE OR REPLACE FUNCTION {s}.keep_forward() RETURNS trigger LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            IF NEW.last_seq < OLD.last_seq OR NEW.last_activity < OLD.last_activity THEN
                RAISE EXCEPTION 'a session''s sequence and last activity never go back'
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END
    $$;
    DROP TRIGGER IF EXISTS forward_only ON {s}.sessions;
    CREATE TRIGGER forward_only BEFORE UPDATE ON {s}.sessions FOR EACH ROW EXECUTE FUNCTION {s}.keep_forward();
    CREATE OR REPLACE FUNCTION {s}.may_write(session BIGINT) RETURNS boolean LANGUAGE sql STABLE
        SET search_path = pg_catalog, pg_temp AS $$
        SELECT EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session
                       AND (se.owner = current_user OR (se.state = 'live' AND {s}.shared(se.key, true))))
    $$;
    ALTER TABLE {s}.sessions ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {s}.sessions FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS readable ON {s}.sessions;
    CREATE POLICY readable ON {s}.sessions FOR SELECT
        USING (owner = current_user OR {s}.is_teacher() OR (state = 'live' AND {s}.shared(key, false)));
    DROP POLICY IF EXISTS created ON {s}.sessions;
    CREATE POLICY created ON {s}.sessions FOR INSERT
        WITH CHECK (owner = current_user AND NOT {s}.acting_as_group());
    DROP POLICY IF EXISTS writable ON {s}.sessions;
    CREATE POLICY writable ON {s}.sessions FOR UPDATE
        USING (owner = current_user OR ({s}.shared(key, true) AND state = 'live'))
        WITH CHECK (owner = current_user OR ({s}.shared(key, true) AND state = 'live'));
    DROP POLICY IF EXISTS purgeable ON {s}.sessions;
    CREATE POLICY purgeable ON {s}.sessions FOR DELETE USING (owner = current_user);
    {child_policies}
    {routine_sql(schema)}
    ALTER TABLE {s}.shares ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {s}.shares FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS mine ON {s}.shares;
    CREATE POLICY mine ON {s}.shares FOR ALL USING (owner = current_user)
        WITH CHECK (owner = current_user
                    AND EXISTS (SELECT 1 FROM {s}.sessions se WHERE se.key = session_key AND se.owner = current_user));
    DROP POLICY IF EXISTS to_me ON {s}.shares;
    CREATE POLICY to_me ON {s}.shares FOR SELECT USING (coalesce(pg_has_role(current_user, grantee, 'MEMBER'), false));
    ALTER TABLE {s}.members ENABLE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS roster ON {s}.members;
    CREATE POLICY roster ON {s}.members FOR SELECT USING (true);
    ALTER TABLE {s}.meta ENABLE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS readable ON {s}.meta;
    CREATE POLICY readable ON {s}.meta FOR SELECT USING (true);
    {presenter_sql(s)}
    REVOKE ALL ON SCHEMA {s} FROM PUBLIC;
    REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM PUBLIC;
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {s} FROM PUBLIC;
    """


EXPERIMENT_TABLES = ("experiments", "experiment_runs")
"""Tables of stored experiments (schema 6): each row has its own ``owner`` (set by the database)."""


def experiment_policies_sql(schema: str) -> str:
    """Row-level security of :data:`EXPERIMENT_TABLES` (safe to run again): a role reads, adds and removes
    its own rows; a teacher reads every row; a run joins only an experiment of its owner."""
    s = schema
    parent = (
        f"EXISTS (SELECT 1 FROM {s}.experiments e WHERE e.key = experiment_key AND e.owner = current_user)"
    )
    return "".join(
        f"""
    ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {s}.{table} FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS readable ON {s}.{table};
    CREATE POLICY readable ON {s}.{table} FOR SELECT USING (owner = current_user OR {s}.is_teacher());
    DROP POLICY IF EXISTS created ON {s}.{table};
    CREATE POLICY created ON {s}.{table} FOR INSERT
        WITH CHECK (owner = current_user AND NOT {s}.acting_as_group(){"" if table == "experiments" else " AND " + parent});
    DROP POLICY IF EXISTS purgeable ON {s}.{table};
    CREATE POLICY purgeable ON {s}.{table} FOR DELETE USING (owner = current_user);
    REVOKE ALL ON {s}.{table} FROM PUBLIC;
    """
        for table in EXPERIMENT_TABLES
    )


def experiment_grants_sql(schema: str, role: str) -> str:
    """What a class member's group may do with :data:`EXPERIMENT_TABLES` (the policies decide on which rows)."""
    return f"GRANT SELECT, INSERT, DELETE ON {schema}.experiments, {schema}.experiment_runs TO {role}"


def grants_sql(schema: str, role: str) -> str:
    """What a class member's group may do; the policies decide on which rows."""
    s = schema
    updatable = ", ".join(OWNER_UPDATABLE)
    children = ", ".join(f"{s}.{table}" for table in SESSION_TABLES)
    return f"""
    GRANT USAGE ON SCHEMA {s} TO {role};
    GRANT SELECT ON {s}.meta, {s}.members TO {role};
    GRANT SELECT, INSERT, DELETE ON {s}.sessions, {children} TO {role};
    GRANT UPDATE ({updatable}) ON {s}.sessions TO {role};
    GRANT SELECT, INSERT, DELETE ON {s}.shares TO {role};
    GRANT UPDATE (can_write) ON {s}.shares TO {role};
    {presenter_grants_sql(s, role)}
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {role};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {role};
    {experiment_grants_sql(s, role)};
    """


@contextmanager
def unrestricted(conn: Any, schema: str) -> Iterator[None]:
    """Inside a migration's transaction: the owner sees every row (policies forced on the owner are lifted
    until the end of the block), so a migration that rewrites data rewrites all of it. Other connections
    never see the tables unforced: the change is transactional and holds the tables' locks until commit."""
    forced = [
        name
        for (name,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relforcerowsecurity",
            (schema,),
        ).fetchall()
    ]
    for name in forced:
        conn.execute(f"ALTER TABLE {schema}.{name} NO FORCE ROW LEVEL SECURITY")
    yield
    for name in forced:
        conn.execute(f"ALTER TABLE {schema}.{name} FORCE ROW LEVEL SECURITY")
