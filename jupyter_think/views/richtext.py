"""Thought text as HTML: CommonMark with ``$…$`` maths through markdown-it-py, cleaned by one allow-list.

A thought is read as a Markdown cell is: CommonMark, and ``$…$`` / ``$$…$$`` maths (mdit-py-plugins'
dollarmath) typeset as MathML by :mod:`jupyter_think.views.maths`. Prices are not maths: a ``$``
with a space inside it, or a digit right after the closing one, stays text (``$5 and $10``).
Raw HTML in a thought is shown as text (``html`` off), and what the renderers make is cleaned by
nh3 with the allow-list in ``allowlist.json`` (elements, attributes, safe addresses) — the same list
the graph's front end applies again — so neither Markdown nor TeX (``\\href``, ``\\style``,
``\\text{<script>}``) can add a link, a script or a style to a teacher's page.

``markdown=False`` (``%config ThinkConfig.markdown = False`` in a notebook, see :func:`use_markdown`)
shows each thought as typed, line breaks kept, its ``$…$`` maths still typeset: ``2**n`` stays
``2**n`` instead of turning bold.

The parsers are built on first use (importing markdown-it costs about 50 ms, so ``import
jupyter_think`` does not pay it).

Example:
    >>> markdown_html("A thought can be **Markdown** <b>not HTML</b>")
    '<p>A thought can be <strong>Markdown</strong> &lt;b&gt;not HTML&lt;/b&gt;</p>'
    >>> "<math" in markdown_html("Is $2^n - 1$ prime?"), markdown_html("It costs $5 and $10")
    (True, '<p>It costs $5 and $10</p>')
    >>> markdown_html("2**n - 1 and 2**n", markdown=False)
    '<p class="jt-plain" style="white-space:pre-wrap">2**n - 1 and 2**n</p>'
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from jupyter_think.views.maths import tex_html

ALLOWLIST_FILE = Path(__file__).parent / "allowlist.json"
ALLOWLIST: dict[str, Any] = json.loads(ALLOWLIST_FILE.read_text(encoding="utf-8"))
"""The parsed ``allowlist.json``: ``elements``, ``attributes`` per element, ``urls`` (a pattern per
address attribute), ``lengths`` (attributes whose value must match ``length``), ``class`` (the classes
a rendered thought may carry). The widget sends it to
its front end, so both sides keep the same HTML."""

PLAIN_STYLE = "white-space:pre-wrap"
"""How a thought shown as typed keeps its line breaks and spaces."""

_settings = {"markdown": True}


def use_markdown(on: bool) -> None:
    """Read thoughts as Markdown (``True``, the default) or show them as typed, maths still typeset.

    The extension calls it for ``%config ThinkConfig.markdown``; it applies to every display made in
    this process from then on (cards, the graph's text pane, the HTML export).
    """
    _settings["markdown"] = bool(on)


def _render_maths(content: str, options: dict[str, Any]) -> str:
    return tex_html(content.strip(), display=bool(options.get("display_mode")))


@functools.cache
def _parser(markdown: bool) -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    parser = MarkdownIt("commonmark" if markdown else "zero", {"html": False})
    # (dollarmath's rules: no space just inside the dollars, no digit right after the closing one,
    # so "$5 and $10" is not maths; $$…$$ inside a paragraph is display maths too)
    return parser.use(
        dollarmath_plugin,
        allow_labels=False,
        allow_space=False,
        allow_digits=False,
        double_inline=True,
        renderer=_render_maths,
    )


def markdown_html(text: str, *, markdown: bool | None = None) -> str:
    """The HTML of ``text``: CommonMark and maths (``markdown`` True), or as typed with its maths
    typeset (False; ``None`` follows :func:`use_markdown`), cleaned by the allow-list and trimmed."""
    if markdown is None:
        markdown = _settings["markdown"]
    rendered = clean(_parser(markdown).render(text)).strip()
    if not markdown:  # (after cleaning: the one style here is ours, never a thought's)
        rendered = rendered.replace("<p>", f'<p class="jt-plain" style="{PLAIN_STYLE}">')
    return rendered


@functools.cache
def _cleaner() -> Any:
    import nh3

    urls = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in ALLOWLIST["urls"].items()}
    length = re.compile(ALLOWLIST["length"])
    classes = re.compile(ALLOWLIST["class"])
    lengths = set(ALLOWLIST["lengths"])

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute in urls:
            return value if urls[attribute].match(value.strip()) else None
        if attribute in lengths:
            return value if length.match(value.strip()) else None
        if attribute == "class":
            return value if classes.match(value) else None
        return value

    attributes = {element: set(names) for element, names in ALLOWLIST["attributes"].items()}
    return functools.partial(
        nh3.clean,
        tags=set(ALLOWLIST["elements"]),
        attributes=attributes,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel=None,
        strip_comments=True,
    )


def clean(html_text: str) -> str:
    """``html_text`` with only the allow-list's elements, attributes and addresses left (nh3).

    Example:
        >>> clean('<p onclick="x()">a <a href="javascript:alert(1)">b</a> <script>c</script></p>')
        '<p>a <a>b</a> </p>'
    """
    return _cleaner()(html_text)
