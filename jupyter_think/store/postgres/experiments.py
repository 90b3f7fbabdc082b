"""The PostgreSQL store's experiments: tables ``experiments`` and ``experiment_runs`` under row-level security.

Every row has an ``owner`` the database sets (``DEFAULT current_user``, checked by a policy on insert,
never updated): a role sees and replaces its own experiments, a member of the class's teacher group
reads every experiment of the class (``OWNER/NAME``), and nothing else reaches them (the policies are
in :func:`~jupyter_think.store.postgres.policies.experiment_policies_sql`, the tables in
:mod:`.schema`). Names are unique per owner.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_think.core.ids import split_ref
from jupyter_think.store.experiments import ExperimentSummary, ExperimentTable, StoredExperiment, StoredRun
from jupyter_think.store.postgres.rows import utc

if TYPE_CHECKING:
    from jupyter_think.store.postgres.store import PostgresStore


_OWNER_NAME = "coalesce((SELECT m.user_name FROM {s}.members m WHERE m.role = e.owner), e.owner)"


class PostgresExperiments(ExperimentTable):
    """``store.experiments`` of a :class:`~jupyter_think.store.postgres.store.PostgresStore`."""

    def __init__(self, store: PostgresStore, schema: str) -> None:
        self._store = store
        self._s = schema

    def _ready(self, conn: Any) -> bool:
        """True when the tables are there (a read-only server may hold an older schema, or none)."""
        return not self._store._missing_schema(conn) and self._store._schema_version >= 6

    def save(self, name: str, payload: str, runs: Sequence[StoredRun]) -> None:
        runs = self.checked(name, payload, runs)
        s = self._s
        with self._store._connection() as conn:
            self._store._refuse_if_read_only()
            with conn.transaction():
                conn.execute(f"DELETE FROM {s}.experiments WHERE owner = current_user AND name = %s", (name,))
                key = conn.execute(
                    f"INSERT INTO {s}.experiments (name, payload) VALUES (%s, %s) RETURNING key",
                    (name, payload),
                ).fetchone()[0]  # type: ignore[index]  # (INSERT … RETURNING returns its row)
                with conn.cursor() as cursor:
                    cursor.executemany(
                        f"INSERT INTO {s}.experiment_runs (experiment_key, run, session_id, variant, repeat, "
                        "status, payload) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(key, r.run, r.session_id, r.variant, r.repeat, r.status, r.payload) for r in runs],
                    )

    def load(self, name: str) -> StoredExperiment | None:
        s = self._s
        owner, plain = split_ref(self._store.canonical(self.checked_ref(name)))
        where = "e.owner = current_user" if owner is None else f"e.owner = {s}.role_of(%s)"
        params = (plain,) if owner is None else (owner, plain)
        with self._store._connection() as conn:
            if not self._ready(conn):
                return None
            with conn.transaction():
                conn.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                )  # the experiment and its runs agree
                found = conn.execute(
                    f"SELECT e.key, {_OWNER_NAME.format(s=s)}, e.created_at, e.payload FROM {s}.experiments e "
                    f"WHERE {where} AND e.name = %s",
                    params,
                ).fetchone()
                if found is None:
                    return None
                rows = conn.execute(
                    f"SELECT run, session_id, variant, repeat, status, payload FROM {s}.experiment_runs "
                    "WHERE experiment_key = %s ORDER BY run",
                    (found[0],),
                ).fetchall()
        ref = plain if owner is None else f"{owner}/{plain}"
        runs = tuple(
            StoredRun(int(run), sid, variant, int(rep), status, body)
            for run, sid, variant, rep, status, body in rows
        )
        return StoredExperiment(plain, found[1], utc(found[2]), found[3], runs, ref)

    def list(self) -> list[ExperimentSummary]:
        s = self._s
        with self._store._connection() as conn:
            if not self._ready(conn):
                return []
            rows = conn.execute(
                f"SELECT e.name, {_OWNER_NAME.format(s=s)}, e.owner = current_user, e.created_at, r.status, "
                f"count(r.run) FROM {s}.experiments e LEFT JOIN {s}.experiment_runs r ON r.experiment_key = e.key "
                "GROUP BY e.key, r.status ORDER BY e.owner <> current_user, 2, e.name, r.status"
            ).fetchall()
        found: dict[tuple[str, str], tuple[bool, Any, dict[str, int]]] = {}
        for name, owner, mine, created, status, count in rows:
            statuses = found.setdefault((owner, name), (mine, created, {}))[2]
            if status is not None:
                statuses[status] = int(count)
        return [
            ExperimentSummary(
                name,
                owner,
                utc(created),
                sum(statuses.values()),
                statuses,
                name if mine else f"{owner}/{name}",
            )
            for (owner, name), (mine, created, statuses) in found.items()
        ]

    def holding(self, session_ids: Collection[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(session_ids))
        if not ids:
            return {}
        s = self._s
        with self._store._connection() as conn:
            if not self._ready(conn):
                return {}
            rows = conn.execute(
                f"SELECT r.session_id, e.name FROM {s}.experiment_runs r JOIN {s}.experiments e "
                "ON e.key = r.experiment_key WHERE r.owner = current_user AND r.session_id = ANY(%s)",
                (ids,),
            ).fetchall()
        return dict(rows)

    def delete(self, name: str) -> bool:
        owner, plain = split_ref(self._store.canonical(self.checked_ref(name)))
        if owner is not None:
            return False  # another user's experiment is theirs to forget
        with self._store._connection() as conn:
            self._store._refuse_if_read_only()
            with conn.transaction():
                gone = conn.execute(
                    f"DELETE FROM {self._s}.experiments WHERE owner = current_user AND name = %s RETURNING 1",
                    (plain,),
                ).fetchone()
        return gone is not None
