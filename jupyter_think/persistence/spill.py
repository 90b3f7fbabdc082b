"""The spill file: acknowledged changes a store would not take, kept on this machine until it does.

One SQLite database (standard library) per store and database role, in
``<jupyter data dir>/think/spill/`` (directory 0700, file 0600): for a SQLite store its resolved
directory and the OS user, for PostgreSQL the host, port, database and user (never the password)
are hashed into the file name and kept readable inside. Each write is one transaction with
``synchronous=FULL`` in a rollback journal, so a kill mid-write leaves the file as it was before.

An entry is in one of three states: ``exit`` (a process exited while the store refused it: down,
full, read-only), which the next process opening the store replays first; ``refused`` (the store
refuses what it holds); ``behind`` (a later change of a session with a refused one, kept in order
behind it). ``jupyter-think recover`` replays them all (:mod:`.replay`).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from jupyter_think.core.models import Change, change_adapter
from jupyter_think.persistence.refusal import describe
from jupyter_think.persistence.spill_place import spill_path
from jupyter_think.store import Store
from jupyter_think.store.codec import encode

State = Literal["exit", "refused", "behind"]
BUSY_TIMEOUT = 60.0
"""Seconds a spill write waits for another process's (a replay holds it while it writes to the store)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('exit', 'refused', 'behind')),
    kind TEXT NOT NULL,
    thought_number TEXT,
    position INTEGER,
    expected_key INTEGER,
    session_created REAL,
    payload BLOB NOT NULL,
    cause TEXT NOT NULL,
    spilled_at REAL NOT NULL,
    pid INTEGER NOT NULL,
    exported_to TEXT
);
CREATE INDEX IF NOT EXISTS changes_by_session ON changes (session_id, id);
"""
_COLUMNS = (
    "id, session_id, state, kind, thought_number, position, expected_key, session_created, payload, cause, "
    "spilled_at, pid, exported_to"
)


class SpillError(OSError):
    """The spill file itself refused (its directory cannot be made, the file is damaged)."""


@dataclass(frozen=True)
class ToSpill:
    """A change to keep: its session, and where the session stood (the row it writes to, its creation)."""

    session_id: str
    change: Change
    expected_key: int | None = None
    session_created: datetime | None = None


@dataclass(frozen=True)
class Spilled:
    """One kept change, as the spill file holds it."""

    id: int
    session_id: str
    state: State
    kind: str
    thought_number: str | None
    position: int | None
    expected_key: int | None
    session_created: datetime | None
    payload: str
    cause: str
    spilled_at: datetime
    pid: int
    exported_to: str | None

    @cached_property
    def change(self) -> Change | None:
        """The change (``None`` when its payload no longer validates: a newer version wrote it)."""
        try:
            return change_adapter.validate_json(self.payload)
        except (ValidationError, ValueError, RecursionError):
            return None

    def describe(self) -> str:
        """``change 13 (a thought, number 5)``: the seq it would take in its session (when known), and what."""
        what = describe(self.change) if self.change is not None else f"a {self.kind!r} change"
        return f"change {self.position} ({what})" if self.position is not None else f"a change ({what})"

    def as_json(self) -> str:
        """One JSON line for an export: where it belongs, why it is kept, and the change itself."""
        try:
            change: Any = json.loads(self.payload)
        except ValueError:
            change = self.payload
        record = {
            "session": self.session_id,
            "state": self.state,
            "kind": self.kind,
            "thoughtNumber": self.thought_number,
            "position": self.position,
            "cause": self.cause,
            "spilledAt": self.spilled_at.isoformat(),
            "change": change,
        }
        return json.dumps(record, ensure_ascii=True)


class Spill:
    """The spill file of one store (see the module docstring). Every call opens its own connection,
    so it is safe from any thread and across ``fork()``.

    Example:
        >>> import tempfile
        >>> from jupyter_think.store import open_store
        >>> spill = Spill.for_store(open_store(tempfile.mkdtemp()))
        >>> spill.path.parent.name, spill.entries()   # (nothing is created before a change is kept)
        ('spill', [])
    """

    def __init__(self, path: Path, identity: str, location: str) -> None:
        self.path = path
        self.identity = identity
        self.location = location

    @classmethod
    def for_store(cls, store: Store) -> Spill:
        """The spill file of ``store`` (nothing is created before the first change is kept)."""
        path, identity = spill_path(store)
        return cls(path, identity, store.location)

    def __repr__(self) -> str:
        return f"<Spill {self.path}>"

    # --- looking ---

    def exists(self) -> bool:
        """True when the file exists (a stat: the cheap first look)."""
        return self.path.exists()

    def entries(self, session_id: str | None = None, ids: Sequence[int] | None = None) -> list[Spilled]:
        """The kept changes (of ``session_id``, or with these ``ids``), in the order they were kept."""
        if not self.exists():
            return []
        with self._connect() as conn:
            try:
                return self.read(conn, session_id, ids)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def read(
        self, conn: sqlite3.Connection, session_id: str | None = None, ids: Sequence[int] | None = None
    ) -> list[Spilled]:
        """:meth:`entries` on an open connection (inside the caller's :meth:`transaction`)."""
        where, params = _where(session_id, ids)
        rows = conn.execute(f"SELECT {_COLUMNS} FROM changes{where} ORDER BY id", params).fetchall()
        return [_spilled(row) for row in rows]

    def held(self) -> set[str]:
        """Sessions with a change the store refused (their later changes are kept behind it)."""
        return {entry.session_id for entry in self.entries() if entry.state != "exit"}

    # --- keeping ---

    def set_aside(self, items: Sequence[ToSpill], cause: str, position: int | None) -> list[int]:
        """Keep a refused change (``items[0]``, which would have gone to ``position`` in its session)
        and the later changes of its session behind it, in one transaction; return their ids."""
        with self.transaction() as conn:
            return _insert(conn, items[:1], "refused", cause, position) + _insert(
                conn, items[1:], "behind", "kept behind a change the store refuses", None
            )

    def keep_at_exit(self, items: Sequence[ToSpill], cause: str) -> list[int]:
        """Keep what a process could not save before it exits, in one transaction: ``behind`` for a
        session with a refused change kept, else ``exit`` (replayed by the next process)."""
        with self.transaction() as conn:
            held = {
                row[0]
                for row in conn.execute("SELECT DISTINCT session_id FROM changes WHERE state != 'exit'")
            }
            ids = []
            for item in items:
                state: State = "behind" if item.session_id in held else "exit"
                ids += _insert(conn, [item], state, cause, None)
            return ids

    def add_behind(self, session_id: str, items: Sequence[ToSpill], cause: str) -> list[int] | None:
        """Keep ``items`` behind the changes of ``session_id`` already kept, when there still are any
        (one transaction); ``None`` when there are none (recovered meanwhile: write to the store)."""
        if not self.exists():
            return None
        with self.transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM changes WHERE session_id = ? LIMIT 1", (session_id,)).fetchone()
                is None
            ):
                return None
            return _insert(conn, items, "behind", cause, None)

    def remove(self, conn: sqlite3.Connection, ids: Sequence[int]) -> None:
        """Forget entries (in the caller's transaction)."""
        conn.executemany("DELETE FROM changes WHERE id = ?", [(i,) for i in ids])

    def mark(
        self, conn: sqlite3.Connection, ids: Sequence[int], state: State, cause: str | None = None
    ) -> None:
        """Set the state (and cause) of entries (in the caller's transaction)."""
        conn.executemany(
            "UPDATE changes SET state = ?, cause = coalesce(?, cause) WHERE id = ?",
            [(state, cause, i) for i in ids],
        )

    def mark_exported(self, ids: Sequence[int], target: str) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE changes SET exported_to = ? WHERE id = ?", [(target, i) for i in ids])

    def discard(self, ids: Sequence[int]) -> None:
        """Delete entries for good (the caller made sure they were exported)."""
        with self.transaction() as conn:
            self.remove(conn, ids)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the file (created 0600 in a 0700 directory when missing); other
        processes wait for it. Committed at the end of the block, rolled back on an exception."""
        self._create()
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('store', ?), ('identity', ?)",
                    (self.location, self.identity),
                )
                yield conn
            except BaseException:
                with suppress(sqlite3.Error):  # (SQLite may have rolled back already)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- the file ---

    def _create(self) -> None:
        if self.path.exists():
            return
        directory = self.path.parent
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the new file's name survives a power cut too
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise SpillError(
                exc.errno or errno.EIO, f"cannot create the spill file {self.path}: {exc.strerror}"
            ) from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection (an ``OSError`` naming the file when SQLite refuses it)."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise SpillError(errno.EIO, f"cannot open the spill file {self.path}: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # a rollback journal: no -wal or -shm to lose
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.Error as exc:
            raise SpillError(errno.EIO, f"the spill file {self.path} refused: {exc}") from exc
        finally:
            conn.close()


# --- helpers ---------------------------------------------------------------------------------------


def _where(session_id: str | None, ids: Sequence[int] | None) -> tuple[str, tuple[Any, ...]]:
    if ids is not None:
        marks = ",".join("?" * len(ids)) or "NULL"
        return f" WHERE id IN ({marks})", tuple(ids)
    if session_id is not None:
        return " WHERE session_id = ?", (session_id,)
    return "", ()


def _insert(
    conn: sqlite3.Connection, items: Sequence[ToSpill], state: State, cause: str, position: int | None
) -> list[int]:
    now, pid = time.time(), os.getpid()
    cause = cause.encode("utf-8", "backslashreplace").decode("utf-8")
    ids = []
    for offset, item in enumerate(items):
        change = item.change
        number = getattr(getattr(change, "thought", change), "thought_number", None)
        cursor = conn.execute(
            f"INSERT INTO changes ({_COLUMNS.split(', ', 1)[1]}) VALUES ({', '.join('?' * 11)}, NULL)",
            (
                item.session_id,
                state,
                change.kind,
                None if number is None else str(number),
                None if position is None else position + offset,
                item.expected_key,
                None if item.session_created is None else item.session_created.timestamp(),
                encode(change).encode("utf-8", "surrogatepass"),
                cause,
                now,
                pid,
            ),
        )
        ids.append(int(cursor.lastrowid))  # type: ignore[arg-type]  # (an INSERT always sets it)
    return ids


def _spilled(row: tuple[Any, ...]) -> Spilled:
    (key, session_id, state, kind, number, position, expected, created, payload, cause, at, pid, exported) = (
        row
    )
    return Spilled(
        key,
        session_id,
        state,
        kind,
        number,
        position,
        expected,
        None if created is None else datetime.fromtimestamp(created, tz=timezone.utc),
        bytes(payload).decode("utf-8", "surrogatepass"),
        cause,
        datetime.fromtimestamp(at, tz=timezone.utc),
        pid,
        exported,
    )
