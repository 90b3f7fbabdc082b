"""Stored experiments on a class store (issue 22): a student's experiments are hers, the teacher reads them all.

Two students and a teacher, each with her own login role over TCP (``classroom.Classroom.ready``). Ada runs an
experiment; Bob can neither list nor load it, through the product or through plain SQL with his own
credentials, and cannot change or remove its rows; the teacher lists and loads it (as ``ada/NAME``,
its sessions included) and changes nothing. Every table of experiments is under forced row-level
security, and ``class init`` run again keeps it so.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from classroom import Classroom

from jupyter_think import SessionManager, experiment, load_experiment
from jupyter_think.experiments.stored import NoSuchExperiment
from jupyter_think.experiments.tool import RunTool
from jupyter_think.store import open_store
from jupyter_think.store.postgres.policies import EXPERIMENT_TABLES
from jupyter_think.store.postgres.roles import init_class, login_role
from jupyter_think.store.postgres.store import SCHEMA

REFUSED = "42501"  # insufficient_privilege: a missing grant or a row-level security policy


def agent(config: str, tool: RunTool) -> str:
    tool.call(
        {
            "thought": f"{config}: the invariant",
            "thoughtNumber": 1,
            "totalThoughts": 1,
            "nextThoughtNeeded": False,
        }
    )
    return f"{config} done"


@pytest.fixture(scope="module")
def room(postgres_server: Any) -> Classroom:
    klass = Classroom.ready(postgres_server, ["ada", "bob"], ["tea"])
    with SessionManager(store=klass.urls["ada"], durability="sync") as ada:
        experiment("homework", agent, {"terse": "t", "careful": "c"}, repeat=2, manager=ada)
    return klass


def sql(room: Classroom, user: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(room.urls[user], autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else [(cursor.rowcount,)]


def rows_of(room: Classroom) -> list[Any]:
    with psycopg.connect(room.superuser_url, autocommit=True) as conn:  # the superuser sees every row
        return [
            conn.execute(f"SELECT * FROM {SCHEMA}.{table} ORDER BY 1, 2").fetchall()
            for table in EXPERIMENT_TABLES
        ]


def test_another_student_neither_lists_nor_loads_her_experiment(room: Classroom) -> None:
    with SessionManager(store=room.urls["bob"], durability="sync") as bob:
        assert bob.store is not None and bob.store.experiments.list() == []
        for name in ("homework", "ada/homework"):
            with pytest.raises(NoSuchExperiment):
                load_experiment(name, bob)
        assert bob.store.experiments.holding(["homework-terse-1"]) == {}
        # names are per owner: his own experiment of the same name is his
        mine = experiment("homework", agent, ["b"], manager=bob)
        assert [r.value for r in load_experiment("homework", bob)] == ["b done"] == [r.value for r in mine]


def test_plain_sql_with_his_own_credentials_reads_and_changes_none_of_her_rows(room: Classroom) -> None:
    before = rows_of(room)
    ada = login_role(room.database, "ada")
    with psycopg.connect(room.superuser_url, autocommit=True) as conn:
        [(her_key,)] = conn.execute(
            f"SELECT key FROM {SCHEMA}.experiments WHERE owner = %s", (ada,)
        ).fetchall()
    assert sql(room, "bob", f"SELECT count(*) FROM {SCHEMA}.experiments WHERE owner = %s", (ada,)) == [(0,)]
    assert sql(room, "bob", f"SELECT count(*) FROM {SCHEMA}.experiment_runs WHERE owner = %s", (ada,)) == [
        (0,)
    ]
    assert sql(room, "bob", f"DELETE FROM {SCHEMA}.experiments WHERE owner = %s", (ada,)) == [(0,)]
    for statement, params in (
        (f"INSERT INTO {SCHEMA}.experiments (owner, name, payload) VALUES (%s, 'forged', '{{}}')", (ada,)),
        (f"UPDATE {SCHEMA}.experiments SET payload = '{{}}'", ()),
        (f"UPDATE {SCHEMA}.experiment_runs SET status = 'ok'", ()),
        (f"INSERT INTO {SCHEMA}.experiment_runs (experiment_key, run, session_id, variant, repeat, status, payload) "
         "VALUES (%s, 99, 'x', 'x', 1, 'ok', '{}')", (her_key,)),
    ):  # fmt: skip
        with pytest.raises(psycopg.Error) as refused:
            sql(room, "bob", statement, params)
        assert refused.value.sqlstate == REFUSED, statement
    after = rows_of(room)
    for table_before, table_after in zip(
        before, after, strict=True
    ):  # (column 2 of both tables is the owner)
        assert [row for row in table_after if row[1] == ada] == [row for row in table_before if row[1] == ada]


def test_the_teacher_lists_and_loads_it_with_its_sessions_and_changes_nothing(room: Classroom) -> None:
    before = [[row for row in table if row[1] == login_role(room.database, "ada")] for table in rows_of(room)]
    with SessionManager(store=room.urls["tea"], durability="sync") as tea:
        assert tea.store is not None
        assert "ada/homework" in [e.ref for e in tea.store.experiments.list()]
        runs = load_experiment("ada/homework", tea)
        assert [r.session_id for r in runs][:2] == ["ada/homework-terse-1", "ada/homework-terse-2"]
        assert [t.thought for t in runs[0].session.thoughts] == ["t: the invariant"]
        assert tea.store.experiments.delete("ada/homework") is False
    assert sql(room, "tea", f"DELETE FROM {SCHEMA}.experiments WHERE name = 'homework'") == [(0,)]
    after = [[row for row in table if row[1] == login_role(room.database, "ada")] for table in rows_of(room)]
    assert after == before


def test_every_experiment_table_is_under_forced_row_level_security_after_class_init_again(
    room: Classroom,
) -> None:
    store = open_store(room.admin_url)
    try:
        with store.connection() as conn:  # type: ignore[attr-defined]
            init_class(conn, SCHEMA)  # idempotent: an upgrade's policies reach an existing class
    finally:
        store.close()
    with psycopg.connect(room.superuser_url, autocommit=True) as conn:
        flags = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY 1",
            (SCHEMA, list(EXPERIMENT_TABLES)),
        ).fetchall()
        owners = conn.execute(
            "SELECT table_name, column_default FROM information_schema.columns "
            "WHERE table_schema = %s AND column_name = 'owner' AND table_name = ANY(%s) ORDER BY 1",
            (SCHEMA, list(EXPERIMENT_TABLES)),
        ).fetchall()
    assert flags == [("experiment_runs", True, True), ("experiments", True, True)]
    assert owners == [("experiment_runs", "CURRENT_USER"), ("experiments", "CURRENT_USER")]
    with SessionManager(store=room.urls["ada"], durability="sync") as ada:
        assert [r.status for r in load_experiment("homework", ada)] == ["ok"] * 4
