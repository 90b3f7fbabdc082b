"""``experiment()`` and ``aexperiment()``: the public way to build an :class:`~.run.Experiment` and run it.

The arguments are checked here, before any session is touched (a bad one raises ``TypeError`` or
``ValueError`` naming it); the runs are planned by :mod:`.plan` and run by
:class:`~jupyter_think.experiments.run.Experiment` (see :mod:`.run` for blocking and awaiting).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_think.experiments.plan import plan_runs
from jupyter_think.experiments.run import Agent, Experiment, Scorer

if TYPE_CHECKING:
    from jupyter_think.manager import SessionManager

__all__ = ["aexperiment", "experiment"]


def _build(
    name: str,
    agent: Agent,
    configs: Any,
    *,
    repeat: int,
    score: Scorer | None,
    timeout: float | None,
    prices: Mapping[str, tuple[float, float]] | None,
    concurrency: int,
    manager: SessionManager | None,
    display: bool | None,
) -> Experiment:
    variants, specs = plan_runs(name, configs, repeat)  # (the other arguments: checked by Experiment)
    return Experiment(
        name,
        agent,
        specs,
        variants=variants,
        repeat=repeat,
        score=score,
        timeout=timeout,
        prices=prices,
        concurrency=concurrency,
        manager=manager,
        display=display,
    )


def experiment(
    name: str,
    agent: Agent,
    configs: Any,
    *,
    repeat: int = 1,
    score: Scorer | None = None,
    timeout: float | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    concurrency: int = 8,
    manager: SessionManager | None = None,
    display: bool | None = None,
) -> Experiment:
    """Run ``agent(config, tool)`` once per variant and repeat, in parallel; blocks until every run has ended.

    ``configs`` is a list (variants ``"1"``, ``"2"``, …) or a dict ``{variant: config}``; each variant
    runs ``repeat`` times, run by run in session ``<name>-<variant>-<r>`` (``<name>-<k>`` for a list
    run once), started anew, through a :class:`RunTool` bound to it. ``score(result)`` (optional)
    gives each run that ended ``ok`` its score (``True``/``False`` or a number); ``timeout`` (seconds)
    ends a run that takes longer (status ``timeout``); ``prices={model: (USD per 1M input tokens,
    USD per 1M output tokens)}`` turns the runs' tokens into cost. At most ``concurrency`` runs at a
    time; an agent's exception is recorded on its run and never stops the others. ``manager``
    defaults to the process-wide one; ``display`` (default: in a kernel) shows the live grid.

    The experiment is stored (``load_experiment(name)``); running the same name again replaces it.
    In a coroutine, ``await aexperiment(...)`` instead.

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
    return _build(
        name, agent, configs, repeat=repeat, score=score, timeout=timeout, prices=prices,
        concurrency=concurrency, manager=manager, display=display,
    ).run()  # fmt: skip


async def aexperiment(
    name: str,
    agent: Agent,
    configs: Any,
    *,
    repeat: int = 1,
    score: Scorer | None = None,
    timeout: float | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
    concurrency: int = 8,
    manager: SessionManager | None = None,
    display: bool | None = None,
) -> Experiment:
    """:func:`experiment` on the running event loop: ``runs = await aexperiment(...)`` in a coroutine or a cell.

    The same arguments and result. Async agents run on the caller's loop (an ``AsyncOpenAI`` client
    made there works), sync agents in worker threads; in a kernel the grid stays interactive.
    """
    built = _build(
        name, agent, configs, repeat=repeat, score=score, timeout=timeout, prices=prices,
        concurrency=concurrency, manager=manager, display=display,
    )  # fmt: skip
    return await built.arun()
