"""jupyter-think: sequential thinking in Jupyter — sessions of numbered, revisable, branching thoughts.

``import jupyter_think`` works in plain Python; ``%load_ext jupyter_think`` adds the magics.

Example:
    >>> import jupyter_think
    >>> with jupyter_think.SessionManager(persist=False) as manager:
    ...     session = manager.session("demo")
    ...     session.think("Restate the problem", total=2).thought_number
    1
"""

from __future__ import annotations

from typing import Any

from .comparison import compare
from .experiments import Experiment, RunEnded, RunResult, experiment
from .ids import validate_id
from .manager import SessionManager, get_manager
from .models import Thought, ThoughtInput
from .persistence import PersistenceWarning
from .session import Branch, Session, SessionEvent, ThinkError
from .sessiondiff import diff
from .tool import SequentialThinkingTool

__all__ = [
    "Branch",
    "Experiment",
    "PersistenceWarning",
    "RunEnded",
    "RunResult",
    "SequentialThinkingTool",
    "Session",
    "SessionEvent",
    "SessionManager",
    "ThinkError",
    "Thought",
    "ThoughtInput",
    "compare",
    "diff",
    "experiment",
    "get_manager",
    "load_ipython_extension",
    "unload_ipython_extension",
    "validate_id",
]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_think``: register the magics, start persistence, restore the session."""
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_think``: flush to disk and stop the persistence loop."""
    from .extension import unload

    unload(ipython)
