"""A class on one PostgreSQL store: its roles, their passwords, and its members.

Who may see what is :mod:`.policies`' (row-level security); sharing and who is connected are
:mod:`.sharing`'s. This module names the roles, derives the passwords and manages the roster.

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
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from jupyter_think.store.postgres.policies import experiment_policies_sql, grants_sql, policies_sql

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
        # (an upgrade's policies and functions reach an existing class)
        conn.execute(policies_sql(schema) + experiment_policies_sql(schema))
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
