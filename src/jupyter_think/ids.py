"""Validation of session and branch ids: the one gate every id passes before it names anything."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
ID_RULE = (
    "1-128 characters from A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit"
)
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
    stem = name[: -len(".ipynb")] if name.lower().endswith(".ipynb") else name.rsplit(".", 1)[0] if "." in name[1:] else name
    words = re.sub(r"[^A-Za-z0-9_-]+", "-", stem)
    words = re.sub(r"-{2,}", "-", words).lstrip("_-").rstrip("-")[:128].rstrip("-")
    return words if is_valid_id(words) else fallback
