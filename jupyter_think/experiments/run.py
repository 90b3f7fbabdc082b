"""Experiments: run an agent once per config in parallel, each run in its own session, watched live.

``experiment(name, agent, configs)`` calls ``agent(config, tool)`` once per config, in parallel on
anyio (at most ``concurrency`` runs at a time; sync agents in worker threads). Run ``k`` (from 1)
thinks in session ``<name>-<k>`` through a :class:`RunTool`, a
:class:`~jupyter_think.agent.tool.SequentialThinkingTool` bound to that session (``runs.py`` holds these
per-run pieces: the tool, the result, the results table). Each session is started
anew when the experiment starts (``manager.new_session``: earlier content is archived), so running
the same cell again gives the same result. The person's active session is never touched.

The result holds one :class:`RunResult` per run: the agent's return value, or the error it raised
(status ``error``, the message kept), or ``cancelled``. One run's exception never stops the others.
Interrupting (KeyboardInterrupt, or cancelling the awaiting task) cancels every run; each keeps
what it recorded, and a run's tool refuses further calls (:class:`RunEnded`), so nothing is written
after the experiment has returned.

Awaitable and blocking:

- ``await experiment(...)`` (a notebook cell, any coroutine) runs the runs on the running event
  loop; in a kernel the grid stays interactive meanwhile (click a run to open its graph).
- ``experiment(...)`` without ``await`` blocks until every run has ended, in plain Python and in a
  kernel cell alike (the runs get an event loop of their own in a worker thread, since a kernel's
  own loop is already running in the cell's thread).

Which of the two is decided by the caller: called from a coroutine's code (a cell that awaits it,
an ``async def``), ``experiment()`` returns the experiment unstarted for the ``await``; otherwise it
runs it at once. In a kernel the experiment shows its live grid (:mod:`jupyter_think.widgets.grid`) when it
starts, and the finished experiment displays as a table of the runs.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import anyio
import anyio.to_thread

from jupyter_think.core.ids import validate_id
from jupyter_think.experiments.results import (
    FINAL_STATUSES,
    RunEnded,
    RunResult,
    RunStatus,
    RunTool,
    describe_error,
    results_headline,
    results_html,
    results_text,
)
from jupyter_think.manager import SessionManager, get_manager

if TYPE_CHECKING:
    from collections.abc import Generator

    from jupyter_think.core.session.session import Session
    from jupyter_think.widgets.grid import ExperimentGrid

Agent = Callable[[Any, "RunTool"], Any]
WAKE_INTERVAL = 0.2
"""Seconds between wake-ups of a kernel's loop while it awaits an experiment (see ``_keep_waking``)."""
_COROUTINE_CODE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE

_running: dict[str, Experiment] = {}  # experiment name -> the experiment running under it here
_grids: dict[str, ExperimentGrid] = {}  # experiment name -> the grid of its latest run
_registry_lock = threading.Lock()

__all__ = [
    "Agent",
    "Experiment",
    "RunEnded",
    "RunResult",
    "RunStatus",
    "RunTool",
    "describe_error",
    "experiment",
]


class _Run:
    """The mutable state of one run while the experiment goes on."""

    def __init__(self, number: int, session: Session, config: Any, tool: RunTool) -> None:
        self.number = number
        self.session = session
        self.config = config
        self.tool = tool
        self.status: RunStatus = "pending"
        self.value: Any = None
        self.error: BaseException | None = None
        self.message: str | None = None
        self.started: float | None = None
        self.ended: float | None = None

    def result(self) -> RunResult:
        duration = None
        if self.started is not None:
            duration = (self.ended if self.ended is not None else time.monotonic()) - self.started
        return RunResult(
            run=self.number,
            session_id=self.session.id,
            config=self.config,
            status=self.status,
            value=self.value,
            error=self.error,
            message=self.message,
            duration=duration,
            session=self.session,
        )


def _is_async(agent: Any) -> bool:
    call = type(agent).__call__ if not inspect.isroutine(agent) else None  # an object with async __call__
    return inspect.iscoroutinefunction(agent) or inspect.iscoroutinefunction(call)


async def _keep_waking() -> None:
    """Wake the event loop every :data:`WAKE_INTERVAL` seconds until cancelled.

    ipykernel turns an interrupt (SIGINT) of an awaiting cell into a callback on its loop, but a loop
    asleep in ``select()`` only runs it at its next wake-up; without this, interrupting a cell that
    awaits an experiment would wait for the runs to end by themselves.
    """
    while True:
        await anyio.sleep(WAKE_INTERVAL)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (without importing IPython where it is not loaded yet)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


class Experiment(Sequence[RunResult]):
    """The runs of one experiment: a sequence of :class:`RunResult` (current state, never blocks).

    Get one from :func:`experiment`. ``await`` it, or call :meth:`result` to wait for the end.
    """

    def __init__(
        self,
        name: str,
        agent: Agent,
        configs: Iterable[Any],
        concurrency: int = 8,
        *,
        manager: SessionManager | None = None,
        display: bool | None = None,
    ) -> None:
        if not callable(agent):
            raise TypeError(f"agent must be a callable agent(config, tool), got {type(agent).__name__}")
        if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Iterable):
            raise TypeError(
                "configs must be a list with one config per run (wrap a single config in a list), "
                f"got {type(configs).__name__}"
            )
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
        configs = list(configs)
        validate_id(name, "experiment")
        last = f"{name}-{max(len(configs), 1)}"
        if len(last) > 128:  # every run's session id must be valid too
            raise ValueError(
                f"experiment name too long for {len(configs)} runs: session ids like {last[-20:]!r} "
                "must have at most 128 characters; pick a shorter name"
            )
        self.name = name
        self.agent = agent
        self.concurrency = concurrency
        self.manager = manager if manager is not None else get_manager()
        self.display = _in_kernel() if display is None else display
        self._runs = []
        for number, config in enumerate(configs, start=1):
            session_id = f"{name}-{number}"
            self._runs.append(
                _Run(number, self.manager.session(session_id), config, RunTool(self.manager, session_id))
            )
        self._phase: Literal["ready", "running", "done"] = "ready"
        self._done = threading.Event()
        self._grid: ExperimentGrid | None = None
        self._loop_thread: int | None = None
        self._tried = False
        self._lock = threading.RLock()

    # --- running --------------------------------------------------------------------------------------

    def result(self) -> Experiment:
        """Run the experiment now if it has not started, else wait for its end; returns it (blocking).

        KeyboardInterrupt cancels every run (each keeps what it recorded), then propagates.
        """
        if self._phase == "ready":
            self._run_blocking()
        elif self._phase == "running":
            if self._loop_thread == threading.get_ident():
                raise RuntimeError(
                    f"experiment {self.name!r} runs on this thread's event loop: await it instead of .result()"
                )
            self._done.wait()
        return self

    def __await__(self) -> Generator[Any, None, Experiment]:
        return self._wait().__await__()

    async def _wait(self) -> Experiment:
        if self._phase == "ready":
            self._prepare()
            self._loop_thread = threading.get_ident()
            await self._execute(wake=_in_kernel())
        elif self._phase == "running":
            await anyio.to_thread.run_sync(self._done.wait, abandon_on_cancel=True)
        return self

    def _run_blocking(self) -> None:
        import anyio.from_thread

        self._prepare()
        interrupted: BaseException | None = None
        try:
            with anyio.from_thread.start_blocking_portal() as portal:
                future = portal.start_task_soon(self._execute)
                try:
                    future.result()
                except KeyboardInterrupt as exc:
                    interrupted = exc
                    future.cancel()  # cancels the task; leaving the portal waits until the runs have wound down
        finally:
            if self._phase != "done":  # interrupted before the task began
                self._close()
        if interrupted is not None:
            raise interrupted

    def _prepare(self) -> None:
        with _registry_lock:
            if self.name in _running:
                self._tried = True
                raise RuntimeError(
                    f"experiment {self.name!r} is already running in this process; "
                    "wait for it to end or give this one another name"
                )
            _running[self.name] = self
            previous = _grids.pop(self.name, None)
        try:
            if previous is not None and previous is not self._grid:
                previous.stop()  # an earlier run's grid keeps what it showed; it does not follow the new run
            for run in self._runs:
                self.manager.new_session(run.session.id)  # the same Session object, started anew
            with self._lock:
                self._phase = "running"
            if self.display:
                self._show()
        except BaseException:
            with _registry_lock:
                if _running.get(self.name) is self:
                    del _running[self.name]
            with self._lock:
                self._phase = "ready"
                self._tried = True  # the caller saw the error: no "never run" warning later
            raise

    def _show(self) -> None:
        try:
            from IPython.display import display
        except ImportError:  # plain Python without IPython: nothing to show
            return
        grid = self.grid
        with _registry_lock:
            _grids[self.name] = grid
        display(grid)

    async def _execute(self, wake: bool = False) -> None:
        runs_limit = anyio.CapacityLimiter(self.concurrency)
        threads_limit = anyio.CapacityLimiter(self.concurrency)
        try:
            async with anyio.create_task_group() as outer:
                if wake:
                    outer.start_soon(_keep_waking, name="wake the loop for interrupts")
                async with anyio.create_task_group() as group:
                    for run in self._runs:
                        group.start_soon(
                            self._run_one, run, runs_limit, threads_limit, name=f"{self.name}-{run.number}"
                        )
                outer.cancel_scope.cancel()
        finally:
            self._close()

    async def _run_one(
        self, run: _Run, runs_limit: anyio.CapacityLimiter, threads_limit: anyio.CapacityLimiter
    ) -> None:
        try:
            async with runs_limit:
                self._start(run)
                if _is_async(self.agent):
                    value = await self.agent(run.config, run.tool)
                else:
                    value = await anyio.to_thread.run_sync(
                        self.agent, run.config, run.tool, abandon_on_cancel=True, limiter=threads_limit
                    )
                if inspect.isawaitable(value):  # a sync callable that returned a coroutine
                    value = await value
        except anyio.get_cancelled_exc_class():
            self._end(run, "cancelled")
            raise
        except RunEnded:
            self._end(run, "cancelled")
        except Exception as exc:
            self._end(run, "error", error=exc)
        except BaseException as exc:  # SystemExit and the like: recorded, then they stop the experiment
            self._end(run, "error", error=exc)
            raise
        else:
            self._end(run, "ok", value=value)

    def _start(self, run: _Run) -> None:
        with self._lock:
            run.status = "running"
            run.started = time.monotonic()
            grid = self._grid
        if grid is not None:
            grid.set_status(run.number, "running")

    def _end(
        self, run: _Run, status: RunStatus, *, value: Any = None, error: BaseException | None = None
    ) -> None:
        run.tool.end()  # first: no thought can land after the status says the run has ended
        with self._lock:
            if run.status in FINAL_STATUSES:
                return
            run.status = status
            run.value = value
            run.error = error
            run.message = describe_error(error) if error is not None else None
            run.ended = time.monotonic()
            grid = self._grid
        if grid is not None:
            grid.set_status(run.number, status, run.message)

    def _close(self) -> None:
        for run in self._runs:
            self._end(run, "cancelled")  # runs that never started, or were cut off
        with self._lock:
            self._phase = "done"
            grid = self._grid
        with _registry_lock:
            if _running.get(self.name) is self:
                del _running[self.name]
        if grid is not None:
            grid.finish()
        self._done.set()

    # --- reading --------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once every run has ended."""
        return self._phase == "done"

    @property
    def started(self) -> bool:
        """True once the experiment has started (it may still be running)."""
        return self._phase != "ready"

    @property
    def sessions(self) -> list[Session]:
        """The runs' sessions, run 1 first (what :func:`~jupyter_think.compare` and ``diff`` take)."""
        return [run.session for run in self._runs]

    @property
    def grid(self) -> ExperimentGrid:
        """The live grid widget of the runs (made on first use; needs anywidget)."""
        with self._lock:
            if self._grid is None:
                from jupyter_think.widgets.grid import ExperimentGrid

                grid = ExperimentGrid(self.name, self.sessions)
                for run in self._runs:
                    if run.status != "pending":
                        grid.set_status(run.number, run.status, run.message)
                self._grid = grid
            return self._grid

    def statuses(self) -> dict[str, int]:
        """How many runs are in each status (only statuses that occur)."""
        counts: dict[str, int] = {}
        for result in self:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def __len__(self) -> int:
        return len(self._runs)

    @overload
    def __getitem__(self, index: int) -> RunResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[RunResult]: ...
    def __getitem__(self, index: int | slice) -> RunResult | list[RunResult]:
        with self._lock:
            if isinstance(index, slice):
                return [run.result() for run in self._runs[index]]
            return self._runs[index].result()

    def __iter__(self) -> Iterator[RunResult]:
        with self._lock:
            results = [run.result() for run in self._runs]
        return iter(results)

    # --- display ----------------------------------------------------------------------------------------

    def headline(self) -> str:
        """``Experiment NAME · N runs · 3 ok · 1 error`` (or ``not started``)."""
        return results_headline(self.name, list(self), started=self._phase != "ready")

    def as_text(self) -> str:
        """The runs as a deterministic text table (no times)."""
        return results_text(self.headline(), list(self))

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.as_text())

    def _repr_html_(self) -> str:
        return results_html(self.headline(), list(self))

    def __del__(self) -> None:
        if getattr(self, "_phase", None) == "ready" and not getattr(self, "_tried", True):
            warnings.warn(
                f"experiment {self.name!r} was never run: await it, or call .result()",
                RuntimeWarning,
                stacklevel=2,
            )


def experiment(
    name: str,
    agent: Agent,
    configs: Iterable[Any],
    concurrency: int = 8,
    *,
    manager: SessionManager | None = None,
    display: bool | None = None,
) -> Experiment:
    """Run ``agent(config, tool)`` once per config in parallel; one :class:`RunResult` per run.

    Returns one result per run (value or error, status, session id), awaitable in a kernel and
    callable blocking; displays a live grid of the runs' graphs.

    Run ``k`` (from 1) thinks in session ``<name>-<k>``, started anew (earlier content archived),
    through a :class:`RunTool` bound to it. Sync agents run in worker threads, async agents on the
    event loop; at most ``concurrency`` runs at a time. An agent's exception is recorded on its
    run (status ``error``, ``message``) and never stops the others; an interrupt cancels every run,
    each keeping what it recorded. ``manager`` defaults to the process-wide one; ``display`` (default:
    in a kernel) shows the live grid when the runs start.

    ``await experiment(...)`` runs on the running loop; ``experiment(...)`` blocks until the end
    (see the module docstring).

    Example:
        >>> from jupyter_think import SessionManager
        >>> def agent(config, tool):
        ...     for n in range(1, config + 1):
        ...         tool.call({"thought": f"step {n}", "thoughtNumber": n, "totalThoughts": config,
        ...                    "nextThoughtNeeded": n < config})
        ...     return f"{config} steps"
        >>> runs = experiment("demo", agent, [1, 3], manager=SessionManager(persist=False))
        >>> [(r.session_id, r.status, r.value, len(r.session)) for r in runs]
        [('demo-1', 'ok', '1 steps', 1), ('demo-2', 'ok', '3 steps', 3)]
    """
    run = Experiment(name, agent, configs, concurrency, manager=manager, display=display)
    caller = sys._getframe(1)
    if caller.f_code.co_flags & _COROUTINE_CODE:
        return run  # the caller awaits it (a cell with `await`, an async function)
    return run.result()
