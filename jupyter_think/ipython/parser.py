"""Parsing the ``%think`` line: options first, then literal free text; no quoting, no expansion.

The text of a thought is kept exactly as typed — apostrophes, quotes, ``#``, backslashes, ``$x``
and ``{x}`` — so the line is never split the shell way. It is cut into whitespace-separated tokens
only to read the options, which stand **before** the text:

* leading tokens that are options (and their values) are consumed; an unknown option-looking
  token (``--foo``, ``-x``) there is an error that suggests ``--``;
* the first token that is not an option starts the text, and the text runs to the end of the
  line: words after it that look like options (``-t 30``, ``grep -n 5``) are text;
* ``--`` ends the options explicitly: everything after it is text, even ``-t``.

``--amend N TEXT`` corrects thought N (the text is the new text; only ``-s`` and ``-q`` may join it)
and ``--retract N`` withdraws thought N (no text, only ``-s`` and ``-q``).

The text is the exact substring of the line from its first token to its last (inner whitespace
kept). A ``# comment`` after a magic is text too: a magic line cannot carry a comment.

Also here, as pure functions of text: :func:`keep_question_marks`, the input transformer that keeps a
``%think`` line ending in ``?`` a thought (not a help request), and :func:`split_note`, which cuts a
``%branch`` line at its literal ``--note``.

Pure functions (no IPython), so the rules are easy to test.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_think.core.limits import MAX_NUMBER

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
    "--amend": "amend",
    "--retract": "retract",
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
    "amend": "--amend",
    "retract": "--retract",
}
_TEACHING_COMPANIONS = {"session", "quiet"}
"""The only options that may join ``--amend`` or ``--retract``."""
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
    total: int | None = Field(None, ge=1, le=MAX_NUMBER)
    number: int | None = Field(None, ge=1, le=MAX_NUMBER)
    revise: int | None = Field(None, ge=1, le=MAX_NUMBER)
    branch: str | None = None
    branch_from: int | None = Field(None, ge=1, le=MAX_NUMBER)
    session: str | None = None
    done: bool = False
    more: bool = False
    quiet: bool = False
    amend: int | None = Field(None, ge=1, le=MAX_NUMBER)
    retract: int | None = Field(None, ge=1, le=MAX_NUMBER)


def whole_number(option: str, value: str) -> int:
    """``value`` as an int from 1 to ``MAX_NUMBER`` (2**31 - 1), else a :class:`ThinkArgsError` naming
    ``option`` (one wording).

    Example:
        >>> whole_number("-t", "3")
        3
        >>> whole_number("-t", "0")
        Traceback (most recent call last):
        ...
        jupyter_think.ipython.parser.ThinkArgsError: -t needs a whole number from 1 to 2147483647, got '0'
    """
    # at most 10 digits are converted: int() of thousands of digits is slow, then refused
    if (
        not (value.isascii() and value.isdigit())
        or len(value.lstrip("0")) > 10
        or not 1 <= int(value) <= MAX_NUMBER
    ):
        shown = repr(value) if len(value) <= 40 else repr(value[:37]) + "..."
        raise ThinkArgsError(f"{option} needs a whole number from 1 to {MAX_NUMBER}, got {shown}")
    return int(value)


def parse_think_line(line: str, cell: str | None = None) -> ThinkArgs:
    """Parse the argument line of ``%think`` (or of ``%%think``, whose ``cell`` body is the text).

    Raises :class:`ThinkArgsError` with a one-line message for an unknown option before the text,
    a missing or malformed value, an option given twice, empty text (but ``--retract N`` takes
    none), or ``--amend`` / ``--retract`` with another option than ``-s`` and ``-q``.

    Examples:
        >>> parse_think_line("-t 3 Don't drop the user's \\"quoted\\" data").text
        'Don\\'t drop the user\\'s "quoted" data'
        >>> args = parse_think_line("--done -r 2 Price is $x  or {x}")
        >>> args.text, args.done, args.revise
        ('Price is $x  or {x}', True, 2)
        >>> parse_think_line("Set the timeout with -t 30").text
        'Set the timeout with -t 30'
        >>> parse_think_line("-- -t is literal here").text
        '-t is literal here'
        >>> parse_think_line("-b alt --from 1", "\\n# A **Markdown** body\\n\\n").text
        '# A **Markdown** body'
        >>> args = parse_think_line("--amend 3 2**7 - 1 = 127")
        >>> args.amend, args.text
        (3, '2**7 - 1 = 127')
        >>> parse_think_line("-q --retract 4").retract
        4
    """
    tokens = list(_TOKEN.finditer(line))
    options: dict[str, object] = {}
    index = 0
    while index < len(tokens):
        if tokens[index].group() == OPTIONS_END:
            index += 1
            break
        consumed = _option_at(tokens, index, options)
        if consumed == 0:
            break
        index += consumed

    _check_teaching(options, line, tokens, index, cell)
    if cell is not None:
        if index < len(tokens):
            extra = tokens[index].group()
            raise ThinkArgsError(
                f"%%think takes only options on its first line, got {extra!r}; put the text in the cell body"
            )
        text = cell.strip()
    else:
        text = line[tokens[index].start() : tokens[-1].end()] if index < len(tokens) else ""
    if not text and "retract" not in options:
        if "amend" in options:
            raise ThinkArgsError(
                f"--amend {options['amend']} needs the corrected text: %think --amend N TEXT"
            )
        raise ThinkArgsError(
            "nothing to record: write the thought after %think (or in the %%think cell body)"
        )
    try:
        return ThinkArgs.model_validate({"text": text, **options})
    except ValidationError as exc:  # pragma: no cover - whole_number() checked every value already
        raise ThinkArgsError(str(exc.errors()[0]["msg"])) from None


def _check_teaching(
    options: dict[str, object], line: str, tokens: list[re.Match[str]], index: int, cell: str | None
) -> None:
    """``--amend`` and ``--retract`` stand alone (with ``-s`` / ``-q``); ``--retract`` takes no text."""
    teaching = [name for name in ("amend", "retract") if name in options]
    if not teaching:
        return
    if len(teaching) == 2:
        raise ThinkArgsError("give --amend N TEXT or --retract N, not both")
    name = teaching[0]
    others = [_SPELLING[other] for other in options if other not in _TEACHING_COMPANIONS and other != name]
    if others:
        usage = "%think --amend N TEXT" if name == "amend" else "%think --retract N"
        raise ThinkArgsError(f"--{name} takes no {others[0]}: {usage} (only -s and -q may join it)")
    if name == "retract" and (index < len(tokens) or (cell is not None and cell.strip())):
        raise ThinkArgsError("--retract N takes no text: %think --retract N")


def _option_at(tokens: list[re.Match[str]], index: int, into: dict[str, object]) -> int:
    """Read the option at ``tokens[index]`` into ``into``; return how many tokens it used (0: text starts)."""
    token = tokens[index].group()
    name, has_inline, inline = token.partition("=") if token.startswith("--") else (token, "", "")
    if name in _FLAGS and not has_inline:
        _store(into, _FLAGS[name], True)
        return 1
    if name in _NUMBERS or name in _IDS:
        if has_inline:
            value, used = inline, 1
        elif index + 1 < len(tokens):
            value, used = tokens[index + 1].group(), 2
        else:
            raise ThinkArgsError(
                f"{name} needs a value; write e.g. {name} {'3' if name in _NUMBERS else 'alt'}"
            )
        if name in _NUMBERS:
            _store(into, _NUMBERS[name], whole_number(name, value))
        else:
            if not value or _OPTION_LIKE.match(value) or value == OPTIONS_END:
                raise ThinkArgsError(f"{name} needs an id, got {value!r}")
            _store(into, _IDS[name], value)
        return used
    if _OPTION_LIKE.match(token):
        raise ThinkArgsError(
            f"unknown option {token!r}; options are -t -n -r -b --from -s --done --more -q --amend --retract "
            f"(to record text that starts with '-', put -- before it: %think -- {token} ...)"
        )
    return 0


def _store(into: dict[str, object], name: str, value: object) -> None:
    if name in into:
        raise ThinkArgsError(f"{_SPELLING[name]} given twice; give each option once")
    into[name] = value


# --- the other magic lines -------------------------------------------------------------------------

THINK_QUESTION = re.compile(r"(?P<indent>[ \t]*)%think[ \t]+(?P<line>.*\?)[ \t]*")
"""A ``%think …?`` line: IPython would read its last word as a help request."""


def keep_question_marks(lines: list[str]) -> list[str]:
    """Input transformer: a ``%think`` line ending in ``?`` records a thought, not a help request.

    IPython reads a line whose last token is ``?`` as ``object?``; this rewrites such ``%think``
    lines into the magic call first. Cell magics (``%%...``) keep their body untouched.

    Example:
        >>> keep_question_marks(["%think Is n even?\\n"])
        ["get_ipython().run_line_magic('think', 'Is n even?')\\n"]
    """
    if lines and lines[0].lstrip().startswith("%%"):
        return lines
    transformed = []
    for line in lines:
        body = line.rstrip("\r\n")
        match = THINK_QUESTION.fullmatch(body)
        if match is None:
            transformed.append(line)
            continue
        call = f"{match['indent']}get_ipython().run_line_magic('think', {match['line']!r})"
        transformed.append(call + line[len(body) :])
    return transformed


_NOTE = re.compile(r"(?:^|\s)--note(?:=|\s+|$)")


def split_note(line: str) -> tuple[str, str | None]:
    """Cut a ``%branch`` line at ``--note``: (the options before it, the note as typed, or None).

    Example:
        >>> split_note("alt --chosen --note it's #1, by far")
        ('alt --chosen', "it's #1, by far")
        >>> split_note("alt --chosen")
        ('alt --chosen', None)
    """
    match = _NOTE.search(line)
    if match is None:
        return line, None
    return line[: match.start()], line[match.end() :].strip()
