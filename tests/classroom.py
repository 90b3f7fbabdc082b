"""A class on the test PostgreSQL server, set up as an admin would: the one helper every class test uses.

:class:`Classroom` makes a fresh database owned by an admin role (LOGIN CREATEROLE, not a superuser)
whose password holds ``@:/%?`` (percent-encoded in its URL), reached over TCP with scram. The class is
set up through the ``jupyter-think`` command (:meth:`Classroom.set_up`: ``class init``, ``class add``)
or, where the command itself is not under test, through the same functions in this process
(:meth:`Classroom.ready`: quicker). The users' login roles are ordinary roles, so every test that
reads or writes as a student or a teacher goes through row-level security; :attr:`Classroom.superuser_url`
is the superuser's view (it bypasses row-level security: what an attack must leave unchanged).
:func:`run` runs the installed console script with the class secret set and fails the test when a
connection was left for the garbage collector (psycopg's ``ResourceWarning``, shown by
``PYTHONWARNINGS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from jupyter_think import SessionManager
from jupyter_think.store import open_store
from jupyter_think.store.postgres.roles import add_members, class_store_url, init_class
from jupyter_think.store.postgres.store import SCHEMA

SCRIPT = Path(sys.executable).parent / "jupyter-think"
SECRET = "the-class-secret-of-the-tests-0123456789"
ADMIN_PASSWORD = "adm1n@:/%?pass"
"""The admin's password: every character a URL must percent-encode."""
LEFT_OPEN = "deleted while still open"


def run(
    *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``jupyter-think [--store url] ARGS`` with the class secret set; the test fails when the command left
    a connection open."""
    merged = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JUPYTER_THINK_DIR", "JUPYTER_THINK_STORE", "PGPASSWORD")
    }
    merged["JUPYTER_THINK_CLASS_SECRET"] = SECRET
    merged["PYTHONWARNINGS"] = "always::ResourceWarning"
    merged.update(env or {})
    where = ["--store", url] if url is not None else []
    done = subprocess.run(
        [str(SCRIPT), *where, *args], check=False, capture_output=True, text=True, timeout=120, env=merged
    )
    assert LEFT_OPEN not in done.stderr, done.stderr
    return done


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that succeeded (else the test fails with what it said)."""
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def refused(done: subprocess.CompletedProcess[str], status: int = 2) -> str:
    """The one line a command that failed with ``status`` printed on stderr (nothing on stdout)."""
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


class Classroom:
    """A fresh database on ``server`` owned by a fresh admin role; the class is not set up yet."""

    def __init__(self, server: Any) -> None:
        import psycopg
        from psycopg import sql

        tag = uuid.uuid4().hex[:10]
        self.server = server
        self.database = f"class_{tag}"
        self.admin = f"admin_{tag}"
        self.admin_password = ADMIN_PASSWORD
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                    sql.Identifier(self.admin), sql.Literal(self.admin_password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.database), sql.Identifier(self.admin)
                )
            )
        self.admin_url = server.tcp_url(self.database, self.admin, self.admin_password)
        self.superuser_url = server.url(self.database)
        """The superuser's URL of the class's database (row-level security does not apply to it)."""
        self.users: list[str] = []
        """The users set up by :meth:`ready` (students, then teachers)."""

    @classmethod
    def ready(cls, server: Any, students: list[str], teachers: list[str] = []) -> Classroom:  # noqa: B006 (never changed)
        """A class set up in this process by the admin (``class init`` and ``class add``'s functions)."""
        room = cls(server)
        store = open_store(room.admin_url)
        try:
            with store.connection() as conn:  # type: ignore[attr-defined]
                init_class(conn, SCHEMA)
                for users, teacher in ((students, False), (teachers, True)):
                    if users:
                        add_members(conn, SCHEMA, list(users), teacher=teacher, secret=SECRET)
        finally:
            store.close()
        room.users = [*students, *teachers]
        return room

    @property
    def urls(self) -> dict[str, str]:
        """Each user's store URL, by name (the users of :meth:`ready`)."""
        return {user: self.url(user) for user in self.users}

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A command run with the admin's URL."""
        return run(*args, url=self.admin_url, env=env)

    def set_up(self, students: list[str], teachers: list[str] = []) -> None:  # noqa: B006 (never changed)
        """``class init``, ``class add STUDENTS…``, ``class add TEACHERS… --teacher``."""
        ok(self.cli("class", "init"))
        if students:
            ok(self.cli("class", "add", *students))
        if teachers:
            ok(self.cli("class", "add", *teachers, "--teacher"))

    def url(self, user: str) -> str:
        """``user``'s store URL (what the hub's ``pre_spawn_hook`` gives their kernels)."""
        return class_store_url(self.admin_url, user, SECRET)

    def think(self, user: str, session_id: str, *thoughts: str) -> None:
        """As ``user``, through the product: ``thoughts`` recorded in their session ``session_id``."""
        with SessionManager(store=self.url(user), durability="sync") as manager:
            session = manager.session(session_id)
            for text in thoughts:
                session.think(text)
            manager.flush(timeout=30)
