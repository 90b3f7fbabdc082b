"""What one experiment run leaves: :class:`RunResult` (status, value or error, score, usage, its session).

A run ends ``ok`` (``value`` holds what the agent returned), ``error`` (the exception, and ``message``
its one-line form), ``timeout`` (it took longer than the experiment's ``timeout``) or ``cancelled``
(interrupted, or never started); ``pending`` and ``running`` while the experiment goes on. A run
*passes* when it ended ``ok`` and its score is ``True`` or at least the threshold: an errored,
timed-out or unscored run fails (:meth:`RunResult.passed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from jupyter_think.experiments.tool import RunEnded, RunTool, Usage, current_run
from jupyter_think.views.text import first_line as view_first_line
from jupyter_think.views.text import one_line

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session

RunStatus = Literal["pending", "running", "ok", "error", "timeout", "cancelled"]
FINAL_STATUSES = frozenset({"ok", "error", "timeout", "cancelled"})
Score = bool | float | None

__all__ = [
    "FINAL_STATUSES",
    "Fork",
    "RunEnded",
    "RunResult",
    "RunStatus",
    "RunTool",
    "Usage",
    "current_run",
    "describe_error",
    "first_line",
]


@dataclass(frozen=True)
class Fork:
    """Where a forked run starts: the first ``thought`` trunk thoughts of session ``session_id``."""

    session_id: str
    thought: int

    def __str__(self) -> str:
        return f"{self.session_id} @{self.thought}"


@dataclass(frozen=True)
class RunResult:
    """One run of an experiment: its session, variant, config, how it ended, its score and usage.

    ``duration`` is the run's wall time in seconds; ``score_error`` the one-line error of a score
    function that raised on this run (its ``score`` is then ``None``); ``fork`` where a forked run
    started (``None`` for a run of its own).
    """

    run: int
    session_id: str
    config: Any
    status: RunStatus
    value: Any = None
    error: BaseException | None = None
    message: str | None = None
    duration: float | None = None
    session: Session = field(default=None, repr=False, compare=False)  # type: ignore[assignment]  # (always set by the experiment; None only before its run is made)
    variant: str = "1"
    repeat: int = 1
    score: Score = None
    score_error: str | None = None
    usage: Usage = field(default_factory=Usage)
    fork: Fork | None = None

    @property
    def ok(self) -> bool:
        """True when the agent returned without raising."""
        return self.status == "ok"

    def passed(self, threshold: float = 1.0) -> bool:
        """True when the run ended ``ok`` and its score is ``True`` or a number ``>= threshold``.

        Example:
            >>> RunResult(1, "x-1", None, "ok", score=0.8).passed(0.75)
            True
            >>> RunResult(1, "x-1", None, "error", score=True).passed()
            False
        """
        if self.status != "ok" or self.score is None or self.score is False:
            return False
        return self.score is True or self.score >= threshold

    @property
    def answer(self) -> str:
        """The first line of what the run returned (its error message when it failed), for tables and cards."""
        if self.status == "ok":
            return first_line(self.value if isinstance(self.value, str) else repr(self.value))
        if self.status == "error":
            return first_line(self.message or "")
        return ""


def describe_error(error: BaseException) -> str:
    """``TypeName: message`` (just the type name when the message is empty).

    Example:
        >>> describe_error(ValueError("the scale broke"))
        'ValueError: the scale broke'
    """
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def first_line(text: str, width: int = 80) -> str:
    """The first non-empty line of ``text``, its spaces collapsed, cut at ``width`` with an ellipsis.

    Example:
        >>> first_line("\\n  Two   weighings:\\n3 against 3")
        'Two weighings:'
    """
    return one_line(view_first_line(text, len(text)), width)
