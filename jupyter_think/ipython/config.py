"""``%config ThinkConfig``: the traitlets face of :class:`~jupyter_think.core.config.ThinkSettings`.

One trait per settings field, of the same name and default; each trait's help is its field's
description, so the words are written once (tests/test_config.py checks that no field and trait
drift apart). Only the extension imports this module (traitlets is not imported by
``import jupyter_think``). Values are validated by :class:`ThinkSettings` when they change (see
:mod:`jupyter_think.ipython.extension`), so the bounds live in one place too.

Examples:
    %config ThinkConfig                       # the settings and their help
    %config ThinkConfig.durability = "sync"
    %config ThinkConfig.markdown = False      # thoughts shown as typed (2**n stays 2**n), maths typeset
    %config ThinkConfig.store = "postgresql://think@db.example/class"
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Enum, Float, Int, Unicode
from traitlets.config import Configurable

from jupyter_think.core.config import ThinkSettings


def _help(name: str) -> str:
    """The description of settings field ``name`` (the trait's help)."""
    return ThinkSettings.model_fields[name].description or ""


class ThinkConfig(Configurable):
    """Settings of the jupyter-think extension (%config ThinkConfig); one trait per ThinkSettings field.

    An empty ``store`` or ``sessions_dir`` is unset (the environment and the default decide).
    """

    store = Unicode("", help=_help("store")).tag(config=True)
    sessions_dir = Unicode("", help=_help("sessions_dir")).tag(config=True)
    persist = Bool(True, help=_help("persist")).tag(config=True)
    max_thought_chars = Int(100_000, help=_help("max_thought_chars")).tag(config=True)
    max_thoughts = Int(10_000, help=_help("max_thoughts")).tag(config=True)
    flush_interval = Float(0.2, help=_help("flush_interval")).tag(config=True)
    durability = Enum(["async", "sync"], "async", help=_help("durability")).tag(config=True)
    store_timeout = Float(10.0, help=_help("store_timeout")).tag(config=True)
    retention_days = Float(30.0, help=_help("retention_days")).tag(config=True)
    markdown = Bool(True, help=_help("markdown")).tag(config=True)
    trash_days = Float(30.0, help=_help("trash_days")).tag(config=True)

    reverting = False
    """True while the extension puts back a value the settings refused (its observer ignores that)."""

    def settings(self) -> dict[str, Any]:
        """The traits as :class:`ThinkSettings` keyword arguments (empty strings are unset).

        Example:
            >>> ThinkConfig(durability="sync").settings()["durability"]
            'sync'
            >>> "store" in ThinkConfig().settings()
            False
        """
        values = {name: getattr(self, name) for name in ThinkSettings.model_fields}
        return {name: value for name, value in values.items() if value != ""}
