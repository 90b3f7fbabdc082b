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

from jupyter_think.core.ids import validate_id

if TYPE_CHECKING:
    from jupyter_think.agent.tool import SequentialThinkingTool
    from jupyter_think.core.models import Thought, ThoughtInput
    from jupyter_think.core.session.session import Branch, Session, SessionEvent, ThinkError
    from jupyter_think.experiments.compare import compare
    from jupyter_think.experiments.diff import diff
    from jupyter_think.experiments.launch import aexperiment, experiment
    from jupyter_think.experiments.run import Experiment, RunEnded, RunResult
    from jupyter_think.experiments.stored import load_experiment
    from jupyter_think.manager import SessionManager, get_manager
    from jupyter_think.persistence import PersistenceWarning
    from jupyter_think.store.postgres.roles import class_store_url

_LAZY = {
    "SessionManager": ("manager", "SessionManager"),
    "get_manager": ("manager", "get_manager"),
    "Thought": ("core.models", "Thought"),
    "ThoughtInput": ("core.models", "ThoughtInput"),
    "Branch": ("core.session.session", "Branch"),
    "Session": ("core.session.session", "Session"),
    "SessionEvent": ("core.session.session", "SessionEvent"),
    "ThinkError": ("core.session.session", "ThinkError"),
    "PersistenceWarning": ("persistence", "PersistenceWarning"),
    "SequentialThinkingTool": ("agent.tool", "SequentialThinkingTool"),
    "compare": ("experiments.compare", "compare"),
    "diff": ("experiments.diff", "diff"),
    "experiment": ("experiments.launch", "experiment"),
    "aexperiment": ("experiments.launch", "aexperiment"),
    "load_experiment": ("experiments.stored", "load_experiment"),
    "Experiment": ("experiments.run", "Experiment"),
    "RunEnded": ("experiments.run", "RunEnded"),
    "RunResult": ("experiments.run", "RunResult"),
    "class_store_url": ("store.postgres.roles", "class_store_url"),
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
    "aexperiment",
    "class_store_url",
    "compare",
    "diff",
    "experiment",
    "get_manager",
    "load_experiment",
    "load_ipython_extension",
    "unload_ipython_extension",
    "validate_id",
]
__version__ = "0.1.0"


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
    from jupyter_think.ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_think``: flush to disk and stop the persistence loop."""
    from jupyter_think.ipython.extension import unload

    unload(ipython)
