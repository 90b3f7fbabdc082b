"""The mutable state of one run while its experiment goes on, and whether we are in a kernel.

:class:`RunState` is what :class:`~jupyter_think.experiments.run.Experiment` and
:mod:`.runner` change as a run starts, ends and is scored (under the experiment's lock); a
:class:`~jupyter_think.experiments.results.RunResult` is its frozen picture at one moment.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_think.experiments.results import RunResult, RunStatus
from jupyter_think.experiments.tool import RunTool, Usage

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session
    from jupyter_think.experiments.plan import RunSpec


class RunState:
    """The mutable state of one run while the experiment goes on."""

    def __init__(self, spec: RunSpec, session: Session, tool: RunTool | None) -> None:
        self.spec = spec
        self.session = session
        self.tool = tool
        self.status: RunStatus = "pending"
        self.value: Any = None
        self.error: BaseException | None = None
        self.message: str | None = None
        self.started: float | None = None
        self.ended: float | None = None
        self.usage: Usage | None = None  # frozen when the run ends
        self.score: bool | float | None = None
        self.score_error: str | None = None

    @property
    def config(self) -> Any:
        return self.spec.config

    def result(self, prices: Mapping[str, tuple[float, float]] | None = None) -> RunResult:
        duration = None
        if self.started is not None:
            duration = (self.ended if self.ended is not None else time.monotonic()) - self.started
        spec = self.spec
        return RunResult(
            run=spec.number,
            session_id=self.session.id,
            config=spec.config,
            status=self.status,
            value=self.value,
            error=self.error,
            message=self.message,
            duration=duration,
            session=self.session,
            variant=spec.variant,
            repeat=spec.repeat,
            score=self.score,
            score_error=self.score_error,
            usage=self.usage if self.usage is not None else self.tool.usage(prices) if self.tool else Usage(),
            fork=spec.fork,
        )


def in_kernel() -> bool:
    """True inside a Jupyter kernel (without importing IPython where it is not loaded yet)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None
