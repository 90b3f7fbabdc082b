"""Following a presenter across kernels and machines: the presenter's step travels through the store.

A :class:`PresenterBoard` serves one store in this process. :meth:`~PresenterBoard.present` writes the
step a presenter view shows (the session's row in the ``presenter`` table, see
:mod:`jupyter_think.store.presenter`); :meth:`~PresenterBoard.follow` calls back with each new position
of a session. One watcher thread per board waits on the store (SQLite: ``PRAGMA data_version`` polled
every 50 ms; PostgreSQL: ``LISTEN``, woken by the presenter's empty ``NOTIFY``) and re-reads only the
positions of the sessions followed here, so a follower moves within a fraction of a second. The
thread runs while something follows, and never shares a connection: writes have a connection of
their own.

A store that refuses (a server down, a file locked) is retried every second; nothing here raises into
a widget.

Example:
    >>> import tempfile, jupyter_think
    >>> folder = tempfile.mkdtemp()
    >>> with jupyter_think.SessionManager(folder, durability="sync") as manager:
    ...     _ = manager.session("lesson").think("Restate the question")
    >>> board = board_for(folder)
    >>> seen = []
    >>> stop = board.follow("lesson", seen.append)
    >>> board.present("lesson", 1, 1)
    True
    >>> wait_until(lambda: seen == [Position(step=1, steps=1)])
    True
    >>> stop()
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable

from jupyter_think.store.presenter import Position, PresenterTable, open_presenter

WAIT = 1.0
"""Longest wait on the store before the watcher looks again (and notices a follower left)."""
RETRY = 1.0
"""Seconds before a refusing store is tried again."""

Follower = Callable[[Position], None]


class PresenterBoard:
    """The presenter positions of one store, for the graphs of this process (thread-safe)."""

    def __init__(self, location: str, timeout: float = 10) -> None:
        self.location = location
        self.timeout = timeout
        self._writer: PresenterTable | None = None
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._followers: dict[str, list[Follower]] = {}
        self._last: dict[str, Position] = {}
        self._thread: threading.Thread | None = None
        self._warned = False

    def present(self, session_id: str, step: int, steps: int) -> bool:
        """Move the presenter of ``session_id`` to ``step`` of ``steps``: every follower goes there.

        False when the session is not in the store yet, when this user may not move it (on a class
        store only its owner may), or when the store refuses now (said once, as a warning).
        """
        with self._write_lock:
            try:
                if self._writer is None:
                    self._writer = open_presenter(self.location, self.timeout)
                return self._writer.move(session_id, step, steps)
            except ValueError:
                raise
            except Exception as exc:
                self._drop_writer()
                self._warn(f"the presenter's step was not saved ({' '.join(str(exc).split())})")
                return False

    def position(self, session_id: str) -> Position | None:
        """Where the presenter of ``session_id`` is now, read from the store (None: nowhere yet)."""
        with self._write_lock:
            try:
                if self._writer is None:
                    self._writer = open_presenter(self.location, self.timeout)
                return self._writer.positions([session_id]).get(session_id)
            except Exception:
                self._drop_writer()
                return None

    def follow(self, session_id: str, callback: Follower) -> Callable[[], None]:
        """Call ``callback(position)`` now (when the presenter is somewhere) and at each move; returns
        the function that stops it."""
        with self._lock:
            self._followers.setdefault(session_id, []).append(callback)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="jupyter-think-presenter", daemon=True
                )
                self._thread.start()
        current = self.position(session_id)
        if current is not None:
            with self._lock:
                self._last[session_id] = current
            callback(current)

        def stop() -> None:
            with self._lock:
                callbacks = self._followers.get(session_id, [])
                if callback in callbacks:
                    callbacks.remove(callback)
                if not callbacks:
                    self._followers.pop(session_id, None)
                    self._last.pop(session_id, None)

        return stop

    # --- internals ---------------------------------------------------------------------------------

    def _watch(self) -> None:
        table: PresenterTable | None = None
        while True:
            with self._lock:
                followed = list(self._followers)
                if not followed:
                    self._thread = None
                    break
            try:
                if table is None:
                    table = open_presenter(self.location, self.timeout)
                moved = table.positions(followed)
                self._tell(moved)
                table.wait(WAIT)
            except Exception:
                if table is not None:
                    table.close()
                    table = None
                time.sleep(RETRY)
        if table is not None:
            table.close()

    def _tell(self, positions: dict[str, Position]) -> None:
        calls: list[tuple[Follower, Position]] = []
        with self._lock:
            for session_id, position in positions.items():
                if self._last.get(session_id) == position:
                    continue
                self._last[session_id] = position
                calls += [(callback, position) for callback in self._followers.get(session_id, [])]
        for callback, position in calls:
            try:
                callback(position)
            except Exception as exc:
                self._warn(f"a graph could not follow the presenter ({exc})")

    def _drop_writer(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"jupyter-think: {message}", stacklevel=3)


_boards: dict[str, PresenterBoard] = {}
_boards_lock = threading.Lock()


def board_for(location: str, timeout: float = 10) -> PresenterBoard:
    """The one board of the store at ``location`` in this process."""
    with _boards_lock:
        board = _boards.get(location)
        if board is None:
            board = _boards[location] = PresenterBoard(location, timeout)
        return board


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass (for examples and tests)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
