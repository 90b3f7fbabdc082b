"""Schema upgrades: one driver for every engine, which runs each version's DDL and then its back-fills.

A version may add what the rows stored before it lack: version 3 the highest thought number of each
session (on the engines that keep it), version 4 the search index of every stored thought and
amendment, rebuilt over the words :mod:`.search` makes. :func:`upgrade` runs, for each version after
the one found, the engine's DDL (:meth:`SchemaSQL.apply`), the back-fills of :data:`BACKFILLS` when
there were rows before (a new store has nothing to fill), and records the version — all in the
caller's transaction, so a failed upgrade leaves the tables as they were. An engine gives only its
SQL (:class:`SchemaSQL`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from jupyter_think.store.base import SCHEMA_VERSION
from jupyter_think.store.codec import searchable_payloads

WORDS_INDEXED = 4
"""The schema version whose migration rebuilds the search index from the stored payloads."""
TOP_NUMBERED = 3
"""The schema version that keeps each session's highest thought number (where the engine keeps it)."""
REINDEX_BATCH = 2000
"""Stored rows read and indexed at a time by the search back-fill."""

Conn_contra = TypeVar("Conn_contra", contravariant=True)


class SchemaSQL(Protocol[Conn_contra]):
    """What an engine gives :func:`upgrade`, in its SQL (``conn`` is in the upgrade's transaction)."""

    def apply(self, conn: Conn_contra, version: int) -> None:
        """Run the DDL that brings the tables from ``version - 1`` to ``version``."""

    def set_version(self, conn: Conn_contra, version: int) -> None:
        """Record that the tables are at ``version``."""

    def fill_top_numbers(self, conn: Conn_contra) -> None:
        """Set each session's highest thought number from its stored thoughts (nothing where not kept)."""

    def session_ids(self, conn: Conn_contra) -> dict[int, str]:
        """Row key -> session id of every row (for the warnings about a damaged row)."""

    def stored_texts(self, conn: Conn_contra, batch: int) -> Iterator[Sequence[Sequence[Any]]]:
        """The stored thoughts and amendments as (key, seq, payload, checksum) rows, ``batch`` at a time
        (the payload as bytes where the engine can give them: one that is not UTF-8 stops nothing)."""

    def index(self, conn: Conn_contra, texts: Sequence[tuple[int, int, int, str]]) -> None:
        """Add (key, seq, thought number, text) rows to the search index."""


def fill_top_numbers(sql: SchemaSQL[Any], conn: Any) -> None:
    """Back-fill of :data:`TOP_NUMBERED`: each session's highest thought number."""
    sql.fill_top_numbers(conn)


def reindex(sql: SchemaSQL[Any], conn: Any) -> None:
    """Back-fill of :data:`WORDS_INDEXED`: index the text of every stored thought and amendment (a row
    that is damaged or does not validate is left out, with a warning; it is not loaded either)."""
    names = sql.session_ids(conn)
    for chunk in sql.stored_texts(conn, REINDEX_BATCH):
        texts = searchable_payloads(chunk, names)
        if texts:
            sql.index(conn, texts)


BACKFILLS: dict[int, Callable[[SchemaSQL[Any], Any], None]] = {
    TOP_NUMBERED: fill_top_numbers,
    WORDS_INDEXED: reindex,
}
"""Schema version -> what rows stored before that version need filled in by it."""


def upgrade(sql: SchemaSQL[Conn_contra], conn: Conn_contra, version: int) -> None:
    """Bring tables at ``version`` (0: none yet) to :data:`SCHEMA_VERSION` in the caller's transaction."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        sql.apply(conn, target)
        backfill = BACKFILLS.get(target)
        if backfill is not None and version >= 1:  # rows stored before: fill in what this version adds
            backfill(sql, conn)
        sql.set_version(conn, target)
