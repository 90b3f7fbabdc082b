"""Content refusals: telling a change the store will never take from a store that is down, and
finding, in a run of changes the store refused as one transaction, the first one it refuses.

A store says a change's content is refused with ``errno.EINVAL`` (a constraint or a trigger, an
integer past 64 bits, a NUL on PostgreSQL, a value too big), and a change into another user's
session this role may not change with ``NotWritable``: retrying cannot help, so the change is set
aside instead. Everything else (down, full, read-only, busy, a lost connection) is retried.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import TypeVar

from jupyter_think.core.models import Change, ThoughtAdded
from jupyter_think.store.base import NotWritable

T = TypeVar("T")


def as_store_error(exc: BaseException) -> OSError:
    """``exc`` as an ``OSError``: a store's own, ``EINVAL`` for a value no engine could take (a
    ``ValueError`` or ``OverflowError`` raised while binding it), ``EIO`` naming anything else.

    Example:
        >>> as_store_error(OverflowError("int too large")).errno == errno.EINVAL
        True
    """
    if isinstance(exc, OSError):
        return exc
    code = errno.EINVAL if isinstance(exc, (ValueError, OverflowError)) else errno.EIO
    return OSError(code, f"{type(exc).__name__}: {exc}")


def refused_for_content(exc: BaseException) -> bool:
    """True when the store refused what a change holds (it would refuse it again), or where it goes:
    another user's session this role may not change (:class:`~jupyter_think.store.base.NotWritable`,
    e.g. a share taken back while the session was open here), which holds back no other session.

    Example:
        >>> refused_for_content(OSError(errno.EINVAL, "bigint out of range"))
        True
        >>> refused_for_content(OSError(errno.ENOSPC, "No space left on device"))
        False
    """
    error = as_store_error(exc)
    return error.errno == errno.EINVAL or isinstance(error, NotWritable)


def commit_longest_prefix(
    items: Sequence[T], commit: Callable[[Sequence[T]], None], refusal: OSError
) -> tuple[int, OSError] | None:
    """Commit the longest prefix of ``items`` that the store takes, a few transactions at a time.

    ``items`` were refused as one transaction (``refusal``). Halves are tried in order: a half that
    goes in is committed; a half that is refused is halved again. Returns the index of the first
    change refused on its own with its refusal (``items[:index]`` are committed), or ``None`` when
    everything went in after all. Raises what ``commit`` raises for any other reason (a store that
    went down meanwhile): what was committed before stays committed.

    Example:
        >>> stored = []
        >>> def commit(run):
        ...     if "bad" in run:
        ...         raise OSError(errno.EINVAL, "refused")
        ...     stored.extend(run)
        >>> commit_longest_prefix(["a", "b", "bad", "c"], commit, OSError(errno.EINVAL, "refused"))[0], stored
        (2, ['a', 'b'])
    """
    lo, hi = 0, len(items)  # items[:lo] are committed; items[lo:hi] were refused as one transaction
    while True:
        if hi - lo <= 1:
            return lo, refusal
        middle = (lo + hi) // 2
        try:
            commit(items[lo:middle])
        except Exception as exc:
            if not refused_for_content(exc):
                raise
            hi, refusal = middle, as_store_error(exc)
            continue
        lo = middle
        try:  # the rest of the refused run, on its own (it goes in when the refusal needed both halves)
            commit(items[lo:hi])
        except Exception as exc:
            if not refused_for_content(exc):
                raise
            refusal = as_store_error(exc)
            continue
        lo = hi
        if lo == len(items):
            return None
        hi = len(items)
        try:
            commit(items[lo:hi])
        except Exception as exc:
            if not refused_for_content(exc):
                raise
            refusal = as_store_error(exc)
            continue
        return None


def describe(change: Change) -> str:
    """A change in words, for messages: its kind and the thought it is about.

    Example:
        >>> from jupyter_think.core.models import Thought
        >>> thought = Thought(thought="x", thought_number=3, total_thoughts=3, next_thought_needed=False)
        >>> describe(ThoughtAdded(thought=thought))
        'a thought, number 3'
    """
    if isinstance(change, ThoughtAdded):
        return f"a thought, number {change.thought.thought_number}"
    number = getattr(change, "thought_number", None)
    words = {
        "amend": "an amendment",
        "retract": "a retraction",
        "branch": "a branch",
        "activate": "a branch switch",
        "decide": "a decision",
        "merge": "a merge",
        "reset": "a fresh start",
    }.get(change.kind, f"a {change.kind!r} change")
    return f"{words} of thought {number}" if number is not None else words
