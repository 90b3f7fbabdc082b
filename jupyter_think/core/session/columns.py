"""A session's thoughts as columns: little memory per thought and nothing the garbage collector walks.

A pydantic model per thought costs a tracked object with a ``__dict__`` (over 1 KB with its values)
and makes every full collection walk them all. :class:`ThoughtColumns` keeps each field in a column
instead: the texts and ids in lists of ``str``, the numbers in ``array('q')`` (0 stands for "not
set": a number naming a thought is at least 1), the three yes/no/unset fields as bits of one byte,
the branch id as an index into the branch names, the time as whole microseconds since the epoch
(a time not in UTC is kept as given, aside). None of these holds a tracked object, so the collector
skips them. The public :class:`~jupyter_think.core.models.Thought` is built when asked for; one a
caller still holds is given again (a weak cache), so ``session.think(...) is session.thoughts[-1]``.

Example:
    >>> from jupyter_think.core.models import Thought
    >>> columns = ThoughtColumns()
    >>> thought = Thought(thought="Guess", thought_number=1, total_thoughts=2, next_thought_needed=True)
    >>> columns.append(thought)
    0
    >>> columns.model(0) is thought, columns.model(0, cache=False) == thought, columns.numbers[0]
    (True, True, 1)
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final
from weakref import WeakValueDictionary

from jupyter_think.core.models import Thought

EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND: Final = timedelta(microseconds=1)

NEXT, REVISION_SET, REVISION, MORE_SET, MORE = 1, 2, 4, 8, 16
"""The bits of a thought's flags: ``next_thought_needed``; ``is_revision`` set, and true; ``needs_more_thoughts``
set, and true (an unset one is ``None``)."""

TAIL: Final = 16
"""How many of the latest thoughts keep their model (``recent()``, ``last()``: read on every call)."""

_FIELDS: Final = frozenset(Thought.model_fields)
_new = object.__new__
_set = object.__setattr__


def flags_of(next_needed: bool, is_revision: bool | None, needs_more: bool | None) -> int:
    """The flags byte of a thought's three yes/no fields."""
    flags = NEXT if next_needed else 0
    if is_revision is not None:
        flags |= REVISION_SET | (REVISION if is_revision else 0)
    if needs_more is not None:
        flags |= MORE_SET | (MORE if needs_more else 0)
    return flags


def microseconds(at: datetime) -> int | None:
    """``at`` as microseconds since the epoch, or ``None`` when it is not in UTC (kept as given then)."""
    return (at - EPOCH) // MICROSECOND if at.utcoffset() == timedelta(0) else None


CHUNK: Final = 4096
"""How many strings :class:`Strings` keeps per tuple."""


class Strings:
    """Strings in arrival order, every full run of :data:`CHUNK` kept as a tuple.

    The collector stops tracking a tuple that holds only strings after its first collection, so a full
    collection walks a handful of tuples and the short list of the latest strings, not every string
    of the session (a list of them would make it read each one). Safe to read while one thread appends:
    a position below ``len()`` is always found.
    """

    __slots__ = ("_chunks", "_count", "_tail")

    def __init__(self) -> None:
        self._chunks: list[tuple[str, ...]] = []
        self._tail: list[str] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < self._count:
            raise IndexError(index)
        chunk, at = divmod(index, CHUNK)
        tail = self._tail  # (read before the chunks: a tail just made a chunk is found in one or the other)
        chunks = self._chunks
        return chunks[chunk][at] if chunk < len(chunks) else tail[at]

    def __setitem__(self, index: int, value: str) -> None:
        chunk, at = divmod(index, CHUNK)
        if chunk < len(self._chunks):
            items = list(self._chunks[chunk])
            items[at] = value
            self._chunks[chunk] = tuple(items)
        else:
            self._tail[at] = value

    def append(self, value: str) -> None:
        tail = self._tail
        tail.append(value)
        if len(tail) == CHUNK:
            self._chunks.append(tuple(tail))
            self._tail = []
        self._count += 1

    def extend(self, values: list[str]) -> None:
        joined = self._tail + values
        full = len(joined) // CHUNK * CHUNK
        self._chunks += [tuple(joined[start : start + CHUNK]) for start in range(0, full, CHUNK)]
        self._tail = joined[full:]
        self._count += len(values)


@dataclass(frozen=True, slots=True)
class ThoughtRows:
    """Thoughts read from a store as column values, in arrival order, validated already (what a restore
    decodes the stored rows into: no model per thought). ``flags`` are :func:`flags_of` bytes, ``revises``
    and ``forks`` 0 when unset, ``times`` microseconds since the epoch (0 for a time in ``zoned``:
    row index -> a time not in UTC, kept as given)."""

    texts: list[str]
    ids: list[str]
    numbers: list[int]
    totals: list[int]
    flags: list[int]
    revises: list[int]
    forks: list[int]
    branches: list[str | None]
    times: list[int]
    zoned: dict[int, datetime]

    def __len__(self) -> int:
        return len(self.ids)

    def part(self, start: int, stop: int) -> ThoughtRows:
        """The thoughts ``start`` to ``stop - 1`` of these."""
        return ThoughtRows(
            self.texts[start:stop],
            self.ids[start:stop],
            self.numbers[start:stop],
            self.totals[start:stop],
            self.flags[start:stop],
            self.revises[start:stop],
            self.forks[start:stop],
            self.branches[start:stop],
            self.times[start:stop],
            {index - start: at for index, at in self.zoned.items() if start <= index < stop},
        )

    def models(self) -> list[Thought]:
        """The thoughts as models (for a caller that wants them one by one)."""
        columns = ThoughtColumns()
        columns.take(self)
        return list(columns.models(range(len(columns))))

    def times_at(self) -> tuple[datetime, datetime]:
        """When the first and the latest of these thoughts were recorded (there is at least one)."""
        zoned = self.zoned
        first = zoned.get(0) or EPOCH + timedelta(microseconds=self.times[0])
        latest = EPOCH + timedelta(microseconds=max(self.times))
        return first, max(latest, *zoned.values()) if zoned else latest


class ThoughtColumns:
    """The recorded thoughts of a session in arrival order, one column per field (see the module docstring)."""

    def __init__(self) -> None:
        self.texts = Strings()
        """Each thought's current (amended) text."""
        self.ids = Strings()
        self.where: dict[str, int] = {}
        """Thought id -> its position."""
        self.numbers = array("q")
        self.totals = array("q")
        self.revises = array("q")
        self.forks = array("q")
        self.branches = array("i")
        """Index into :attr:`names` of each thought's ``branch_id`` (0: none)."""
        self.names: list[str | None] = [None]
        self._name_index: dict[str | None, int] = {None: 0}
        self.flags = array("B")
        self.times = array("q")
        """``created_at`` in microseconds since the epoch (0 when it is in :attr:`zoned`)."""
        self.zoned: dict[int, datetime] = {}
        """Position -> ``created_at`` of a thought recorded with a time not in UTC."""
        self.recorded: dict[int, str] = {}
        """Position -> the text an amended thought was recorded with."""
        self._cache: WeakValueDictionary[int, Thought] = WeakValueDictionary()
        self._tail: dict[int, Thought] = {}
        """Position -> the model of one of the latest thoughts (kept: callers read the tail again and again)."""

    def __len__(self) -> int:
        return len(self.ids)

    def name_index(self, branch_id: str | None) -> int:
        """The index of ``branch_id`` in :attr:`names` (added when new)."""
        index = self._name_index.get(branch_id)
        if index is None:
            index = self._name_index[branch_id] = len(self.names)
            self.names.append(branch_id)
        return index

    def append(self, thought: Thought) -> int:
        """Keep a recorded thought (the caller's model stays the one given back); return its position."""
        values = thought.__dict__
        position = self.add(
            values["thought"],
            values["thought_number"],
            values["total_thoughts"],
            flags_of(values["next_thought_needed"], values["is_revision"], values["needs_more_thoughts"]),
            values["revises_thought"] or 0,
            values["branch_from_thought"] or 0,
            self.name_index(values["branch_id"]),
            values["id"],
            values["created_at"],
        )
        self._cache[position] = thought
        self._keep(position, thought)
        return position

    def _keep(self, position: int, thought: Thought) -> None:
        """Keep the model of one of the latest :data:`TAIL` thoughts (older ones let go now and then)."""
        tail = self._tail
        tail[position] = thought
        if len(tail) > 2 * TAIL:
            start = len(self.ids) - TAIL
            self._tail = {at: kept for at, kept in tail.items() if at >= start}

    def add(
        self,
        text: str,
        number: int,
        total: int,
        flags: int,
        revises: int,
        fork: int,
        branch: int,
        thought_id: str,
        created_at: datetime | int,
    ) -> int:
        """Keep a thought given by its column values (``created_at`` a time, or microseconds since the epoch)."""
        position = len(self.ids)
        self.texts.append(text)
        self.numbers.append(number)
        self.totals.append(total)
        self.revises.append(revises)
        self.forks.append(fork)
        self.branches.append(branch)
        self.flags.append(flags)
        if isinstance(created_at, datetime):
            at = microseconds(created_at)
            if at is None:
                self.zoned[position] = created_at
                at = 0
            created_at = at
        self.times.append(created_at)
        self.where[thought_id] = position
        self.ids.append(thought_id)  # (last: a reader without the session's lock sees whole thoughts only)
        return position

    def take(self, rows: ThoughtRows) -> int:
        """Keep decoded thoughts (their ids new here and distinct); return the position of the first."""
        start, count = len(self.ids), len(rows)
        self.texts.extend(rows.texts)
        self.numbers.extend(rows.numbers)
        self.totals.extend(rows.totals)
        self.revises.extend(rows.revises)
        self.forks.extend(rows.forks)
        if any(rows.branches):
            self.branches.extend(map(self.name_index, rows.branches))
        else:
            self.branches.frombytes(bytes(self.branches.itemsize * count))
        self.flags.extend(rows.flags)
        self.times.extend(rows.times)
        for index, at in rows.zoned.items():
            self.zoned[start + index] = at
        self.where.update(zip(rows.ids, range(start, start + count), strict=True))
        self.ids.extend(rows.ids)  # (last, as in add)
        return start

    def lane(self, position: int) -> str | None:
        """The lane of the thought at ``position``: its branch when it joins one, else ``None`` (the trunk)."""
        return self.names[self.branches[position]] if self.forks[position] else None

    def set_text(self, position: int, text: str) -> None:
        """Show ``text`` as the thought's current text (the recorded one is kept)."""
        self.recorded.setdefault(position, self.texts[position])
        self.texts[position] = text
        self._cache.pop(position, None)
        self._tail.pop(position, None)

    def model(self, position: int, *, cache: bool = True) -> Thought:
        """The :class:`Thought` at ``position`` with its current text (the one a caller holds, if any)."""
        thought = self._tail.get(position) or self._cache.get(position)
        if thought is None:
            thought = self.build(position, self.texts[position])
            if cache:
                self._cache[position] = thought
                if position >= len(self.ids) - TAIL:
                    self._keep(position, thought)
        return thought

    def models(self, positions: Iterable[int]) -> tuple[Thought, ...]:
        """The thoughts at ``positions`` with their current text (built; the ones kept or held reused)."""
        texts, build, tail = self.texts, self.build, self._tail.get
        if not self._cache:
            return tuple([tail(position) or build(position, texts[position]) for position in positions])
        held = self._cache.get
        return tuple(
            [tail(position) or held(position) or build(position, texts[position]) for position in positions]
        )

    def as_recorded(self, position: int) -> Thought:
        """The thought at ``position`` with the text it was recorded with."""
        text = self.recorded.get(position)
        return self.model(position, cache=False) if text is None else self.build(position, text)

    def created_at(self, position: int) -> datetime:
        """When the thought at ``position`` was recorded."""
        at = self.zoned.get(position) if self.zoned else None
        return at or EPOCH + timedelta(microseconds=self.times[position])

    def build(self, position: int, text: str) -> Thought:
        """A new :class:`Thought` from the columns (the values were validated when they entered)."""
        flags = self.flags[position]
        at = self.zoned.get(position) if self.zoned else None
        thought = _new(Thought)
        _set(
            thought,
            "__dict__",
            {
                "thought": text,
                "thought_number": self.numbers[position],
                "total_thoughts": self.totals[position],
                "next_thought_needed": bool(flags & NEXT),
                "is_revision": bool(flags & REVISION) if flags & REVISION_SET else None,
                "revises_thought": self.revises[position] or None,
                "branch_from_thought": self.forks[position] or None,
                "branch_id": self.names[self.branches[position]],
                "needs_more_thoughts": bool(flags & MORE) if flags & MORE_SET else None,
                "id": self.ids[position],
                "created_at": at or EPOCH + timedelta(microseconds=self.times[position]),
            },
        )
        _set(thought, "__pydantic_fields_set__", set(_FIELDS))
        _set(thought, "__pydantic_extra__", None)
        _set(thought, "__pydantic_private__", None)
        return thought
