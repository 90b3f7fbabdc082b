"""Thought text as HTML: CommonMark through markdown-it-py, with no way for a thought to inject markup.

Raw HTML in a thought is shown as text (``html`` off), and links or images whose scheme could run
code (``javascript:``, ``vbscript:``, ``file:``, ``data:`` other than a few image types) are left
as plain text by markdown-it's link validation. The parser is built on first use (importing
markdown-it costs about 50 ms, so ``import jupyter_think`` does not pay it).

Example:
    >>> markdown_html("A thought can be **Markdown** <b>not HTML</b>")
    '<p>A thought can be <strong>Markdown</strong> &lt;b&gt;not HTML&lt;/b&gt;</p>'
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def markdown_html(text: str) -> str:
    """The HTML of ``text`` read as CommonMark (raw HTML escaped, unsafe links refused), trimmed."""
    return _parser().render(text).strip()
