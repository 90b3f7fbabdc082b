"""A class on the test PostgreSQL server: a database set up by ``class init`` with login roles made by
``class add``, and each user's own URL (over TCP, scram password) as ``class_store_url`` gives it."""

from __future__ import annotations

from dataclasses import dataclass

from pg_server import PostgresServer

from jupyter_think.store import open_store
from jupyter_think.store.postgres.store import SCHEMA
from jupyter_think.store.postgres.roles import add_members, class_store_url, init_class

SECRET = "a-class-secret-for-the-tests-only"


@dataclass
class ClassStore:
    """The admin's URL (the superuser, over the socket) and each class user's URL by name."""

    database: str
    admin_url: str
    urls: dict[str, str]


def make_class(server: PostgresServer, students: list[str], teachers: list[str] = ()) -> ClassStore:  # type: ignore[assignment]
    """A fresh database with a class: ``students`` and ``teachers`` added, their URLs made."""
    admin_url = server.new_database()
    database = admin_url.split("/")[3].split("?")[0]
    store = open_store(admin_url)
    try:
        with store.connection() as conn:  # type: ignore[attr-defined]
            init_class(conn, SCHEMA)
            if students:
                add_members(conn, SCHEMA, list(students), teacher=False, secret=SECRET)
            if teachers:
                add_members(conn, SCHEMA, list(teachers), teacher=True, secret=SECRET)
    finally:
        store.close()
    base = server.tcp_url(database)
    urls = {user: class_store_url(base, user, SECRET) for user in [*students, *teachers]}
    return ClassStore(database, admin_url, urls)
