"""Where the session store is: ``$JUPYTER_THINK_STORE``, else the configured store, else the directory
``$JUPYTER_THINK_DIR``, else the configured directory, else ``<jupyter data dir>/think/sessions``
(light to import: the command line finds its store without the settings model)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_STORE = "JUPYTER_THINK_STORE"
ENV_DIR = "JUPYTER_THINK_DIR"


def default_store_location(
    store: str | None = None, sessions_dir: str | os.PathLike[str] | None = None
) -> str:
    """The store location by the precedence in the module docstring (``store``, ``sessions_dir``:
    the configured values, each overridden by its environment variable).

    Example:
        >>> default_store_location(store="postgresql://db/think")  # unless $JUPYTER_THINK_STORE is set
        'postgresql://db/think'
    """
    for value in (os.environ.get(ENV_STORE), store, os.environ.get(ENV_DIR), sessions_dir):
        if value:
            text = os.fspath(value)
            return text if "://" in text else str(Path(text).expanduser())
    from jupyter_core.paths import jupyter_data_dir

    return str(Path(jupyter_data_dir()) / "think" / "sessions")
