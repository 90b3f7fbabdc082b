"""Settings: one pydantic model, :class:`ThinkSettings`, and where the session store is.

Every setting is declared here with its type, bounds and help. The ``%config ThinkConfig``
traitlets class (:mod:`jupyter_think.ipython.config`, imported when the extension loads, so
``import jupyter_think`` never imports traitlets) has one trait per field, of the same name and
default, whose help is the field's description.

The store is chosen by one location: ``$JUPYTER_THINK_STORE``, else ``ThinkConfig.store``, else the
directory ``$JUPYTER_THINK_DIR``, else ``ThinkConfig.sessions_dir``, else
``<jupyter data dir>/think/sessions``. A directory (or ``sqlite:///PATH``) is a SQLite store, a
``postgresql://`` URL a PostgreSQL one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_think.core.limits import MAX_TEXT_CHARS
from jupyter_think.core.locations import ENV_DIR, ENV_STORE, default_store_location  # noqa: F401 (public here)


class ThinkSettings(BaseModel):
    """The settings of one :class:`~jupyter_think.SessionManager` (validated, immutable).

    Example:
        >>> ThinkSettings(durability="sync").flush_interval
        0.2
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def __repr_args__(self) -> Any:
        """The fields as ``repr`` and ``str`` show them: a store URL without its password."""
        from jupyter_think.store.redaction import safe_location

        for name, value in super().__repr_args__():
            yield name, safe_location(value) if name == "store" and isinstance(value, str) else value

    store: str | None = Field(
        None,
        description="The session store: a directory or sqlite:///DIR (SQLite), or a postgresql:// URL "
        "(shared by many kernels). Empty: $JUPYTER_THINK_STORE, else the directory settings.",
    )
    sessions_dir: Path | None = Field(
        None,
        description="Directory of the SQLite session store. Empty: $JUPYTER_THINK_DIR, "
        "else <jupyter data dir>/think/sessions.",
    )
    persist: bool = Field(True, description="Keep sessions in the store so they survive kernel restarts.")
    max_thought_chars: int = Field(
        100_000,
        ge=1,
        le=MAX_TEXT_CHARS,
        description=f"Longest thought accepted, in characters (at most {MAX_TEXT_CHARS}: what both store engines index).",
    )
    max_thoughts: int = Field(
        10_000, ge=1, description="Most thoughts one session accepts (a guard against runaway agent loops)."
    )
    flush_interval: float = Field(
        0.2,
        gt=0,
        le=60,
        description="Seconds within which a change is committed to the store (persistence loop).",
    )
    durability: Literal["async", "sync"] = Field(
        "async",
        description="'sync' commits each change before %think / think() / the tool call returns, "
        "and raises when the commit fails.",
    )
    store_timeout: float = Field(
        10,
        gt=0,
        le=3600,
        description="Seconds a call may wait on a PostgreSQL server (a commit, opening a session, a search, "
        "connecting); after it the call raises OSError and the next one reconnects, so a frozen or "
        "unreachable server never hangs the kernel.",
    )
    retention_days: float = Field(
        30,
        ge=0,
        description="Move sessions idle longer than this many days to the trash (0 keeps them forever).",
    )
    markdown: bool = Field(
        True,
        description="Read thoughts as Markdown with $…$ maths (as a Markdown cell is read) in cards, the graph's "
        "text pane and the HTML export; False shows each thought as typed (2**n stays 2**n), its $…$ maths "
        "still typeset. A display setting of the notebook's kernel (%config ThinkConfig.markdown = False).",
    )
    trash_days: float = Field(
        30, ge=0, description="Empty trash older than this many days (0 keeps the trash forever)."
    )


def settings_error(error: ValidationError) -> str:
    """A pydantic error about settings as one line: each field, what is wrong, what was given.

    Example:
        >>> try:
        ...     ThinkSettings(retention_days=-1)
        ... except ValidationError as exc:
        ...     print(settings_error(exc))
        retention_days must be greater than or equal to 0 (got -1)
    """
    parts = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        if message.startswith("Input should be "):
            message = "must be " + message.removeprefix("Input should be ")
        got = item.get("input")
        shown = f" (got {got!r})" if got is not None and len(repr(got)) <= 40 else ""
        parts.append(f"{name} {message}{shown}")
    return "; ".join(parts)


def overriding_environment(name: str) -> str | None:
    """The environment variable that overrides setting ``name`` right now, if any.

    Example:
        >>> overriding_environment("max_thoughts") is None
        True
    """
    if name == "store" and os.environ.get(ENV_STORE):
        return ENV_STORE
    if name == "sessions_dir":
        for variable in (ENV_STORE, ENV_DIR):
            if os.environ.get(variable):
                return variable
    return None
