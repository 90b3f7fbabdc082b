"""Running an experiment's runs on anyio: concurrency, timeouts, scores, and how each run ends.

:func:`execute` runs every run of an :class:`~jupyter_think.experiments.run.Experiment` on the current
event loop, at most ``concurrency`` at a time (sync agents in worker threads). Each run:

- sets :data:`~jupyter_think.experiments.tool.current_run` to its tool while its agent executes;
- ends ``timeout`` when it takes longer than the experiment's ``timeout``: an async agent is
  cancelled; a sync agent's thread cannot be killed, so it is left to end by itself (its tool
  refuses every later call: the thread's next call raises :class:`RunEnded`) and the run is marked
  at its deadline;
- ends ``error`` for any exception of its agent (``SystemExit`` and other ``BaseException`` too),
  ``cancelled`` when the experiment is interrupted; a ``KeyboardInterrupt`` raised by an agent
  interrupts the whole experiment, and comes out as itself (never inside an exception group);
- is scored (``score(result)``, sync or async, in a worker thread) when it ended ``ok``: an exception
  in the score function marks the score as failed on that run, never the run.

:func:`run_blocking` runs :func:`execute` on an event loop of its own in a worker thread and waits: it
works in plain Python and in a kernel cell, where the kernel's loop is already running in the
caller's thread.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from jupyter_think.experiments.results import RunEnded, describe_error
from jupyter_think.experiments.tool import current_run

if sys.version_info < (3, 11):  # pragma: no cover - anyio's backport on Python 3.10
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from jupyter_think.experiments.run import Experiment
    from jupyter_think.experiments.state import RunState

WAKE_INTERVAL = 0.2
"""Seconds between wake-ups of a kernel's loop while it awaits an experiment (see :func:`_keep_waking`)."""


def is_async(function: Any) -> bool:
    """True for an ``async def`` function (or an object whose ``__call__`` is one)."""
    call = type(function).__call__ if not inspect.isroutine(function) else None
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


async def _keep_waking() -> None:
    """Wake the event loop every :data:`WAKE_INTERVAL` seconds until cancelled.

    ipykernel turns an interrupt (SIGINT) of an awaiting cell into a callback on its loop, but a loop
    asleep in ``select()`` only runs it at its next wake-up; without this, interrupting a cell that
    awaits an experiment would wait for the runs to end by themselves.
    """
    while True:
        await anyio.sleep(WAKE_INTERVAL)


def _interrupt_of(group: BaseExceptionGroup[Any]) -> BaseException:
    """The one exception to raise for what came out of the task groups (an interrupt, as itself)."""
    for exc in group.exceptions:
        found = _interrupt_of(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, KeyboardInterrupt):
            return found
    first = group.exceptions[0]
    return _interrupt_of(first) if isinstance(first, BaseExceptionGroup) else first


async def execute(experiment: Experiment, wake: bool = False) -> None:
    """Run every run of ``experiment`` on this event loop; the experiment is closed at the end, whatever happens."""
    runs_limit = anyio.CapacityLimiter(experiment.concurrency)
    threads_limit = anyio.CapacityLimiter(experiment.concurrency)
    try:
        async with anyio.create_task_group() as outer:
            if wake:
                outer.start_soon(_keep_waking, name="wake the loop for interrupts")
            async with anyio.create_task_group() as group:
                for run in experiment._runs:
                    group.start_soon(
                        _run_one, experiment, run, runs_limit, threads_limit, name=run.session.id
                    )
            outer.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        raise _interrupt_of(group) from None
    finally:
        experiment._close()


async def _call(function: Callable[..., Any], args: tuple[Any, ...], limiter: anyio.CapacityLimiter) -> Any:
    """``function(*args)``: awaited when async, else in a worker thread abandoned on cancel; an awaitable it
    returns is awaited too."""
    if is_async(function):
        value = await function(*args)
    else:
        value = await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True, limiter=limiter)
    if inspect.isawaitable(value):  # a sync callable that returned a coroutine
        value = await value
    return value


async def _run_one(
    experiment: Experiment,
    run: RunState,
    runs_limit: anyio.CapacityLimiter,
    threads_limit: anyio.CapacityLimiter,
) -> None:
    timeout = experiment.timeout if experiment.timeout is not None else math.inf
    agent = experiment.agent
    assert agent is not None  # (a loaded experiment never runs: Experiment._prepare refuses it)
    try:
        async with runs_limit:
            experiment._start(run)
            token = current_run.set(run.tool)
            try:
                with anyio.move_on_after(timeout) as deadline:
                    value = await _call(agent, (run.config, run.tool), threads_limit)
            finally:
                current_run.reset(token)
            if deadline.cancelled_caught:
                experiment._end(run, "timeout", message=f"timed out after {experiment.timeout:g} s")
                return
            experiment._end(run, "ok", value=value)
            if experiment.score is not None:
                await _score(experiment, run, threads_limit)
    except anyio.get_cancelled_exc_class():
        experiment._end(run, "cancelled")
        raise
    except RunEnded:  # the run's tool was closed under it: the experiment is ending
        experiment._end(run, "cancelled")
    except KeyboardInterrupt:
        experiment._end(run, "cancelled")
        raise
    except BaseException as exc:
        experiment._end(run, "error", error=exc)


async def _score(experiment: Experiment, run: RunState, limiter: anyio.CapacityLimiter) -> None:
    """Score a run that ended ``ok``: its score, or the error that the score function raised."""
    assert experiment.score is not None
    timeout = experiment.timeout if experiment.timeout is not None else math.inf
    result = run.result(experiment.prices)
    score: Any = None
    failure: str | None = None
    try:
        with anyio.move_on_after(timeout) as deadline:
            score = await _call(experiment.score, (result,), limiter)
        if deadline.cancelled_caught:
            failure = f"score timed out after {experiment.timeout:g} s"
    except anyio.get_cancelled_exc_class():
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        failure = describe_error(exc)
    if failure is None:
        score, failure = checked_score(score)
    experiment._scored(run, None if failure else score, failure)


def checked_score(score: object) -> tuple[bool | float | None, str | None]:
    """(the score, None) when it is ``True``/``False``, a finite number or ``None``; else (None, why not).

    Example:
        >>> checked_score(1), checked_score("yes")
        ((1.0, None), (None, "the score must be True, False, a number or None, got 'yes'"))
    """
    if score is None or isinstance(score, bool):
        return score, None
    if isinstance(score, (int, float)) and math.isfinite(score):
        return float(score), None
    shown = repr(score) if len(repr(score)) <= 40 else type(score).__name__
    return None, f"the score must be True, False, a number or None, got {shown}"


def run_blocking(experiment: Experiment, start: Callable[[], Awaitable[None]]) -> None:
    """Run ``start()`` (the experiment's execution) on a loop of its own in a worker thread and wait.

    KeyboardInterrupt (the kernel's interrupt button) cancels every run; each keeps what it recorded,
    the runs are wound down, then the interrupt propagates.
    """
    import anyio.from_thread

    interrupted: BaseException | None = None
    with anyio.from_thread.start_blocking_portal() as portal:
        future = portal.start_task_soon(start)
        try:
            future.result()
        except KeyboardInterrupt as exc:
            interrupted = exc
            future.cancel()  # cancels the task; leaving the portal waits until the runs have wound down
    if interrupted is not None:
        raise interrupted
