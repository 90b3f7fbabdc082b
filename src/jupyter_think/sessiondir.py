"""One open session directory of the store: read what is new, append, compact, cut damaged tails.

:class:`SessionDir` works on directory descriptors the store opened (no path is resolved twice,
no symlink followed) and is used with the session's lock held; :class:`Seen` is what one store
object last read of a session, so the next read starts where it stopped.
"""

from __future__ import annotations

import errno
import gc
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import fsutil
from .fsutil import NewerFormatError, StoreError
from .journal import (
    Damage,
    JournalScan,
    SnapshotHead,
    change_time,
    decode_snapshot,
    decode_snapshot_head,
    encode_snapshot,
    record_changes,
    scan_journal,
)
from .models import BranchCreated, Change, SessionRecord, SessionReset, ThoughtAdded
from .session import Session

SNAPSHOT = "snapshot.json"
JOURNAL = "journal.jsonl"
QUARANTINE = ".quarantine"
_HEAD_BYTES = 1 << 16


class StoreWarning(UserWarning):
    """Damage the store repaired or moved aside (the message names where the bytes went)."""


@dataclass(frozen=True)
class Seen:
    """What one store object last read of a session (to read only what is new next time)."""

    dir_ident: tuple[int, int] | None = None
    snapshot: tuple[int, int, int, int] | None = None
    snap_seq: int = 0
    snap_thoughts: int = 0
    journal: tuple[int, int] | None = None
    offset: int = 0
    records: int = 0
    last_seq: int = 0
    stale: bool = False
    compact_after: int = 0


@dataclass
class SessionDir:
    """The open directory of session ``session_id`` (``dir_fd``) inside the store root (``root_fd``)."""

    store_root: Path
    session_id: str
    root_fd: int
    dir_fd: int
    max_file_bytes: int

    def path(self, name: str | None = None) -> Path:
        """The path of the directory or of one of its files (for messages)."""
        directory = self.store_root / self.session_id
        return directory if name is None else directory / name

    def cut_tail(
        self,
        journal_fd: int | None,
        scan: JournalScan,
        base: int,
        notes: list[str],
        *,
        strict: bool,
    ) -> None:
        """Keep the journal's damaged bytes from ``base + scan.good_end`` in quarantine, then cut them off.

        When they cannot be kept aside (disk full...), they stay in place: ``strict`` raises (an
        append must not write after them), else a note says so.
        """
        cut_at = base + scan.good_end
        path = self.path(JOURNAL)
        try:
            assert journal_fd is not None
            tail = fsutil.read_at(journal_fd, cut_at, self.max_file_bytes, path)
            q_fd = fsutil.open_dir(
                QUARANTINE, dir_fd=self.root_fd, create=True, shown=self.store_root / QUARANTINE
            )
            assert q_fd is not None
            try:
                kept = fsutil.claim_dir(q_fd, self.session_id)
                sub_fd = fsutil.open_dir(kept, dir_fd=q_fd, shown=self.store_root / QUARANTINE / kept)
                assert sub_fd is not None
                try:
                    fsutil.create_file(sub_fd, "journal-tail.jsonl", tail)
                    fsutil.create_file(
                        sub_fd, "reason.txt", f"cut from {path} at byte {cut_at}: {scan.damage}\n".encode()
                    )
                    os.fsync(sub_fd)
                finally:
                    os.close(sub_fd)
                os.fsync(q_fd)
            finally:
                os.close(q_fd)
            os.fsync(self.root_fd)  # the quarantine entry is durable before the bytes leave the journal
            write_fd = os.open(JOURNAL, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.dir_fd)
            try:
                os.ftruncate(write_fd, cut_at)
                os.fsync(write_fd)
            finally:
                os.close(write_fd)
        except OSError as exc:
            if strict:
                raise
            note(
                notes,
                f"jupyter-think: the journal {path} has a damaged tail ({scan.damage}) that could not be kept aside ({exc}); left in place",
            )
            return
        note(
            notes,
            f"jupyter-think: the journal of session {self.session_id!r} had a damaged tail ({scan.damage}); {len(tail)} bytes cut off and kept at {self.store_root / QUARANTINE / kept / 'journal-tail.jsonl'}",
        )

    def remove_stale_temps(self) -> None:
        """Remove temp files a killed writer left (``.snapshot.json.<pid>.<rand>.tmp``). Only called
        with the session's lock held, when no temp file can be in use; they hold nothing that the
        snapshot and journal do not."""
        for name in os.listdir(self.dir_fd):
            if name.startswith((f".{SNAPSHOT}.", f".{JOURNAL}.")) and name.endswith(".tmp"):
                try:
                    os.unlink(name, dir_fd=self.dir_fd)
                except OSError:
                    pass

    def read_snapshot(self) -> tuple[SnapshotHead | None, SessionRecord | None]:
        """(header, record) of the snapshot, (None, None) without one; raises ``Damage``."""
        data = fsutil.read_file(self.dir_fd, SNAPSHOT, self.max_file_bytes, self.path(SNAPSHOT))
        if data is None:
            return None, None
        return decode_snapshot(data)

    def read_snapshot_head(self) -> SnapshotHead | None:
        """The snapshot's header alone (reads its first 64 KiB); ``None`` without a snapshot."""
        path = self.path(SNAPSHOT)
        fd = fsutil.open_regular(self.dir_fd, SNAPSHOT, path)
        if fd is None:
            return None
        try:
            start = os.pread(fd, _HEAD_BYTES, 0)
            if b',"record":' not in start and len(start) == _HEAD_BYTES:
                start = fsutil.read_at(fd, 0, self.max_file_bytes, path)
            return decode_snapshot_head(start)
        finally:
            os.close(fd)

    def scan_whole(self, journal_fd: int | None, after: int) -> tuple[JournalScan, tuple[int, int] | None]:
        """Scan the whole journal (records up to ``after`` are in the snapshot); also its identity."""
        if journal_fd is None:
            return JournalScan(last_seq=after), None
        st = os.fstat(journal_fd)
        data = fsutil.read_at(journal_fd, 0, self.max_file_bytes, self.path(JOURNAL))
        return scan_journal(data, after), (st.st_ino, st.st_dev)

    def seen_after_full_read(
        self, head: SnapshotHead | None, journal_ident: tuple[int, int] | None, scan: JournalScan
    ) -> Seen:
        """What a load that read the snapshot and the whole journal has seen."""
        st = os.fstat(self.dir_fd)
        snap_seq = head.seq if head else 0
        return Seen(
            dir_ident=(st.st_ino, st.st_dev),
            snapshot=fsutil.signature(self.dir_fd, SNAPSHOT),
            snap_seq=snap_seq,
            snap_thoughts=head.thoughts if head else 0,
            journal=journal_ident,
            offset=scan.good_end,
            records=scan.records,
            last_seq=scan.last_seq if scan.live else snap_seq,
        )

    def fresh_seen(self, seq: int, thoughts: int) -> Seen:
        """State right after this process wrote a snapshot at ``seq`` and an empty journal."""
        st = os.fstat(self.dir_fd)
        journal = fsutil.signature(self.dir_fd, JOURNAL)
        return Seen(
            dir_ident=(st.st_ino, st.st_dev),
            snapshot=fsutil.signature(self.dir_fd, SNAPSHOT),
            snap_seq=seq,
            snap_thoughts=thoughts,
            journal=journal[:2] if journal else None,
            last_seq=seq,
        )

    def seen_new(self) -> Seen:
        """State of a directory this process has just created (under the lock): empty."""
        st = os.fstat(self.dir_fd)
        return Seen(dir_ident=(st.st_ino, st.st_dev))

    def read_news(self, seen: Seen | None, notes: list[str]) -> tuple[Seen, list[Change], bool]:
        """Under the lock: what others appended since ``seen``; cuts a damaged tail (raises if it cannot).

        Returns (what we have now read, foreign changes, replaced). Raises :class:`Damage` for a
        damaged snapshot.
        """
        st = os.fstat(self.dir_fd)
        dir_ident = (st.st_ino, st.st_dev)
        snap_sig = fsutil.signature(self.dir_fd, SNAPSHOT)
        journal_path = self.path(JOURNAL)
        opened = fsutil.open_regular_stat(self.dir_fd, JOURNAL, journal_path)
        journal_fd, journal_st = opened if opened is not None else (None, None)
        try:
            journal_ident = (journal_st.st_ino, journal_st.st_dev) if journal_st else None
            if (
                seen is not None
                and not seen.stale
                and seen.dir_ident == dir_ident
                and seen.snapshot == snap_sig
                and seen.journal == journal_ident
                and (journal_st.st_size if journal_st else 0) >= seen.offset
            ):
                data = (
                    b""
                    if journal_fd is None or journal_st is None
                    else fsutil.read_at(
                        journal_fd, seen.offset, self.max_file_bytes, journal_path, journal_st.st_size
                    )
                )
                scan = scan_journal(data, seen.last_seq)
                if scan.records == len(scan.live):
                    if scan.damage:
                        self.cut_tail(journal_fd, scan, seen.offset, notes, strict=True)
                    now = replace(
                        seen,
                        offset=seen.offset + scan.good_end,
                        records=seen.records + scan.records,
                        last_seq=scan.last_seq,
                    )
                    return now, [change for _, change in scan.live], False
            head = self.read_snapshot_head() if snap_sig else None
            snap_seq = head.seq if head else 0
            scan, _ = self.scan_whole(journal_fd, snap_seq)
            if scan.damage:
                self.cut_tail(journal_fd, scan, 0, notes, strict=True)
            disk_last = scan.last_seq if scan.live else snap_seq
            replaced = (
                seen is not None
                and seen.dir_ident is not None
                and (seen.dir_ident != dir_ident or disk_last < seen.last_seq)
            )
            base = 0 if seen is None or replaced else seen.last_seq
            if snap_seq > base:
                _head, record = self.read_snapshot()
                assert record is not None
                foreign = record_changes(record) + [change for _, change in scan.live]
            else:
                foreign = [change for seq, change in scan.live if seq > base]
            now = Seen(
                dir_ident=dir_ident,
                snapshot=snap_sig,
                snap_seq=snap_seq,
                snap_thoughts=head.thoughts if head else 0,
                journal=journal_ident,
                offset=scan.good_end,
                records=scan.records,
                last_seq=disk_last,
                compact_after=seen.compact_after if seen else 0,
            )
            return now, foreign, replaced
        finally:
            if journal_fd is not None:
                os.close(journal_fd)

    def describe(self) -> dict[str, Any]:
        """Counts, status and last activity from the snapshot header and the journal (see
        ``SessionStore.describe``); damage is reported in the result, never raised."""
        info: dict[str, Any] = {
            "id": self.session_id,
            "thoughts": None,
            "branches": None,
            "status": "damaged",
            "last_activity": None,
            "error": None,
        }
        try:
            head = self.read_snapshot_head()
            scan = self.scan_journal(head.seq if head else 0)
        except NewerFormatError as exc:
            info.update(status="newer-format", error=exc.strerror, last_activity=mtime(self.dir_fd))
            return info
        except (Damage, OSError) as exc:
            info.update(error=str(exc), last_activity=mtime(self.dir_fd))
            return info
        if scan.damage and head is None and scan.good_end == 0:  # nothing readable: load moves it aside
            info.update(
                error=f"no snapshot and a damaged journal: {scan.damage}", last_activity=mtime(self.dir_fd)
            )
            return info
        thoughts = head.thoughts if head else 0
        branches = set(head.branches) if head else set()
        status = head.status if head else "open"
        last = head.last_activity if head else None
        for _, change in scan.live:
            if isinstance(change, ThoughtAdded):
                thoughts += 1
                status = "open" if change.thought.next_thought_needed else "complete"
                if change.thought.joins_branch:
                    branches.add(change.thought.branch_id)
            elif isinstance(change, BranchCreated):
                branches.add(change.branch_id)
            elif isinstance(change, SessionReset):
                thoughts, branches, status = 0, set(), "open"
            at = change_time(change)
            last = at if last is None or at > last else last
        info.update(
            thoughts=thoughts, branches=len(branches), status=status, last_activity=last or mtime(self.dir_fd)
        )
        if scan.damage:
            info["error"] = f"damaged journal tail: {scan.damage}"
        return info

    def write_journal(
        self,
        seen: Seen,
        data: bytes,
        count: int,
        durable: bool,
        *,
        sync_parent: int | None = None,
    ) -> Seen:
        """Append ``count`` encoded records in one write (+ ``fdatasync`` when ``durable``); on any
        failure the journal is truncated back to where it was (best effort) and the error raised.

        When ``durable``, the directory is fsynced too if the journal is new, then ``sync_parent``
        (the store root's descriptor, when the session directory was just created): the journal's
        data, its name and the directory's name are durable before this returns.
        """
        fd = fsutil.open_append(self.dir_fd, JOURNAL)
        try:
            st = os.fstat(fd)
            start = st.st_size
            if start != seen.offset:
                raise StoreError(errno.EIO, "journal changed under the lock; retry", str(self.path(JOURNAL)))
            try:
                fsutil.write_all(fd, data)
                if durable:
                    os.fdatasync(fd)
                    if seen.journal is None:
                        os.fsync(self.dir_fd)
                    if sync_parent is not None:
                        os.fsync(sync_parent)
            except BaseException:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)
        return replace(
            seen,
            journal=(st.st_ino, st.st_dev),
            offset=start + len(data),
            records=seen.records + count,
            last_seq=seen.last_seq + count,
        )

    def scan_journal(self, after_seq: int) -> JournalScan:
        """Open the journal (if any) and scan it whole, records after ``after_seq`` counting as live."""
        journal_fd = fsutil.open_regular(self.dir_fd, JOURNAL, self.path(JOURNAL))
        try:
            scan, _ = self.scan_whole(journal_fd, after_seq)
        finally:
            if journal_fd is not None:
                os.close(journal_fd)
        return scan

    def compact(self) -> Seen:
        """Snapshot + journal -> a new snapshot (atomic replace), then an empty journal (atomic
        replace). Replay skips records the snapshot holds, so a crash in between is harmless."""
        self.remove_stale_temps()
        with gc_paused():
            head, record = self.read_snapshot()
        scan = self.scan_journal(head.seq if head else 0)
        if scan.damage:
            raise Damage(f"journal damaged ({scan.damage}); not compacting")
        seq = scan.last_seq if scan.live else (head.seq if head else 0)
        with gc_paused():
            compacted = rebuild(self.session_id, record, scan, {}).to_record()
        fsutil.atomic_write(self.dir_fd, SNAPSHOT, encode_snapshot(seq, compacted))
        fsutil.atomic_write(self.dir_fd, JOURNAL, b"")
        return self.fresh_seen(seq, len(compacted.thoughts))


def unchanged(store_root: Path, root_fd: int, session_id: str, seen: Seen) -> bool:
    """True when a stat shows nothing new since ``seen`` (lock-free)."""
    try:
        dir_st = os.lstat(session_id, dir_fd=root_fd)
        dir_fd = fsutil.open_dir(session_id, dir_fd=root_fd, shown=store_root / session_id)
    except OSError:
        return False
    if dir_fd is None:
        return seen.dir_ident is None
    try:
        journal = fsutil.signature(dir_fd, JOURNAL)
        return (
            (dir_st.st_ino, dir_st.st_dev) == seen.dir_ident
            and fsutil.signature(dir_fd, SNAPSHOT) == seen.snapshot
            and (journal[:2] if journal else None) == seen.journal
            and (journal[2] if journal else 0) == seen.offset
        )
    finally:
        os.close(dir_fd)


def rebuild(
    session_id: str, record: SessionRecord | None, scan: JournalScan, limits: dict[str, Any]
) -> Session:
    """Snapshot + journal replay (without a snapshot, ``created_at`` comes from the first record)."""
    if record is not None:
        if record.id != session_id:
            record = record.model_copy(update={"id": session_id})
        session = Session.from_record(record, **limits)
    else:
        first = scan.live[0][1] if scan.live else None
        created_at = scan.created_at or (change_time(first) if first is not None else None)
        session = Session(session_id, created_at=created_at, **limits)
    for _, change in scan.live:
        session.apply(change)
    return session


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many acyclic objects are built (a third of the
    restore time of a big session goes to collections that find nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def mtime(dir_fd: int) -> datetime:
    """When a session directory last changed on disk: the latest modification time (UTC) of the
    directory, its snapshot and its journal (the fallback when its records are unreadable).

    Example:
        >>> import tempfile
        >>> fd = os.open(tempfile.mkdtemp(), os.O_RDONLY | os.O_DIRECTORY)
        >>> mtime(fd).tzinfo
        datetime.timezone.utc
        >>> os.close(fd)
    """
    times = [os.fstat(dir_fd).st_mtime]
    for name in (SNAPSHOT, JOURNAL):
        sig = fsutil.signature(dir_fd, name)
        if sig:
            times.append(sig[3] / 1e9)
    return datetime.fromtimestamp(max(times), timezone.utc)


def note(notes: list[str], message: str) -> None:
    """Record a repair: append ``message`` to ``notes`` and warn it as a :class:`StoreWarning`.

    Example:
        >>> notes = []
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     note(notes, "journal tail cut")
        >>> notes
        ['journal tail cut']
    """
    notes.append(message)
    warnings.warn(message, StoreWarning, stacklevel=4)
