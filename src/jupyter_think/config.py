"""Configuration: the typed settings a manager runs with, and the ``%config ThinkConfig`` traitlets.

Precedence for the store directory: ``$JUPYTER_THINK_DIR``, else ``ThinkConfig.sessions_dir``,
else ``<jupyter data dir>/think/sessions``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from traitlets import Bool, Enum, Float, Int, Unicode
from traitlets.config import Configurable

ENV_DIR = "JUPYTER_THINK_DIR"


def default_sessions_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The store directory: ``$JUPYTER_THINK_DIR``, else ``configured``, else the Jupyter data dir.

    Example:
        >>> default_sessions_dir("/tmp/think").as_posix()  # doctest: +SKIP
        '/tmp/think'
    """
    from_env = os.environ.get(ENV_DIR)
    if from_env:
        return Path(from_env).expanduser()
    if configured:
        return Path(configured).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "think" / "sessions"


class ThinkSettings(BaseModel):
    """The settings of one :class:`~jupyter_think.SessionManager` (validated, immutable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sessions_dir: Path | None = None
    persist: bool = True
    max_thought_chars: int = Field(100_000, ge=1)
    max_thoughts: int = Field(10_000, ge=1)
    flush_interval: float = Field(0.2, gt=0, le=60)
    durability: Literal["async", "sync"] = "async"
    retention_days: float = Field(30, ge=0)


class ThinkConfig(Configurable):
    """Settings of the jupyter-think extension, shown and changed with ``%config ThinkConfig``.

    Examples:
        %config ThinkConfig.sessions_dir = "/data/think"
        %config ThinkConfig.durability = "sync"
    """

    sessions_dir = Unicode(
        "",
        help="Directory of the session store. Empty: $JUPYTER_THINK_DIR, else <jupyter data dir>/think/sessions.",
    ).tag(config=True)
    persist = Bool(True, help="Keep sessions on disk so they survive kernel restarts.").tag(config=True)
    max_thought_chars = Int(100_000, help="Longest thought accepted, in characters.").tag(config=True)
    max_thoughts = Int(
        10_000, help="Most thoughts one session accepts (a guard against runaway agent loops)."
    ).tag(config=True)
    flush_interval = Float(
        0.2, help="Seconds within which a change reaches the disk (persistence loop)."
    ).tag(config=True)
    durability = Enum(
        ["async", "sync"],
        "async",
        help="'sync' makes each thought durable before %think / think() returns.",
    ).tag(config=True)
    retention_days = Float(
        30.0, help="Remove sessions idle longer than this many days (0 keeps them forever)."
    ).tag(config=True)

    def settings(self) -> dict[str, Any]:
        """The traits as keyword arguments for :class:`ThinkSettings` (store directory resolved)."""
        return {
            "sessions_dir": default_sessions_dir(self.sessions_dir or None),  # $JUPYTER_THINK_DIR first
            "persist": self.persist,
            "max_thought_chars": self.max_thought_chars,
            "max_thoughts": self.max_thoughts,
            "flush_interval": self.flush_interval,
            "durability": self.durability,
            "retention_days": self.retention_days,
        }
