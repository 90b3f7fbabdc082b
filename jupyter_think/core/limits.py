"""What both store engines keep: the bounds every value is checked against where it enters.

A number naming a thought is a whole number from 1 to :data:`MAX_NUMBER`, never a boolean; a free text
(a thought, an amended text, a decision's note, a thought's id) is capped and holds neither NUL, which
PostgreSQL refuses in text, nor a lone surrogate, which is not Unicode text (SQLite would keep both, so
refusing them up front makes both engines agree). The annotated types carry the checks into the models
(:mod:`jupyter_think.core.models`): values given as Python objects are checked, values read back from JSON
(what the store holds) are taken as they were written.

Example:
    >>> number_problem(2**31)
    'must be a whole number from 1 to 2147483647'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

MAX_NUMBER = 2**31 - 1
"""The largest thought number, and of every number naming a thought (a revision, a fork point, an
amendment, a retraction, a merge, the estimated total): a signed 32-bit integer. Both engines keep
integers up to 2**63 - 1; a 32-bit ceiling leaves room above it (a next number, a sum) and suits
clients whose integers are 32 bits."""

LARGEST_STORED = 2**63 - 1
"""The largest integer either engine keeps: no version stored a number above it, so one read back from
JSON is damage (or a hand edit), and the change holding it is skipped like any other damaged one."""

NUMBER_RULE = f"must be a whole number from 1 to {MAX_NUMBER}"
"""How every message states the rule for a number naming a thought."""

MAX_TEXT_CHARS = 120_000
"""The longest thought, or amended text, any session accepts: the ceiling of ``max_thought_chars``.

Each such text also goes into PostgreSQL's full-text index, whose ``tsvector`` holds at most
1 048 575 bytes of lexemes and positions. The worst text measured (distinct 4-byte letters joined
in hyphenated pairs: three lexemes per four characters) needs 7.5 bytes per character, so the index
of 120 000 characters stays under 900 000 bytes; SQLite keeps up to 10**9 bytes a value."""

MAX_NOTE_CHARS = 10_000
"""The longest note on a branch decision (a sentence or a paragraph saying why)."""


def number_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a number naming a thought, or ``None`` when it is one.

    Example:
        >>> number_problem(3) is None, number_problem(True), number_problem(2**63)
        (True, 'must be a whole number from 1 to 2147483647, not a boolean', 'must be a whole number from 1 to 2147483647')
    """
    if isinstance(value, bool):
        return f"{NUMBER_RULE}, not a boolean"
    if not isinstance(value, int) or not 1 <= value <= MAX_NUMBER:
        return NUMBER_RULE
    return None


def text_problem(text: str, limit: int | None = None) -> str | None:
    """What keeps ``text`` out of the store, or ``None``: a NUL, a lone surrogate, more than ``limit``
    characters. The message says what to do.

    Example:
        >>> text_problem("fine") is None
        True
        >>> text_problem("a\\x00b")
        'holds a NUL character (U+0000), which the store does not keep; remove it'
        >>> text_problem("caf\\ud800")
        'holds a lone surrogate (U+D800 at character 4), which is not Unicode text; remove it or send the whole character'
    """
    if limit is not None and len(text) > limit:
        return f"too long ({len(text)} characters, at most {limit}); shorten it"
    if "\x00" in text:
        return "holds a NUL character (U+0000), which the store does not keep; remove it"
    if not text.isascii():  # an ASCII string cannot hold a surrogate, and isascii() costs nothing
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"holds a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start + 1}), "
                "which is not Unicode text; remove it or send the whole character"
            )
    return None


def _entering_number(value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> int:
    """A number naming a thought: never a boolean; at most :data:`MAX_NUMBER`, or :data:`LARGEST_STORED`
    when read back from JSON (what an earlier version stored still loads)."""
    if isinstance(value, bool):
        raise PydanticCustomError("thought_number", f"{NUMBER_RULE}, not a boolean")
    try:
        number: int = handler(value)
    except ValidationError:
        raise PydanticCustomError("thought_number", NUMBER_RULE) from None
    if number > (MAX_NUMBER if info.mode == "python" else LARGEST_STORED):
        raise PydanticCustomError("thought_number", NUMBER_RULE)
    return number


def _entering_text(limit: int, *, blank: bool = False) -> BeforeValidator:
    """The check of a free text where it enters (:func:`text_problem`, at most ``limit`` characters).

    A blank text (empty or only whitespace) is refused on JSON too, as it always was, unless ``blank``.
    """

    def check(value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            if not blank and (not value or value.isspace()):  # isspace() stops at the first visible character
                raise PydanticCustomError("blank_text", "must not be empty or only whitespace")
            if info.mode == "python" and (problem := text_problem(value, limit)) is not None:
                raise PydanticCustomError("text", problem)
        return value

    return BeforeValidator(check)


ThoughtNumber = Annotated[
    int, Field(ge=1, json_schema_extra={"maximum": MAX_NUMBER}), WrapValidator(_entering_number)
]
"""A number naming a thought: 1 to :data:`MAX_NUMBER`, never a boolean (numeric strings are taken)."""

ThoughtText = Annotated[str, _entering_text(MAX_TEXT_CHARS), Field(min_length=1)]
"""A thought's text, or an amended one: not blank, at most :data:`MAX_TEXT_CHARS`, no NUL, no lone surrogate."""

ThoughtId = Annotated[str, _entering_text(64, blank=True), Field(min_length=1, max_length=64)]
"""The stable ``id`` of a recorded thought (what the teaching changes refer to)."""

Note = Annotated[str, _entering_text(MAX_NOTE_CHARS, blank=True)]
"""The note on a branch decision: at most :data:`MAX_NOTE_CHARS`, no NUL, no lone surrogate."""
