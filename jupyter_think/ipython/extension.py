"""Loading and unloading the IPython extension: config, the process-wide manager, the magics.

``%load_ext jupyter_think`` adds ``ThinkConfig`` to the shell's configurables (so
``%config ThinkConfig`` works), builds the process-wide manager from it unless one exists,
registers the magics and makes the notebook's own session active. A ``%config ThinkConfig.<name>``
change is validated by :class:`~jupyter_think.core.config.ThinkSettings`: a bad value is refused in one
line and changes nothing; a good one rebuilds the manager. ``%unload_ext jupyter_think`` flushes
to the store, stops the manager and leaves the magics inert (each says to load the extension again:
IPython has no public API that removes a magic). ``%reload_ext jupyter_think`` (an unload,
then a load) keeps the session that was active. Views that hold sessions (the live graphs) follow
a rebuilt manager through :func:`follow_manager`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from jupyter_think.core.config import (
    ThinkSettings,
    default_store_location,
    overriding_environment,
    settings_error,
)
from jupyter_think.core.ids import id_from_notebook_path
from jupyter_think.ipython.config import ThinkConfig
from jupyter_think.manager import DEFAULT_SESSION, SessionManager, get_manager, set_manager
from jupyter_think.views.richtext import use_markdown

NOTEBOOK_PATH_NAMES = ("__session__", "__vsc_ipynb_file__")
"""User-namespace variables in which Jupyter (``__session__``) and VS Code name the notebook file."""

ManagerFollower = Callable[[SessionManager | None, SessionManager], None]

_manager_followers: list[ManagerFollower] = []
"""Called with (old, new) after ``%config`` replaced the manager (the live graphs re-bind, see widgets/graph.py)."""

_active_at_unload: dict[str, str] = {}
"""Notebook session id -> the session active when the extension was unloaded in that notebook.

The next load in the same notebook makes it active again (``%reload_ext`` keeps the session)."""


def notebook_session_id(ipython: Any) -> str:
    """The default session id of the kernel's notebook: its file name's words, else ``default``.

    The notebook path comes from ``$JPY_SESSION_NAME`` (set by Jupyter Server), else
    ``__session__`` or ``__vsc_ipynb_file__`` in the user namespace. On a store shared by a class
    two students' ``homework.ipynb`` never meet: sessions are named per owner (the database knows
    whose each is), so each has her own ``homework``.

    Example:
        >>> os.environ["JPY_SESSION_NAME"] = "/work/Design Review.ipynb"
        >>> notebook_session_id(None)
        'Design-Review'
        >>> del os.environ["JPY_SESSION_NAME"]
    """
    user_ns = getattr(ipython, "user_ns", None) or {}
    candidates = [os.environ.get("JPY_SESSION_NAME")] + [user_ns.get(name) for name in NOTEBOOK_PATH_NAMES]
    session_id = DEFAULT_SESSION
    for path in candidates:
        if isinstance(path, str) and path.strip():
            session_id = id_from_notebook_path(path, DEFAULT_SESSION)
            break
    return session_id


def follow_manager(callback: ManagerFollower) -> None:
    """Call ``callback(old, new)`` each time ``%config ThinkConfig.<name>`` replaces the manager.

    Views holding sessions of the old manager use it to follow their session by id (the session
    module imports no view; a view registers here). Registering the same callback twice is harmless.
    """
    if callback not in _manager_followers:
        _manager_followers.append(callback)


def _config(ipython: Any) -> ThinkConfig | None:
    return next((c for c in ipython.configurables if isinstance(c, ThinkConfig)), None)


def load(ipython: Any) -> None:
    """Register config and magics, build the manager, activate the notebook's session (idempotent)."""
    from jupyter_think.ipython.loading_cell import record_help_lines
    from jupyter_think.ipython.magics import ThinkMagics
    from jupyter_think.ipython.parser import keep_question_marks

    if _config(ipython) is not None:  # loaded already: changing nothing is what "harmless" means
        return
    config = _config_from_shell(ipython)
    ipython.configurables.append(config)
    previous = set_manager(None)
    if previous is None:
        try:
            previous = manager_for(config)
        except (ValueError, ImportError) as exc:  # the store it names cannot be used here
            if not config.store or overriding_environment("store") is not None:
                raise  # (not the shell's setting: $JUPYTER_THINK_STORE names it)
            _refuse_shell_setting(ipython, "store", exc, stacklevel=3)
            config.store = ""
            previous = manager_for(config)
    set_manager(previous)
    use_markdown(config.markdown)
    config.observe(_reconfigure)
    ipython.register_magics(ThinkMagics(ipython))
    if keep_question_marks not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(keep_question_marks)
    manager = get_manager()
    notebook_id = notebook_session_id(ipython)
    _activate(manager, _active_at_unload.pop(notebook_id, notebook_id))
    record_help_lines(ipython)  # (the loading cell's `%think …?` lines, which IPython read as help)


def _config_from_shell(ipython: Any) -> Any:
    """``ThinkConfig`` from the shell's config, leaving out each value the settings refuse.

    IPython keeps a value that ``%config`` refused in the shell's own config too (it merges every
    change into each configurable), and ``ipython_config.py`` may hold a bad one: loading warns in
    one line and goes on with that setting's default, rather than leaving the magics unloaded.
    """
    from traitlets import TraitError

    section = ipython.config.ThinkConfig if "ThinkConfig" in ipython.config else {}
    for name in [name for name in section if name in ThinkSettings.model_fields]:
        try:
            ThinkSettings(**ThinkConfig(**{name: section[name]}).settings())
        except (TraitError, ValidationError, ValueError) as exc:
            _refuse_shell_setting(ipython, name, exc, stacklevel=4)
    return ThinkConfig(parent=ipython)


def _refuse_shell_setting(ipython: Any, name: str, exc: Exception, stacklevel: int) -> None:
    """Drop ``ThinkConfig.<name>`` from the shell's config, saying why in one line."""
    value = ipython.config.ThinkConfig.pop(name, None)
    message = settings_error(exc) if isinstance(exc, ValidationError) else " ".join(str(exc).split())
    default = ThinkSettings.model_fields[name].default
    instead = "its default" if default is None else repr(default)
    warnings.warn(
        f"jupyter-think: ThinkConfig.{name} = {value!r} is refused ({message}); using {instead}",
        stacklevel=stacklevel,
    )


def _activate(manager: SessionManager, session_id: str) -> None:
    """Make ``session_id`` active; a store that cannot be read now warns (the next magic retries)."""
    try:
        manager.activate(session_id)
    except OSError as exc:
        manager._set_active(session_id)
        warnings.warn(f"{exc}; the next %think or %session {session_id} tries again", stacklevel=3)


def manager_for(config: Any) -> SessionManager:
    """A manager with ``config``'s settings over the store they name (environment first, see config.py)."""
    settings = config.settings()
    location = default_store_location(settings.pop("store", None), settings.pop("sessions_dir", None))
    return SessionManager(store=location, **settings)


def _reconfigure(change: Any) -> None:
    """``%config ThinkConfig.<trait> = ...`` after loading: rebuild the manager with the new settings.

    The value is validated first: an invalid one puts the old value back and raises a one-line
    ``UsageError`` (nothing else changes). A setting that an environment variable overrides says
    so. Then the old manager flushes and stops, and the active session is restored from the (new)
    store. Agent tools built without a manager follow.
    """
    from IPython.core.error import UsageError

    config = change["owner"]
    if config.reverting:
        return
    if change["name"] == "markdown":  # how thoughts are shown, not where they are kept: no new manager
        use_markdown(change["new"])
        return
    try:
        ThinkSettings(**config.settings())
        new = manager_for(config)
    except (ValidationError, ValueError, ImportError) as exc:
        config.reverting = True
        try:
            config.set_trait(change["name"], change["old"])
        finally:
            config.reverting = False
        message = settings_error(exc) if isinstance(exc, ValidationError) else " ".join(str(exc).split())
        raise UsageError(f"ThinkConfig.{change['name']} kept at {change['old']!r}: {message}") from None
    variable = overriding_environment(change["name"])
    if variable is not None:
        print(
            f"jupyter-think: ThinkConfig.{change['name']} is set, but ${variable} overrides it, so the store "
            f"stays {new.store.location if new.store is not None else new.store_location}; unset ${variable} "
            "in the kernel's environment to use this setting."
        )
    old = set_manager(new)
    active = old.active_id if old is not None else DEFAULT_SESSION
    if old is not None:
        try:
            old.close()
        except OSError as exc:
            warnings.warn(
                f"jupyter-think: the previous store did not take the last changes: {exc}", stacklevel=2
            )
    _activate(new, active)
    for follow in tuple(_manager_followers):
        try:
            follow(old, new)
        except Exception as exc:
            warnings.warn(f"jupyter-think: a view could not follow the new store: {exc}", stacklevel=2)


def unload(ipython: Any) -> None:
    """Flush and stop the manager, leave the magics inert (saying so), remove the config from the shell.

    Only public IPython APIs: no API removes a magic, so inert ones are registered in their place
    (:mod:`jupyter_think.ipython.unloaded`); the input transformer and the configurable are taken out
    of the shell's public lists they were added to.
    """
    from jupyter_think.ipython.parser import keep_question_marks
    from jupyter_think.ipython.unloaded import UnloadedThinkMagics

    manager = set_manager(None)
    if manager is not None:
        notebook_id = notebook_session_id(ipython)
        _active_at_unload[notebook_id] = manager.active_id
        try:
            manager.close()
        except OSError as exc:  # the disk refused the last flush: say so, but unload all the same
            warnings.warn(
                f"jupyter-think: unloaded, but the last changes are not on disk: {exc}", stacklevel=2
            )
    ipython.register_magics(UnloadedThinkMagics(ipython))
    if keep_question_marks in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(keep_question_marks)
    config = _config(ipython)
    if config is not None:
        ipython.configurables.remove(config)
    use_markdown(True)
