"""A damaged store, seen through the manager: garbage over ``sessions.db``, a truncated database, a
change row edited to invalid JSON (SQLite and PostgreSQL).

A database SQLite calls corrupt is moved to ``.quarantine/`` with its bytes (nothing deleted), a
warning names it, and a fresh database takes the next thoughts. A single bad row is skipped with a
warning naming the session and the change; everything else loads, thinking goes on after it, and
the bad row stays in the database for whoever wants to repair it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jupyter_think import SessionManager
from jupyter_think.models import ThoughtAdded
from jupyter_think.store import StoreWarning, open_store

CLI = str(Path(sys.executable).parent / "jupyter-think")


def texts_of(location: str, session_id: str) -> list[str]:
    loaded = open_store(location).load(session_id)
    return [] if loaded is None else [c.thought.thought for c in loaded.changes if isinstance(c, ThoughtAdded)]


def fill_store(location: str) -> None:
    with SessionManager(store=location) as manager:
        for session_id in ("alpha", "beta"):
            for number in range(200):
                manager.session(session_id).think(f"{session_id} {number} " + "y" * 300)


def damage(database: Path, how: str) -> bytes:
    """Damage ``database`` (``garbage`` over all of it, or ``truncated`` to half); return its bytes now."""
    size = database.stat().st_size
    if how == "garbage":
        database.write_bytes(bytes((n * 7 + 13) % 251 for n in range(size)))
    else:
        os.truncate(database, size // 2)
    return database.read_bytes()


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_database_is_quarantined_with_its_bytes_and_a_fresh_one_takes_new_thoughts(
    tmp_path: Path, how: str
) -> None:
    location = str(tmp_path / "store")
    fill_store(location)
    assert sorted(os.listdir(location)) == ["sessions.db"]
    damaged = damage(tmp_path / "store" / "sessions.db", how)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            session = manager.session("alpha")
            session.think("After the damage")
            manager.flush(timeout=120)
    named = [str(w.message) for w in caught if issubclass(w.category, StoreWarning) and "is damaged" in str(w.message)]
    assert len(named) == 1, [str(w.message) for w in caught]
    assert str(tmp_path / "store" / "sessions.db") in named[0] and ".quarantine" in named[0]

    (kept,) = (tmp_path / "store" / ".quarantine").glob("*.db")
    assert kept.read_bytes() == damaged, "the damaged database was not kept byte for byte"
    assert kept.name in named[0]
    assert texts_of(location, "alpha") == ["After the damage"]
    assert [row.id for row in open_store(location).sessions(("live", "trashed", "archived"))] == ["alpha"]


@pytest.fixture
def edited_row(store_location: str, engine: str) -> str:
    """A store whose session ``mixed`` has changes 1-3, change 2 edited to invalid JSON."""
    with SessionManager(store=store_location) as manager:
        session = manager.session("mixed")
        for text in ("one", "two", "three"):
            session.think(text)
    _sql(store_location, engine, "UPDATE {changes} SET payload = '{{\"kind\": \"thought\", \"thou' WHERE seq = 2")
    return store_location


@pytest.mark.filterwarnings("ignore::jupyter_think.store.StoreWarning")  # (each read of the bad row warns)
def test_a_row_edited_to_invalid_json_is_skipped_the_session_loads_and_thinking_goes_on_after_it(
    edited_row: str, engine: str
) -> None:
    location = edited_row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            session = manager.session("mixed")
            assert [t.thought for t in session.thoughts] == ["one", "three"]
            session.think("four")
            manager.flush(timeout=120)
    skipped = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
    assert skipped and "'mixed'" in skipped[0] and "change 2" in skipped[0]
    assert texts_of(location, "mixed") == ["one", "three", "four"]
    loaded = open_store(location).load("mixed")
    assert loaded is not None and loaded.skipped == [2]
    assert [seq for seq, _ in open_store(location).changes_since(loaded.row.key, 0)] == [1, 3, 4]
    assert _sql(location, engine, "SELECT seq, payload FROM {changes} ORDER BY seq")[1] == (
        2, '{"kind": "thought", "thou'
    ), "the bad row was not kept"
    where = ["--dir", location] if engine == "sqlite" else ["--store", location]
    shown = subprocess.run([CLI, *where, "show", "mixed"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "four" in shown.stdout and "change 2" in shown.stderr


def _sql(location: str, engine: str, statement: str) -> list[tuple[object, ...]]:
    if engine == "sqlite":
        import sqlite3

        conn = sqlite3.connect(f"{location}/sessions.db", isolation_level=None)
        try:
            return conn.execute(statement.format(changes="changes")).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(location, autocommit=True) as conn:
        cursor = conn.execute(statement.format(changes="jupyter_think.changes"))  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_sessions_still_intact_in_a_damaged_database_are_copied_into_the_fresh_one(tmp_path: Path) -> None:
    import sqlite3

    location = str(tmp_path / "store")
    fill_store(location)  # alpha's changes first, then beta's: beta's newest rows are on the last leaf page
    database = tmp_path / "store" / "sessions.db"
    conn = sqlite3.connect(database)
    (last_leaf,) = conn.execute(
        "SELECT max(pageno) FROM dbstat WHERE name = 'changes' AND pagetype = 'leaf'"
    ).fetchone()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(database, "r+b") as file:
        file.seek((last_leaf - 1) * page_size)
        file.write(bytes((n * 7 + 13) % 251 for n in range(page_size)))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            with pytest.raises(OSError, match="cannot read session 'beta'"):
                manager.session("beta")
            assert len(manager.session("alpha")) == 200, "an intact session did not survive the quarantine"
            manager.session("alpha").think("After the damage")
    (said,) = [str(w.message) for w in caught if issubclass(w.category, StoreWarning) and "is damaged" in str(w.message)]
    assert "1 intact session(s) were copied into it, 1 could not be read whole" in said
    assert len(texts_of(location, "alpha")) == 201
    assert texts_of(location, "beta") == []
    kept = sorted(p.name for p in (tmp_path / "store" / ".quarantine").iterdir())
    assert kept[0].endswith(".db"), kept
