"""The store's side of a class: who is connected, whether it may upgrade the tables, and sharing.

A session is shown to another user (or the whole class) by a row in ``shares``; the policies of
:mod:`.policies` do the rest. Who may migrate: the role that owns the schema (or a role that does), or,
before there is a schema, one that may create it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jupyter_think.store.base import SessionNotFound, Share
from jupyter_think.store.postgres.roles import ClassError


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


def shares(conn: Any, schema: str) -> list[Share]:
    """What this role shares, then what is shared with it (as :class:`~jupyter_think.store.base.Share` rows)."""
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
