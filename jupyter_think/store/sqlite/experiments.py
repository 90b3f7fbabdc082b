"""The SQLite store's experiments: tables ``experiments`` and ``experiment_runs`` in ``sessions.db``.

A personal store has one user, so every experiment is the user's own (``OWNER/NAME`` naming someone
else finds nothing). Saving replaces the experiment's row and its runs in one write transaction; a
run row cascades away with its experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

from jupyter_think.core.ids import split_ref
from jupyter_think.store.base import default_owner
from jupyter_think.store.experiments import ExperimentSummary, ExperimentTable, StoredExperiment, StoredRun

if TYPE_CHECKING:
    from jupyter_think.store.sqlite.store import SQLiteStore

MIGRATION = """
CREATE TABLE experiments (
    key INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE experiment_runs (
    experiment_key INTEGER NOT NULL REFERENCES experiments (key) ON DELETE CASCADE,
    run INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (experiment_key, run)
) WITHOUT ROWID;
CREATE INDEX experiment_runs_by_session ON experiment_runs (session_id);
"""
"""Schema version 6 (``sqlite/schema.py`` runs it)."""
T = TypeVar("T")


class SQLiteExperiments(ExperimentTable):
    """``store.experiments`` of a :class:`~jupyter_think.store.sqlite.store.SQLiteStore`."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def save(self, name: str, payload: str, runs: Sequence[StoredRun]) -> None:
        runs = self.checked(name, payload, runs)
        now = datetime.now(timezone.utc).timestamp()

        def write() -> None:
            with self._store._writing() as conn:
                conn.execute("DELETE FROM experiments WHERE name = ?", (name,))
                key = conn.execute(
                    "INSERT INTO experiments (name, owner, created_at, payload) VALUES (?, ?, ?, ?)",
                    (name, default_owner(), now, payload),
                ).lastrowid
                conn.executemany(
                    "INSERT INTO experiment_runs (experiment_key, run, session_id, variant, repeat, status, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(key, r.run, r.session_id, r.variant, r.repeat, r.status, r.payload) for r in runs],
                )

        _again(write)

    def load(self, name: str) -> StoredExperiment | None:
        owner, plain = split_ref(self.checked_ref(name))

        def read() -> StoredExperiment | None:
            with self._store._connection(write=False) as conn:
                if conn is None:
                    return None
                conn.execute("BEGIN")  # one snapshot for the experiment and its runs
                try:
                    found = conn.execute(
                        "SELECT key, owner, created_at, payload FROM experiments WHERE name = ?", (plain,)
                    ).fetchone()
                    if found is None or (owner is not None and owner != found[1]):
                        return None
                    rows = conn.execute(
                        "SELECT run, session_id, variant, repeat, status, payload FROM experiment_runs "
                        "WHERE experiment_key = ? ORDER BY run",
                        (found[0],),
                    ).fetchall()
                finally:
                    conn.execute("COMMIT")
            return StoredExperiment(
                plain,
                found[1],
                datetime.fromtimestamp(found[2], tz=timezone.utc),
                found[3],
                tuple(StoredRun(*row) for row in rows),
            )

        return _again(read)

    def list(self) -> list[ExperimentSummary]:
        def read() -> list[ExperimentSummary]:
            with self._store._connection(write=False) as conn:
                if conn is None:
                    return []
                rows = conn.execute(
                    "SELECT e.name, e.owner, e.created_at, r.status, count(r.run) FROM experiments e "
                    "LEFT JOIN experiment_runs r ON r.experiment_key = e.key "
                    "GROUP BY e.key, r.status ORDER BY e.name, r.status"
                ).fetchall()
            return _summaries(rows)

        return _again(read)

    def holding(self, session_ids: Collection[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(session_ids))
        if not ids:
            return {}

        def read() -> dict[str, str]:
            with self._store._connection(write=False) as conn:
                if conn is None:
                    return {}
                found: dict[str, str] = {}
                for start in range(0, len(ids), 500):  # (SQLite's limit on parameters)
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    found.update(
                        conn.execute(
                            "SELECT r.session_id, e.name FROM experiment_runs r "
                            f"JOIN experiments e ON e.key = r.experiment_key WHERE r.session_id IN ({marks})",
                            chunk,
                        ).fetchall()
                    )
            return found

        return _again(read)

    def delete(self, name: str) -> bool:
        name = self.checked_ref(name)

        def write() -> bool:
            with self._store._writing() as conn:
                return conn.execute("DELETE FROM experiments WHERE name = ?", (name,)).rowcount > 0

        return _again(write)


def _summaries(rows: Sequence[tuple[str, str, float, str | None, int]]) -> list[ExperimentSummary]:
    """(name, owner, created, status, count) rows, one per status, as one summary per experiment."""
    found: dict[str, tuple[str, float, dict[str, int]]] = {}
    for name, owner, created, status, count in rows:
        statuses = found.setdefault(name, (owner, created, {}))[2]
        if status is not None:
            statuses[status] = count
    return [
        ExperimentSummary(
            name, owner, datetime.fromtimestamp(created, tz=timezone.utc), sum(statuses.values()), statuses
        )
        for name, (owner, created, statuses) in found.items()
    ]


def _again(step: Callable[[], T]) -> T:
    """``step()``, once more when the database file was repaired or replaced under it (as the store's
    own methods do)."""
    from jupyter_think.store.sqlite.store import _TryAgain

    try:
        return step()
    except _TryAgain:
        return step()
