"""Stored experiments: a table of experiments and a table of their runs, beside the sessions, on every engine.

A store *has* an :class:`ExperimentTable` (``store.experiments``); each engine implements it in its
own SQL (:mod:`.sqlite.experiments`, :mod:`.postgres.experiments`) and both pass one conformance
suite. The table knows nothing of agents or scores: an experiment is its name, a JSON payload (its
settings) and its runs, each a few columns to query (run number, session id, variant, repeat,
status) and a JSON payload (:mod:`jupyter_think.experiments.stored` writes and reads those).

Names follow the session id rule. Saving an experiment replaces one of the same name (of the same
owner) in one transaction. On a PostgreSQL store shared by a class every row has an ``owner`` set
by the database; a role sees its own experiments and a teacher reads every experiment of the class
(``OWNER/NAME``), as for sessions.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from jupyter_think.core.ids import ID_RULE, validate_id, validate_ref

RUN_STATUSES = ("pending", "running", "ok", "error", "timeout", "cancelled")
PAYLOAD_LIMIT = 10_000_000
"""Characters of one JSON payload (an experiment's settings, or one run) a store takes."""


@dataclass(frozen=True)
class StoredRun:
    """One run of a stored experiment: what is queried as columns, and the rest as JSON."""

    run: int
    session_id: str
    variant: str
    repeat: int
    status: str
    payload: str = "{}"

    def check(self) -> StoredRun:
        """This run when every value fits both engines, else ``ValueError`` naming the field."""
        from jupyter_think.core.limits import MAX_NUMBER  # (here: listing sessions needs no pydantic)

        for name in ("run", "repeat"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
                raise ValueError(f"a stored run's {name} must be a whole number from 1 to {MAX_NUMBER}")
        validate_id(self.session_id, "session")
        validate_id(self.variant, "variant")
        if self.status not in RUN_STATUSES:
            raise ValueError(
                f"a stored run's status is one of {', '.join(RUN_STATUSES)}, not {self.status!r}"
            )
        check_payload(self.payload)
        return self


@dataclass(frozen=True)
class StoredExperiment:
    """An experiment as a store keeps it (``ref``: how this role names it, ``OWNER/NAME`` when another's)."""

    name: str
    owner: str
    created_at: datetime
    payload: str
    runs: tuple[StoredRun, ...] = ()
    ref: str = ""

    def __post_init__(self) -> None:
        if not self.ref:
            object.__setattr__(self, "ref", self.name)


@dataclass(frozen=True)
class ExperimentSummary:
    """One line of ``jupyter-think runs``: an experiment, its owner, when, and its runs by status."""

    name: str
    owner: str
    created_at: datetime
    runs: int
    statuses: dict[str, int] = field(default_factory=dict)
    ref: str = ""

    def __post_init__(self) -> None:
        if not self.ref:
            object.__setattr__(self, "ref", self.name)


def check_payload(payload: str) -> str:
    """``payload`` when it is JSON text without NUL (both engines keep it exactly), else ``ValueError``."""
    if not isinstance(payload, str) or len(payload) > PAYLOAD_LIMIT:
        raise ValueError(f"a stored payload is JSON text of at most {PAYLOAD_LIMIT} characters")
    if "\x00" in payload or not payload.isascii():
        raise ValueError("a stored payload is ASCII JSON text (json.dumps with ensure_ascii)")
    json.loads(payload)
    return payload


class ExperimentTable(ABC):
    """The experiments of one store (``store.experiments``). Thread-safe; each method is one transaction;
    errors are :class:`~jupyter_think.store.base.StoreError`."""

    @abstractmethod
    def save(self, name: str, payload: str, runs: Sequence[StoredRun]) -> None:
        """Store experiment ``name`` with its runs, replacing one of that name (and its runs)."""

    @abstractmethod
    def load(self, name: str) -> StoredExperiment | None:
        """Experiment ``name`` (yours; ``OWNER/NAME`` another's you may read) with its runs by number."""

    @abstractmethod
    def list(self) -> list[ExperimentSummary]:
        """The experiments this role can read, its own first, by name."""

    @abstractmethod
    def holding(self, session_ids: Collection[str]) -> dict[str, str]:
        """Which of your experiments holds each of ``session_ids`` as a run's session (id -> name)."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Forget experiment ``name`` (its sessions stay); True when there was one."""

    @staticmethod
    def checked(name: str, payload: str, runs: Sequence[StoredRun]) -> builtins.list[StoredRun]:
        """The runs of :meth:`save` checked before the engine is touched (``ValueError`` naming what)."""
        validate_id(name, "experiment")
        check_payload(payload)
        numbers = [run.check().run for run in runs]
        if len(set(numbers)) != len(numbers):
            raise ValueError("each run of an experiment has its own number")
        return list(runs)

    @staticmethod
    def checked_ref(name: str) -> str:
        """``name`` when it names an experiment (``NAME`` or ``OWNER/NAME``), else ``ValueError``."""
        try:
            return validate_ref(name)
        except ValueError:
            shown = repr(name) if not isinstance(name, str) or len(name) <= 40 else repr(name[:40] + "...")
            raise ValueError(
                f"invalid experiment name {shown}: use {ID_RULE}; another user's experiment is OWNER/NAME"
            ) from None
