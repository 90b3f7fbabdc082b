"""Stored thoughts decoded straight into columns: a restore builds no model per thought.

:func:`thought_rows` takes the joined JSON of a batch of thought payloads (what
:mod:`~jupyter_think.store.codec` joins) and gives a
:class:`~jupyter_think.core.session.columns.ThoughtRows`. One pydantic call validates the batch into
plain dicts (a strict schema: the types the store writes, nothing coerced), then each column is
taken from them by C loops. It holds the payload to at least the checks a
:class:`~jupyter_think.core.models.Thought` read from JSON has (a number at least 1, a text not
blank, a valid branch id, an id of 1 to 64 characters, a time with its zone) and normalises the same
way (the total raised to the number, a revision marked as one). Anything it does not take (a numeric
string, a value of another type, a missing id) gives ``None``: the codec then validates the batch as
models, row by row when needed, and names what is wrong.

Example:
    >>> rows = thought_rows(b'[{"thought":"Keep it","thoughtNumber":2,"totalThoughts":1,'
    ...     b'"nextThoughtNeeded":false,"id":"ab12","createdAt":"2026-01-02T03:04:05Z"}]', 1)
    >>> rows.texts, rows.numbers, rows.totals, rows.flags
    (['Keep it'], [2], [2], [0])
    >>> thought_rows(b'[{"thought":"Keep it","thoughtNumber":"2"}]', 1) is None
    True
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import repeat
from operator import floordiv, itemgetter, methodcaller, sub
from typing import Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel
from typing_extensions import NotRequired, TypedDict

from jupyter_think.core.ids import is_valid_id
from jupyter_think.core.session.columns import EPOCH, MICROSECOND, flags_of
from jupyter_think.core.session.columns import ThoughtRows as ThoughtRows

_Number = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _Row(TypedDict):
    """A stored thought as the store writes it (wire names; unset optional fields left out)."""

    __pydantic_config__ = ConfigDict(  # type: ignore[misc]
        alias_generator=to_camel, populate_by_name=True, strict=True, defer_build=True
    )
    thought: Annotated[str, Field(pattern=r"\S")]  # (not blank: a character that is not whitespace)
    thought_number: _Number
    total_thoughts: _Number
    next_thought_needed: bool
    is_revision: NotRequired[bool | None]
    revises_thought: NotRequired[_Number | None]
    branch_from_thought: NotRequired[_Number | None]
    branch_id: NotRequired[str | None]
    needs_more_thoughts: NotRequired[bool | None]
    id: Annotated[str, Field(min_length=1, max_length=64)]
    created_at: AwareDatetime


_rows: TypeAdapter[list[_Row]] = TypeAdapter(list[_Row], config=ConfigDict(defer_build=True))
_ZERO = timedelta(0)
_text, _number, _total, _next = (
    itemgetter("thought"),
    itemgetter("thought_number"),
    itemgetter("total_thoughts"),
    itemgetter("next_thought_needed"),
)
_id, _at = itemgetter("id"), itemgetter("created_at")
_optional = {
    name: methodcaller("get", name)
    for name in ("is_revision", "revises_thought", "branch_from_thought", "branch_id", "needs_more_thoughts")
}


def thought_rows(joined: bytes, count: int) -> ThoughtRows | None:
    """The thoughts of ``joined`` (a JSON array of ``count`` stored thoughts) as columns, or ``None``
    when some item is not a thought as the store writes it (see the module docstring)."""
    try:
        items: list[Any] = _rows.validate_json(joined)
    except (ValidationError, ValueError, RecursionError):
        return None
    if len(items) != count:
        return None
    branches: list[str | None] = list(map(_optional["branch_id"], items))
    if not all(map(is_valid_id, set(branches) - {None})):
        return None
    numbers = list(map(_number, items))
    revises = list(map(_optional["revises_thought"], items))
    times: list[datetime] = list(map(_at, items))
    zoned: dict[int, datetime] = {}
    if set(map(methodcaller("utcoffset"), times)) != {_ZERO}:
        zoned = {index: at for index, at in enumerate(times) if at.utcoffset() != _ZERO}
        times = [EPOCH if index in zoned else at for index, at in enumerate(times)]
    return ThoughtRows(
        texts=list(map(_text, items)),
        ids=list(map(_id, items)),
        numbers=numbers,
        totals=list(map(max, map(_total, items), numbers)),  # (an estimate below the number is raised to it)
        flags=list(
            map(
                _flags,
                map(_next, items),
                map(_optional["is_revision"], items),
                map(_optional["needs_more_thoughts"], items),
                revises,
            )
        ),
        revises=[number or 0 for number in revises],
        forks=[number or 0 for number in map(_optional["branch_from_thought"], items)],
        branches=branches,
        times=list(map(floordiv, map(sub, times, repeat(EPOCH)), repeat(MICROSECOND))),
        zoned=zoned,
    )


def _flags(next_needed: bool, is_revision: bool | None, needs_more: bool | None, revises: int | None) -> int:
    """The flags byte of a stored thought (a thought revising another is a revision, as the model says)."""
    if revises is not None and not is_revision:
        is_revision = True
    return flags_of(next_needed, is_revision, needs_more)
