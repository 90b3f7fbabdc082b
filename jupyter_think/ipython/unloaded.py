"""The magics ``%unload_ext jupyter_think`` leaves behind: each says the extension is unloaded.

IPython has no public API that removes a magic (``MagicsManager`` registers, never unregisters;
its bundled extensions do not unload at all), so unloading registers these in the place of
:class:`~jupyter_think.ipython.magics.ThinkMagics` through the public ``register_magics``. They touch
no manager and no store: nothing is restarted by a magic run after unloading. ``%load_ext
jupyter_think`` registers the real magics over them again.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class


def _unloaded(magic: str) -> UsageError:
    return UsageError(f"jupyter-think is unloaded: run %load_ext jupyter_think to use %{magic} again")


@magics_class
class UnloadedThinkMagics(Magics):
    """jupyter-think's magics after ``%unload_ext jupyter_think``: ``%load_ext jupyter_think`` brings them back."""

    @line_cell_magic
    def think(self, line: str, cell: str | None = None) -> None:
        """Unloaded: run ``%load_ext jupyter_think`` to record thoughts again."""
        raise _unloaded("think")

    @line_magic
    def branch(self, line: str) -> None:
        """Unloaded: run ``%load_ext jupyter_think`` to work with branches again."""
        raise _unloaded("branch")

    @line_cell_magic
    def session(self, line: str, cell: str | None = None) -> None:
        """Unloaded: run ``%load_ext jupyter_think`` to work with sessions again."""
        raise _unloaded("session")
