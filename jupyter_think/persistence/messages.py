"""What the persistence loop tells a person: one warning class, and causes in words.

Warnings are shown every time they are raised (the callers say each once per episode), from
whatever thread found the problem; a kernel shows them in the cell that runs at that moment.
"""

from __future__ import annotations

import warnings


class PersistenceWarning(UserWarning):
    """Sessions could not be written to (or read from) the store; they are kept in memory meanwhile."""


def _cause(error: BaseException | None, location: str = "") -> str:
    """What went wrong, in words (without the store's location, which the caller names once)."""
    if error is None:
        return ""
    if isinstance(error, OSError):
        text = error.strerror or str(error)
        text = text if not error.filename else f"{text} ({error.filename})"
    else:
        text = str(error) or type(error).__name__
    return text.removesuffix(f" ({location})") if location else text


def _warn(message: str) -> None:
    """Show ``message`` as a PersistenceWarning every time (the callers say it once per episode)."""
    warnings.warn_explicit(
        f"jupyter-think: {message}",
        PersistenceWarning,
        "jupyter_think",
        0,
        module="jupyter_think.persistence",
    )
