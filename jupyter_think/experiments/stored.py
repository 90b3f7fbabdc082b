"""Experiments kept beside their sessions: what is stored of each run, ``load_experiment``, and held sessions.

An experiment is stored (``store.experiments``, :mod:`jupyter_think.store.experiments`) when it starts
and when it ends: its variants with their configs, ``repeat``, ``timeout``, ``prices``, and per run its
variant, repeat, session, status, value, message, score (or the score's error), usage, duration and,
for a fork, where it forked. Configs and values are kept as JSON when they are JSON (a tuple comes
back a list), else as their ``repr`` (a :class:`Repr`: text that shows as it was shown). A manager
without a store keeps its experiments in memory, for :func:`load_experiment` in the same process.

:func:`load_experiment` gives the experiment back with its sessions (restored from the store), in any
process; a session that a run of another experiment holds is refused to a new experiment
(:func:`refuse_held`) rather than started anew under it.
"""

from __future__ import annotations

import json
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from jupyter_think.core.models import Thought, ThoughtInput
from jupyter_think.experiments.results import Fork, RunResult
from jupyter_think.experiments.tool import Usage
from jupyter_think.manager import SessionManager, get_manager
from jupyter_think.store.experiments import StoredExperiment, StoredRun

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session
    from jupyter_think.experiments.run import Experiment

VALUE_LIMIT = 100_000
"""Characters of a stored value or config (as JSON, or its repr); a longer one is kept as its repr, cut."""
FORMAT = 1

_memory: weakref.WeakKeyDictionary[SessionManager, dict[str, Experiment]] = weakref.WeakKeyDictionary()
"""Manager -> its experiments by name in this process (what a manager without a store loads)."""


class NoSuchExperiment(LookupError):
    """No experiment of that name in the store (nor, without a store, in this process)."""


class Repr(str):
    """A value kept as its ``repr`` (it was not JSON): shows exactly as the original showed.

    Example:
        >>> Repr("Fraction(1, 3)")
        Fraction(1, 3)
    """

    def __repr__(self) -> str:
        return str(self)


def encode(value: Any) -> dict[str, Any]:
    """``{"json": value}`` when ``value`` is JSON (and not too long), else ``{"repr": its repr}``.

    Example:
        >>> encode((1, "a")), encode({1, 2})
        ({'json': (1, 'a')}, {'repr': '{1, 2}'})
    """
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = None
    if text is not None and len(text) <= VALUE_LIMIT:
        return {"json": value}
    try:
        shown = repr(value)
    except Exception as exc:
        shown = f"<{type(value).__name__} whose repr raised {type(exc).__name__}>"
    return {"repr": shown if len(shown) <= VALUE_LIMIT else shown[: VALUE_LIMIT - 1] + "…"}


def decode(stored: Any) -> Any:
    """The value :func:`encode` kept: the JSON value, or a :class:`Repr`."""
    if isinstance(stored, dict) and "repr" in stored:
        return Repr(stored["repr"])
    return stored.get("json") if isinstance(stored, dict) else None


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class _ExperimentPayload(BaseModel):
    format: int = FORMAT
    repeat: int = 1
    variants: list[str] = []
    configs: dict[str, Any] = {}
    timeout: float | None = None
    prices: dict[str, tuple[float, float]] | None = None
    concurrency: int = 8


class _RunPayload(BaseModel):
    value: Any = None
    message: str | None = None
    duration: float | None = None
    score: bool | float | None = None
    score_error: str | None = None
    usage: Usage = Usage()
    fork: tuple[str, int] | None = None


def experiment_payload(experiment: Experiment) -> str:
    """The experiment's settings as the JSON the store keeps."""
    return _dumps(
        {
            "format": FORMAT,
            "repeat": experiment.repeat,
            "variants": list(experiment.variants),
            "configs": {variant: encode(config) for variant, config in experiment.variants.items()},
            "timeout": experiment.timeout,
            "prices": experiment.prices,
            "concurrency": experiment.concurrency,
        }
    )


def run_payload(result: RunResult) -> str:
    """One run's outcome as the JSON the store keeps."""
    return _dumps(
        {
            "value": encode(result.value),
            "message": result.message,
            "duration": result.duration,
            "score": result.score,
            "score_error": result.score_error,
            "usage": result.usage.model_dump(),
            "fork": None if result.fork is None else [result.fork.session_id, result.fork.thought],
        }
    )


def remember(experiment: Experiment) -> None:
    """Keep ``experiment`` as its manager's latest of that name in this process."""
    _memory.setdefault(experiment.manager, {})[experiment.name] = experiment


def save(experiment: Experiment) -> None:
    """Store the experiment and its runs as they are now (raises ``OSError`` when the store refuses)."""
    remember(experiment)
    store = experiment.manager.store
    if store is None:
        return
    runs = [StoredRun(r.run, r.session_id, r.variant, r.repeat, r.status, run_payload(r)) for r in experiment]
    store.experiments.save(experiment.name, experiment_payload(experiment), runs)


def refuse_held(manager: SessionManager, name: str, session_ids: Sequence[str]) -> None:
    """``ValueError`` when a run of another experiment holds one of ``session_ids`` (in this process, or stored)."""
    wanted = set(session_ids)
    held: dict[str, str] = {}
    for other in list(_memory.get(manager, {}).values()):
        if other.name != name:
            held.update({s.id: other.name for s in other.sessions if s.id in wanted})
    store = manager.store
    if store is not None:
        for session_id, holder in store.experiments.holding(session_ids).items():
            if holder != name:
                held.setdefault(session_id, holder)
    if held:
        session_id = min(held, key=list(session_ids).index)
        raise ValueError(
            f"session {session_id!r} is a run of experiment {held[session_id]!r}; starting it anew would archive "
            f"that run: give experiment {name!r} another name (or other variant names)"
        )


def as_input(thought: Thought) -> ThoughtInput:
    """The fields of ``thought`` as given (no id, no time): what a fork records afresh."""
    return ThoughtInput.model_validate(thought.model_dump(include=set(ThoughtInput.model_fields)))


def load_experiment(name: str, manager: SessionManager | None = None) -> Experiment:
    """The experiment ``name`` as it was stored, with its sessions: in a new process, the same results.

    ``name`` is yours, or ``OWNER/NAME`` on a class store (a teacher reads every student's). Raises
    :class:`NoSuchExperiment` (a ``LookupError``) when there is none, ``OSError`` when the store refuses.
    The agent and the score function are not stored: give ``rerun`` an agent.

    Example:
        >>> from jupyter_think import SessionManager, experiment
        >>> manager = SessionManager(persist=False)
        >>> _ = experiment("kept", lambda config, tool: config * 2, [1, 2], manager=manager)
        >>> [(r.session_id, r.value) for r in load_experiment("kept", manager)]
        [('kept-1', 2), ('kept-2', 4)]
    """
    from jupyter_think.store.experiments import ExperimentTable

    manager = manager if manager is not None else get_manager()
    ExperimentTable.checked_ref(name)
    store = manager.store
    if store is None:
        known = _memory.get(manager, {}).get(name)
        if known is None:
            raise NoSuchExperiment(f"no experiment {name!r} in this process (a manager without a store)")
        return known
    found = store.experiments.load(name)
    if found is None:
        raise NoSuchExperiment(f"no experiment {name!r} in {store.location}; `jupyter-think runs` lists them")
    return rebuilt(found, manager.session, manager)


def rebuilt(
    found: StoredExperiment, session: Callable[[str], Session], manager: SessionManager | None = None
) -> Experiment:
    """The experiment a store gave (:meth:`ExperimentTable.load`), each run's session from ``session(ref)``."""
    from jupyter_think.experiments.plan import RunSpec
    from jupyter_think.experiments.run import Experiment

    settings = _validated(_ExperimentPayload, found.payload, found.ref, _ExperimentPayload())
    variants = {variant: decode(settings.configs.get(variant)) for variant in settings.variants}
    owner = found.ref[: -len(found.name)]  # "OWNER/" for another user's experiment, else ""
    payloads = [
        _validated(_RunPayload, run.payload, f"{found.ref} run {run.run}", _RunPayload())
        for run in found.runs
    ]
    specs = [
        RunSpec(
            run.run,
            run.variant,
            run.repeat,
            variants.get(run.variant),
            owner + run.session_id,
            fork=None if payload.fork is None else Fork(*payload.fork),
        )
        for run, payload in zip(found.runs, payloads, strict=True)
    ]
    experiment = Experiment(
        found.ref,
        None,
        specs,
        variants=variants,
        repeat=settings.repeat,
        timeout=settings.timeout,
        prices=settings.prices,
        concurrency=settings.concurrency,
        manager=manager,
        display=False,
        sessions=[session(spec.session_id) for spec in specs],
    )
    for state, run, payload in zip(experiment._runs, found.runs, payloads, strict=True):
        state.status = run.status  # type: ignore[assignment]  # (checked against RunStatus when stored)
        state.value = decode(payload.value)
        state.message = payload.message
        if payload.duration is not None:
            state.started, state.ended = 0.0, payload.duration
        state.score, state.score_error = payload.score, payload.score_error
        state.usage = payload.usage
    experiment._phase = "done"
    experiment._done.set()
    return experiment


def _validated(model: type[Any], payload: str, where: str, default: Any) -> Any:
    """``payload`` validated as ``model``; a damaged one is reported (a warning) and read as ``default``."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        from jupyter_think.store import StoreWarning

        warnings.warn(
            f"jupyter-think: experiment {where}: what was stored does not read back ({exc.error_count()} "
            "errors); shown without it",
            StoreWarning,
            stacklevel=3,
        )
        return default
