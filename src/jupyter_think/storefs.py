"""The session store's footing on disk: the root, session directories, per-session locks, quarantine.

:class:`StoreFiles` is the base of :class:`~jupyter_think.store.SessionStore`: it opens the store
root and session directories without following symlinks, holds a session's thread lock and its
``flock`` on ``<root>/.locks/<id>.lock`` (re-entrant in the holding thread, bounded by
``lock_timeout``), and moves damaged or unexpected entries to ``<root>/.quarantine`` (never
deleted). What the session directory holds is :mod:`jupyter_think.sessiondir`'s business.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import fsutil
from .fsutil import StoreError
from .sessiondir import QUARANTINE, note

LOCKS = ".locks"
LOCK_POLL = 0.001
"""Seconds between two attempts at a session lock another process holds."""


class StoreFiles:
    """A store root on disk and the per-session locks over it (see the module docstring).

    Refuses a symlinked ``root``; ``lock_timeout`` bounds the wait for a session's lock held by
    another process. Thread-safe.
    """

    def __init__(self, root: Path | str, *, lock_timeout: float = 30.0) -> None:
        self.root = Path(root).expanduser().absolute()
        self._locks_path = self.root / LOCKS
        self.lock_timeout = lock_timeout
        self._mutex = threading.Lock()
        self._thread_locks: dict[str, threading.RLock] = {}
        self._lock_depth: dict[str, int] = {}  # session id -> nesting of _locked in the holding thread
        if self.root.is_symlink():
            raise StoreError(errno.ELOOP, "refusing a symlinked store directory", str(self.root))

    def _path(self, session_id: str, name: str | None = None) -> Path:
        return self.root / session_id if name is None else self.root / session_id / name

    def _open_root(self, *, create: bool) -> int | None:
        try:
            fd = fsutil.open_dir(self.root, create=False, shown=self.root)
        except StoreError:
            raise StoreError(
                errno.ELOOP, "refusing a symlinked or non-directory store root", str(self.root)
            ) from None
        if fd is not None or not create:
            return fd
        self.root.parent.mkdir(parents=True, exist_ok=True)
        fd = fsutil.open_dir(self.root, create=True, shown=self.root)
        parent = os.open(self.root.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(parent)
        finally:
            os.close(parent)
        return fd

    @contextmanager
    def _locked(self, session_id: str, *, create_root: bool) -> Iterator[int | None]:
        """Hold this session's thread lock and file lock; yields the root's descriptor (None: no root).

        Re-entrant in the holding thread (the file lock is taken once, by the outermost call).
        """
        with self._mutex:
            thread_lock = self._thread_locks.setdefault(session_id, threading.RLock())
        with thread_lock:
            root_fd = self._open_root(create=create_root)
            if root_fd is None:
                yield None
                return
            try:
                depth = self._lock_depth.get(session_id, 0)
                lock_fd = self._acquire_file_lock(root_fd, session_id) if depth == 0 else -1
                self._lock_depth[session_id] = depth + 1
                try:
                    yield root_fd
                finally:
                    if depth == 0:
                        del self._lock_depth[session_id]
                        os.close(lock_fd)  # its only descriptor: closing it releases the flock
                    else:
                        self._lock_depth[session_id] = depth
            finally:
                os.close(root_fd)

    def _acquire_file_lock(self, root_fd: int, session_id: str) -> int:
        """``flock`` ``.locks/<id>.lock`` (waiting up to ``lock_timeout``); return its descriptor.

        The lock counts only on the file the path names once it is held: a lock file unlinked or
        replaced meanwhile is let go and the current one locked. A lock path that is not a regular
        file is moved to ``.quarantine``. Raises :class:`StoreError` (ETIMEDOUT) naming the file.
        """
        name = f"{session_id}.lock"
        deadline = time.monotonic() + self.lock_timeout
        while True:
            locks_fd = fsutil.open_dir(LOCKS, dir_fd=root_fd, create=True, shown=self._locks_path)
            assert locks_fd is not None
            retry_now = False
            try:
                try:
                    fd = os.open(name, _LOCK_FLAGS, 0o600, dir_fd=locks_fd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.ENOENT):
                        raise
                    fd = -1  # a symlink, directory or socket there: moved aside below
                try:
                    opened = os.fstat(fd) if fd >= 0 else None
                    if opened is None or not stat.S_ISREG(opened.st_mode):
                        if fsutil.entry_kind(locks_fd, name) not in (None, "file"):
                            self._quarantine(
                                locks_fd,
                                name,
                                "had a lock path that is not a regular file",
                                [],
                                stem=session_id,
                                root_fd=root_fd,
                            )
                        retry_now = True  # at once, on a fresh file
                    elif _try_flock(fd):
                        current = fsutil.signature(locks_fd, name)
                        if current is not None and current[:2] == (opened.st_ino, opened.st_dev):
                            locked, fd = fd, -1
                            return locked
                finally:
                    if fd >= 0:
                        os.close(fd)
            finally:
                os.close(locks_fd)
            now = time.monotonic()
            if retry_now and now < deadline:
                continue
            if now >= deadline:
                raise StoreError(
                    errno.ETIMEDOUT,
                    f"another process held the session lock for over {self.lock_timeout} s",
                    str(self._locks_path / name),
                )
            time.sleep(LOCK_POLL)

    def _open_session(self, root_fd: int, session_id: str, *, create: bool, notes: list[str]) -> int | None:
        dir_fd, created = self._open_session_fd(root_fd, session_id, create=create, notes=notes)
        if created:
            os.fsync(root_fd)
        return dir_fd

    def _open_session_fd(
        self, root_fd: int, session_id: str, *, create: bool, notes: list[str]
    ) -> tuple[int | None, bool]:
        """The session directory's descriptor (None: not stored), and whether it was created just
        now (its entry in the root is then not yet fsynced: the caller does it)."""
        try:  # the common cases in as few system calls as possible: a directory, or nothing yet
            dir_fd = fsutil.open_dir(session_id, dir_fd=root_fd)
            if dir_fd is not None or not create:
                return dir_fd, False
            os.mkdir(session_id, 0o700, dir_fd=root_fd)
            dir_fd = fsutil.open_dir(session_id, dir_fd=root_fd)
            if dir_fd is not None:
                return dir_fd, True
        except (StoreError, FileExistsError):
            pass  # a symlink or a file where the directory belongs, or a race: the careful path
        kind = fsutil.entry_kind(root_fd, session_id)
        if kind not in (None, "dir"):
            self._quarantine(root_fd, session_id, f"was a {kind}, not a directory (not followed)", notes)
            kind = None
        if kind is None and not create:
            return None, False
        dir_fd = fsutil.open_dir(session_id, dir_fd=root_fd, create=create, shown=self._path(session_id))
        return dir_fd, kind is None

    def _quarantine(
        self,
        dir_fd: int,
        name: str,
        reason: str,
        notes: list[str],
        *,
        stem: str | None = None,
        root_fd: int | None = None,
    ) -> Path:
        stem = stem or name
        q_fd = fsutil.open_dir(
            QUARANTINE,
            dir_fd=dir_fd if root_fd is None else root_fd,
            create=True,
            shown=self.root / QUARANTINE,
        )
        assert q_fd is not None
        try:
            moved = self.root / QUARANTINE / fsutil.move_aside(dir_fd, name, q_fd, stem)
        finally:
            os.close(q_fd)
        note(notes, f"jupyter-think: session {stem!r} {reason}; moved to {moved}")
        return moved


_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _try_flock(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting; False when another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EINTR):
            return False
        raise
    return True
