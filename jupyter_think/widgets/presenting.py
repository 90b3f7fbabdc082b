"""One graph's link to the presenter of its session, through the store (SPEC §7: a class follows its teacher).

A :class:`PresenterLink` does two things for a :class:`~jupyter_think.widgets.graph.BranchGraph`:

* **present**: the graph's presenter view sends each step it shows; the link writes it to the store
  (:mod:`jupyter_think.persistence.presenter`), off the kernel's thread and the latest step only (a
  store may be slow, and a teacher holding a key sends many), so every follower moves there;
* **follow**: while the graph's ``follow_presenter`` is on, the link hears each move of the session's
  presenter (in any kernel, on any machine sharing the store) and sets the graph's ``presenter``.

Only a session kept in the manager's store can be presented or followed; on a class store only the
session's owner moves the followers. Why not is said in the graph's ``presenter_note``, never raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_think.persistence.presenter import PresenterBoard
    from jupyter_think.store.presenter import Position
    from jupyter_think.widgets.graph import BranchGraph

NOT_STORED = "this session is not kept in a store: save it in one (jupyter_think.get_manager()) to present it"
NOT_OWNER = "the class does not follow: only the session's owner moves them, once it is saved in the store"


class PresenterLink:
    """The presenter of ``graph``'s session, seen from that graph (thread-safe)."""

    def __init__(self, graph: BranchGraph) -> None:
        self._graph = graph
        self._lock = threading.Lock()
        self._wanted: tuple[int, int] | None = None  # the step the presenter view showed last, not yet sent
        self._presenting = False
        self._stop_following: Callable[[], None] | None = None

    def present(self, step: int, steps: int) -> bool:
        """Write ``step`` of ``steps`` as where the presenter is; False (and the note says why) when not."""
        board = self._board()
        if board is None:
            return False
        moved = board.present(self._graph.session_id, step, steps)
        if not moved:
            self._graph.presenter_note = NOT_OWNER
        elif self._graph.presenter_note:
            self._graph.presenter_note = ""
        return moved

    def present_later(self, step: int, steps: int) -> None:
        """:meth:`present` off the caller's thread: the latest step only, in order."""
        with self._lock:
            self._wanted = (step, steps)
            if self._presenting:
                return
            self._presenting = True
        threading.Thread(target=self._present_latest, name="jupyter-think-present", daemon=True).start()

    def follow(self, on: bool) -> None:
        """Follow the session's presenter (``on``), or stop following it."""
        self.stop()
        if not on:
            return
        board = self._board()
        if board is not None:
            self._stop_following = board.follow(self._graph.session_id, self._moved)

    def stop(self) -> None:
        """Stop following (the graph closes)."""
        stop, self._stop_following = self._stop_following, None
        if stop is not None:
            stop()

    def _present_latest(self) -> None:
        while True:
            with self._lock:
                wanted, self._wanted = self._wanted, None
                if wanted is None:
                    self._presenting = False
                    return
            try:
                self.present(*wanted)
            except Exception as exc:  # a thread of its own: say it on the widget, keep presenting
                self._graph.presenter_note = f"the class does not follow: {exc}"

    def _moved(self, position: Position) -> None:
        self._graph.presenter = {"step": position.step, "steps": position.steps}

    def _board(self) -> PresenterBoard | None:
        """The presenter board of the store that keeps the graph's session, else None (and say why)."""
        from jupyter_think.manager import get_manager
        from jupyter_think.persistence.presenter import board_for

        session, session_id = self._graph.session, self._graph.session_id
        manager = get_manager()
        kept = (
            session is not None
            and manager.store is not None
            and manager.is_loaded(session_id)
            and manager.session(session_id) is session
        )
        if not kept:
            self._graph.presenter_note = NOT_STORED
            return None
        return board_for(manager.store_location, manager.settings.store_timeout)
