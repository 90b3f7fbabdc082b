"""A class on one PostgreSQL store: its roles, their passwords, and who may see what.

PostgreSQL does the access control; this module only sets it up. Every table of the schema has
row-level security (``FORCE``d, so the owner's own kernels obey it too): a role sees and changes the
sessions it owns (``owner DEFAULT current_user``, checked on insert, a column nobody may update),
reads those shared with it or with a group it belongs to, and writes those shared with it for
writing; members of the class's teacher group read every session. Only the database owner can alter
the schema. Notifications carry no session id (see ``postgres.py``): a listener re-reads under its
own policies.

Role names are server-wide and cut at 63 bytes, so a class names its roles after its database and
each user with a hash of both: the same student in two classes has two roles (and two passwords).
Passwords are derived from the class secret (HMAC-SHA256 of the database and user name), so nobody
stores them: ``class_store_url`` recomputes a user's URL, e.g. in JupyterHub's ``pre_spawn_hook``.

Example:
    >>> login_role("algebra", "ada") == login_role("algebra", "ada"), login_role("algebra", "ada") != login_role("geometry", "ada")
    (True, True)
    >>> len(login_role("c" * 80, "u" * 250).encode()) <= 63
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from jupyter_think.store.postgres.presenter import presenter_grants_sql, presenter_sql

SECRET_ENV = "JUPYTER_THINK_CLASS_SECRET"
MIN_SECRET_CHARS = 16
MAX_USER_CHARS = 255
"""A class user name: 1..255 characters (as long as a JupyterHub user name), no '/', no control
characters (it names sessions as OWNER/ID)."""

_UNSAFE_USER = re.compile(r"[/\x00-\x1f\x7f-\x9f]")


class ClassError(ValueError):
    """A mistake in setting up a class (a bad user name, no secret): one line saying what to do."""


def validate_user(name: object) -> str:
    """``name`` when it can be a class user name, else :class:`ClassError`.

    Example:
        >>> validate_user("学生一")
        '学生一'
        >>> validate_user("a/b")
        Traceback (most recent call last):
        ...
        jupyter_think.store.postgres.roles.ClassError: invalid user name 'a/b': use 1-255 characters without '/' or control characters
    """
    if (
        not isinstance(name, str)
        or not name
        or name.isspace()
        or len(name) > MAX_USER_CHARS
        or _UNSAFE_USER.search(name)
    ):
        shown = repr(name)[:60]
        raise ClassError(
            f"invalid user name {shown}: use 1-{MAX_USER_CHARS} characters without '/' or control characters"
        )
    return name


def _slug(text: str, size: int) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:size] or "x"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def login_role(database: str, user: str) -> str:
    """The login role of ``user`` in the class held by ``database`` (readable, unique, <= 63 bytes)."""
    validate_user(user)
    return f"jt_{_slug(database, 16)}_{_slug(user, 20)}_{_digest('user', database, user)[:12]}"


def group_roles(database: str) -> tuple[str, str]:
    """The class's (students, teachers) group roles."""
    tag = _digest("class", database)[:12]
    return f"jt_{_slug(database, 24)}_students_{tag}", f"jt_{_slug(database, 24)}_teachers_{tag}"


def class_secret(secret: str | None = None) -> str:
    """The class secret: ``secret``, else ``$JUPYTER_THINK_CLASS_SECRET`` (at least 16 characters)."""
    value = secret if secret is not None else os.environ.get(SECRET_ENV, "")
    if len(value) < MIN_SECRET_CHARS:
        raise ClassError(
            f"set ${SECRET_ENV} to the class secret (at least {MIN_SECRET_CHARS} characters, the same for the "
            "admin and the hub; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value


def derive_password(secret: str, database: str, user: str) -> str:
    """``user``'s password in the class of ``database``: HMAC-SHA256 of both under the class secret."""
    mac = hmac.new(secret.encode(), f"{database}\x00{user}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def database_of(url: str) -> str:
    """The database a ``postgresql://`` URL names (its path, else ``dbname=``).

    Example:
        >>> database_of("postgresql://db.example.org:5432/algebra?sslmode=require")
        'algebra'
    """
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        match = re.search(r"(?:^|&)dbname=([^&]*)", parts.query)
        name = unquote(match.group(1)) if match else ""
    if not name:
        raise ClassError("the store URL names no database: postgresql://HOST[:PORT]/DATABASE")
    return name


def class_store_url(base_url: str, user: str, secret: str | None = None) -> str:
    """The store URL of class user ``user``: ``base_url`` with that user's role and password.

    For JupyterHub's ``pre_spawn_hook``, so each user's kernels hold only their own password.
    Any user or password in ``base_url`` is replaced; its host, port, database and options are kept.

    Example:
        >>> url = class_store_url("postgresql://db.example.org/algebra", "ada", secret="s" * 32)
        >>> url.startswith("postgresql://" + login_role("algebra", "ada") + ":")
        True
    """
    validate_user(user)
    database = database_of(base_url)
    parts = urlsplit(base_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ClassError("the base URL must be a postgresql:// URL")
    host = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        item for item in parts.query.split("&") if item and not item.startswith(("user=", "password="))
    )
    role = login_role(database, user)
    password = derive_password(class_secret(secret), database, user)
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# --- the schema's security (run by the database owner) --------------------------------------------------

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
    """


# --- managing a class (the database owner's connection; CREATEROLE needed for roles) ----------------------


@dataclass(frozen=True)
class Member:
    """One user of a class: the name given to ``class add``, their login role, whether they teach."""

    user: str
    role: str
    teacher: bool
    removed: bool = False


def _ident(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(name)


def _role_exists(conn: Any, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def init_class(conn: Any, schema: str) -> tuple[str, str]:
    """Create (or bring up to date) the class's group roles and what they may do; return their names.

    The store's tables must exist and be migrated (opening the store as the owner does it).
    Idempotent: run it again after an upgrade.
    """
    from psycopg import sql

    students, teachers = group_roles(conn.info.dbname)
    with conn.transaction():
        conn.execute(policies_sql(schema))  # (an upgrade's policies and functions reach an existing class)
        for role in (students, teachers):
            if not _role_exists(conn, role):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(_ident(role)))
            conn.execute(sql.SQL(grants_sql(schema, "{role}")).format(role=_ident(role)))
        for key, value in (("students_role", students), ("teachers_role", teachers)):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ).format(_ident(schema)),
                (key, value),
            )
    return students, teachers


def add_members(conn: Any, schema: str, users: list[str], *, teacher: bool, secret: str) -> list[Member]:
    """Create or update the login roles of ``users`` (passwords from ``secret``), in the student or
    teacher group. The password goes to the server as a SCRAM verifier, never in clear."""
    from psycopg import sql

    database = conn.info.dbname
    students, teachers = group_roles(database)
    if not (_role_exists(conn, students) and _role_exists(conn, teachers)):
        raise ClassError("this store has no class yet: run `jupyter-think class init` first")
    joined, left = (teachers, students) if teacher else (students, teachers)
    added = []
    with conn.transaction():
        for user in users:
            role = login_role(database, validate_user(user))
            verifier = conn.pgconn.encrypt_password(
                derive_password(secret, database, user).encode(), role.encode(), b"scram-sha-256"
            ).decode()
            # (only a superuser may name the SUPERUSER attribute in ALTER ROLE, even to say NOSUPERUSER: a role
            # made here never has it, and one that has it is not a class member's)
            existing = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if existing is not None and existing[0]:
                raise ClassError(
                    f"the role {role} of {user!r} is a superuser: drop it or take SUPERUSER away first"
                )
            attributes = "LOGIN INHERIT NOCREATEDB NOCREATEROLE PASSWORD {}"
            statement = (
                f"ALTER ROLE {{}} {attributes}" if existing else f"CREATE ROLE {{}} NOSUPERUSER {attributes}"
            )
            conn.execute(sql.SQL(statement).format(_ident(role), sql.Literal(verifier)))
            conn.execute(sql.SQL("GRANT {} TO {}").format(_ident(joined), _ident(role)))
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(_ident(left), _ident(role)))
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.members (role, user_name, teacher) VALUES (%s, %s, %s) "
                    "ON CONFLICT (role) DO UPDATE SET teacher = excluded.teacher, removed_at = NULL"
                ).format(_ident(schema)),
                (role, user, teacher),
            )
            added.append(Member(user, role, teacher))
    return added


def remove_members(conn: Any, schema: str, users: list[str]) -> list[Member]:
    """Drop the login roles of ``users``. Their sessions stay (a teacher still reads them; adding the
    user again gives them back); the roster keeps their name, marked removed."""
    from psycopg import sql

    database = conn.info.dbname
    removed = []
    with conn.transaction():
        for user in users:
            role = login_role(database, validate_user(user))
            found = conn.execute(
                sql.SQL("UPDATE {}.members SET removed_at = now() WHERE role = %s RETURNING teacher").format(
                    _ident(schema)
                ),
                (role,),
            ).fetchone()
            if found is None and not _role_exists(conn, role):
                raise ClassError(f"{user!r} is not in this class (jupyter-think class list)")
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(_ident(role)))
            removed.append(Member(user, role, bool(found and found[0]), removed=True))
    return removed


def list_members(conn: Any, schema: str) -> list[Member]:
    """The class roster, teachers first, then by name."""
    from psycopg import sql

    rows = conn.execute(
        sql.SQL(
            "SELECT user_name, role, teacher, removed_at IS NOT NULL FROM {}.members ORDER BY teacher DESC, user_name"
        ).format(_ident(schema))
    ).fetchall()
    return [Member(user, role, bool(teacher), bool(removed)) for user, role, teacher, removed in rows]


# --- the store's side: who is connected, may they migrate, sharing ------------------------------------------

SECURED = 5
"""The schema version that brought row-level security, members and shares."""


@dataclass(frozen=True)
class Me:
    """The role a connection works as, and the user name the class knows it by (else the role)."""

    role: str
    user: str


def who_am_i(conn: Any, schema: str) -> Me:
    role, user = conn.execute(
        f"SELECT current_user, coalesce((SELECT user_name FROM {schema}.members WHERE role = current_user), "
        "current_user)"
    ).fetchone()
    return Me(role, user)


def may_migrate(conn: Any, schema: str) -> bool:
    """True when the connected role may create or alter the store's tables: it owns the schema (or a
    role that does), or there is no schema yet and it may create one in this database."""
    found = conn.execute(
        "SELECT pg_has_role(current_user, nspowner, 'MEMBER') FROM pg_namespace WHERE nspname = %s", (schema,)
    ).fetchone()
    if found is not None:
        return bool(found[0])
    return bool(conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()[0])


def _grantee(conn: Any, schema: str, user: str | None) -> tuple[str, str]:
    """(role, how to say it) of a share's grantee: a class user, a role, or (``None``) the class."""
    if user is None:
        found = conn.execute(f"SELECT value FROM {schema}.meta WHERE key = 'students_role'").fetchone()
        if found is None:
            raise ClassError("this store has no class to share with (jupyter-think class init sets one up)")
        return found[0], "the class"
    found = conn.execute(
        f"SELECT role FROM {schema}.members WHERE user_name = %s AND removed_at IS NULL", (user,)
    ).fetchone()
    if found is not None:
        return found[0], user
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s AND rolcanlogin", (user,)).fetchone():
        return user, user
    raise ClassError(f"there is no user {user!r} in this class (jupyter-think class list)")


def _own_key(conn: Any, schema: str, session_id: str) -> int:
    found = conn.execute(
        f"SELECT key FROM {schema}.sessions WHERE owner = current_user AND id = %s AND state = 'live'",
        (session_id,),
    ).fetchone()
    if found is None:
        from jupyter_think.store.base import SessionNotFound

        raise SessionNotFound(session_id)
    return int(found[0])


def share(conn: Any, schema: str, session_id: str, user: str | None, *, write: bool) -> str:
    """Share your session ``session_id`` with ``user`` (``None``: the class); say with whom, in words."""
    with conn.transaction():
        key = _own_key(conn, schema, session_id)
        role, said = _grantee(conn, schema, user)
        conn.execute(
            f"INSERT INTO {schema}.shares (session_key, grantee, grantee_name, can_write) "
            "VALUES (%s, (SELECT oid FROM pg_roles WHERE rolname = %s), %s, %s) "
            "ON CONFLICT (session_key, grantee) DO UPDATE SET can_write = excluded.can_write",
            (key, role, said, write),
        )
    return f"{said} ({'read and write' if write else 'read only'})"


def unshare(conn: Any, schema: str, session_id: str, user: str | None) -> str:
    """Take back a share of your session ``session_id``; say from whom, in words."""
    with conn.transaction():
        key = _own_key(conn, schema, session_id)
        role, said = _grantee(conn, schema, user)
        gone = conn.execute(
            f"DELETE FROM {schema}.shares WHERE session_key = %s "
            "AND grantee = (SELECT oid FROM pg_roles WHERE rolname = %s) RETURNING 1",
            (key, role),
        ).fetchone()
        if gone is None:
            raise ClassError(f"{session_id} is not shared with {said}")
    return said


def shares(conn: Any, schema: str) -> list[Any]:
    """What this role shares, then what is shared with it (as :class:`~.base.Share` rows)."""
    from jupyter_think.store.base import Share

    owner_name = f"coalesce((SELECT m.user_name FROM {schema}.members m WHERE m.role = s.owner), s.owner)"
    rows = conn.execute(
        f"SELECT s.id, sh.grantee_name, sh.can_write, true FROM {schema}.shares sh "
        f"JOIN {schema}.sessions s ON s.key = sh.session_key "
        "WHERE sh.owner = current_user AND s.state = 'live' "
        "UNION ALL "
        f"SELECT {owner_name} || '/' || s.id, "
        "CASE WHEN sh.grantee = (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN 'you' "
        "ELSE sh.grantee_name END, sh.can_write, false "
        f"FROM {schema}.shares sh JOIN {schema}.sessions s ON s.key = sh.session_key "
        "WHERE sh.owner <> current_user AND s.state = 'live' "
        "AND coalesce(pg_has_role(current_user, sh.grantee, 'MEMBER'), false) "
        "ORDER BY 4 DESC, 1, 2"
    ).fetchall()
    return [Share(session, grantee, bool(write), bool(mine)) for session, grantee, write, mine in rows]


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
