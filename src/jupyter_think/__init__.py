"""jupyter-think: sequential thinking in Jupyter — sessions of numbered, revisable, branching thoughts.

``import jupyter_think`` works in plain Python; ``%load_ext jupyter_think`` adds the magics. The
public names are imported on first use (pydantic, the models, the store), so importing the package
costs next to nothing until you use it.

Example:
    >>> import jupyter_think
    >>> with jupyter_think.SessionManager(persist=False) as manager:
    ...     session = manager.session("demo")
    ...     session.think("Restate the problem", total=2).thought_number
    1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import views as _views
from .ids import validate_id

if TYPE_CHECKING:
    from .comparison import compare
    from .experiments import Experiment, RunEnded, RunResult, experiment
    from .manager import SessionManager, get_manager
    from .models import Thought, ThoughtInput
    from .persistence import PersistenceWarning
    from .session import Branch, Session, SessionEvent, ThinkError
    from .sessiondiff import diff
    from .store.postgres_class import class_store_url
    from .tool import SequentialThinkingTool

_LAZY = {
    "SessionManager": ("manager", "SessionManager"),
    "get_manager": ("manager", "get_manager"),
    "Thought": ("models", "Thought"),
    "ThoughtInput": ("models", "ThoughtInput"),
    "Branch": ("session", "Branch"),
    "Session": ("session", "Session"),
    "SessionEvent": ("session", "SessionEvent"),
    "ThinkError": ("session", "ThinkError"),
    "PersistenceWarning": ("persistence", "PersistenceWarning"),
    "SequentialThinkingTool": ("tool", "SequentialThinkingTool"),
    "compare": ("comparison", "compare"),
    "diff": ("sessiondiff", "diff"),
    "experiment": ("experiments", "experiment"),
    "Experiment": ("experiments", "Experiment"),
    "RunEnded": ("experiments", "RunEnded"),
    "RunResult": ("experiments", "RunResult"),
    "class_store_url": ("store.postgres_class", "class_store_url"),
}
"""Public name -> (module, attribute): imported on first use, so ``import jupyter_think`` stays cheap."""

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
    "class_store_url",
    "compare",
    "diff",
    "experiment",
    "get_manager",
    "load_ipython_extension",
    "unload_ipython_extension",
    "validate_id",
]
__version__ = "0.1.0"

# Which module provides each view of a session (imported on first use; see views.py).
_views.provide("jupyter_think.display", "summary")
_views.provide("jupyter_think.export", "markdown", "mermaid", "html")
_views.provide("jupyter_think.render", "svg")
_views.provide("jupyter_think.widget", "graph")
_views.provide("jupyter_think.comparison", "records", "dataframe")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        value = getattr(import_module(f".{module}", __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_think``: register the magics, start persistence, restore the session."""
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_think``: flush to disk and stop the persistence loop."""
    from .extension import unload

    unload(ipython)
