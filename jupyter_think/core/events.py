"""What a session tells its subscribers: one :class:`SessionEvent` per change, and the callback types."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from jupyter_think.core.models import Change


class SessionEvent(NamedTuple):
    """What a subscriber receives: one change of one session (immutable).

    ``remote`` is true when the change was written by another process and read back from the
    store (the persistence loop does not write those again). ``index`` counts the session's
    changes in this process, starting at 1. (A named tuple: built on every change, it must be cheap.)
    """

    session_id: str
    change: Change
    remote: bool
    index: int  # type: ignore[assignment]  # shadows tuple.index: subscribers read the count by this name


Subscriber = Callable[[SessionEvent], None]
WriteAhead = Callable[[str, Change], None]
"""Called with (session id, change) before a local change is applied; raising ``OSError`` refuses it."""
