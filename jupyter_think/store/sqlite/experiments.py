"""The SQLite store's experiments: tables ``experiments`` and ``experiment_runs`` in ``sessions.db``.

A personal store has one user, so every experiment is the user's own (``OWNER/NAME`` naming someone
else finds nothing). Saving replaces the experiment's row and its runs in one write transaction; a
run row cascades away with its experiment.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from jupyter_think.core.ids import split_ref
from jupyter_think.store.experiments import ExperimentSummary, ExperimentTable, StoredExperiment, StoredRun
from jupyter_think.store.sqlite.file import once_more
from jupyter_think.store.sqlite.rows import default_owner

if TYPE_CHECKING:
    from jupyter_think.store.sqlite.file import DatabaseFile

STORED = 6
"""The schema version that brought the tables (a read-only store may be older: it has no experiments)."""


class SQLiteExperiments(ExperimentTable):
    """``store.experiments`` of a :class:`~jupyter_think.store.sqlite.store.SQLiteStore`."""

    def __init__(self, file: DatabaseFile) -> None:
        self._file = file

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """The connection to read with (``None``: no database yet, or one older than the tables)."""
        with self._file.connection(write=False) as conn:
            yield conn if conn is not None and self._file.schema_version >= STORED else None

    @once_more
    def save(self, name: str, payload: str, runs: Sequence[StoredRun]) -> None:
        runs = self.checked(name, payload, runs)
        now = datetime.now(timezone.utc).timestamp()
        with self._file.writing() as conn:
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

    @once_more
    def load(self, name: str) -> StoredExperiment | None:
        owner, plain = split_ref(self.checked_ref(name))
        with self._reading() as conn:
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

    @once_more
    def list(self) -> list[ExperimentSummary]:
        with self._reading() as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT e.name, e.owner, e.created_at, r.status, count(r.run) FROM experiments e "
                "LEFT JOIN experiment_runs r ON r.experiment_key = e.key "
                "GROUP BY e.key, r.status ORDER BY e.name, r.status"
            ).fetchall()
        return _summaries(rows)

    @once_more
    def holding(self, session_ids: Collection[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(session_ids))
        found: dict[str, str] = {}
        with self._reading() as conn:
            if conn is None or not ids:
                return found
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

    @once_more
    def delete(self, name: str) -> bool:
        name = self.checked_ref(name)
        with self._file.writing() as conn:
            return conn.execute("DELETE FROM experiments WHERE name = ?", (name,)).rowcount > 0


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
