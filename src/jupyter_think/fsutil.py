"""Low-level file operations of the session store: no symlink followed, atomic writes, fsync.

Every path operation here is relative to an open directory descriptor and uses ``O_NOFOLLOW``,
so a symlink planted in the store is refused (``ELOOP``) instead of followed. Directories are
created 0700 and files 0600. Errors are :class:`StoreError` (an ``OSError`` whose message names
the cause and the path) or the ``OSError`` the system raised.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_CLAIM_ERRORS = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)


class StoreError(OSError):
    """The store cannot do what was asked; the message names the cause and the path.

    Example:
        >>> str(StoreError(13, "refusing a symlink", "/tmp/store/a"))
        "[Errno 13] refusing a symlink: '/tmp/store/a'"
    """


class NewerFormatError(StoreError):
    """A file was written by a newer format version: it is left untouched (upgrade jupyter-think)."""


class NotRegularFile(StoreError):
    """A symlink, directory, FIFO... where the store keeps a regular file (refused, never followed)."""


def open_dir(
    name: str | Path, *, dir_fd: int | None = None, create: bool = False, shown: Path | None = None
) -> int | None:
    """Open directory ``name`` (relative to ``dir_fd``) without following a symlink.

    Returns the descriptor, or ``None`` when it does not exist and ``create`` is false. With
    ``create`` it is made with mode 0700. A symlink or a non-directory raises :class:`StoreError`.
    """
    for _attempt in range(3):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            except FileExistsError:
                pass
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise StoreError(
                    exc.errno,
                    "refusing a symlink or non-directory where a directory belongs",
                    str(shown or Path(name)),
                ) from None
            raise
    raise StoreError(errno.ENOENT, "directory keeps disappearing", str(shown or Path(name)))


def entry_kind(dir_fd: int, name: str) -> str | None:
    """``"dir"``, ``"file"``, ``"symlink"``, ``"other"`` or ``None`` (missing), without following links."""
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def signature(dir_fd: int, name: str) -> tuple[int, int, int, int] | None:
    """(inode, device, size, mtime_ns) of an entry without following links; ``None`` when missing."""
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def open_regular(dir_fd: int, name: str, shown: Path) -> int | None:
    """Open a regular file for reading (no symlink, no FIFO); ``None`` when missing."""
    opened = open_regular_stat(dir_fd, name, shown)
    return None if opened is None else opened[0]


def open_regular_stat(dir_fd: int, name: str, shown: Path) -> tuple[int, os.stat_result] | None:
    """:func:`open_regular`, also returning the file's ``fstat`` (read once); ``None`` when missing."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR):
            raise NotRegularFile(exc.errno, "refusing a symlink or non-file", str(shown)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularFile(errno.EINVAL, "refusing a non-file (directory, FIFO...)", str(shown))
    return fd, st


def read_at(fd: int, offset: int, limit: int, shown: Path, size: int | None = None) -> bytes:
    """Read from ``offset`` to the end of the file, refusing more than ``limit`` bytes.

    ``size`` is the file's size when the caller has just read it with ``fstat`` (else read here).
    """
    if size is None:
        size = os.fstat(fd).st_size
    if size - offset > limit:
        raise StoreError(
            errno.EFBIG, f"file is larger than the limit of {limit} bytes (max_file_bytes)", str(shown)
        )
    chunks = []
    while True:
        chunk = os.pread(fd, max(size - offset, 1 << 16), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_file(dir_fd: int, name: str, limit: int, shown: Path) -> bytes | None:
    """The whole content of regular file ``name`` (size checked before reading); ``None`` when missing."""
    fd = open_regular(dir_fd, name, shown)
    if fd is None:
        return None
    try:
        return read_at(fd, 0, limit, shown)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - a regular file never returns 0 for a non-empty write
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[written:]


def open_append(dir_fd: int, name: str) -> int:
    """Open ``name`` for appending (created 0600), refusing a symlink."""
    return os.open(name, _APPEND_FLAGS, 0o600, dir_fd=dir_fd)


def atomic_write(dir_fd: int, name: str, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``name`` with ``data`` atomically: unique temp file, fsync, ``os.replace``, fsync of the dir.

    After a crash at any point the file holds either its old content or ``data``; a failed call
    removes its temp file (best effort) and raises. ``sync_dir=False`` skips the directory's fsync
    (the caller fsyncs the directory itself before relying on the new name).
    """
    temp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    if sync_dir:
        os.fsync(dir_fd)


def create_file(dir_fd: int, name: str, data: bytes) -> None:
    """Create a new file ``name`` (0600, must not exist) holding ``data``, fsynced."""
    fd = os.open(name, _NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def claim_dir(dir_fd: int, stem: str) -> str:
    """Create a fresh empty directory ``<stem>-<n>`` (smallest free n >= 1) and return its name."""
    taken = {entry for entry in os.listdir(dir_fd) if entry.startswith(stem + "-")}
    number = 1
    while True:
        name = f"{stem}-{number}"
        if name not in taken:
            try:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
                return name
            except FileExistsError:
                pass
        number += 1


def move_aside(src_dir_fd: int, name: str, dst_dir_fd: int, stem: str) -> str:
    """Move entry ``name`` into ``dst`` as ``<stem>-<n>`` (a directory moves as itself; a file,
    symlink or other entry moves into a new directory ``<stem>-<n>/``). Nothing is deleted and a
    symlink is moved, never followed. Returns the relative path of the moved entry."""
    kind = entry_kind(src_dir_fd, name)
    while True:
        claimed = claim_dir(dst_dir_fd, stem)
        target = claimed if kind == "dir" else f"{claimed}/{name}"
        try:
            os.rename(name, target, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        except OSError as exc:
            if exc.errno in _CLAIM_ERRORS:  # someone filled the claimed dir meanwhile: next number
                continue
            try:
                os.rmdir(claimed, dir_fd=dst_dir_fd)
            except OSError:
                pass
            raise
        os.fsync(src_dir_fd)
        os.fsync(dst_dir_fd)
        return target
