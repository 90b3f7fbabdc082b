"""Stored thoughts decoded straight into columns: a restore builds no model per thought.

:func:`thought_rows` takes the joined JSON of a batch of thought payloads (what
:mod:`~jupyter_think.store.codec` joins) and gives a
:class:`~jupyter_think.core.session.columns.ThoughtRows`: ``json.loads`` of the batch, then each column
taken and checked by C loops (``map`` over the items; no Python code per thought). It holds the payload
to the checks a :class:`~jupyter_think.core.models.Thought` read from JSON has (a number a whole
number of at least 1, never a boolean; a text not blank; a valid branch id; an id of 1 to 64
characters; a time with its zone) and normalises the same way (the total raised to the number, a
revision marked as one), but takes only the form the store writes: anything else (a numeric string, a
float, a missing field, a time in another notation) gives ``None``, and the codec then validates the
batch as models, row by row when needed, naming what is wrong.

Example:
    >>> rows = thought_rows(b'[{"thought":"Keep it","thoughtNumber":2,"totalThoughts":1,'
    ...     b'"nextThoughtNeeded":false,"id":"ab12","createdAt":"2026-01-02T03:04:05Z"}]', 1)
    >>> rows.texts, rows.numbers, rows.totals, rows.flags
    (['Keep it'], [2], [2], [0])
    >>> thought_rows(b'[{"thought":"Keep it","thoughtNumber":"2"}]', 1) is None
    True
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from itertools import repeat
from operator import attrgetter, floordiv, itemgetter, methodcaller, sub
from typing import Any

from jupyter_think.core.ids import is_valid_id
from jupyter_think.core.limits import LARGEST_STORED
from jupyter_think.core.session.columns import EPOCH, MICROSECOND, flags_of
from jupyter_think.core.session.columns import ThoughtRows as ThoughtRows

_ZERO = timedelta(0)
_NONE = type(None)
_REQUIRED = 6
"""The fields every stored thought has: thought, thoughtNumber, totalThoughts, nextThoughtNeeded, id, createdAt."""
_zone = attrgetter("tzinfo")
_text, _number, _total, _next, _id, _at = map(
    itemgetter, ("thought", "thoughtNumber", "totalThoughts", "nextThoughtNeeded", "id", "createdAt")
)
_is_revision, _revises, _fork, _branch, _more = (
    methodcaller("get", name)
    for name in ("isRevision", "revisesThought", "branchFromThought", "branchId", "needsMoreThoughts")
)


def thought_rows(joined: bytes, count: int) -> ThoughtRows | None:
    """The thoughts of ``joined`` (a JSON array of ``count`` stored thoughts) as columns, or ``None``
    when some item is not a thought as the store writes it (see the module docstring)."""
    try:
        items: list[Any] = json.loads(joined)
        if type(items) is not list or len(items) != count or not items:
            return None
        return _columns(items)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None  # (not JSON, an item that is no object, a field missing or of another type)


def _columns(items: list[Any]) -> ThoughtRows | None:
    texts: list[str] = list(map(_text, items))
    if _types(texts) != {str} or "" in texts or any(map(str.isspace, texts)):
        return None
    count = len(items)
    # (no optional field in any item: each holds just the six fields every thought has, as the store writes it)
    bare = set(map(len, items)) == {_REQUIRED}
    nothing: list[Any] = [None] * count
    numbers: list[int] = list(map(_number, items))
    totals: list[int] = list(map(_total, items))
    revises: list[int | None] = nothing if bare else list(map(_revises, items))
    forks: list[int | None] = nothing if bare else list(map(_fork, items))
    if not (_numbers(numbers) and _numbers(totals) and _numbers(revises, True) and _numbers(forks, True)):
        return None
    nexts: list[bool] = list(map(_next, items))
    is_revision: list[bool | None] = nothing if bare else list(map(_is_revision, items))
    more: list[bool | None] = nothing if bare else list(map(_more, items))
    if (
        _types(nexts) != {bool}
        or not _types(is_revision) <= {bool, _NONE}
        or not _types(more) <= {bool, _NONE}
    ):
        return None
    branches: list[str | None] = nothing if bare else list(map(_branch, items))
    if branches.count(None) != len(branches) and not (
        _types(branches) <= {str, _NONE} and all(map(is_valid_id, set(branches) - {None}))
    ):
        return None
    ids: list[str] = list(map(_id, items))
    if _types(ids) != {str} or min(map(len, ids)) < 1 or max(map(len, ids)) > 64:
        return None
    times, zoned = _times(list(map(_at, items)))
    if times is None:
        return None
    return ThoughtRows(
        texts=texts,
        ids=ids,
        numbers=numbers,
        totals=list(map(max, totals, numbers)),  # (an estimate below the number is raised to it)
        flags=(
            list(map(int, nexts))  # (NEXT is 1: the common case, no other flag set)
            if is_revision.count(None) == more.count(None) == revises.count(None) == len(nexts)
            else list(map(_flags, nexts, is_revision, more, revises))
        ),
        revises=_or_zero(revises),
        forks=_or_zero(forks),
        branches=branches,
        times=times,
        zoned=zoned,
    )


def _or_zero(numbers: list[int | None]) -> list[int]:
    """The numbers with 0 for ``None`` (a number column's "not set")."""
    if numbers.count(None) == len(numbers):
        return [0] * len(numbers)
    return [number or 0 for number in numbers]


def _types(values: list[Any]) -> set[type]:
    return set(map(type, values))


def _optional_bools(values: list[Any]) -> bool:
    """True when every value is ``true``, ``false`` or ``null``."""
    return values.count(None) == len(values) or _types(values) <= {bool, _NONE}


def _numbers(values: list[Any], optional: bool = False) -> bool:
    """True when every value is a whole number the store keeps (at least 1), or ``None`` if ``optional``."""
    if optional and values.count(None) == len(values):
        return True  # (the common case: none set)
    kinds = _types(values)
    if optional and _NONE in kinds:
        kinds.discard(_NONE)
        values = [value for value in values if value is not None]
    return not kinds or (kinds == {int} and min(values) >= 1 and max(values) <= LARGEST_STORED)


def _times(stamps: list[Any]) -> tuple[list[int] | None, dict[int, datetime]]:
    """(microseconds since the epoch of each time, index -> a time not in UTC kept as given), or
    ``(None, {})`` when some stamp is not an ISO 8601 time with its zone."""
    if _types(stamps) != {str}:
        return None, {}
    times: list[datetime] = list(map(datetime.fromisoformat, stamps))
    zoned: dict[int, datetime] = {}
    if set(map(_zone, times)) != {timezone.utc}:  # (each "Z" time is in timezone.utc: the common case)
        offsets = set(map(methodcaller("utcoffset"), times))
        if None in offsets:
            return None, {}  # (a time without its zone)
        zoned = {index: at for index, at in enumerate(times) if at.utcoffset() != _ZERO}
        times = [EPOCH if index in zoned else at for index, at in enumerate(times)]
    return list(map(floordiv, map(sub, times, repeat(EPOCH)), repeat(MICROSECOND))), zoned


def _flags(next_needed: bool, is_revision: bool | None, needs_more: bool | None, revises: int | None) -> int:
    """The flags byte of a stored thought (a thought revising another is a revision, as the model says)."""
    if revises is not None and not is_revision:
        is_revision = True
    return flags_of(next_needed, is_revision, needs_more)
