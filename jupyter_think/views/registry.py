"""The registry of a session's views, so the session module imports none of them.

A view is a function of a session (``summarize``, ``to_markdown``, ``graph_for``...). Each view
module registers its views under a name when it is imported; the package names, once, which module
provides which view (:func:`provide`), so a view module is imported on first use only (the widget
pulls in ipywidgets). ``Session.summary()`` and its siblings are one-line lookups here: the views
import the session's types, never the other way round.

Example:
    >>> register("shout", lambda session: session.id.upper())
    >>> render("shout", type("S", (), {"id": "demo"})())
    'DEMO'
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

View = Callable[[Any], Any]

_views: dict[str, View] = {}
_providers: dict[str, str] = {}
_import_lock = threading.Lock()


def register(name: str, view: View) -> None:
    """Make ``view(session)`` the view called ``name`` (a view module calls this at import)."""
    _views[name] = view


def provide(module: str, *names: str) -> None:
    """Say that importing ``module`` registers the views ``names`` (imported on first use)."""
    for name in names:
        _providers[name] = module


def render(name: str, session: Any) -> Any:
    """The view ``name`` of ``session``; raises ``LookupError`` for a view nobody provides."""
    view = _views.get(name)
    if view is None:
        module = _providers.get(name)
        if module is None:
            raise LookupError(f"no session view named {name!r}")
        with _import_lock:
            importlib.import_module(module)
        view = _views.get(name)
        if view is None:
            raise LookupError(f"{module} did not register the session view {name!r}")
    return view(session)
