"""The plan of an experiment: its variants, and one :class:`RunSpec` per (variant, repeat) with its session id.

``configs`` is a list (variants ``"1"``, ``"2"``, … by position) or a dict ``{variant: config}``.
Session ids are ``<name>-<k>`` for a list run once (``repeat=1``), else ``<name>-<variant>-<r>``;
every name and id follows the session id rule, and is checked before any session is touched. The
same cell always gives the same ids.

Example:
    >>> [spec.session_id for spec in plan_runs("coins", {"terse": "t", "careful": "c"}, 2)[1]]
    ['coins-terse-1', 'coins-terse-2', 'coins-careful-1', 'coins-careful-2']
    >>> [spec.session_id for spec in plan_runs("coins", ["a", "b"], 1)[1]]
    ['coins-1', 'coins-2']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_think.core.ids import ID_RULE, validate_id
from jupyter_think.experiments.results import Fork

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought

MAX_REPEAT = 100_000
MAX_CONCURRENCY = 10_000


@dataclass(frozen=True)
class RunSpec:
    """One run to make: its number (from 1), variant, repeat, config and session; a fork's starting thoughts."""

    number: int
    variant: str
    repeat: int
    config: Any
    session_id: str
    prefix: tuple[Thought, ...] = ()
    fork: Fork | None = None


def whole(value: object, name: str, low: int = 1, high: int = MAX_REPEAT) -> int:
    """``value`` when it is a whole number from ``low`` to ``high`` (never a boolean), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def variants_of(configs: object) -> dict[str, Any]:
    """``{variant: config}`` from a list (named ``"1"``, ``"2"``, …) or a dict (names checked)."""
    if isinstance(configs, Mapping):
        variants = {}
        for variant, config in configs.items():
            if not isinstance(variant, str) or variant != variant.strip():
                raise ValueError(f"a variant's name is text ({ID_RULE}), got {variant!r}")
            variants[validate_id(variant, "variant")] = config
        return variants
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Iterable):
        raise TypeError(
            "configs must be a list (one config per variant) or a dict {variant: config}; wrap a single "
            f"config in a list, got {type(configs).__name__}"
        )
    return {str(number): config for number, config in enumerate(configs, start=1)}


def plan_runs(name: str, configs: object, repeat: int) -> tuple[dict[str, Any], list[RunSpec]]:
    """(variants, the runs): every run of every variant, variant by variant, repeats in order."""
    validate_id(name, "experiment")
    whole(repeat, "repeat")
    variants = variants_of(configs)
    plain = not isinstance(configs, Mapping) and repeat == 1
    specs: list[RunSpec] = []
    for variant, config in variants.items():
        for r in range(1, repeat + 1):
            session_id = f"{name}-{variant}" if plain else f"{name}-{variant}-{r}"
            specs.append(RunSpec(len(specs) + 1, variant, r, config, session_id))
    check_ids(name, [spec.session_id for spec in specs])
    return variants, specs


def check_ids(name: str, session_ids: Sequence[str]) -> None:
    """Every run's session id valid (at most 128 characters) and its own, else ``ValueError`` saying what to shorten."""
    for session_id in session_ids:
        if len(session_id) > 128:
            raise ValueError(
                f"experiment {name!r}: a run's session id would be {session_id[:40]}… ({len(session_id)} characters, "
                "at most 128); pick a shorter name or shorter variant names"
            )
        validate_id(session_id, "session")
    if len(set(session_ids)) != len(session_ids):
        raise ValueError(f"experiment {name!r}: two runs would share a session id; rename a variant")


def fork_runs(
    source: str, from_thought: int, variant: str, config: Any, prefix: Sequence[Thought], repeat: int
) -> list[RunSpec]:
    """The runs of a fork of session ``source`` at ``from_thought``: ``<source>-from<N>-<r>``."""
    whole(repeat, "repeat")
    fork = Fork(source, from_thought)
    specs = [
        RunSpec(r, variant, r, config, f"{source}-from{from_thought}-{r}", tuple(prefix), fork)
        for r in range(1, repeat + 1)
    ]
    check_ids(f"{source}-from{from_thought}", [spec.session_id for spec in specs])
    return specs


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as seconds (``None``: no timeout), else ``ValueError`` saying what it takes."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 1e9:
        raise ValueError(f"timeout must be a number of seconds > 0, or None, got {timeout!r}")
    return float(timeout)
