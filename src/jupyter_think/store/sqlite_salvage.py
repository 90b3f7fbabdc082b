"""A damaged SQLite database repaired in place, under SQLite's own write lock, with all that can be read of it.

When SQLite calls the store's database corrupt, :func:`repair`:

1. takes the store's repair lock (an ``flock`` on ``.quarantine/repair.lock``): one process at a time;
2. takes SQLite's write lock on the damaged file itself, as the destination of an SQLite backup, and
   keeps it to the end: no writer commits to the file meanwhile (writers wait, as for any other
   writer, then write into the repaired content);
3. checks a copy of the file (``PRAGMA quick_check``): when another process repaired it meanwhile,
   nothing more is done;
4. copies the file and its WAL byte for byte to ``.quarantine/sessions-<time>-<n>.db`` (never deleted);
5. reads every row that can still be read (table by table, in rowid order, stepping over pages that
   cannot be read), checks each change against its checksum and validates it, and writes what is
   good into a fresh database — the same row keys, sequence numbers and checksums. A session that
   lost changes keeps its last sequence number and its highest thought number, and records how many
   changes it lost and where they are kept (``missing``, ``kept_in``);
6. the backup then replaces the damaged file's whole content with the fresh database, in one
   transaction.

Why not rename a fresh file into place: a connection another process holds on the old file goes
on writing into it (acknowledged changes lost with the moved file), and SQLite deletes a database's
``-wal`` and ``-shm`` *by name* when the last connection to it closes, so a connection to the moved
file would delete the new database's live WAL and index. Repaired in place, the file, its WAL and
its index stay the ones every process has open; other connections read the new content at their
next transaction, as after any commit (the backup changes the schema cookie).

A file whose header is not SQLite's (``SQLITE_NOTADB``) cannot be locked by SQLite: it is copied to
the quarantine first, then emptied in place (SQLite takes an empty file as an empty database) and
repaired the same way from whatever its WAL still holds.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .base import STATES, RowCounts, StoreError, as_change, searchable
from .payloads import decode
from .sqlite_file import INDEX_TEXT, QUARANTINE, columns, errorname, migrate

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK = "repair.lock"
LOCK_WAIT = 120.0
"""Seconds a repair waits for SQLite's write lock on the damaged file before it gives up (EBUSY)."""

_SESSION_COLUMNS = (
    "id", "owner", "state", "created_at", "last_activity", "state_changed_at", "last_seq", "thoughts",
    "branches", "status", "missing", "kept_in", "top_number",
)  # fmt: skip
_DEFAULTS = {
    "last_seq": 0,
    "thoughts": 0,
    "branches": 0,
    "status": "open",
    "missing": 0,
    "kept_in": "",
    "top_number": 0,
}
_SQLITE_OK = 0


@dataclass
class Repaired:
    """What a repair kept and carried over."""

    kept: Path
    """The quarantined copy of the damaged file."""
    whole: int = 0
    """Sessions carried over with every change."""
    partial: list[tuple[str, int, int]] = field(default_factory=list)
    """(id, changes missing, changes it had) of each session carried over in part."""
    orphans: int = 0
    """Changes whose session row could not be read (they are only in the kept copy)."""
    lost_rows: int = 0
    """Session rows that could not be read or carried over."""

    def summary(self) -> str:
        """What the warning says after the file's name."""
        said = [f"{self.whole} session(s) carried over whole"]
        if self.partial:
            names = ", ".join(
                f"{sid!r} ({missing} of {had} changes missing)" for sid, missing, had in self.partial
            )
            said.append(f"{len(self.partial)} in part: {names} — each says so when it is opened")
        if self.lost_rows:
            said.append(f"{self.lost_rows} session row(s) could not be read")
        if self.orphans:
            said.append(
                f"{self.orphans} change(s) of sessions whose row could not be read are only in the copy"
            )
        return "; ".join(said)


def repair(path: Path, timeout: float) -> Repaired | None:
    """Repair the damaged database at ``path`` in place (see the module docstring).

    Returns ``None`` when there was nothing to repair (another process did it meanwhile). Raises
    ``OSError`` or ``sqlite3.Error`` when it cannot be done (a read-only file system, a full disk).
    """
    folder = path.parent / QUARANTINE
    folder.mkdir(mode=0o700, exist_ok=True)
    with _exclusive(folder / LOCK), tempfile.TemporaryDirectory(prefix="jupyter-think-repair-") as scratch:
        kept = None
        if _not_a_database(path, timeout):
            kept = keep(path, folder)
            os.truncate(path, 0)  # (the same file: every connection to it stays valid)
        return _rebuild(path, Path(scratch), kept, timeout)


def keep(path: Path, folder: Path) -> Path:
    """Copy ``path`` and its WAL, byte for byte, to a new ``sessions-<time>-<n>.db`` in ``folder`` (0600)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    n = 1
    while (folder / f"sessions-{stamp}-{n}.db").exists():
        n += 1
    target = folder / f"sessions-{stamp}-{n}.db"
    for suffix in ("", "-wal"):
        source = Path(f"{path}{suffix}")
        if source.exists() and (suffix == "" or source.stat().st_size > 0):
            copy = Path(f"{target}{suffix}")
            shutil.copyfile(source, copy)
            os.chmod(copy, 0o600)
    return target


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One repair at a time, across processes and threads (released when the holder dies)."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        yield
    finally:
        os.close(fd)


def _not_a_database(path: Path, timeout: float) -> bool:
    """True when SQLite does not take ``path`` for a database at all (its header is damaged)."""
    conn = _connect(path, timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        return errorname(exc) == "SQLITE_NOTADB"
    finally:
        conn.close()
    return False


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=rw", uri=True, timeout=timeout, isolation_level=None
    )
    conn.execute("PRAGMA writable_schema = ON")  # a header that claims more pages than the file has is read
    return conn


def _rebuild(path: Path, scratch: Path, kept: Path | None, timeout: float) -> Repaired | None:
    """Carry what can be read into a fresh database and back up that one into ``path``, holding
    ``path``'s write lock from before the read to the end (the progress callback runs under it)."""
    fresh = sqlite3.connect(scratch / "fresh.db", isolation_level=None)
    fresh.execute(f"PRAGMA page_size = {_page_size(path)}")  # (a WAL database's page size cannot change)
    fresh.execute("PRAGMA synchronous = OFF")
    migrate(fresh)  # the schema: several pages, so the first one-page step leaves the backup unfinished
    target = _connect(path, timeout)
    outcome: list[Repaired | None] = []
    deadline = time.monotonic() + LOCK_WAIT

    def step(status: int, remaining: int, total: int) -> None:
        if outcome:
            return
        if status != _SQLITE_OK:
            if time.monotonic() > deadline:
                raise StoreError(
                    errno.EBUSY, f"{path} is damaged and another process holds it: try again later"
                )
            return
        # the first page is written: the damaged file is locked for writing until the backup ends
        outcome.append(_carry_over(path, scratch, fresh, kept))
        if outcome[0] is None:
            raise _NothingToDo

    try:
        fresh.backup(target, pages=1, progress=step, sleep=0.002)
    except _NothingToDo:
        return None
    finally:
        target.close()
        fresh.close()
    return outcome[0]


class _NothingToDo(Exception):
    """The file reads whole: another process repaired it (the backup is rolled back)."""


def _carry_over(path: Path, scratch: Path, fresh: sqlite3.Connection, kept: Path | None) -> Repaired | None:
    """Read a copy of ``path`` (locked) and write what is good into ``fresh``; ``None`` when whole."""
    copy = scratch / "damaged.db"
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
    source = _connect(copy, 0)
    try:
        if kept is None:
            if _whole(source):
                return None
            kept = keep(path, path.parent / QUARANTINE)
        found = _read(source)
    finally:
        source.close()
    return _write(fresh, found, kept)


def _whole(source: sqlite3.Connection) -> bool:
    try:
        return source.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    except sqlite3.DatabaseError:
        return False


# --- reading what can be read ------------------------------------------------------------------------


@dataclass
class _Found:
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)
    changes: dict[int, dict[int, tuple[Any, ...]]] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)


def _read(source: sqlite3.Connection) -> _Found:
    found = _Found()
    try:
        have = columns(source, "sessions")
        checked = "checksum" if "checksum" in columns(source, "changes") else "NULL"
    except sqlite3.DatabaseError:
        return found  # the schema itself cannot be read
    wanted = [name if name in have else "NULL" for name in _SESSION_COLUMNS]
    for key, *values in _scan(source, "sessions", ", ".join(wanted)):
        row = {name: _DEFAULTS[name] if value is None and name in _DEFAULTS else value
               for name, value in zip(_SESSION_COLUMNS, values)}  # fmt: skip
        found.sessions[key] = row
    for _, key, seq, kind, payload, at, expected in _scan(
        source, "changes", f"session_key, seq, kind, CAST(payload AS BLOB), created_at, {checked}"
    ):
        found.changes.setdefault(key, {}).setdefault(seq, (kind, payload, at, expected))
    try:  # the search index keeps each thought's number apart from the changes: the highest survives there
        found.numbers = dict(
            source.execute("SELECT session_key, max(thought_number) FROM thought_text GROUP BY session_key")
        )
    except sqlite3.DatabaseError:
        pass
    return found


def _scan(source: sqlite3.Connection, table: str, selected: str) -> Iterator[tuple[Any, ...]]:
    """(rowid, *selected) of every row of ``table`` that can be read, in rowid order; a damaged page
    is stepped over (the rows on it are lost, the rows after it are read)."""
    after = -(2**63)
    while True:
        try:
            for row in source.execute(
                f"SELECT rowid, {selected} FROM {table} WHERE rowid > ? ORDER BY rowid", (after,)
            ):
                after = row[0]
                yield row
            return
        except sqlite3.DatabaseError:
            resume = _next_readable(source, table, after)
            if resume is None:
                return
            after = max(resume - 1, after + 1)


def _next_readable(source: sqlite3.Connection, table: str, after: int) -> int | None:
    """The lowest rowid above ``after`` from which ``table`` reads again (``None``: it never does).

    Seeking to a rowid on a damaged page fails, seeking past it works: probe ahead in doubling
    steps until a seek works, then halve the gap down to the first rowid that works."""
    top = 2**63 - 1
    failed, step = after, 1
    while True:
        probe = min(after + step, top)
        if _seeks(source, table, probe):
            break
        failed = probe
        if probe == top:
            return None
        step *= 2
    while probe - failed > 1:
        middle = (failed + probe) // 2
        if _seeks(source, table, middle):
            probe = middle
        else:
            failed = middle
    return probe


def _seeks(source: sqlite3.Connection, table: str, rowid: int) -> bool:
    try:
        source.execute(
            f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (rowid,)
        ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return True


def _page_size(path: Path) -> int:
    """The page size the header of ``path`` gives (4096 when it gives none that is valid)."""
    try:
        with open(path, "rb") as file:
            header = file.read(100)
    except OSError:
        return 4096
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return 4096
    size = struct.unpack(">H", header[16:18])[0]
    size = 65536 if size == 1 else size
    return size if 512 <= size <= 65536 and size & (size - 1) == 0 else 4096


# --- writing what is good ----------------------------------------------------------------------------


def _write(fresh: sqlite3.Connection, found: _Found, kept: Path) -> Repaired:
    """Write the good rows of ``found`` into ``fresh`` in one transaction; say what was carried."""
    repaired = Repaired(kept)
    carried_keys: set[int] = set()
    fresh.execute("BEGIN")
    for key, row in sorted(found.sessions.items()):
        fresh.execute("SAVEPOINT one")
        try:
            carried = _carry_session(fresh, key, row, found, kept)
        except (
            sqlite3.Error,
            ValueError,
            TypeError,
        ):  # a row that is not what it seems (a damaged page that parses)
            fresh.execute("ROLLBACK TO one")
            carried = None
        fresh.execute("RELEASE one")
        if carried is None:
            repaired.lost_rows += 1
            continue
        carried_keys.add(key)
        if carried[1]:
            repaired.partial.append(carried)
        else:
            repaired.whole += 1
    fresh.execute("COMMIT")
    repaired.orphans = sum(len(changes) for key, changes in found.changes.items() if key not in carried_keys)
    return repaired


def _carry_session(
    fresh: sqlite3.Connection, key: int, row: dict[str, Any], found: _Found, kept: Path
) -> tuple[str, int, int] | None:
    """Write session row ``key`` and its good changes into ``fresh``: (id, changes missing, changes
    it had), or ``None`` when the row is not a session's (its state or id damaged)."""
    if row["state"] not in STATES or not isinstance(row["id"], str):
        return None
    stored = found.changes.get(key, {})
    rows = [
        (seq, stored[seq][1], stored[seq][3]) for seq in sorted(stored) if isinstance(stored[seq][1], bytes)
    ]
    good_seqs, entries, _ = decode(row["id"], rows, kept=f"it is kept in {kept}")
    changes = [as_change(entry) for entry in entries]
    counts = RowCounts.of(changes)
    had = max([int(row["last_seq"]), *good_seqs])
    missing = had - len(good_seqs)
    row = {
        **row,
        "last_seq": had,
        "top_number": max(int(row["top_number"]), int(found.numbers.get(key) or 0), counts.top_number),
    }
    if missing:
        earlier = [line for line in str(row["kept_in"]).split("\n") if line]
        if missing > int(row["missing"]) and str(kept) not in earlier:
            earlier.append(str(kept))
        row.update(
            missing=missing,
            kept_in="\n".join(earlier),
            thoughts=counts.thoughts,
            branches=len(counts.branch_ids),
        )
    _insert(fresh, key, row, [(seq, stored[seq]) for seq in good_seqs], changes, counts)
    return row["id"], missing, had


def _insert(
    fresh: sqlite3.Connection,
    key: int,
    row: dict[str, Any],
    good: list[tuple[int, tuple[Any, ...]]],
    changes: list[Any],
    counts: RowCounts,
) -> None:
    fresh.execute(
        f"INSERT INTO sessions (key, {', '.join(_SESSION_COLUMNS)}) VALUES (?{', ?' * len(_SESSION_COLUMNS)})",
        (key, *(row[name] for name in _SESSION_COLUMNS)),
    )
    fresh.executemany(
        "INSERT INTO changes (session_key, seq, kind, payload, created_at, checksum) VALUES (?, ?, ?, ?, ?, ?)",
        [(key, seq, kind, payload.decode(), at, expected) for seq, (kind, payload, at, expected) in good],
    )
    fresh.executemany(
        "INSERT INTO branches (session_key, branch_id) VALUES (?, ?)",
        [(key, b) for b in sorted(counts.branch_ids)],
    )
    texts = []
    for (seq, _), change in zip(good, changes):
        text = searchable(change)
        if text is not None:
            texts.append((text[1], key, seq, text[0]))
    fresh.executemany(INDEX_TEXT, texts)
