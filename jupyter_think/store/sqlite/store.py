"""The SQLite store (standard library ``sqlite3``): one database ``sessions.db`` in the store directory.

The file, its connection, its read-only and damaged states are :mod:`.file`'s; the SQL of a write's
rows is :mod:`.rows`' (the plans it follows, :mod:`~jupyter_think.store.rows` and
:mod:`~jupyter_think.store.lifecycle`, are every engine's). This module answers the
:class:`~jupyter_think.store.base.Store` interface: appends, loads, lists, search, trash. Nothing is
created before the first write: reading a store that does not exist gives no sessions. A directory
that is a symlink is resolved once, when the store is opened. Other processes' commits are seen by
polling ``PRAGMA data_version``.

Each change is stored with its checksum (:mod:`~jupyter_think.store.codec`) and read back as bytes, so
a damaged payload is skipped with a warning and the rest loads; a session that lost changes to a
damaged file says so each time it is loaded.

Example:
    >>> import tempfile
    >>> from jupyter_think.core.models import Thought, ThoughtAdded
    >>> store = SQLiteStore(tempfile.mkdtemp())
    >>> thought = Thought(thought="Restate", thought_number=1, total_thoughts=1, next_thought_needed=True)
    >>> store.append([SessionWrite("demo", [ThoughtAdded(thought=thought)])])[0].segments[0].last_seq
    1
    >>> [row.id for row in store.sessions()], len(store.load("demo").changes)
    (['demo'], 1)
"""

from __future__ import annotations

import errno
import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_think.store.base import (
    LIVE,
    LOAD_BATCH,
    SEARCH_WINDOW,
    Head,
    LoadedChanges,
    SearchHit,
    SessionWrite,
    State,
    Store,
    StoredSession,
    StoreError,
    Written,
    warn_damaged,
)
from jupyter_think.store.lifecycle import Lifecycle
from jupyter_think.store.migrations import WORDS_INDEXED
from jupyter_think.store.rows import RowPlan
from jupyter_think.store.search import check_limit, query_terms, snippet
from jupyter_think.store.sqlite.experiments import SQLiteExperiments
from jupyter_think.store.sqlite.file import BUSY_TIMEOUT, DatabaseFile, once_more
from jupyter_think.store.sqlite.rows import SQLiteRows, one, stored
from jupyter_think.store.sqlite.schema import ROW, refused

if TYPE_CHECKING:  # (the models and the codec are imported where changes are read: `list` needs neither)
    from jupyter_think.core.models import Change


class SQLiteStore(Store):
    """Sessions in ``<directory>/sessions.db`` (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str], *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.directory = Path(directory).expanduser().resolve()  # a symlinked store directory is fine
        self.location = str(self.directory)
        self._file = DatabaseFile(self.directory, busy_timeout)
        self.path = self._file.path
        sql = SQLiteRows()
        self._rows = RowPlan(sql)
        self._lifecycle = Lifecycle(sql)
        self.experiments = SQLiteExperiments(self._file)

    # --- connection ------------------------------------------------------------------------------

    @property
    def read_only(self) -> str | None:
        return self._file.read_only

    def after_fork_in_child(self) -> None:
        self._file.after_fork_in_child()

    def close(self) -> None:
        self._file.close()

    # --- writing ------------------------------------------------------------------------------------

    @once_more
    def append(self, writes: Sequence[SessionWrite]) -> list[Written]:
        writes = [replace(write, session_id=self.canonical(write.session_id)) for write in writes]
        try:
            with self._file.writing() as conn:
                return [self._rows.append_one(conn, write) for write in writes]
        except (
            OverflowError,
            ValueError,
        ) as exc:  # a value sqlite3 cannot bind (past 64 bits, a lone surrogate)
            raise refused(errno.EINVAL, f"{type(exc).__name__}: {exc}", self.location) from exc

    # --- reading ------------------------------------------------------------------------------------

    @once_more
    def load(self, session_id: str, *, state: State = "live", key: int | None = None) -> LoadedChanges | None:
        from jupyter_think.store.codec import decode_batches

        session_id = self.canonical(session_id)
        with self._file.connection(write=False) as conn:
            if conn is None:
                return None
            conn.execute("BEGIN")  # one snapshot for the row and its changes
            try:
                if key is not None:
                    found = conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
                else:
                    found = conn.execute(
                        f"SELECT {ROW} FROM sessions WHERE id = ? AND state = ? "
                        "ORDER BY state_changed_at DESC, key DESC LIMIT 1",
                        (session_id, state),
                    ).fetchone()
                if found is None:
                    return None
                row = stored(found)
                cursor = conn.execute(  # (bytes: one payload that is not UTF-8 cannot fail the fetch)
                    "SELECT seq, CAST(payload AS BLOB), checksum FROM changes WHERE session_key = ? "
                    "ORDER BY seq",
                    (row.key,),
                )
                entries, skipped = decode_batches(row.id, iter(partial(cursor.fetchmany, LOAD_BATCH), []))
            finally:
                conn.execute("COMMIT")
        if row.damaged:
            warn_damaged(row)
        return LoadedChanges(row, entries, skipped)

    @once_more
    def changes_since(self, key: int, seq: int) -> list[tuple[int, Change]]:
        from jupyter_think.store.codec import decode_rows

        with self._file.connection(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT seq, CAST(payload AS BLOB), checksum FROM changes WHERE session_key = ? AND seq > ? "
                "ORDER BY seq",
                (key, seq),
            ).fetchall()
            session_id = one(conn, "SELECT id FROM sessions WHERE key = ?", (key,)) or str(key)
        return decode_rows(session_id, rows)[0]

    @once_more
    def heads(self, session_ids: Collection[str]) -> dict[str, Head]:
        if not session_ids:
            return {}
        with self._file.connection(write=False) as conn:
            if conn is None:
                return {}
            named = {self.canonical(session_id): session_id for session_id in session_ids}
            marks = ",".join("?" * len(named))
            rows = conn.execute(
                f"SELECT id, key, last_seq FROM sessions WHERE state = 'live' AND id IN ({marks})",
                tuple(named),
            ).fetchall()
        return {named[session_id]: Head(key, last_seq) for session_id, key, last_seq in rows}

    @once_more
    def row(self, key: int) -> StoredSession | None:
        with self._file.connection(write=False) as conn:
            if conn is None:
                return None
            found = conn.execute(f"SELECT {ROW} FROM sessions WHERE key = ?", (key,)).fetchone()
        return None if found is None else stored(found)

    @once_more
    def sessions(self, states: Collection[State] = LIVE) -> list[StoredSession]:
        with self._file.connection(write=False) as conn:
            if conn is None:
                return []
            marks = ",".join("?" * len(states))
            rows = conn.execute(
                f"SELECT {ROW} FROM sessions WHERE state IN ({marks}) ORDER BY id, state_changed_at DESC, key DESC",
                tuple(states),
            ).fetchall()
        return [stored(row) for row in rows]

    @once_more
    def changed(self) -> bool:
        return self._file.changed()

    @once_more
    def search(
        self, words: str, session_ids: Collection[str] | None = None, limit: int = 50
    ) -> list[SearchHit]:
        terms = query_terms(words)
        limit = check_limit(limit)
        if not terms or (session_ids is not None and not session_ids):
            return []
        query = " ".join(f'"{term}"' for term in terms)  # each a word of letters, digits and _: no FTS syntax
        where = window = ""
        ids: list[str] = []
        if session_ids is not None:
            marks = ",".join("?" * len(session_ids))
            where = f" AND s.id IN ({marks})"
            window = f" AND session_key IN (SELECT key FROM sessions WHERE id IN ({marks}))"
            ids = list(session_ids)
        with self._file.connection(write=False) as conn:
            if conn is None:
                return []
            if self._file.schema_version < WORDS_INDEXED:  # (known once connected: a call may reopen it)
                raise StoreError(
                    errno.EROFS,
                    f"the store {self.location} is read-only and was written by an older jupyter-think: it has "
                    "no search index yet for this version (it is built the first time the store takes writes)",
                )
            rows = conn.execute(
                "SELECT s.id, thought_text.thought_number, thought_text.seq, thought_text.body, "
                # the number of query words in this thought (FTS5 marks each with one character): a
                # rank of the thought alone, where bm25() would weigh every word by the whole store
                "length(highlight(thought_text, 0, char(1), '')) - length(thought_text.words) AS score "
                "FROM thought_text JOIN sessions AS s ON s.key = thought_text.session_key "
                f"WHERE thought_text MATCH ? AND s.state = 'live'{where} "
                # rank only the newest SEARCH_WINDOW matches (a rowid range FTS5 serves from its index;
                # rowids follow (session key, seq) as PostgreSQL's window does)
                "AND thought_text.rowid >= coalesce((SELECT rowid FROM thought_text WHERE thought_text MATCH ?"
                f"{window} ORDER BY rowid DESC LIMIT 1 OFFSET {SEARCH_WINDOW - 1}), 0) "
                "ORDER BY score DESC, s.id, thought_text.seq LIMIT ?",
                [query, *ids, query, *ids, limit],
            ).fetchall()
        return [
            SearchHit(session_id, int(number), int(seq), snippet(body, terms), float(score))
            for session_id, number, seq, body, score in rows
        ]

    # --- trash, archive, retention (the plan is :mod:`~jupyter_think.store.lifecycle`'s) ------------

    @once_more
    def trash(self, session_id: str) -> StoredSession:
        session_id = self.canonical(session_id)
        with self._file.writing() as conn:
            return self._lifecycle.trash(conn, session_id)

    @once_more
    def restore(self, session_id: str, state: State = "trashed", *, key: int | None = None) -> StoredSession:
        session_id = self.canonical(session_id)
        with self._file.writing() as conn:
            return self._lifecycle.restore(conn, session_id, state, key)

    @once_more
    def purge_trash(self, older_than: timedelta | None = None) -> list[StoredSession]:
        with self._file.writing() as conn:
            return self._lifecycle.purge(conn, older_than)

    @once_more
    def trash_idle(self, older_than: timedelta, keep: Collection[str] = ()) -> list[StoredSession]:
        keep = {self.canonical(session_id) for session_id in keep}
        with self._file.writing() as conn:
            return self._lifecycle.trash_idle(conn, older_than, keep)
