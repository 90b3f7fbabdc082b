"""Text for a terminal: control characters shown as visible escapes (light to import: the CLI's lists
use it without the renderers)."""

from __future__ import annotations

import re

_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 controls (ESC starts ANSI sequences), DEL, C1 controls (CSI, OSC...)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates (cannot be encoded for the terminal at all)
)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "\n\t") -> str:
    r"""``text`` with every control character shown as a visible escape, for a terminal.

    C0 and C1 controls, DEL, bidi controls (embeddings, overrides, isolates, marks), line and
    paragraph separators and lone surrogates become ``\x1b``, ``\u202e``...; the characters in
    ``keep`` (newline and tab by default) stay. Everything else, backslashes included, is unchanged.

    Example:
        >>> print(escape_controls("red \x1b[31mtext\x1b[0m, \u202eevil\u202c\nnext line"))
        red \x1b[31mtext\x1b[0m, \u202eevil\u202c
        next line
        >>> print(escape_controls("one\ntwo", keep=""))
        one\x0atwo
    """
    if keep:
        return _CONTROLS.sub(lambda m: m[0] if m[0] in keep else _escape_one(m), text)
    return _CONTROLS.sub(_escape_one, text)


def has_controls(text: str) -> bool:
    """True when :func:`escape_controls` (with nothing kept) would change ``text``: one scan, for a fast
    path over many strings joined.

    Example:
        >>> has_controls("plain text"), has_controls("a\x1b[2Jb")
        (False, True)
    """
    return _CONTROLS.search(text) is not None
