"""Experiments: run an agent once per (variant, repeat) in parallel, each run in its own session, and measure.

``experiment(name, agent, configs, repeat=…, score=…)`` (:mod:`.launch`) calls ``agent(config, tool)`` once per
variant and repeat on anyio (at most ``concurrency`` at a time; sync agents in worker threads), each
run thinking in its own session (``<name>-<variant>-<r>``, see :mod:`.plan`) through a
:class:`~jupyter_think.experiments.tool.RunTool`. Each session is started anew when the experiment
starts (``manager.new_session``: earlier content is archived), so the same cell gives the same result;
the person's active session is never touched; a session that a run of *another* experiment holds is
refused. The finished experiment is stored beside the sessions (:mod:`.stored`), so
``load_experiment(name)`` in a new process gives it back.

Blocking and awaiting:

- ``experiment(...)`` always blocks until every run has ended, in plain Python and in a kernel cell
  alike (the runs get an event loop of their own in a worker thread, since a kernel's own loop is
  already running in the cell's thread). Sync agents are the common case.
- ``await aexperiment(...)`` runs the runs on the running event loop (any coroutine; in a kernel
  the grid stays interactive meanwhile). Use it for async agents whose clients belong to the
  caller's loop (an ``AsyncOpenAI`` client made in the notebook).

Interrupting (KeyboardInterrupt, or cancelling the awaiting task) cancels every run; each keeps what it
recorded, and a run's tool refuses further calls (:class:`RunEnded`).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from jupyter_think.experiments import runner, stored
from jupyter_think.experiments.plan import (
    MAX_CONCURRENCY,
    RunSpec,
    check_timeout,
    fork_runs,
    whole,
)
from jupyter_think.experiments.results import FINAL_STATUSES, RunEnded, RunResult, RunStatus, describe_error
from jupyter_think.experiments.state import RunState, in_kernel
from jupyter_think.experiments.tables import results_headline, results_html, results_text
from jupyter_think.experiments.tool import RunTool, check_prices
from jupyter_think.manager import SessionManager, get_manager

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session
    from jupyter_think.widgets.grid import ExperimentGrid

Agent = Callable[[Any, RunTool], Any]
Scorer = Callable[[RunResult], Any]

_running: dict[tuple[int, str], Experiment] = {}  # (manager id, name) -> the experiment running under it here
_grids: dict[str, ExperimentGrid] = {}  # experiment name -> the grid of its latest run
_registry_lock = threading.Lock()

__all__ = [
    "Agent",
    "Experiment",
    "RunEnded",
    "RunResult",
    "RunStatus",
    "RunTool",
]


class Experiment(Sequence[RunResult]):
    """The runs of one experiment: a sequence of :class:`RunResult` (their current state, never blocking).

    Get one from :func:`experiment` (finished), :func:`aexperiment` or :func:`load_experiment`.
    """

    def __init__(
        self,
        name: str,
        agent: Agent | None,
        specs: Sequence[RunSpec],
        *,
        variants: Mapping[str, Any],
        repeat: int = 1,
        score: Scorer | None = None,
        timeout: float | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        concurrency: int = 8,
        manager: SessionManager | None = None,
        display: bool | None = None,
        sessions: Sequence[Session] | None = None,
    ) -> None:
        if agent is not None and not callable(agent):
            raise TypeError(f"agent must be a callable agent(config, tool), got {type(agent).__name__}")
        if score is not None and not callable(score):
            raise TypeError(f"score must be a callable score(result), got {type(score).__name__}")
        self.name = name
        self.agent = agent
        self.variants = dict(variants)
        self.repeat = repeat
        self.score = score
        self.timeout = check_timeout(timeout)
        self.prices = check_prices(prices)
        self.concurrency = whole(concurrency, "concurrency", 1, MAX_CONCURRENCY)
        self._manager = manager
        self.display = in_kernel() if display is None else display
        if sessions is None:
            self._runs = [self._make_run(spec) for spec in specs]
        else:  # finished runs read from the store, with their sessions: nothing to think through
            self._runs = [
                RunState(spec, session, None) for spec, session in zip(specs, sessions, strict=True)
            ]
        self._phase: Literal["ready", "running", "done"] = "ready"
        self._done = threading.Event()
        self._grid: ExperimentGrid | None = None
        self._lock = threading.RLock()

    @property
    def manager(self) -> SessionManager:
        """The manager of the runs' sessions (the process-wide one unless another was given)."""
        return self._manager if self._manager is not None else get_manager()

    def _make_run(self, spec: RunSpec) -> RunState:
        session = self.manager.session(spec.session_id)
        tool = RunTool(
            self.manager, spec.session_id, variant=spec.variant, repeat=spec.repeat, prefix=spec.prefix
        )
        run = RunState(spec, session, tool)
        tool.on_usage = lambda: self._show_card(run)
        return run

    # --- running --------------------------------------------------------------------------------------

    def run(self) -> Experiment:
        """Run the experiment now and wait for its end (blocking; see the module docstring); returns it."""
        self._prepare()
        try:
            runner.run_blocking(self, lambda: runner.execute(self))
        finally:
            if self._phase != "done":  # interrupted before the task began
                self._close()
            self.save(quiet=True)  # (interrupted too: what each run did is kept)
        return self

    async def arun(self) -> Experiment:
        """Run the experiment on the running event loop (``await``); returns it."""
        import anyio
        import anyio.to_thread

        self._prepare()
        try:
            await runner.execute(self, wake=in_kernel())
        finally:
            with anyio.CancelScope(shield=True):  # (cancelled too: what each run did is kept)
                await anyio.to_thread.run_sync(lambda: self.save(quiet=True))
        return self

    def _prepare(self) -> None:
        if self.agent is None or any(run.tool is None for run in self._runs):
            raise RuntimeError(f"experiment {self.name!r} was loaded from the store: give rerun() an agent")
        key = (id(self.manager), self.name)
        with _registry_lock:
            if self._phase != "ready":
                raise RuntimeError(f"experiment {self.name!r} has run already; run experiment() again")
            if key in _running:
                raise RuntimeError(
                    f"experiment {self.name!r} is already running in this process; "
                    "wait for it to end or give this one another name"
                )
            _running[key] = self
            previous = _grids.pop(self.name, None)
        try:
            stored.refuse_held(self.manager, self.name, [run.session.id for run in self._runs])
            if previous is not None and previous is not self._grid:
                previous.stop()  # an earlier run's grid keeps what it showed; it does not follow the new run
            for run in self._runs:
                self.manager.new_session(run.session.id)  # the same Session object, started anew
                for thought in run.spec.prefix:  # a fork starts with the source's first thoughts
                    run.session.record(stored.as_input(thought))
            with self._lock:
                self._phase = "running"
            stored.remember(self)
            self.save(quiet=True)  # stored from the start: another experiment cannot take its sessions
            if self.display:
                self._show()
        except BaseException:
            with _registry_lock:
                _running.pop(key, None)
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

    def _start(self, run: RunState) -> None:
        with self._lock:
            run.status = "running"
            run.started = time.monotonic()
        self._show_card(run)

    def _end(
        self,
        run: RunState,
        status: RunStatus,
        *,
        value: Any = None,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        tool = run.tool
        assert tool is not None  # (a loaded experiment never runs)
        tool.end()  # first: no thought can land after the status says the run has ended
        with self._lock:
            if run.status in FINAL_STATUSES:
                return
            run.status = status
            run.value = value
            run.error = error
            run.message = describe_error(error) if error is not None else message
            run.ended = time.monotonic()
            run.usage = tool.usage(self.prices)
        self._show_card(run)

    def _scored(self, run: RunState, score: bool | float | None, failure: str | None) -> None:
        with self._lock:
            run.score, run.score_error = score, failure
        self._show_card(run)

    def _show_card(self, run: RunState) -> None:
        grid = self._grid
        if grid is not None:
            grid.update_run(run.result(self.prices))

    def _close(self) -> None:
        for run in self._runs:
            self._end(run, "cancelled")  # runs that never started, or were cut off
        with self._lock:
            self._phase = "done"
            grid = self._grid
        with _registry_lock:
            if _running.get((id(self.manager), self.name)) is self:
                del _running[(id(self.manager), self.name)]
        if grid is not None:
            grid.finish()
        self._done.set()

    def save(self, quiet: bool = False) -> None:
        """Store the experiment and its runs (done at its start and its end; call it again after a
        refused write). Raises ``OSError`` when the store refuses, or warns when ``quiet``."""
        try:
            stored.save(self)
        except OSError as exc:
            if not quiet:
                raise
            from jupyter_think.persistence import PersistenceWarning

            warnings.warn(
                f"jupyter-think: experiment {self.name!r} was not stored ({exc}); its sessions are; "
                "runs.save() tries again",
                PersistenceWarning,
                stacklevel=3,
            )

    # --- forks ------------------------------------------------------------------------------------------

    def _fork(self, session_id: str, from_thought: int, agent: Agent | None, repeat: int) -> Experiment:
        source = next((run for run in self._runs if run.session.id == session_id), None)
        if source is None:
            raise ValueError(f"experiment {self.name!r} has no run in session {session_id!r}")
        trunk = source.session.trunk
        whole(from_thought, "from_thought", 1, max(len(trunk), 1))
        if not trunk:
            raise ValueError(f"session {session_id!r} has no thought to fork from")
        agent = agent if agent is not None else self.agent
        if agent is None:
            raise ValueError(
                f"experiment {self.name!r} was loaded from the store: rerun(…, agent=your_agent)"
            )
        specs = fork_runs(
            session_id, from_thought, source.spec.variant, source.config, trunk[:from_thought], repeat
        )
        return Experiment(
            f"{session_id}-from{from_thought}",
            agent,
            specs,
            variants={source.spec.variant: source.config},
            repeat=repeat,
            score=self.score,
            timeout=self.timeout,
            prices=self.prices,
            concurrency=self.concurrency,
            manager=self.manager,
            display=self.display,
        )

    def rerun(
        self, session_id: str, from_thought: int, agent: Agent | None = None, repeat: int = 1
    ) -> Experiment:
        """Fork run ``session_id`` at thought ``from_thought``: ``repeat`` new runs (blocking) whose sessions
        start with a copy of its first ``from_thought`` trunk thoughts, ids ``<session_id>-from<N>-<r>``.

        The agent (default: this experiment's) finds those thoughts in ``tool.prefix``; the SDK adapters'
        agents replay them to the model as earlier tool calls, so it goes on at thought N+1.
        """
        return self._fork(session_id, from_thought, agent, repeat).run()

    async def arerun(
        self, session_id: str, from_thought: int, agent: Agent | None = None, repeat: int = 1
    ) -> Experiment:
        """:meth:`rerun` on the running event loop (``await``)."""
        return await self._fork(session_id, from_thought, agent, repeat).arun()

    # --- reading ------------------------------------------------------------------------------------------

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

                self._grid = ExperimentGrid(self.name, list(self))
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
                return [run.result(self.prices) for run in self._runs[index]]
            return self._runs[index].result(self.prices)

    def __iter__(self) -> Iterator[RunResult]:
        with self._lock:
            results = [run.result(self.prices) for run in self._runs]
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
