"""Retention: sessions idle longer than ``retention_days`` go to the trash; old trash is emptied.

Both are state changes in the store (one transaction each; nothing is copied). A session loaded in
any manager of this process on the same store is never moved, however idle it looks.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import NamedTuple

from jupyter_think.store import Store

RETENTION_FIRST, RETENTION_EVERY = 5.0, 3600.0
"""Seconds after the loop starts before the first clean-up, and between two of them."""


class Cleaned(NamedTuple):
    """What one clean-up did: ids moved to the trash, ids whose trash was emptied."""

    trashed: list[str]
    purged: list[str]


def clean_up(store: Store, retention_days: float, trash_days: float, keep: Collection[str]) -> Cleaned:
    """Move idle sessions to the trash and empty old trash (0 days: never).

    Example:
        >>> import tempfile
        >>> from jupyter_think.store import open_store
        >>> clean_up(open_store(tempfile.mkdtemp()), 30, 30, keep=())
        Cleaned(trashed=[], purged=[])
    """
    trashed = purged = []
    if not store.sessions(("live", "trashed")):
        return Cleaned([], [])  # nothing stored (and nothing created by asking)
    if retention_days > 0:
        trashed = [row.id for row in store.trash_idle(timedelta(days=retention_days), keep)]
    if trash_days > 0:
        purged = [row.id for row in store.purge_trash(timedelta(days=trash_days))]
    return Cleaned(trashed, purged)
