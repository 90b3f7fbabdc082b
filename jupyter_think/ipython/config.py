"""``%config ThinkConfig``: the traitlets face of :class:`~jupyter_think.core.config.ThinkSettings`.

The traits are generated from the settings model's fields (type, default, help), so each setting
is declared once. Only the extension imports this module (traitlets is not imported by
``import jupyter_think``). Values are validated by :class:`ThinkSettings` when they change (see
:mod:`jupyter_think.ipython.extension`), so the bounds live in one place too.

Examples:
    %config ThinkConfig                       # the settings and their help
    %config ThinkConfig.durability = "sync"
    %config ThinkConfig.store = "postgresql://think@db.example/class"
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic.fields import FieldInfo
from traitlets import Bool, Enum, Float, Int, TraitType, Unicode
from traitlets.config import Configurable

from jupyter_think.core.config import ThinkSettings


def _trait(field: FieldInfo) -> TraitType[Any, Any]:
    """The traitlets trait for one settings field (optional paths and URLs are empty strings)."""
    annotation = field.annotation
    default = field.default
    options = {"help": field.description or ""}
    if typing.get_origin(annotation) is typing.Literal:
        return Enum(list(typing.get_args(annotation)), default, **options).tag(config=True)
    if annotation is bool:
        return Bool(default, **options).tag(config=True)
    if annotation is int:
        return Int(default, **options).tag(config=True)
    if annotation is float:
        return Float(float(default), **options).tag(config=True)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return Unicode("" if default is None else str(default), **options).tag(config=True)
    raise TypeError(f"no trait for setting of type {annotation!r}")  # pragma: no cover - a new field type


def _build_config_class() -> type[Configurable]:
    traits = {name: _trait(field) for name, field in ThinkSettings.model_fields.items()}

    def settings(self: Configurable) -> dict[str, Any]:
        """The traits as :class:`ThinkSettings` keyword arguments (empty strings are unset)."""
        values = {name: getattr(self, name) for name in ThinkSettings.model_fields}
        return {name: value for name, value in values.items() if value != ""}

    namespace: dict[str, Any] = {
        "__doc__": "Settings of the jupyter-think extension (%config ThinkConfig); one trait per ThinkSettings field.",
        "__module__": __name__,
        "settings": settings,
        **traits,
    }
    return type("ThinkConfig", (Configurable,), namespace)


ThinkConfig = _build_config_class()
"""The ``%config ThinkConfig`` class (a traitlets ``Configurable``), one trait per settings field."""
