"""The tool of one experiment run: bound to the run's session, counting the run's model usage, closed at its end.

:class:`RunTool` is the :class:`~jupyter_think.agent.tool.SequentialThinkingTool` an experiment hands
to one run. It knows the run (``variant``, ``repeat``, ``prefix``: the thoughts a forked run starts
from), adds up what the model cost (:meth:`RunTool.record_usage`, called by the SDK adapters for each
response, or by your own loop for any other client) and refuses every call once the run has ended
(:class:`RunEnded`). :data:`current_run` is the run whose agent is executing (a context variable the
experiment sets around each agent call: the scripted model reads it to play each run its own draw).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from jupyter_think.agent.tool import SequentialThinkingTool

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.manager import SessionManager

END_WAIT = 0.5
"""Seconds :meth:`RunTool.end` waits for a call in progress (a hung call is not waited for longer)."""

Prices = Mapping[str, "tuple[float, float]"]
"""Model -> (USD per 1M input tokens, USD per 1M output tokens)."""


class RunEnded(BaseException):
    """Raised by a run's tool once the run has ended (cancelled, timed out, or its agent returned).

    A ``BaseException`` like ``KeyboardInterrupt``, so an agent's ``except Exception`` does not
    keep an ended run going: nothing more is recorded in the run's session.
    """


class Usage(BaseModel):
    """What a run's model calls used: tokens, calls, seconds, and the cost when a price is known.

    ``cost`` is ``None`` when no ``prices`` were given, or one of the models used has none;
    ``by_model`` holds each model's ``[input tokens, output tokens, calls]`` (``"?"``: not named).

    Example:
        >>> Usage(input_tokens=1200, output_tokens=300, model_calls=2).cost is None
        True
    """

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0
    model_seconds: float = 0.0
    cost: float | None = None
    by_model: dict[str, tuple[int, int, int]] = {}

    @property
    def tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


def check_prices(prices: object) -> dict[str, tuple[float, float]] | None:
    """``prices`` as a dict of model -> (input, output) USD per 1M tokens, else ``ValueError`` saying the form.

    Example:
        >>> check_prices({"gpt-4.1": (2, 8)})
        {'gpt-4.1': (2.0, 8.0)}
    """
    if prices is None:
        return None
    form = "prices={model: (USD per 1M input tokens, USD per 1M output tokens)}"
    if not isinstance(prices, Mapping):
        raise ValueError(f"{form}, got {type(prices).__name__}")
    checked = {}
    for model, pair in prices.items():
        if not isinstance(model, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"{form}; {model!r} has {pair!r}")
        numbers = tuple(float(value) for value in pair if not isinstance(value, bool))
        if len(numbers) != 2 or not all(math.isfinite(n) and n >= 0 for n in numbers):
            raise ValueError(f"{form}; {model!r} has {pair!r}: two numbers >= 0")
        checked[model] = (numbers[0], numbers[1])
    return checked


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"record_usage: {name} must be a whole number >= 0, got {value!r}")
    return value


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
        >>> tool.record_usage(input_tokens=120, output_tokens=30, model="m")
        >>> tool.usage({"m": (1.0, 2.0)}).cost
        0.00018
        >>> tool.end()
        >>> tool.call({"thought": "Late", "thoughtNumber": 2, "totalThoughts": 2, "nextThoughtNeeded": False})
        Traceback (most recent call last):
        ...
        jupyter_think.experiments.tool.RunEnded: run exp-1 has ended; its tool records nothing more
    """

    starts_new_chains = False

    def __init__(
        self,
        manager: SessionManager,
        session_id: str,
        *,
        variant: str = "1",
        repeat: int = 1,
        prefix: Sequence[Thought] = (),
    ) -> None:
        super().__init__(manager, agent_id=session_id, session_id=session_id)
        self.run_session_id = session_id
        self.variant = variant
        self.repeat = repeat
        self.prefix: tuple[Thought, ...] = tuple(prefix)
        """The thoughts this run's session started with (a fork of another run: see ``rerun``), in order."""
        self.on_usage: Callable[[], None] | None = None
        """Called after each :meth:`record_usage` (the live grid shows the tokens)."""
        self._run_lock = threading.Lock()
        self._usage_lock = threading.Lock()
        self._ended = False
        self._by_model: dict[str, list[int]] = {}
        self._seconds = 0.0

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

    def record_usage(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        model: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """Count one model call of this run: its tokens, the model (for its price) and, when measured,
        its seconds. The SDK adapters call it for every response; call it yourself for another client.
        Ignored once the run has ended (its numbers are final)."""
        tokens_in = _count(input_tokens, "input_tokens")
        tokens_out = _count(output_tokens, "output_tokens")
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ValueError(f"record_usage: seconds must be a number >= 0, got {seconds!r}")
        with self._usage_lock:
            if self._ended:
                return
            counts = self._by_model.setdefault(model if isinstance(model, str) and model else "?", [0, 0, 0])
            counts[0] += tokens_in
            counts[1] += tokens_out
            counts[2] += 1
            self._seconds += float(seconds or 0.0)
        if self.on_usage is not None:
            self.on_usage()

    def usage(self, prices: Prices | None = None) -> Usage:
        """The run's :class:`Usage` so far, its cost from ``prices``."""
        with self._usage_lock:
            by_model = {model: (c[0], c[1], c[2]) for model, c in self._by_model.items()}
            seconds = self._seconds
        cost: float | None = None
        if prices is not None and all(model in prices for model in by_model):
            cost = math.fsum(
                (tokens_in * prices[model][0] + tokens_out * prices[model][1]) / 1e6
                for model, (tokens_in, tokens_out, _) in by_model.items()
            )
        return Usage(
            input_tokens=sum(c[0] for c in by_model.values()),
            output_tokens=sum(c[1] for c in by_model.values()),
            model_calls=sum(c[2] for c in by_model.values()),
            model_seconds=round(seconds, 6),
            cost=cost,
            by_model=by_model,
        )

    def end(self) -> None:
        """Refuse every later call and usage record (waits up to :data:`END_WAIT` s for a call in progress:
        a call hung inside the store is not waited for, and lands if it ever returns)."""
        locked = self._run_lock.acquire(timeout=END_WAIT)
        try:
            with self._usage_lock:
                self._ended = True
        finally:
            if locked:
                self._run_lock.release()

    @property
    def ended(self) -> bool:
        """True once the run has ended."""
        return self._ended

    def __repr__(self) -> str:
        return f"<RunTool {self.name!r} session {self.run_session_id!r}>"


current_run: ContextVar[RunTool | None] = ContextVar("jupyter_think_current_run", default=None)
"""The tool of the run whose agent is executing (``None`` outside an experiment's agent call)."""
