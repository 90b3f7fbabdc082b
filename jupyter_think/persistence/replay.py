"""Replaying the spill file into its store: what a process left at exit, and what ``recover`` retries.

Each session is replayed under the spill file's write lock (another process replaying, or keeping
a change behind a refused one, waits), in the order its changes were kept, to the row its writer
knew (:class:`~jupyter_think.store.SessionWrite` routing: a row trashed by someone else is restored,
a session started anew elsewhere gets them in its live row). A change the store holds already (a
commit whose answer was lost, a replay cut short) is recognised by its stored form and not written
twice. When the store refuses a change's content, what comes before it is stored and it stays kept,
``refused``, with its later changes ``behind`` it; a store that refuses for any other reason (down,
full) stops the replay: what went in is forgotten from the spill, the rest stays.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_think.persistence.messages import _cause
from jupyter_think.persistence.refusal import as_store_error, commit_longest_prefix, refused_for_content
from jupyter_think.persistence.spill import Spill, Spilled
from jupyter_think.store import SessionWrite, Store, is_url
from jupyter_think.store.codec import encode


@dataclass
class Replayed:
    """What one replay did."""

    stored: list[Spilled] = field(default_factory=list)
    already: list[Spilled] = field(default_factory=list)
    """Kept changes found in the store already (not written twice)."""
    refused: list[Spilled] = field(default_factory=list)
    """The first change of a session the store refuses (``cause`` says why)."""
    waiting: list[Spilled] = field(default_factory=list)
    """Later changes of those sessions, kept behind the refused one."""
    restored: set[str] = field(default_factory=set)
    """Sessions that were in the trash and are live again with the replayed changes."""
    in_trash: set[str] = field(default_factory=set)
    """Sessions whose changes went to their trashed row (a new session took the id meanwhile)."""

    @property
    def caught_up(self) -> int:
        return len(self.stored) + len(self.already)


def replay(store: Store, spill: Spill, *, everything: bool) -> Replayed:
    """Replay ``spill`` into ``store``: the changes kept at exit (``everything=False``: what a process
    opening the store does) or every kept change, refused ones too (``jupyter-think recover``).

    Raises the store's ``OSError`` when it refuses for another reason than a change's content; the
    sessions replayed before stay replayed.
    """
    result = Replayed()
    if not spill.exists():
        return result
    sessions = list(dict.fromkeys(entry.session_id for entry in spill.entries()))
    for session_id in sessions:
        failure: OSError | None = None
        with spill.transaction() as conn:
            entries = spill.read(conn, session_id)
            if not everything:
                entries = entries[
                    : next((i for i, e in enumerate(entries) if e.state != "exit"), len(entries))
                ]
            if not entries:
                continue
            try:
                _replay_session(store, spill, conn, entries, result)
            except sqlite3.Error:
                raise  # the spill file's own (a SpillError)
            except Exception as exc:
                failure = as_store_error(exc)
        if failure is not None:
            raise failure
    return result


def _replay_session(store: Store, spill: Spill, conn: Any, entries: list[Spilled], result: Replayed) -> None:
    """Replay one session's ``entries`` (in the spill transaction ``conn``); see :func:`replay`."""
    session_id = entries[0].session_id
    stored = _stored_forms(store, session_id, entries[0].expected_key)
    fresh: list[Spilled] = []
    already: list[Spilled] = []
    for entry in entries:
        change = entry.change
        found = change is not None and change.kind != "reset" and encode(change) in stored
        (already if found else fresh).append(entry)
    spill.remove(conn, [entry.id for entry in already])
    result.already.extend(already)
    unreadable = next((i for i, entry in enumerate(fresh) if entry.change is None), None)
    if unreadable is not None:  # (written by a newer version): kept, and what follows it stays behind it
        _set_aside(spill, conn, fresh[unreadable:], "the kept change does not validate", result)
        fresh = fresh[:unreadable]
    if not fresh:
        return
    expected = fresh[0].expected_key
    created = fresh[0].session_created

    def commit(run: Any) -> None:
        nonlocal expected
        written = store.append(
            [SessionWrite(session_id, [entry.change for entry in run], expected, created)]
        )[0]
        spill.remove(conn, [entry.id for entry in run])
        result.stored.extend(run)
        expected = written.key if written.key is not None else expected
        if written.restored:
            result.restored.add(session_id)
        if written.in_trash:
            result.in_trash.add(session_id)

    try:
        commit(fresh)
    except Exception as exc:
        if not refused_for_content(exc):
            raise
        refused_at = commit_longest_prefix(fresh, commit, as_store_error(exc))
        if refused_at is not None:
            index, refusal = refused_at
            _set_aside(spill, conn, fresh[index:], _cause(refusal, store.location), result)


def _set_aside(spill: Spill, conn: Any, entries: list[Spilled], cause: str, result: Replayed) -> None:
    first, later = entries[0], entries[1:]
    spill.mark(conn, [first.id], "refused", cause)
    spill.mark(conn, [entry.id for entry in later], "behind")
    result.refused.append(replace(first, state="refused", cause=cause))
    result.waiting.extend(replace(entry, state="behind") for entry in later)


def _stored_forms(store: Store, session_id: str, expected_key: int | None) -> set[str]:
    """The stored form of every change in the rows a replay of ``session_id`` may have written to."""
    keys = {expected_key} if expected_key is not None else set()
    head = store.heads([session_id]).get(session_id)
    if head is not None:
        keys.add(head.key)
    return {encode(change) for key in keys for _, change in store.changes_since(key, 0)}


# --- in words --------------------------------------------------------------------------------------------


def recover_command(location: str) -> str:
    """The command that recovers the store at ``location`` (a URL shown without its password).

    Example:
        >>> recover_command("/data/think")
        'jupyter-think recover --dir /data/think'
    """
    option = "--store" if is_url(location) or "://" in location else "--dir"
    return f"jupyter-think recover {option} {shlex.quote(location)}"


def caught_up_line(result: Replayed, spill: Spill) -> str:
    """The one line a process says after replaying what an earlier one kept at exit."""
    sessions = {entry.session_id for entry in (*result.stored, *result.already)}
    line = (
        f"saved {result.caught_up} change(s) of {len(sessions)} session(s) that an earlier process could not "
        f"save to {spill.location} before it exited (they were kept in {spill.path})"
    )
    if result.refused:
        line += (
            f"; {len(result.refused) + len(result.waiting)} change(s) the store refuses stay there: "
            f"{refused_words(result.refused)}; fix the cause, then run {recover_command(spill.location)}"
        )
    return line


def refused_words(refused: list[Spilled]) -> str:
    """``session 'notes' change 13 (a thought, number 5): <cause>``, for each refused change."""
    return "; ".join(f"session {entry.session_id!r} {entry.describe()}: {entry.cause}" for entry in refused)
