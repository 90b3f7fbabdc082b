"""Process life for the persistence loops: interpreter exit, ``fork()``, and the live instances.

Exit flushes every open loop with a bounded wait (a kernel shutdown, the end of a script), and
what a store does not take by then is kept in the spill file (the next process that opens the store
saves it); a ``SIGKILL`` runs nothing, which is why changes are committed within ``flush_interval``
anyway.
Before ``fork()`` every loop thread stops (the child must not inherit a lock held mid-write); the
parent restarts its loops, the child starts with an empty queue and new connections.
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref
from typing import Protocol

EXIT_FLUSH_TIMEOUT = 5.0
"""Seconds the interpreter's exit waits for each store to take the pending changes."""


class ProcessAware(Protocol):
    """What a persistence loop offers to the process hooks."""

    location: str

    def close(self, timeout: float | None) -> None: ...
    def before_fork(self) -> None: ...
    def after_fork_in_parent(self) -> None: ...
    def after_fork_in_child(self) -> None: ...
    def loaded_ids(self) -> set[str]: ...


_instances: weakref.WeakSet[ProcessAware] = weakref.WeakSet()


def register(instance: ProcessAware) -> None:
    """Give ``instance`` the exit and fork hooks."""
    _instances.add(instance)


def loaded_anywhere(location: str) -> set[str]:
    """Ids loaded by any live persistence loop of this process on the store at ``location``."""
    ids: set[str] = set()
    for instance in list(_instances):
        if instance.location == location:
            ids |= instance.loaded_ids()
    return ids


def _each(method: str) -> None:
    for instance in list(_instances):
        getattr(instance, method)()


def _flush_at_exit() -> None:
    """Close every loop; what a store did not take is kept in the spill file, and the line says where."""
    for instance in list(_instances):
        try:
            instance.close(EXIT_FLUSH_TIMEOUT)
        except OSError as exc:
            try:
                print(f"jupyter-think: {exc.strerror or exc}", file=sys.stderr)
            except (OSError, ValueError):  # stderr already closed
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=lambda: _each("before_fork"),
        after_in_parent=lambda: _each("after_fork_in_parent"),
        after_in_child=lambda: _each("after_fork_in_child"),
    )
atexit.register(_flush_at_exit)
