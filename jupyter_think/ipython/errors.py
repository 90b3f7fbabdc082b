"""How the magics word a mistake: one-line ``UsageError``s in magic syntax.

The session raises typed errors carrying the data (:mod:`jupyter_think.core.errors`); here they are
worded for a person typing magics (``-n 1``, ``%branch alt --from N``). Any other ``ValueError``
(an invalid id, a bad option) keeps its own message, put on one line.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from IPython.core.error import UsageError

from jupyter_think.core.errors import (
    BadOutcome,
    BranchForksElsewhere,
    BranchNeedsId,
    InvalidValue,
    MergeIntoItself,
    NoSuchThought,
    NothingToMerge,
    NumberTaken,
    SessionFull,
    ThinkError,
    ThoughtIsRetracted,
    ThoughtTooLong,
    TrunkCannot,
    TrunkHasNoFork,
    UnknownBranch,
    describe_numbers,
    lane_name,
)
from jupyter_think.core.ids import TRUNK

_OPTION_NAMES = {
    "thought": "the text",
    "text": "the text",
    "thought_number": "-n",
    "number": "-n",
    "total_thoughts": "-t",
    "total": "-t",
    "revises_thought": "-r",
    "revises": "-r",
    "branch_from_thought": "--from",
    "branch_from": "--from",
    "from_thought": "--from",
    "note": "--note",
}
"""How the magics name a value the session refuses (the model's fields and the API's arguments)."""


def one_line(message: object) -> str:
    """A message on one line (UsageError shows it as ``UsageError: <line>``)."""
    return " ".join(str(message).split())


def magic_message(error: ThinkError, magic: str = "think") -> str:
    """The session's typed error in the words of magic ``magic`` (``think`` or ``branch``).

    Example:
        >>> magic_message(NumberTaken("review", 1, None, used=(1, 2)))
        "-n 1: thought 1 is already on the trunk of session 'review'; free numbers: 3 and above (or leave out -n)"
    """
    match error:
        case UnknownBranch(session_id=session_id, branch_id=branch_id, action=str()):
            return f"unknown branch {branch_id!r} in session {session_id!r} ({error.branches}); %branch lists them"
        case UnknownBranch(session_id=session_id, branch_id=branch_id):
            how = f"%branch {branch_id} --from N" if magic == "branch" else f"-b {branch_id} --from N"
            return f"unknown branch {branch_id!r} in session {session_id!r}; create it with {how} (N: the thought it forks at)"
        case BranchForksElsewhere(branch_id=branch_id, from_thought=fork, requested=requested):
            if magic == "branch":
                return f"branch {branch_id!r} already forks at thought {fork}; switch to it with %branch {branch_id}, or pick another id"
            return f"branch {branch_id!r} already forks at thought {fork}, not {requested}; drop --from, or pick a new id"
        case BranchNeedsId():
            return "--from needs a branch: give -b/--branch ID as well"
        case TrunkHasNoFork(from_thought=None):
            return f"{TRUNK!r} is the trunk's name; pick another branch id"
        case TrunkHasNoFork():
            return f"{TRUNK!r} is the trunk; it has no fork point, drop --from"
        case NoSuchThought(
            session_id=session_id, number=number, known=known, role="amend" | "retract" as role
        ):
            return (
                f"--{role} {number}: {lane_name(error.branch_id)} of session {session_id!r} has no thought {number} "
                f"(its numbers: {describe_numbers(known)}); %branch ID switches to another lane"
            )
        case ThoughtIsRetracted(number=number, role=role):
            if role == "retract":
                return f"--retract {number}: thought {number} is retracted already"
            return f"--amend {number}: thought {number} is retracted; a retracted thought is not amended"
        case BadOutcome():
            return "a branch is decided with --chosen or --abandoned"
        case TrunkCannot(action="decide"):
            return f"{TRUNK!r} is the trunk; only a branch is --chosen or --abandoned"
        case TrunkCannot():
            return f"{TRUNK!r} is the trunk and is merged into nothing; merge a branch into it: %branch main --merge ID"
        case MergeIntoItself(branch_id=branch_id):
            return (
                f"branch {branch_id!r} cannot be merged into itself; name the target first: "
                f"%branch TARGET --merge {branch_id} (main for the trunk)"
            )
        case NothingToMerge(branch_id=branch_id):
            return f"branch {branch_id!r} has no thought to merge (none, or all retracted); think in it first: %think -b {branch_id} TEXT"
        case NoSuchThought(session_id=session_id, number=number, known=known, role=role):
            option = "-r" if role == "revise" else "--from"
            return f"{option} {number}: session {session_id!r} has no thought {number} (its numbers: {describe_numbers(known)})"
        case NumberTaken(session_id=session_id, number=number, branch_id=branch_id):
            return (
                f"-n {number}: thought {number} is already on {lane_name(branch_id)} of session {session_id!r}; "
                f"free numbers: {error.free} (or leave out -n)"
            )
        case ThoughtTooLong(length=length, limit=limit):
            return (
                f"thought too long ({length} characters, at most {limit}); split it into several %think lines "
                "(or raise %config ThinkConfig.max_thought_chars)"
            )
        case SessionFull(session_id=session_id, limit=limit):
            return (
                f"session {session_id!r} reached its limit of {limit} thought{'s' * (limit != 1)}; conclude, or go on in a new session "
                "with %session NEW-ID (or raise %config ThinkConfig.max_thoughts)"
            )
        case InvalidValue():
            return error.describe(_OPTION_NAMES)
    return one_line(error)


@contextmanager
def user_errors(magic: str = "think") -> Iterator[None]:
    """Turn the core's ``ValueError`` (bad id, unknown thought or branch, ...) and the store's
    ``OSError`` (a store that cannot be read, a sync commit refused) into a ``UsageError``."""
    try:
        yield
    except UsageError:
        raise
    except ThinkError as exc:
        raise UsageError(one_line(magic_message(exc, magic))) from None
    except ValueError as exc:
        raise UsageError(one_line(exc)) from None
    except OSError as exc:
        cause = exc.strerror or str(exc)
        if exc.errno in (
            errno.ENOENT,
            errno.EACCES,
            errno.EOPNOTSUPP,
        ):  # what was asked, not the store, is wrong
            raise UsageError(one_line(cause)) from None
        raise UsageError(
            one_line(f"{cause}; fix the store (space, permissions, server), then try again")
        ) from None
