"""Validation of session and branch ids, and of session references: the one gate every name passes
before it names anything.

A session is named by its id (``homework``: your own) or, on a store shared by a class, by a
reference ``OWNER/ID`` to another user's session (``ada/homework``), where OWNER is the user name
the class knows them by. Ids keep their rules everywhere; a reference is accepted wherever a session
is named.
"""

from __future__ import annotations

import re
from typing import Any

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
ID_RULE = "1-128 characters from A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit"
TRUNK = "main"
"""The name people use for the trunk in `%branch main`; never stored as a branch id."""


def validate_id(value: object, kind: str = "session") -> str:
    """Return ``value`` when it is a valid session or branch id, else raise ``ValueError``.

    Example:
        >>> validate_id("Design-Review")
        'Design-Review'
        >>> validate_id("../etc")
        Traceback (most recent call last):
        ...
        ValueError: invalid session id '../etc': use 1-128 characters ...
    """
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "...")
        raise ValueError(f"invalid {kind} id {shown}: use {ID_RULE}")
    return value


MAX_OWNER_CHARS = 255
"""As long as a JupyterHub user name can be (its ``users.name`` column is 255 characters)."""
OWNER_RULE = "1-255 characters, not '.' or '..', without '/' or control characters"
_OWNER_UNSAFE = re.compile(r"[/\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def validate_owner(value: object) -> str:
    """``value`` when it can be a user name in ``OWNER/ID``, else ``ValueError``.

    Example:
        >>> validate_owner("学生一")
        '学生一'
    """
    if (
        not isinstance(value, str)
        or not value.strip()
        or value in (".", "..")
        or len(value) > MAX_OWNER_CHARS
        or _OWNER_UNSAFE.search(value)
    ):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "...")
        raise ValueError(f"invalid user name {shown}: use {OWNER_RULE}")
    return value


def split_ref(value: str) -> tuple[str | None, str]:
    """(owner or ``None``, id) of a session reference, unchecked (see :func:`validate_ref`).

    Example:
        >>> split_ref("ada/homework"), split_ref("homework")
        (('ada', 'homework'), (None, 'homework'))
    """
    owner, slash, session_id = value.rpartition("/")
    return (owner, session_id) if slash else (None, value)


def validate_ref(value: object) -> str:
    """``value`` when it names a session: an id, or ``OWNER/ID`` (another user's session, on a shared
    store); else ``ValueError`` naming the rule.

    Example:
        >>> validate_ref("ada/homework")
        'ada/homework'
        >>> validate_ref("../etc")
        Traceback (most recent call last):
        ...
        ValueError: invalid session id '../etc': use 1-128 characters ...
    """
    if not isinstance(value, str):
        return validate_id(value)
    owner, session_id = split_ref(value)
    if owner is None:
        return validate_id(value)
    try:
        validate_id(session_id)
        validate_owner(owner)
    except ValueError:
        shown = repr(value) if len(value) <= 40 else repr(value[:40] + "...")
        raise ValueError(
            f"invalid session id {shown}: use {ID_RULE}; another user's session is OWNER/ID "
            f"(OWNER: {OWNER_RULE})"
        ) from None
    return value


def file_stem(ref: str) -> str:
    """A file name for session ``ref``: a reference's owner kept as words, never a path.

    Example:
        >>> file_stem("ada@example.org/homework"), file_stem("homework")
        ('ada-example-org--homework', 'homework')
    """
    owner, session_id = split_ref(ref)
    if owner is None:
        return session_id
    words = re.sub(r"[^A-Za-z0-9_-]+", "-", owner).strip("-") or "owner"
    return f"{words}--{session_id}"


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders the numbers inside names by value: ``ten-2`` before ``ten-10``.

    Example:
        >>> sorted(["run-10", "run-9", "run-9b"], key=natural_key)
        ['run-9', 'run-9b', 'run-10']
    """
    parts = re.split(r"(\d+)", text)
    return (
        tuple(int(part) if index % 2 else part.casefold() for index, part in enumerate(parts)),
        text,
    )


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a valid id (see :func:`validate_id`)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def id_from_notebook_path(path: str, fallback: str = "default") -> str:
    """Derive a session id from a notebook file name, keeping the stem's words.

    Example:
        >>> id_from_notebook_path("/home/me/Design Review.ipynb")
        'Design-Review'
        >>> id_from_notebook_path("")
        'default'
    """
    name = re.split(r"[\\/]", path.strip())[-1]
    stem = (
        name[: -len(".ipynb")]
        if name.lower().endswith(".ipynb")
        else name.rsplit(".", 1)[0]
        if "." in name[1:]
        else name
    )
    words = re.sub(r"[^A-Za-z0-9_-]+", "-", stem)
    words = re.sub(r"-{2,}", "-", words).lstrip("_-").rstrip("-")[:128].rstrip("-")
    return words if is_valid_id(words) else fallback
