"""Reading stored changes back: each payload checked against its checksum and validated, damage skipped.

A change is stored as its JSON payload (:func:`encode`) and a **checksum** of it, the CRC-32
of the payload's UTF-8 bytes (:func:`checksum`; ``zlib.crc32``: C code in the standard library, a
fraction of a microsecond for a thought, and it catches every flipped bit, every burst of up to 32
bits, and almost every other accidental change — it is no guard against someone who edits the row
on purpose, who can recompute it). Rows written before checksums existed carry none and load as
unverified, without a word.

:func:`decode_changes` takes (seq, payload, checksum) rows, the payload as UTF-8 bytes (an engine
reads bytes, so that one byte that is not UTF-8 cannot fail the whole fetch; a ``str`` payload is
taken too). In the common case every checksum matches (one C loop) and every payload validates in
one or two calls; a payload that does not match its checksum or does not decode is skipped with a
:class:`~.base.StoreWarning` naming the session and the sequence number, and the rest loads.

Example:
    >>> from jupyter_think.core.models import Thought, ThoughtAdded
    >>> payload = encode(ThoughtAdded(thought=Thought(thought="Keep it", thought_number=1,
    ...     total_thoughts=1, next_thought_needed=False))).encode()
    >>> entries, skipped = decode_changes("demo", [(1, payload, checksum(payload))])
    >>> [entry.thought for entry in entries], skipped
    (['Keep it'], [])
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby, repeat
from operator import itemgetter
from typing import Any, cast

from pydantic import ConfigDict, TypeAdapter, ValidationError

from jupyter_think.core.models import Change, Thought, ThoughtAdded, change_adapter
from jupyter_think.store.base import Entry, Part, StoreWarning, as_change
from jupyter_think.store.search import searchable
from jupyter_think.store.thought_rows import ThoughtRows, thought_rows

Payload = bytes | str
Row = tuple[int, Payload, int | None]
"""A stored change as read: (seq, payload, checksum or ``None`` for a row written before checksums)."""

STAYS = "it stays stored"
"""Where a skipped change is, as the warning says it (the salvage of a damaged file names that file)."""

THOUGHT_PAYLOAD = '{"kind":"thought","thought":'
"""How the payload of a thought's change begins: this prefix, the thought's JSON, then ``}``. A store
loads such rows as bare thoughts (no wrapper object per thought: half the time and garbage-collector
work of a restore); any other form is validated as a change."""


def encode(change: Change) -> str:
    """The payload of a change: its JSON under the wire names (a thought's unset optional fields left
    out: smaller rows, faster loads; they validate back to the same model). A thought's payload is
    :data:`THOUGHT_PAYLOAD`, the thought, ``}`` — the form this module loads fastest."""
    if isinstance(change, ThoughtAdded):
        return THOUGHT_PAYLOAD + change.thought.model_dump_json(by_alias=True, exclude_none=True) + "}"
    return change.model_dump_json(by_alias=True)


_changes_adapter: TypeAdapter[list[Change]] = TypeAdapter(list[Change], config=ConfigDict(defer_build=True))
_thoughts_adapter: TypeAdapter[list[Thought]] = TypeAdapter(
    list[Thought], config=ConfigDict(defer_build=True)
)
_PREFIX = THOUGHT_PAYLOAD.encode()
_seq, _payload, _sum = itemgetter(0), itemgetter(1), itemgetter(2)


def checksum(payload: Payload) -> int:
    """The checksum stored with ``payload``: CRC-32 of its UTF-8 bytes, 0 .. 2³² - 1.

    Example:
        >>> checksum('{"kind":"activate","branchId":null}') == checksum(b'{"kind":"activate","branchId":null}')
        True
    """
    return zlib.crc32(payload.encode() if isinstance(payload, str) else payload)


def decode_changes(
    session_id: str, rows: Sequence[Row], *, stacklevel: int = 3, kept: str = STAYS
) -> tuple[list[Entry], list[int]]:
    """The entries of the good (seq, payload, checksum) rows in order, and the seqs skipped.

    ``kept`` says in the warnings where a skipped change is (it is never deleted).
    """
    _, entries, skipped = decode(session_id, rows, stacklevel=stacklevel + 1, kept=kept)
    return entries, skipped


def decode(
    session_id: str, rows: Sequence[Row], *, stacklevel: int = 2, kept: str = STAYS
) -> tuple[list[int], list[Entry], list[int]]:
    """(seqs of the good rows, their entries, seqs skipped) of (seq, payload, checksum) rows in order.

    When every checksum matches and every payload validates (the common case), the checksums are
    computed in one C loop, the thoughts validated in one call and the other changes in another (no
    Python loop per row for a session of thoughts only); otherwise the damaged rows are found row by
    row, each named in a :class:`StoreWarning`, and the rest is validated the same way.
    """
    seqs, entries, skipped = _decode(session_id, rows, stacklevel + 1, kept, compact=False)
    return seqs, cast("list[Entry]", entries), skipped


def _decode(
    session_id: str, rows: Sequence[Row], stacklevel: int, kept: str, *, compact: bool
) -> tuple[list[int], list[Part], list[int]]:
    """:func:`decode`; ``compact``: rows that are all thoughts come back as one :class:`ThoughtRows`
    (no model per thought; the seqs are then those of the rows it holds)."""
    if not rows:
        return [], [], []
    seqs: list[int] = list(map(_seq, rows))
    payloads: list[Any] = list(map(_payload, rows))
    if type(payloads[0]) is str:
        payloads = [payload.encode() if isinstance(payload, str) else payload for payload in payloads]
    skipped: list[int] = []
    sums = list(map(_sum, rows))
    if not _all_match(payloads, sums):  # written before checksums (None), or damaged
        good = [_matches(payload, expected) for payload, expected in zip(payloads, sums, strict=False)]
        if not all(good):
            for seq, ok in zip(seqs, good, strict=False):
                if not ok:
                    skipped.append(seq)
                    _warn_skipped(
                        session_id, seq, "does not match its checksum (damaged)", kept, stacklevel + 1
                    )
            seqs = [seq for seq, ok in zip(seqs, good, strict=False) if ok]
            payloads = [payload for payload, ok in zip(payloads, good, strict=False) if ok]
    entries = _validate_all(payloads, compact)
    if entries is not None:
        return seqs, entries, skipped
    valid_seqs: list[int] = []
    valid: list[Part] = []
    for seq, payload in zip(seqs, payloads, strict=False):
        try:
            change = change_adapter.validate_json(payload)
        except (ValidationError, ValueError, RecursionError) as exc:
            skipped.append(seq)
            _warn_skipped(
                session_id,
                seq,
                f"is not valid (written by a newer version, or damaged): {_first_error(exc)}",
                kept,
                stacklevel + 1,
            )
        else:
            valid_seqs.append(seq)
            valid.append(change.thought if isinstance(change, ThoughtAdded) else change)
    return valid_seqs, valid, sorted(skipped)


def decode_rows(session_id: str, rows: Iterable[Row]) -> tuple[list[tuple[int, Change]], list[int]]:
    """The good (seq, change) pairs of (seq, payload, checksum) rows, and the seqs skipped."""
    seqs, entries, skipped = decode(session_id, list(rows), stacklevel=3)
    return [(seq, as_change(entry)) for seq, entry in zip(seqs, entries, strict=False)], skipped


def decode_batches(session_id: str, batches: Iterable[Sequence[Row]]) -> tuple[list[Part], list[int]]:
    """:func:`decode_changes` over batches of rows in order (a cursor read
    :data:`~.base.LOAD_BATCH` rows at a time): the good entries and the skipped seqs of them all, a
    batch of thoughts only as one :class:`ThoughtRows` (what a restore takes without a model per thought)."""
    entries: list[Part] = []
    skipped: list[int] = []
    for rows in batches:
        _, valid, bad = _decode(session_id, rows, 3, STAYS, compact=True)
        entries += valid
        skipped += bad
    return entries, skipped


def searchable_payloads(
    rows: Iterable[Sequence[Any]], names: Mapping[int, str] | None = None
) -> list[tuple[int, int, int, str]]:
    """(session key, seq, number, text) of stored (key, seq, payload[, checksum]) rows that carry text
    to index. A row that does not match its checksum or does not validate is left out (it is not
    loaded either), with a warning naming its session (``names``: key -> id) and seq."""
    indexed = []
    for row in rows:
        key, seq, payload = row[0], row[1], row[2]
        session = (names or {}).get(key, f"(row {key})")
        expected = row[3] if len(row) > 3 else None
        if expected is not None and checksum(payload) != expected:
            _warn_skipped(
                session, seq, "does not match its checksum (damaged)", "it is not indexed for search", 3
            )
            continue
        try:
            change = change_adapter.validate_json(payload)
        except (ValidationError, ValueError, RecursionError) as exc:
            _warn_skipped(
                session, seq, f"is not valid: {_first_error(exc)}", "it is not indexed for search", 3
            )
            continue
        found = searchable(change)
        if found is not None:
            indexed.append((key, seq, *found))
    return indexed


def _all_match(payloads: list[Any], sums: list[int | None]) -> bool:
    """True when every payload matches its checksum (one C loop: the common case)."""
    try:
        return list(map(zlib.crc32, payloads)) == sums
    except TypeError:  # a payload that is not bytes at all (NULL in a damaged row)
        return False


def _matches(payload: Any, expected: int | None) -> bool:
    """True for a payload that matches its checksum, or has none (written before checksums)."""
    return isinstance(payload, bytes) and (expected is None or zlib.crc32(payload) == expected)


def _warn_skipped(session_id: str, seq: int, why: str, kept: str, stacklevel: int) -> None:
    warnings.warn(
        f"jupyter-think: session {session_id!r}: change {seq} {why}; it was skipped ({kept})",
        StoreWarning,
        stacklevel=stacklevel + 1,
    )


def _validate_all(payloads: list[bytes], compact: bool = False) -> list[Part] | None:
    """Every payload validated in one call per kind (``None`` when some payload does not validate);
    ``compact``: thoughts only as one :class:`ThoughtRows` when they are as the store writes them."""
    if all(map(bytes.startswith, payloads, repeat(_PREFIX))) and all(
        map(bytes.endswith, payloads, repeat(b"}"))
    ):
        # only thoughts (the common case): the payloads' inner JSON joined by C loops, one validation
        joined = b"[" + b",".join(map(itemgetter(slice(len(_PREFIX), -1)), payloads)) + b"]"
        rows = thought_rows(joined, len(payloads)) if compact else None
        if rows is not None:
            return [rows]
        return _valid_list(_thoughts_adapter, joined, len(payloads))
    return _decode_mixed(payloads, compact)


def _valid_list(adapter: TypeAdapter[list[Any]], joined: bytes, count: int) -> list[Any] | None:
    """``joined`` (a JSON array) validated, or ``None`` when it does not validate or does not hold
    ``count`` items (a damaged row holding two JSON values would shift the rest)."""
    try:
        items = adapter.validate_json(joined)
    except (ValidationError, ValueError, RecursionError):
        return None
    return items if len(items) == count else None


def _decode_mixed(payloads: list[bytes], compact: bool = False) -> list[Part] | None:
    """Thoughts and other changes: each kind validated in one call, then put back in row order
    (``None`` when some row does not validate); ``compact``: each run of thoughts as one
    :class:`ThoughtRows` when they are as the store writes them."""
    start, end = len(_PREFIX), -1
    thoughts: list[bytes] = []
    others: list[bytes] = []
    is_thought: list[bool] = []
    for payload in payloads:
        bare = payload.startswith(_PREFIX) and payload.endswith(b"}")
        (thoughts if bare else others).append(payload[start:end] if bare else payload)
        is_thought.append(bare)
    joined = b"[" + b",".join(thoughts) + b"]"
    rows = thought_rows(joined, len(thoughts)) if compact and thoughts else None
    valid_others = _valid_list(_changes_adapter, b"[" + b",".join(others) + b"]", len(others))
    if valid_others is None:
        return None
    next_other = iter(valid_others).__next__
    if rows is not None:
        return _runs(rows, is_thought, next_other)
    valid_thoughts = _valid_list(_thoughts_adapter, joined, len(thoughts))
    if valid_thoughts is None:
        return None
    next_thought = iter(valid_thoughts).__next__
    return [next_thought() if bare else next_other() for bare in is_thought]


def _runs(rows: ThoughtRows, is_thought: list[bool], next_other: Callable[[], Change]) -> list[Part]:
    """Each run of consecutive thoughts as one part of ``rows``, the other changes between them."""
    parts: list[Part] = []
    done = 0
    for bare, run in groupby(is_thought):
        count = len(list(run))
        if bare:
            parts.append(rows.part(done, done + count))
            done += count
        else:
            parts += [next_other() for _ in range(count)]
    return parts


def _first_error(exc: Exception) -> str:
    """The first thing wrong with a payload, on one line."""
    if isinstance(exc, ValidationError) and exc.errors():
        item = exc.errors()[0]
        where = ".".join(str(part) for part in item["loc"])
        return f"{where}: {item['msg']}" if where else item["msg"]
    return " ".join(str(exc).split()) or type(exc).__name__
