"""The on-disk formats of the session store: the snapshot document and the journal records.

A journal record is one line::

    {"format_version":1,"seq":7,"crc32":2979416106,"change":{...a Change, wire names...}}

The record with seq 1 of a session new on disk also carries the session's creation time (a
session gets no snapshot file until its first compaction, so this is where ``created_at`` lives)::

    {"format_version":1,"seq":1,"crc32":123,"created_at":"2026-01-02T03:04:05Z","change":{...}}

and the snapshot is one JSON document whose record comes last::

    {"format_version":1,"seq":7,"thoughts":3,"branches":["alt"],"status":"open",
     "last_activity":"...","crc32":123,"record":{...a SessionRecord...}}

``crc32`` is the CRC-32 of the exact bytes of the ``change`` (or ``record``) value, preceded by
those of the ``created_at`` value when there is one, so a flipped byte is caught even when the
JSON still parses. The small header before ``change``/``record``
holds no strings that could contain that key (``created_at``, its only string, is a timestamp),
which is how the payload bytes are found without parsing twice. Everything is parsed through pydantic (``model_validate_json``), which rejects
wrong types and deep nesting cleanly. A ``format_version`` above :data:`FORMAT_VERSION` raises
:class:`NewerFormatError`; anything else unreadable is reported as damage, never raised.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .fsutil import NewerFormatError
from .models import (
    FORMAT_VERSION,
    BranchActivated,
    BranchCreated,
    Change,
    SessionRecord,
    ThoughtAdded,
    change_adapter,
)

_RECORD_HEAD = b'{"format_version":'
_CHANGE_KEY = b',"change":'
_RECORD_KEY = b',"record":'
_CREATED_KEY = b',"created_at":'
_datetime_adapter: TypeAdapter[datetime] = TypeAdapter(datetime)


class _VersionProbe(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format_version: int


class _EntryHead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format_version: int
    seq: Annotated[int, Field(ge=1)]
    crc32: int
    created_at: datetime | None = None


class SnapshotHead(BaseModel):
    """The snapshot's header: what ``describe`` needs without parsing the thoughts."""

    model_config = ConfigDict(extra="forbid")
    format_version: int
    seq: Annotated[int, Field(ge=0)]
    thoughts: Annotated[int, Field(ge=0)]
    branches: list[str]
    status: Literal["open", "complete"]
    last_activity: datetime
    crc32: int


class Damage(ValueError):
    """Bytes that are not a valid record (the reason is the message)."""


def _newer_check(data: bytes, what: str) -> None:
    """Raise NewerFormatError when ``data`` declares a format version this code does not know."""
    try:
        version = _VersionProbe.model_validate_json(data).format_version
    except ValidationError:
        return
    if version > FORMAT_VERSION:
        raise NewerFormatError(
            0,
            f"{what} has format version {version}, newer than {FORMAT_VERSION}: left untouched, upgrade jupyter-think",
        )


_Head = TypeVar("_Head", _EntryHead, SnapshotHead)


def _parse_head(
    data: bytes,
    split: int,
    model: type[_Head],
    what: str,
    kind: str,
    *,
    shape: str | None = None,
    shaped: bool = True,
) -> _Head:
    """The header before byte ``split`` of a record or snapshot (``what``, as errors name it).

    Raises :class:`Damage` ("not <shape>", "unreadable <kind> header") or NewerFormatError when the
    bytes declare a newer format; ``shaped`` false means the caller already saw a wrong shape.
    """
    if not data.startswith(_RECORD_HEAD) or split < 0 or not shaped:
        _newer_check(data, what)
        raise Damage(f"not {shape or what}")
    try:
        head = model.model_validate_json(data[:split] + b"}")
    except ValidationError:
        _newer_check(data, what)
        raise Damage(f"unreadable {kind} header") from None
    if head.format_version > FORMAT_VERSION:
        _newer_check(data, what)
    return head


def change_time(change: Change) -> datetime:
    """When a change happened (the time it carries)."""
    if isinstance(change, ThoughtAdded):
        return change.thought.created_at
    if isinstance(change, BranchCreated):
        return change.created_at
    return change.at


# --- journal -------------------------------------------------------------------------------


def encode_changes(first_seq: int, changes: Sequence[Change], created_at: datetime | None = None) -> bytes:
    """The journal lines for ``changes`` numbered from ``first_seq``; ``created_at`` (the session's
    creation time) goes into the header of the first line, covered by its checksum.

    Example:
        >>> from jupyter_think.models import SessionReset
        >>> encode_changes(5, [SessionReset()]).startswith(b'{"format_version":1,"seq":5,')
        True
        >>> from datetime import timezone
        >>> at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        >>> line = encode_changes(1, [SessionReset()], created_at=at)
        >>> line.split(b',"change":')[0].split(b",")[-1]
        b'"created_at":"2026-01-02T03:04:05Z"'
        >>> decode_record(line[:-1])[2] == at
        True
    """
    lines = []
    for offset, change in enumerate(changes):
        payload = change_adapter.dump_json(change, by_alias=True)
        if offset == 0 and created_at is not None:
            created = _datetime_adapter.dump_json(created_at)
            lines.append(
                b'{"format_version":%d,"seq":%d,"crc32":%d,"created_at":%s,"change":%s}\n'
                % (FORMAT_VERSION, first_seq, zlib.crc32(payload, zlib.crc32(created)), created, payload)
            )
            continue
        crc = zlib.crc32(payload)
        lines.append(
            b'{"format_version":%d,"seq":%d,"crc32":%d,"change":%s}\n'
            % (FORMAT_VERSION, first_seq + offset, crc, payload)
        )
    return b"".join(lines)


def decode_line(line: bytes) -> tuple[int, Change]:
    """(seq, change) of one journal line without its newline; raises :class:`Damage` or NewerFormatError."""
    seq, change, _created_at = decode_record(line)
    return seq, change


def decode_record(line: bytes) -> tuple[int, Change, datetime | None]:
    """(seq, change, created_at) of one journal line without its newline (``created_at`` is the
    session's creation time that a first record carries, else ``None``); raises :class:`Damage` or
    NewerFormatError."""
    split = line.find(_CHANGE_KEY)
    head = _parse_head(line, split, _EntryHead, "a journal record", "record", shaped=line.endswith(b"}"))
    payload = line[split + len(_CHANGE_KEY) : -1]
    crc = 0
    if head.created_at is not None:  # its exact bytes: the last value of the header
        created = line.rfind(_CREATED_KEY, 0, split)
        if created < 0:
            raise Damage(f"unreadable record header in record {head.seq}")
        crc = zlib.crc32(line[created + len(_CREATED_KEY) : split])
    if zlib.crc32(payload, crc) != head.crc32:
        raise Damage(f"checksum mismatch in record {head.seq}")
    try:
        return head.seq, change_adapter.validate_json(payload), head.created_at
    except ValidationError as exc:
        raise Damage(f"invalid change in record {head.seq}: {exc.error_count()} error(s)") from None


@dataclass
class JournalScan:
    """What a read of journal bytes found.

    ``live`` holds (seq, change) with seq > ``after`` in order and contiguous; ``records`` counts
    every good record (also those at or below ``after``, left over from a compaction); ``good_end``
    is the offset just past the last good record; ``damage`` says why reading stopped there, or
    is ``None`` when every byte was read. ``created_at`` is the session's creation time carried
    by a first record read (``None`` when none carries it).
    """

    live: list[tuple[int, Change]] = field(default_factory=list)
    records: int = 0
    good_end: int = 0
    damage: str | None = None
    last_seq: int = 0
    created_at: datetime | None = None


def scan_journal(data: bytes, after: int) -> JournalScan:
    """Read journal ``data``: records with seq <= ``after`` are counted and skipped, then seqs must
    follow on one by one; the first bad or out-of-order line stops the scan (``damage``).

    Example:
        >>> from jupyter_think.models import SessionReset
        >>> scan = scan_journal(encode_changes(1, [SessionReset(), SessionReset()]) + b'{"trunc', after=1)
        >>> [seq for seq, _ in scan.live], scan.records, scan.damage
        ([2], 2, 'partial last line')
    """
    scan = JournalScan(last_seq=after)
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline < 0:
            scan.damage = "partial last line"
            break
        try:
            seq, change, created_at = decode_record(data[position:newline])
        except Damage as exc:
            scan.damage = str(exc)
            break
        if created_at is not None:
            scan.created_at = created_at
        if seq <= after and not scan.live:
            pass  # already in the snapshot (crash between compaction's two steps)
        elif seq == scan.last_seq + 1:
            scan.live.append((seq, change))
            scan.last_seq = seq
        else:
            scan.damage = f"record {seq} out of sequence (expected {scan.last_seq + 1})"
            break
        scan.records += 1
        position = newline + 1
        scan.good_end = position
    return scan


# --- snapshot ------------------------------------------------------------------------------


def record_status(record: SessionRecord) -> Literal["open", "complete"]:
    """``complete`` when the last thought ends the chain (as ``Session.status``)."""
    return "complete" if record.thoughts and not record.thoughts[-1].next_thought_needed else "open"


def encode_snapshot(seq: int, record: SessionRecord) -> bytes:
    """The snapshot document for ``record`` including every change up to ``seq``."""
    payload = record.model_dump_json(
        by_alias=True, exclude_none=True
    ).encode()  # None is every such field's default
    head = SnapshotHead(
        format_version=FORMAT_VERSION,
        seq=seq,
        thoughts=len(record.thoughts),
        branches=list(record.branches),
        status=record_status(record),
        last_activity=record.last_activity,
        crc32=zlib.crc32(payload),
    )
    return head.model_dump_json()[:-1].encode() + _RECORD_KEY + payload + b"}\n"


def _split_snapshot(data: bytes) -> tuple[SnapshotHead, int]:
    split = data.find(_RECORD_KEY)
    head = _parse_head(data, split, SnapshotHead, "the snapshot", "snapshot", shape="a snapshot document")
    return head, split + len(_RECORD_KEY)


def decode_snapshot_head(data: bytes) -> SnapshotHead:
    """The header of snapshot bytes (the start of the file is enough); raises :class:`Damage`."""
    return _split_snapshot(data)[0]


def decode_snapshot(data: bytes) -> tuple[SnapshotHead, SessionRecord]:
    """(header, record) of a whole snapshot file; raises :class:`Damage` or NewerFormatError."""
    head, start = _split_snapshot(data)
    if not data.endswith(b"}\n"):
        raise Damage("truncated snapshot")
    payload = data[start:-2]
    if zlib.crc32(payload) != head.crc32:
        raise Damage("snapshot checksum mismatch")
    try:
        return head, SessionRecord.model_validate_json(payload)
    except ValidationError as exc:
        raise Damage(f"invalid session record: {exc.error_count()} error(s)") from None


def record_changes(record: SessionRecord) -> list[Change]:
    """Changes that rebuild ``record`` on an empty session (used when a compaction by another
    process folded changes this process has not seen into the snapshot)."""
    changes: list[Change] = [
        BranchCreated.model_construct(
            kind="branch", branch_id=branch_id, from_thought=info.from_thought, created_at=info.created_at
        )
        for branch_id, info in record.branches.items()
    ]
    changes.extend(
        ThoughtAdded.model_construct(kind="thought", thought=thought) for thought in record.thoughts
    )
    if record.active_branch is not None:
        changes.append(
            BranchActivated.model_construct(
                kind="activate", branch_id=record.active_branch, at=record.last_activity
            )
        )
    return changes


__all__ = [
    "Damage",
    "JournalScan",
    "SnapshotHead",
    "change_time",
    "decode_line",
    "decode_record",
    "decode_snapshot",
    "decode_snapshot_head",
    "encode_changes",
    "encode_snapshot",
    "record_changes",
    "scan_journal",
]
