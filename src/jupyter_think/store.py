"""The crash-safe session store: one directory per session, a snapshot plus an append-only journal.

Layout under the store root (directories 0700, files 0600, no symlink followed)::

    <root>/<session id>/snapshot.json   the session up to seq S (rewritten atomically by compaction;
                                        absent until the first one: S = 0, record 1 keeps created_at)
    <root>/<session id>/journal.jsonl   one checksummed record per change, seq S+1, S+2, ...
    <root>/.locks/<session id>.lock     per-session lock (``flock``), held only around each read/write
    <root>/.quarantine/<id>-<n>/        damaged data moved aside (never deleted)
    <root>/.trash/<id>-<n>/             removed sessions;  <root>/.archive/<id>-<n>/  sessions started anew

The lock files live outside the session directories so that moving a session to the trash never
splits waiting writers across two lock files. Restore is snapshot + journal replay; appending costs
one journal line and one ``fdatasync`` whatever the session's size, and compaction (snapshot
rewrite, journal reset) runs when the journal holds more records than the snapshot has thoughts,
so its cost per change stays constant. A session new on disk costs its directory, journal and
lock file and three syncs (the journal's data, its name, the directory's name). Two processes may write one session: under the lock each
first reads what the other appended (returned as ``foreign``), then appends with the next seqs.

Example:
    >>> import tempfile
    >>> from jupyter_think.session import Session
    >>> session = Session("demo")
    >>> changes = []
    >>> _ = session.subscribe(lambda event: changes.append(event.change))
    >>> _ = session.think("Restate the problem")
    >>> store = SessionStore(Path(tempfile.mkdtemp()) / "store")
    >>> store.append("demo", changes, created_at=session.created_at).last_seq
    1
    >>> SessionStore(store.root).load("demo").session.to_json() == session.to_json()
    True
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import fsutil
from .fsutil import NewerFormatError, NotRegularFile, StoreError
from .ids import is_valid_id, validate_id
from .journal import Damage, change_time, encode_changes, encode_snapshot
from .models import Change, SessionRecord
from .session import Session
from .sessiondir import (
    JOURNAL,
    SNAPSHOT,
    Seen,
    SessionDir,
    StoreWarning,
    gc_paused,
    rebuild,
    unchanged,
)
from .storefs import StoreFiles

__all__ = ["AppendResult", "LoadedSession", "NewerFormatError", "SessionStore", "StoreError", "StoreWarning"]

TRASH, ARCHIVE = ".trash", ".archive"
COMPACT_FLOOR = 1000
"""Compaction runs when the journal holds more than max(COMPACT_FLOOR, thoughts in the snapshot) records."""


@dataclass(frozen=True)
class AppendResult:
    """What :meth:`SessionStore.append` did.

    ``first_seq``..``last_seq`` are the seqs given to our changes (``first_seq > last_seq`` when
    none were given). ``foreign`` holds the changes other processes appended since this store
    object last read the session, in journal order: apply them with
    ``session.apply(change, remote=True)`` (thoughts already present are skipped). ``replaced`` is
    true when the stored session was removed or replaced since we last read it (trashed by another
    process, or its damaged files quarantined): what is on disk now is only what ``foreign`` and
    our changes hold, and :meth:`SessionStore.save` can write the caller's full session back.
    """

    first_seq: int
    last_seq: int
    foreign: list[Change] = field(default_factory=list)
    replaced: bool = False


@dataclass(frozen=True)
class LoadedSession:
    """A session rebuilt from disk, the last seq it includes, and what was repaired on the way."""

    session: Session
    last_seq: int
    warnings: list[str] = field(default_factory=list)


class SessionStore(StoreFiles):
    """Sessions on disk under ``root`` (see the module docstring for the layout and guarantees).

    ``root`` is created (0700) on the first write; a symlinked root or session directory is refused
    (a symlinked session entry is moved to ``.quarantine`` untouched, never followed). Files larger
    than ``max_file_bytes`` are refused before reading. ``lock_timeout`` bounds the wait for a
    session's lock held by another process. Compaction runs once the journal holds more than
    ``max(compact_floor, thoughts in the snapshot)`` records. Thread-safe.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        max_file_bytes: int = 512 * 1024 * 1024,
        lock_timeout: float = 30.0,
        compact_floor: int = COMPACT_FLOOR,
    ) -> None:
        super().__init__(root, lock_timeout=lock_timeout)
        self.compact_floor = compact_floor
        self.max_file_bytes = max_file_bytes
        self._seen: dict[str, Seen] = {}

    def __repr__(self) -> str:
        return f"<SessionStore {str(self.root)!r}>"

    # --- reading -------------------------------------------------------------------------------

    def list_ids(self) -> list[str]:
        """Ids of the stored sessions, sorted (dot-dirs, files, invalid names and symlinks skipped)."""
        root_fd = self._open_root(create=False)
        if root_fd is None:
            return []
        try:
            return sorted(
                name
                for name in os.listdir(root_fd)
                if is_valid_id(name) and fsutil.entry_kind(root_fd, name) == "dir"
            )
        finally:
            os.close(root_fd)

    def load(self, session_id: str, **limits: Any) -> LoadedSession | None:
        """Rebuild a stored session (snapshot + journal replay); ``None`` when it is not stored.

        ``limits`` go to ``Session`` (``max_thought_chars``, ``max_thoughts``). A damaged journal
        tail is cut off and kept in ``.quarantine`` (a warning names it); a damaged snapshot, or a
        journal damaged from its first record when there is no snapshot, moves the whole session
        directory to ``.quarantine`` with a warning and returns ``None``. Raises
        :class:`NewerFormatError` (files left untouched) or :class:`StoreError` (file over
        ``max_file_bytes``, store root unusable).

        Example:
            >>> SessionStore("/nonexistent/store").load("demo") is None
            True
        """
        validate_id(session_id)
        notes: list[str] = []
        with self._locked(session_id, create_root=False) as root_fd:
            if root_fd is None:
                return None
            dir_fd = self._open_session(root_fd, session_id, create=False, notes=notes)
            if dir_fd is None:
                self._seen[session_id] = Seen()
                return None
            directory = self._dir(root_fd, dir_fd, session_id)
            try:
                try:
                    with gc_paused():
                        head, record = directory.read_snapshot()
                    journal_fd = fsutil.open_regular(dir_fd, JOURNAL, directory.path(JOURNAL))
                except (Damage, NotRegularFile) as exc:
                    os.close(dir_fd)
                    dir_fd = -1
                    self._quarantine(root_fd, session_id, _damage_reason(exc), notes)
                    self._seen.pop(session_id, None)
                    return None
                snap_seq = head.seq if head else 0
                try:
                    scan, journal_ident = directory.scan_whole(journal_fd, snap_seq)
                    unreadable = scan.damage is not None and record is None and scan.good_end == 0
                    if scan.damage and not unreadable:
                        directory.cut_tail(journal_fd, scan, 0, notes, strict=False)
                finally:
                    if journal_fd is not None:
                        os.close(journal_fd)
                if unreadable:  # no snapshot and not one good record: the session as a whole is damaged
                    os.close(dir_fd)
                    dir_fd = -1
                    reason = f"has no snapshot and a damaged journal ({scan.damage})"
                    self._quarantine(root_fd, session_id, reason, notes)
                    self._seen.pop(session_id, None)
                    return None
                if record is None and not scan.live:
                    return None
                with gc_paused():
                    session = rebuild(session_id, record, scan, limits)
                self._seen[session_id] = directory.seen_after_full_read(head, journal_ident, scan)
                return LoadedSession(session, scan.last_seq if scan.live else snap_seq, notes)
            finally:
                if dir_fd >= 0:
                    os.close(dir_fd)

    def poll(self, session_id: str) -> list[Change]:
        """Changes other processes appended since this store object last read the session.

        Cheap when nothing changed (a few ``lstat`` calls, no lock); otherwise reads only the new
        journal records under the lock. Use it to follow another process writing live.
        """
        validate_id(session_id)
        seen = self._seen.get(session_id)
        if seen is not None and not seen.stale:
            try:
                root_fd = self._open_root(create=False)
            except OSError:
                root_fd = None
            if root_fd is not None:
                try:
                    if unchanged(self.root, root_fd, session_id, seen):
                        return []
                finally:
                    os.close(root_fd)
        return self.append(session_id, ()).foreign

    def describe(self, session_id: str) -> dict[str, Any]:
        """A summary read from the snapshot header and the journal, without rebuilding the session.

        Keys: ``id``, ``thoughts``, ``branches`` (counts), ``status`` (``open``, ``complete``,
        ``damaged`` or ``newer-format``), ``last_activity`` (UTC datetime) and ``error`` (a message, or
        ``None``). Raises :class:`StoreError` (ENOENT) when the session is not stored.
        """
        validate_id(session_id)
        root_fd = self._open_root(create=False)
        if root_fd is None:
            raise StoreError(errno.ENOENT, "no such stored session", str(self._path(session_id)))
        try:
            dir_fd = fsutil.open_dir(session_id, dir_fd=root_fd, shown=self._path(session_id))
            if dir_fd is None:
                raise StoreError(errno.ENOENT, "no such stored session", str(self._path(session_id)))
            try:
                return self._dir(root_fd, dir_fd, session_id).describe()
            finally:
                os.close(dir_fd)
        finally:
            os.close(root_fd)

    def last_activity(self, session_id: str) -> datetime | None:
        """When the session last changed (from its records; file times when they are unreadable).

        ``None`` when it is not stored or was written by a newer format (left alone by retention).
        """
        try:
            info = self.describe(session_id)
        except StoreError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return None if info["status"] == "newer-format" else info["last_activity"]

    # --- writing -------------------------------------------------------------------------------

    def append(
        self,
        session_id: str,
        changes: Sequence[Change],
        *,
        durable: bool = True,
        created_at: datetime | None = None,
    ) -> AppendResult:
        """Append ``changes`` to the session's journal under its lock; return seqs and foreign changes.

        First reads what other processes appended since our last read (``foreign``), then writes
        our records in one ``write`` and, when ``durable``, ``fdatasync`` before returning. When the
        session is new on disk, its first record carries ``created_at`` (default: the time of the
        first change): no snapshot is written before the first compaction. Compaction runs when
        due. Raises ``OSError`` (ENOSPC, EIO, EROFS, EPERM...) with nothing of ours left on disk
        when it can be truncated away; what was on disk before stays valid. Calling it with no changes just reads (like :meth:`poll`, under the lock).
        """
        validate_id(session_id)
        changes = list(changes)
        notes: list[str] = []
        with self._locked(session_id, create_root=bool(changes)) as root_fd:
            before = self._seen.get(session_id)
            dir_fd, created = (
                (None, False)
                if root_fd is None
                else self._open_session_fd(root_fd, session_id, create=bool(changes), notes=notes)
            )
            # A durable append to a session new on disk makes its directory entries durable once,
            # after the journal's data: the journal's data, its name, the directory's name (3 syncs).
            sync_root = root_fd if created and durable else None
            if created and not durable and root_fd is not None:
                os.fsync(root_fd)
            if root_fd is None or dir_fd is None:
                self._seen[session_id] = Seen()
                return AppendResult(1, 0, [], replaced=before is not None and before.last_seq > 0)
            try:
                try:
                    if created:  # made empty just now under the lock: nothing to read
                        seen, foreign = self._dir(root_fd, dir_fd, session_id).seen_new(), []
                        replaced = before is not None and before.dir_ident is not None
                    else:
                        seen, foreign, replaced = self._dir(root_fd, dir_fd, session_id).read_news(
                            before, notes
                        )
                except (Damage, NotRegularFile) as exc:
                    os.close(dir_fd)
                    dir_fd = None
                    self._quarantine(root_fd, session_id, _damage_reason(exc), notes)
                    self._seen.pop(session_id, None)
                    dir_fd = self._open_session(root_fd, session_id, create=True, notes=notes)
                    assert dir_fd is not None
                    seen, foreign, replaced = self._dir(root_fd, dir_fd, session_id).read_news(None, notes)
                    replaced = True
                first = seen.last_seq + 1
                directory = self._dir(root_fd, dir_fd, session_id)
                if changes:
                    # a session new on disk has no snapshot: its first record keeps created_at
                    new_on_disk = seen.snapshot is None and first == 1
                    carried = (created_at or change_time(changes[0])) if new_on_disk else None
                    seen = directory.write_journal(
                        seen,
                        encode_changes(first, changes, carried),
                        len(changes),
                        durable,
                        sync_parent=sync_root,
                    )
                self._seen[session_id] = seen
                if (
                    changes
                    and seen.records > max(self.compact_floor, seen.snap_thoughts)
                    and seen.records >= seen.compact_after
                ):
                    try:
                        self._seen[session_id] = directory.compact()
                    except (OSError, Damage):
                        # the journal holds everything; try again after some more records
                        self._seen[session_id] = replace(seen, stale=True, compact_after=seen.records + 100)
                return AppendResult(first, first + len(changes) - 1, foreign, replaced)
            finally:
                if dir_fd is not None:
                    os.close(dir_fd)

    def compact(self, session_id: str) -> None:
        """Rewrite the snapshot atomically from snapshot + journal and reset the journal.

        A no-op when the session is not stored. A crash between the two steps loses and duplicates
        nothing: replay skips journal records already in the snapshot.
        """
        validate_id(session_id)
        with self._locked(session_id, create_root=False) as root_fd:
            if root_fd is None:
                return
            dir_fd = self._open_session(root_fd, session_id, create=False, notes=[])
            if dir_fd is None:
                return
            try:
                before = self._seen.get(session_id)
                directory = self._dir(root_fd, dir_fd, session_id)
                try:
                    _seen, foreign, _ = directory.read_news(before, [])
                except (Damage, NotRegularFile) as exc:
                    os.close(dir_fd)
                    dir_fd = None
                    self._quarantine(root_fd, session_id, _damage_reason(exc), [])
                    self._seen.pop(session_id, None)
                    return
                if before is not None and not foreign:  # else keep `foreign` for the next append/poll
                    self._seen[session_id] = directory.compact()
                else:
                    directory.compact()
                    self._seen[session_id] = replace(before or Seen(), stale=True)
            finally:
                if dir_fd is not None:
                    os.close(dir_fd)

    def save(self, session_id: str, record: SessionRecord) -> int:
        """Replace whatever is stored for ``session_id`` with ``record`` (atomic snapshot, journal
        reset) and return the snapshot's seq. Other processes see the new content as ``foreign``.
        For imports, benchmarks, and writing a session back after ``AppendResult.replaced``.
        """
        validate_id(session_id)
        record = record if record.id == session_id else record.model_copy(update={"id": session_id})
        with self._locked(session_id, create_root=True) as root_fd:
            dir_fd = self._open_session(root_fd, session_id, create=True, notes=[])
            assert dir_fd is not None
            try:
                before = self._seen.get(session_id)
                try:
                    seen, _foreign, _ = self._dir(root_fd, dir_fd, session_id).read_news(before, [])
                    last = seen.last_seq
                except (Damage, NotRegularFile) as exc:
                    os.close(dir_fd)
                    dir_fd = None
                    self._quarantine(root_fd, session_id, _damage_reason(exc), [])
                    dir_fd = self._open_session(root_fd, session_id, create=True, notes=[])
                    assert dir_fd is not None
                    last = 0
                fsutil.atomic_write(dir_fd, SNAPSHOT, encode_snapshot(last + 1, record))
                fsutil.atomic_write(dir_fd, JOURNAL, b"")
                self._seen[session_id] = self._dir(root_fd, dir_fd, session_id).fresh_seen(
                    last + 1, len(record.thoughts)
                )
                return last + 1
            finally:
                if dir_fd is not None:
                    os.close(dir_fd)

    def trash(self, session_id: str) -> Path:
        """Move the session directory to ``<root>/.trash/<id>-<n>/`` (restorable, never deleted).

        Raises :class:`StoreError` (ENOENT) when the session is not stored.
        """
        moved = self._move_away(session_id, TRASH)
        if moved is None:
            raise StoreError(errno.ENOENT, "no such stored session", str(self._path(session_id)))
        return moved

    def archive(self, session_id: str) -> Path | None:
        """Move the session directory to ``<root>/.archive/<id>-<n>/`` (a session started anew);
        ``None`` when nothing is stored."""
        return self._move_away(session_id, ARCHIVE)

    def remove_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[str]:
        """Retention: move sessions idle longer than ``older_than`` (and not in ``keep``) to the trash.

        Returns the ids moved. Sessions written by a newer format are left alone.
        """
        now = datetime.now(timezone.utc)
        removed = []
        for session_id in self.list_ids():
            if session_id in keep:
                continue
            with self._locked(session_id, create_root=False):
                try:
                    last = self.last_activity(session_id)
                except OSError:
                    continue  # unreadable now: left for a later round
                if last is not None and now - last > older_than and self._move_away(session_id, TRASH):
                    removed.append(session_id)
        return removed

    # --- internals (paths, locks, quarantine: storefs.StoreFiles) -------------------------------------------------

    def _dir(self, root_fd: int, dir_fd: int, session_id: str) -> SessionDir:
        return SessionDir(self.root, session_id, root_fd, dir_fd, self.max_file_bytes)

    def _move_away(self, session_id: str, folder: str) -> Path | None:
        validate_id(session_id)
        with self._locked(session_id, create_root=False) as root_fd:
            if root_fd is None or fsutil.entry_kind(root_fd, session_id) is None:
                return None
            folder_fd = fsutil.open_dir(folder, dir_fd=root_fd, create=True, shown=self.root / folder)
            assert folder_fd is not None
            try:
                moved = self.root / folder / fsutil.move_aside(root_fd, session_id, folder_fd, session_id)
            finally:
                os.close(folder_fd)
            self._seen.pop(session_id, None)
            return moved


def _damage_reason(exc: Exception) -> str:
    if isinstance(exc, NotRegularFile):
        return f"holds {exc.filename} that is not a regular file (not followed)"
    return f"has a damaged snapshot ({exc})"
