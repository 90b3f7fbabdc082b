"""What can be read of a damaged SQLite database, carried over change by change into a fresh one.

:func:`read_damaged` reads every row of the sessions and changes tables that can still be read,
table by table in rowid order, stepping over pages that cannot be read (a damaged page costs the
rows on it, not the rows after it). :func:`carry_into` writes what is good into a fresh database:
each change checked against its checksum and validated (a bad one is skipped with a warning naming
its session and sequence number), the same row keys, sequence numbers and checksums, the search
index rebuilt. A session that lost changes keeps its last sequence number and its highest thought
number (from its row, the search index or what survived) and records how many changes it lost and
where they are kept (``missing``, ``kept_in``), so it is reported each time it is opened.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_think.core.models import Thought
from jupyter_think.store.base import STATES, Entry
from jupyter_think.store.codec import decode
from jupyter_think.store.rows import RowCounts
from jupyter_think.store.search import searchable
from jupyter_think.store.sqlite.schema import INDEX_TEXT, columns

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


# --- reading what can be read ------------------------------------------------------------------------


@dataclass
class Found:
    """The rows read from a damaged database: session rows by key, changes by key and seq (kind,
    payload bytes, time, checksum), and the highest thought number per key in its search index."""

    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)
    changes: dict[int, dict[int, tuple[Any, ...]]] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)


def read_damaged(source: sqlite3.Connection) -> Found:
    """Every row of ``source`` that can still be read (nothing when its schema cannot be read)."""
    found = Found()
    try:
        have = columns(source, "sessions")
        checked = "checksum" if "checksum" in columns(source, "changes") else "NULL"
    except sqlite3.DatabaseError:
        return found  # the schema itself cannot be read
    wanted = [name if name in have else "NULL" for name in _SESSION_COLUMNS]
    for key, *values in _scan(source, "sessions", ", ".join(wanted)):
        row = {name: _DEFAULTS[name] if value is None and name in _DEFAULTS else value
               for name, value in zip(_SESSION_COLUMNS, values, strict=False)}  # fmt: skip
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


# --- writing what is good ----------------------------------------------------------------------------


def carry_into(fresh: sqlite3.Connection, found: Found, kept: Path) -> Repaired:
    """Write the good rows of ``found`` into ``fresh`` in one transaction; say what was carried."""
    repaired = Repaired(kept)
    carried_keys: set[int] = set()
    fresh.execute("BEGIN")
    for key, row in sorted(found.sessions.items()):
        fresh.execute("SAVEPOINT one")
        try:
            carried = _carry_session(fresh, key, row, found, kept)
        except (sqlite3.Error, ValueError, TypeError):  # a row not what it seems (a damaged page that parses)
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
    fresh: sqlite3.Connection, key: int, row: dict[str, Any], found: Found, kept: Path
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
    counts = RowCounts.of(entries)
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
    _insert(fresh, key, row, [(seq, stored[seq]) for seq in good_seqs], entries, counts)
    return row["id"], missing, had


def _insert(
    fresh: sqlite3.Connection,
    key: int,
    row: dict[str, Any],
    good: list[tuple[int, tuple[Any, ...]]],
    entries: list[Entry],
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
    for (seq, _), entry in zip(good, entries, strict=False):
        text = (entry.thought_number, entry.thought) if isinstance(entry, Thought) else searchable(entry)
        if text is not None:
            texts.append((text[1], key, seq, text[0]))
    fresh.executemany(INDEX_TEXT, texts)
