"""A damaged SQLite database repaired in place, under SQLite's own write lock, with all that can be read of it.

When SQLite calls the store's database corrupt, :func:`repair`:

1. takes the store's repair lock (an ``flock`` on ``.quarantine/repair.lock``): one process at a time;
2. takes SQLite's write lock on the damaged file itself, as the destination of an SQLite backup, and
   keeps it to the end: no writer commits to the file meanwhile (writers wait, as for any other
   writer, then write into the repaired content);
3. checks a copy of the file (``PRAGMA quick_check``): when another process repaired it meanwhile,
   nothing more is done;
4. copies the file and its WAL byte for byte to ``.quarantine/sessions-<time>-<n>.db`` (never deleted);
5. carries every row that can still be read into a fresh database (:mod:`.salvage`);
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
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from jupyter_think.store.base import StoreError
from jupyter_think.store.sqlite.salvage import Repaired, carry_into, read_damaged
from jupyter_think.store.sqlite.schema import QUARANTINE, errorname, migrate

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # (no fcntl on Windows: no lock file is taken there)

LOCK = "repair.lock"
LOCK_WAIT = 120.0
"""Seconds a repair waits for SQLite's write lock on the damaged file before it gives up (EBUSY)."""
_SQLITE_OK = 0


def repair(path: Path, timeout: float) -> Repaired | None:
    """Repair the damaged database at ``path`` in place (see the module docstring).

    Returns ``None`` when there was nothing to repair (another process did it meanwhile). Raises
    ``OSError`` or ``sqlite3.Error`` when it cannot be done (a read-only file system, a full disk).
    """
    folder = path.parent / QUARANTINE
    folder.mkdir(mode=0o700, exist_ok=True)
    with _exclusive(folder / LOCK), tempfile.TemporaryDirectory(prefix=".repairing-", dir=folder) as scratch:
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
    if fresh.execute("PRAGMA page_count").fetchone()[0] < 2:  # (else that step would finish it: empty)
        raise sqlite3.DatabaseError("the fresh database has no schema")
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
        found = read_damaged(source)
    finally:
        source.close()
    return carry_into(fresh, found, kept)


def _whole(source: sqlite3.Connection) -> bool:
    try:
        return source.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    except sqlite3.DatabaseError:
        return False


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
