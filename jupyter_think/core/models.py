"""Pydantic models at the edges: a thought, a session record and the changes that build a session.

A thought travels under its wire names (``thoughtNumber``, ``branchId``, ...), the names of the
MCP sequential-thinking tool; Python code uses the snake_case field names. Every recorded thought
carries a unique ``id`` and a UTC ``created_at`` (metadata, never shown in ``text/plain``).

A session is built by an ordered list of *changes* (a thought recorded, a branch created, the
active branch switched, the session reset, and the teaching changes: a thought amended or
retracted, a branch chosen or abandoned, a branch merged back). The same change objects are what
subscribers (the persistence loop, the widget) receive, and what the store holds, so replaying the
changes of a session rebuilds it exactly. History is append-only: an amendment or a retraction is
a new change naming a thought by its stable ``id``; the thought as recorded is never rewritten.

Values are checked where they enter, against what both store engines keep: every number naming a
thought is a whole number from 1 to ``MAX_NUMBER`` (never a boolean), every free text is capped and
holds neither NUL nor a lone surrogate (the bounds and checks are in :mod:`jupyter_think.core.limits`),
and every time carries its time zone. The range and text checks apply to
values given as Python objects (the Python API, the agent tool, MCP and the magics all build the
models that way); a change read back from JSON (the store, ``Session.from_json``) is taken as it was
written, so what an earlier version stored still loads (a number above what the engines keep, 2**63 - 1,
is damage: the store skips that change and says so).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from functools import partial
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from jupyter_think.core.ids import ID_PATTERN, ID_RULE, is_valid_id, validate_ref
from jupyter_think.core.limits import (
    MAX_NOTE_CHARS as MAX_NOTE_CHARS,
)  # re-exported: the bounds are the models' rules
from jupyter_think.core.limits import MAX_NUMBER as MAX_NUMBER
from jupyter_think.core.limits import MAX_TEXT_CHARS as MAX_TEXT_CHARS
from jupyter_think.core.limits import NUMBER_RULE as NUMBER_RULE
from jupyter_think.core.limits import Note, ThoughtId, ThoughtNumber, ThoughtText
from jupyter_think.core.limits import number_problem as number_problem
from jupyter_think.core.limits import text_problem as text_problem

FORMAT_VERSION: Final = 1
"""Version of every JSON document this package writes (session records, journal entries)."""


def utc_now() -> datetime:
    """The current time in UTC (the only clock the models use)."""
    return datetime.now(timezone.utc)


_utc_clock = partial(datetime.now, timezone.utc)
""":func:`utc_now` without a Python frame: the default of every recorded thought's ``created_at``."""


def new_thought_id() -> str:
    """A unique id for a recorded thought: 128 random bits as 32 hex digits."""
    return os.urandom(16).hex()


class _WireModel(BaseModel):
    """Base: camelCase wire names, snake_case attributes, both accepted on input."""

    # defer_build: the validators are built on first use, so ``import jupyter_think`` stays cheap
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)


def _check_branch_id(value: str | None) -> str | None:
    if value is not None and not is_valid_id(value):
        raise ValueError(f"must be a branch id: {ID_RULE}")
    return value


class ThoughtInput(_WireModel):
    """One thought as given by a person or an agent, before it is recorded.

    ``total_thoughts`` lower than ``thought_number`` is raised to it (never an error), and
    ``revises_thought`` implies ``is_revision``.

    Example:
        >>> ThoughtInput(thought="Split the problem", thought_number=3, total_thoughts=2,
        ...              next_thought_needed=True).total_thoughts
        3
    """

    # The descriptions are the agent tool's: its JSON Schema is derived from this model.
    thought: Annotated[ThoughtText, Field(description="Your current thinking step")]
    thought_number: Annotated[ThoughtNumber, Field(description="Current thought number (1, 2, 3, ...)")]
    total_thoughts: Annotated[
        ThoughtNumber, Field(description="Estimated total thoughts needed (can change)")
    ]
    next_thought_needed: Annotated[bool, Field(description="Whether another thought step is needed")]
    is_revision: bool | None = Field(None, description="Whether this revises earlier thinking")
    revises_thought: ThoughtNumber | None = Field(
        None, description="Which thought number is being reconsidered (its latest thought, if repeated)"
    )
    branch_from_thought: ThoughtNumber | None = Field(
        None, description="Thought number this branch forks from (its latest thought, if repeated)"
    )
    branch_id: Annotated[str, Field(json_schema_extra={"pattern": f"^{ID_PATTERN.pattern}$"})] | None = Field(
        None, description="Branch identifier"
    )
    needs_more_thoughts: bool | None = Field(None, description="More thoughts are needed past the estimate")

    _check_branch = field_validator("branch_id")(_check_branch_id)

    @model_validator(mode="after")
    def _normalise(self) -> ThoughtInput:
        if self.total_thoughts < self.thought_number:
            object.__setattr__(self, "total_thoughts", self.thought_number)
        if self.revises_thought is not None and not self.is_revision:
            object.__setattr__(self, "is_revision", True)
        return self

    @property
    def joins_branch(self) -> bool:
        """True when this thought belongs to ``branches[branch_id]`` (both branch fields set)."""
        return self.branch_id is not None and self.branch_from_thought is not None


class Thought(ThoughtInput):
    """A recorded thought: the input plus a unique ``id`` and the UTC ``created_at``."""

    id: ThoughtId = Field(default_factory=new_thought_id)
    created_at: AwareDatetime = Field(default_factory=_utc_clock)


class BranchInfo(_WireModel):
    """Where a branch forks from the trunk (or from another branch's numbering)."""

    from_thought: ThoughtNumber
    created_at: AwareDatetime = Field(default_factory=utc_now)


class SessionRecord(_WireModel):
    """Everything needed to rebuild a session: the document ``Session.to_json()`` writes.

    ``thoughts`` are the thoughts as recorded (in arrival order); ``changes`` the other changes in
    order with their place among the thoughts, so the record rebuilds the session's whole timeline.
    """

    format_version: Literal[1] = FORMAT_VERSION
    id: str
    created_at: AwareDatetime
    last_activity: AwareDatetime
    active_branch: str | None = None
    thoughts: list[Thought] = Field(default_factory=list)
    branches: dict[str, BranchInfo] = Field(default_factory=dict)
    changes: list[PlacedChange] = Field(default_factory=list)
    """Every other change since the session (re)started, in order, each placed among the thoughts:
    branches created, switches, amendments, retractions, decisions, merges. The thoughts keep the
    text they were recorded with; amendments carry the later texts (nothing is rewritten)."""

    @field_validator("id")
    @classmethod
    def _valid_session_id(cls, value: str) -> str:
        try:
            return validate_ref(value)  # an id, or OWNER/ID (another user's session on a class store)
        except ValueError:
            raise ValueError(f"must be a session id: {ID_RULE}") from None

    _check_branch = field_validator("active_branch")(_check_branch_id)

    @field_validator("branches")
    @classmethod
    def _valid_branch_ids(cls, value: dict[str, BranchInfo]) -> dict[str, BranchInfo]:
        for branch_id in value:
            _check_branch_id(branch_id)
        return value


# --- changes -------------------------------------------------------------------------------


class ThoughtAdded(_WireModel):
    """A thought was recorded (in the trunk, or in ``branches[branch_id]`` when it joins one)."""

    kind: Literal["thought"] = "thought"
    thought: Thought


class BranchCreated(_WireModel):
    """A branch was created, forking at ``from_thought``."""

    kind: Literal["branch"] = "branch"
    branch_id: str
    from_thought: ThoughtNumber
    created_at: AwareDatetime = Field(default_factory=utc_now)

    _check_branch = field_validator("branch_id")(_check_branch_id)


class BranchActivated(_WireModel):
    """The active branch changed (``None`` is the trunk)."""

    kind: Literal["activate"] = "activate"
    branch_id: str | None
    at: AwareDatetime = Field(default_factory=utc_now)

    _check_branch = field_validator("branch_id")(_check_branch_id)


class SessionReset(_WireModel):
    """The session was started anew (``%%session ID --new``); earlier content was archived."""

    kind: Literal["reset"] = "reset"
    at: AwareDatetime = Field(default_factory=utc_now)


Outcome = Literal["chosen", "abandoned"]
"""How a branch ended: ``chosen`` (on the path to the conclusion) or ``abandoned`` (a dead end)."""

OUTCOMES: tuple[Outcome, ...] = ("chosen", "abandoned")


class ThoughtAmended(_WireModel):
    """A thought's text was corrected (a typo, not a change of mind: that is a revision).

    The thought keeps its id, number and place; its earlier texts stay in the history (the
    recorded thought, then each earlier amendment). ``thought_number`` is the thought's number,
    for people reading the history and for the store's search index.

    Example:
        >>> ThoughtAmended(thought_id="ab12", thought_number=3, text="2**7 - 1 = 127").kind
        'amend'
    """

    kind: Literal["amend"] = "amend"
    thought_id: ThoughtId
    thought_number: ThoughtNumber
    text: ThoughtText
    at: AwareDatetime = Field(default_factory=utc_now)


class ThoughtRetracted(_WireModel):
    """A thought was withdrawn: it stays in the history, marked, and no longer counts."""

    kind: Literal["retract"] = "retract"
    thought_id: ThoughtId
    thought_number: ThoughtNumber
    at: AwareDatetime = Field(default_factory=utc_now)


class BranchDecided(_WireModel):
    """A branch was chosen or abandoned, with an optional note saying why (the latest decision wins)."""

    kind: Literal["decide"] = "decide"
    branch_id: str
    outcome: Outcome
    note: Note | None = None
    at: AwareDatetime = Field(default_factory=utc_now)

    _check_branch = field_validator("branch_id")(_check_branch_id)


class BranchMerged(_WireModel):
    """Branch ``branch_id`` was merged back into ``into`` (``None``: the trunk), which became active.

    The target continues from the branch's last counted thought (``thought_id``, number
    ``thought_number``): its next thought follows that one and is numbered after it.
    """

    kind: Literal["merge"] = "merge"
    branch_id: str
    into: str | None
    thought_id: ThoughtId
    thought_number: ThoughtNumber
    at: AwareDatetime = Field(default_factory=utc_now)

    _check_branch = field_validator("branch_id", "into")(_check_branch_id)

    @field_validator("into", mode="before")
    @classmethod
    def _trunk_is_none(cls, value: object) -> object:
        return None if value == "main" else value


TeachingChange = ThoughtAmended | ThoughtRetracted | BranchDecided | BranchMerged
"""The changes a teacher makes to a session's history (never the agent tool)."""

Change = Annotated[
    ThoughtAdded | BranchCreated | BranchActivated | SessionReset | TeachingChange,
    Field(discriminator="kind"),
]
"""One change to a session; what subscribers receive and what the store keeps."""

change_adapter: TypeAdapter[Change] = TypeAdapter(Change, config=ConfigDict(defer_build=True))
"""Validates and serialises a :data:`Change` (``change_adapter.validate_json(line)``)."""

PlacedKind = Annotated[
    BranchCreated | BranchActivated | TeachingChange,
    Field(discriminator="kind"),
]


class PlacedChange(_WireModel):
    """A change other than a thought, in a :class:`SessionRecord`: ``after`` = how many thoughts
    were recorded before it (its place in the session's timeline)."""

    after: Annotated[int, Field(ge=0)]
    change: PlacedKind


SessionRecord.model_rebuild()
