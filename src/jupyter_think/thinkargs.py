"""Parsing the ``%think`` line: options before or after literal free text, no quoting, no expansion.

The text of a thought is kept exactly as typed — apostrophes, quotes, ``#``, backslashes, ``$x``
and ``{x}`` — so the line is never split the shell way. It is cut into whitespace-separated tokens
only to find the options:

* leading tokens that are options are consumed; an unknown option-looking leading token
  (``--foo``, ``-x``) is an error that suggests ``--``;
* ``--`` ends the options: everything after it is text;
* a trailing run of tokens that parses entirely as options (known names, well-formed values) is
  consumed;
* the text is the exact substring of the line between the two runs (inner whitespace kept).

Pure functions (no IPython), so the rules are easy to test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

OPTIONS_END = "--"

_FLAGS = {"--done": "done", "--more": "more", "-q": "quiet", "--quiet": "quiet"}
_NUMBERS = {
    "-t": "total",
    "--total": "total",
    "-n": "number",
    "--number": "number",
    "-r": "revise",
    "--revise": "revise",
    "--from": "branch_from",
}
_IDS = {"-b": "branch", "--branch": "branch", "-s": "session", "--session": "session"}
_SPELLING = {
    "total": "-t/--total",
    "number": "-n/--number",
    "revise": "-r/--revise",
    "branch_from": "--from",
    "branch": "-b/--branch",
    "session": "-s/--session",
    "done": "--done",
    "more": "--more",
    "quiet": "-q/--quiet",
}
_WHOLE_NUMBER = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"\S+")
_OPTION_LIKE = re.compile(r"--?[A-Za-z]")


class ThinkArgsError(ValueError):
    """A ``%think`` line that cannot be parsed; the one-line message says what to do."""


class ThinkArgs(BaseModel):
    """A parsed ``%think`` / ``%%think`` request.

    Example:
        >>> ThinkArgs(text="Check the edge cases", total=3).total
        3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    total: int | None = Field(None, ge=1)
    number: int | None = Field(None, ge=1)
    revise: int | None = Field(None, ge=1)
    branch: str | None = None
    branch_from: int | None = Field(None, ge=1)
    session: str | None = None
    done: bool = False
    more: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


def parse_think_line(line: str, cell: str | None = None) -> ThinkArgs:
    """Parse the argument line of ``%think`` (or of ``%%think``, whose ``cell`` body is the text).

    Raises :class:`ThinkArgsError` with a one-line message for an unknown leading option, a
    missing or malformed value, an option given twice, or empty text.

    Examples:
        >>> parse_think_line("-t 3 Don't drop the user's \\"quoted\\" data").text
        'Don\\'t drop the user\\'s "quoted" data'
        >>> args = parse_think_line("Price is $x  or {x} --done -r 2")
        >>> args.text, args.done, args.revise
        ('Price is $x  or {x}', True, 2)
        >>> parse_think_line("-- -t is literal here").text
        '-t is literal here'
        >>> parse_think_line("-b alt --from 1", "\\n# A **Markdown** body\\n\\n").text
        '# A **Markdown** body'
    """
    tokens = [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(line)]
    options: dict[str, object] = {}

    index = 0
    ended = False
    while index < len(tokens):
        token = tokens[index].text
        if token == OPTIONS_END:
            index += 1
            ended = True
            break
        consumed = _option_at(tokens, index, strict=True, into=options)
        if consumed == 0:
            break
        index += consumed
    text_start = index

    text_end = len(tokens)
    if cell is None and not ended:
        for start in range(text_start + 1, len(tokens)):
            trailing: dict[str, object] = {}
            if _parse_all(tokens, start, trailing):
                for name, value in trailing.items():
                    _store(options, name, value)
                text_end = start
                break
    elif cell is not None and text_start < len(tokens):
        extra = tokens[text_start].text
        raise ThinkArgsError(
            f"%%think takes only options on its first line, got {extra!r}; put the text in the cell body"
        )

    if cell is not None:
        text = cell.strip()
    elif text_start < text_end:
        text = line[tokens[text_start].start : tokens[text_end - 1].end]
    else:
        text = ""
    if not text:
        raise ThinkArgsError(
            "nothing to record: write the thought after %think (or in the %%think cell body)"
        )
    try:
        return ThinkArgs(text=text, **options)  # type: ignore[arg-type]
    except ValidationError as exc:
        item = exc.errors()[0]
        name = str(item["loc"][0]) if item["loc"] else "input"
        raise ThinkArgsError(f"{_SPELLING.get(name, name)} must be a whole number >= 1") from None


def _parse_all(tokens: list[_Token], start: int, into: dict[str, object]) -> bool:
    """True when ``tokens[start:]`` are all well-formed options (collected into ``into``)."""
    index = start
    while index < len(tokens):
        try:
            consumed = _option_at(tokens, index, strict=False, into=into)
        except ThinkArgsError:
            return False
        if consumed == 0:
            return False
        index += consumed
    return True


def _option_at(tokens: list[_Token], index: int, *, strict: bool, into: dict[str, object]) -> int:
    """Parse the option at ``tokens[index]`` into ``into``; return how many tokens it used (0: not one).

    ``strict`` (leading options) turns an unknown option or a bad value into an error; otherwise
    (trailing options) they mean "this is text", returned as 0 or raised for the caller to catch.
    """
    token = tokens[index].text
    name, has_inline, inline = token.partition("=") if token.startswith("--") else (token, False, "")
    if name in _FLAGS and not has_inline:
        _store(into, _FLAGS[name], True)
        return 1
    if name in _NUMBERS or name in _IDS:
        if has_inline:
            value, used = inline, 1
        elif index + 1 < len(tokens):
            value, used = tokens[index + 1].text, 2
        else:
            if not strict:
                return 0
            raise ThinkArgsError(f"{name} needs a value; write e.g. {name} {'3' if name in _NUMBERS else 'alt'}")
        if name in _NUMBERS:
            if not _WHOLE_NUMBER.fullmatch(value):
                if not strict:
                    return 0
                raise ThinkArgsError(f"{name} needs a whole number >= 1, got {value!r}")
            _store(into, _NUMBERS[name], int(value))
        else:
            if not value or _OPTION_LIKE.match(value) or value == OPTIONS_END:
                if not strict:
                    return 0
                raise ThinkArgsError(f"{name} needs an id, got {value!r}")
            _store(into, _IDS[name], value)
        return used
    if strict and _OPTION_LIKE.match(token):
        raise ThinkArgsError(
            f"unknown option {token!r}; options are -t -n -r -b --from -s --done --more -q "
            f"(to record text that starts with '-', put -- before it: %think -- {token} ...)"
        )
    return 0


def _store(into: dict[str, object], name: str, value: object) -> None:
    if name in into:
        raise ThinkArgsError(f"{_SPELLING[name]} given twice; give each option once")
    into[name] = value
