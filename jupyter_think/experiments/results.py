"""The pieces of one experiment run: the tool it thinks through, its result, and the results table.

:class:`RunTool` is the :class:`~jupyter_think.agent.tool.SequentialThinkingTool` an experiment hands to
one run, bound to the run's session and closed when the run ends (:class:`RunEnded`).
:class:`RunResult` is what a run leaves: its session, config, status, value or error.
:func:`results_text` and :func:`results_html` are the deterministic table of an experiment's runs
(no times, no ids), which is how a finished experiment displays.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from jupyter_think.agent.tool import SequentialThinkingTool
from jupyter_think.experiments.compare import session_counts
from jupyter_think.views.tables import Cell, html_table
from jupyter_think.views.text import one_line
from jupyter_think.views.theme import STATUS_COLORS

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session
    from jupyter_think.manager import SessionManager

RunStatus = Literal["pending", "running", "ok", "error", "cancelled"]
FINAL_STATUSES = frozenset({"ok", "error", "cancelled"})
_HEADER = ("run", "session", "status", "thoughts", "branches", "revisions", "result")


class RunEnded(BaseException):
    """Raised by a run's tool once the run has ended (cancelled, or its agent returned).

    A ``BaseException`` like ``KeyboardInterrupt``, so an agent's ``except Exception`` does not
    keep a cancelled run going: nothing more is recorded in the run's session.
    """


class RunTool(SequentialThinkingTool):
    """The tool an experiment hands to one run: bound to the run's session, closed when the run ends.

    Every thought of the run goes to the run's session: a new chain (``thoughtNumber`` 1 after the
    run concluded) re-opens it rather than moving to a session of its own, so the grid, ``compare``
    and a re-run see the whole run under the same id.

    Example:
        >>> from jupyter_think import SessionManager
        >>> tool = RunTool(SessionManager(persist=False), "exp-1")
        >>> tool.call({"thought": "Plan", "thoughtNumber": 1, "totalThoughts": 1,
        ...            "nextThoughtNeeded": False})["isError"]
        False
        >>> tool.end()
        >>> tool.call({"thought": "Late", "thoughtNumber": 2, "totalThoughts": 2, "nextThoughtNeeded": False})
        Traceback (most recent call last):
        ...
        jupyter_think.experiments.results.RunEnded: run exp-1 has ended; its tool records nothing more
    """

    starts_new_chains = False

    def __init__(self, manager: SessionManager, session_id: str) -> None:
        super().__init__(manager, agent_id=session_id, session_id=session_id)
        self.run_session_id = session_id
        self._run_lock = threading.Lock()
        self._ended = False

    def call(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Record one thought in the run's session (see :meth:`SequentialThinkingTool.call`)."""
        with self._run_lock:  # end() waits for a call in progress, so none lands after the run ended
            if self._ended:
                raise RunEnded(f"run {self.run_session_id} has ended; its tool records nothing more")
            return super().call(arguments)

    async def acall(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The async form of :meth:`call`."""
        if self._ended:
            raise RunEnded(f"run {self.run_session_id} has ended; its tool records nothing more")
        return await super().acall(arguments)

    def end(self) -> None:
        """Refuse every later call (waits for a call in progress to finish)."""
        with self._run_lock:
            self._ended = True

    @property
    def ended(self) -> bool:
        """True once the run has ended."""
        return self._ended

    def __repr__(self) -> str:
        return f"<RunTool {self.name!r} session {self.run_session_id!r}>"


@dataclass(frozen=True)
class RunResult:
    """One run of an experiment: its session, its config, and how it ended.

    ``status`` is ``ok`` (``value`` holds what the agent returned), ``error`` (``error`` holds the
    exception, ``message`` its one-line description), ``cancelled``, or, while the experiment
    runs, ``pending`` / ``running``. ``duration`` is the run's wall time in seconds.
    """

    run: int
    session_id: str
    config: Any
    status: RunStatus
    value: Any = None
    error: BaseException | None = None
    message: str | None = None
    duration: float | None = None
    session: Session = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @property
    def ok(self) -> bool:
        """True when the agent returned without raising."""
        return self.status == "ok"


def describe_error(error: BaseException) -> str:
    """``TypeName: message`` (just the type name when the message is empty).

    Example:
        >>> describe_error(ValueError("the scale broke"))
        'ValueError: the scale broke'
    """
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def results_headline(name: str, results: Sequence[RunResult], started: bool = True) -> str:
    """``Experiment NAME · N runs · 3 ok · 1 error`` (or ``not started``)."""
    n = len(results)
    parts = [f"Experiment {name}", f"{n} run{'s' * (n != 1)}"]
    if not started:
        parts.append("not started: await it, or call .result()")
        return " · ".join(parts)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    for status in ("ok", "error", "cancelled", "running", "pending"):
        if counts.get(status):
            word = "errors" if status == "error" and counts[status] > 1 else status
            parts.append(f"{counts[status]} {word}")
    return " · ".join(parts)


def _rows(results: Sequence[RunResult]) -> list[tuple[str, ...]]:
    rows = []
    for result in results:
        counts = session_counts(result.session)
        if result.status == "ok":
            outcome = one_line(repr(result.value), 60)
        elif result.status == "error":
            outcome = one_line(result.message or "", 60)
        else:
            outcome = "-"
        rows.append(
            (
                str(result.run),
                result.session_id,
                result.status,
                str(counts.thoughts),
                str(counts.branches),
                str(counts.revisions),
                outcome,
            )
        )
    return rows


def results_text(headline: str, results: Sequence[RunResult]) -> str:
    """The runs as a deterministic text table under ``headline``."""
    rows = _rows(results)
    widths = [max([len(_HEADER[i]), *(len(r[i]) for r in rows)]) for i in range(len(_HEADER))]
    right = {0, 3, 4, 5}

    def line(values: Sequence[str]) -> str:
        cells = [v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)]
        return ("  " + "  ".join(cells)).rstrip()

    return "\n".join([headline, line(_HEADER), *(line(r) for r in rows)])


def results_html(headline: str, results: Sequence[RunResult]) -> str:
    """The runs as a deterministic HTML table under ``headline`` (every text escaped)."""
    rows = (
        [
            Cell(cell, {"style": f"color:{STATUS_COLORS.get(cell, 'inherit')};font-weight:600"})
            if i == 2
            else cell
            for i, cell in enumerate(row)
        ]
        for row in _rows(results)
    )
    table = html_table(_HEADER, rows)
    return f'<div class="jupyter-think-experiment"><b>{html.escape(headline)}</b>{table}</div>'
