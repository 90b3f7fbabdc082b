"""Session stores on real engines: SQLite by default, PostgreSQL for a store shared by many kernels.

:func:`open_store` picks the engine from one location: a directory (or ``sqlite:///PATH``) is
:class:`~.sqlite.store.SQLiteStore`, a ``postgresql://`` URL is :class:`~.postgres.store.PostgresStore`
(imported only then: it needs the ``postgres`` extra). Both implement :class:`~.base.Store`.

Example:
    >>> import tempfile
    >>> open_store(tempfile.mkdtemp()).sessions()
    []
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_think.store.base import (
    Head,
    LoadedChanges,
    SearchHit,
    Segment,
    SessionNotFound,
    SessionWrite,
    State,
    Store,
    StoredSession,
    StoreError,
    StoreWarning,
    Written,
)

__all__ = [
    "Head",
    "LoadedChanges",
    "SearchHit",
    "Segment",
    "SessionNotFound",
    "SessionWrite",
    "State",
    "Store",
    "StoreError",
    "StoreWarning",
    "StoredSession",
    "Written",
    "is_url",
    "open_store",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"


def is_url(location: str | os.PathLike[str]) -> bool:
    """True when ``location`` names a PostgreSQL server rather than a directory."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def sqlite_directory(location: str) -> Path:
    """The directory of the SQLite store at ``location`` (a path, or ``sqlite:///PATH``).

    Example:
        >>> sqlite_directory("sqlite:///tmp/think"), sqlite_directory("notes")
        (PosixPath('/tmp/think'), PosixPath('notes'))
    """
    if location.startswith(SQLITE_SCHEME):
        location = "/" + location[len(SQLITE_SCHEME) :].lstrip("/")
    return Path(location)


def open_store(location: str | os.PathLike[str], *, timeout: float | None = None) -> Store:
    """The store at ``location``: a directory, ``sqlite:///DIR``, or ``postgresql://…``.

    ``timeout``: the seconds a PostgreSQL call may wait on the server (default 10, see
    ``ThinkConfig.store_timeout``); after it the call raises ``OSError(ETIMEDOUT)`` and the next
    one reconnects. (SQLite has its own busy timeout.)

    Raises ``ValueError`` for a URL of another kind, ``ImportError`` (with the install hint) when
    a PostgreSQL URL is given without psycopg installed.
    """
    text = os.fspath(location)
    if is_url(text):
        from jupyter_think.store.postgres.store import PostgresStore

        return PostgresStore(text) if timeout is None else PostgresStore(text, timeout=timeout)
    if "://" in text and not text.startswith(SQLITE_SCHEME):
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"unknown store URL scheme {scheme!r}: give a directory, sqlite:///PATH or postgresql://…"
        )
    from jupyter_think.store.sqlite.store import SQLiteStore

    return SQLiteStore(sqlite_directory(text))
