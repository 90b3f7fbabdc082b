"""Words and lines every view writes the same way: counts with their noun, texts cut to a width.

Pure functions of strings (no markup, no escaping: the caller escapes for where the text goes).

Example:
    >>> plural(2, "branch", "branches"), one_line("Measure  the\\ncache first", 16)
    ('2 branches', 'Measure the cac…')
"""

from __future__ import annotations

ELLIPSIS = "…"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 thought``, ``2 thoughts``, ``1 branch``, ``0 branches`` (``many``: the plural when not ``word + "s"``).

    Example:
        >>> plural(1, "revision"), plural(0, "match", "matches")
        ('1 revision', '0 matches')
    """
    return f"{count} {word if count == 1 else many or word + 's'}"


def shorten(text: str, width: int) -> str:
    """``text`` as it is when it fits in ``width`` characters, else cut to end in ``…`` at ``width``.

    Example:
        >>> shorten("abcdef", 6), shorten("abcdefg", 6)
        ('abcdef', 'abcde…')
    """
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def one_line(text: str, width: int) -> str:
    """All of ``text`` on one line (every run of whitespace, line breaks too, one space), shortened.

    Example:
        >>> one_line("  two\\n  lines ", 20)
        'two lines'
    """
    return shorten(" ".join(text.split()), width)


def first_line(text: str, width: int = 100) -> str:
    """The first line of ``text`` (after leading blank lines), shortened; empty for a blank text.

    Example:
        >>> first_line("\\n  Answer: 42\\nbecause…"), first_line("   ")
        ('Answer: 42', '')
    """
    stripped = text.strip()
    return shorten(stripped.splitlines()[0] if stripped else "", width)
