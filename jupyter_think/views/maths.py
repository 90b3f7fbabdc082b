"""TeX maths as MathML, on the kernel side: latex2mathml, bounded, falling back to the TeX as typed.

A thought's ``$…$`` and ``$$…$$`` become MathML here, so they render without a script wherever HTML
does (JupyterLab, Notebook 7, VS Code, nbconvert's HTML, GitHub). What a student types is not trusted:
the tree latex2mathml builds is serialised with every text escaped (its own serialiser puts
``\\text{<b>…</b>}`` back as raw markup), and the HTML it becomes is cleaned by the one allow-list of
:mod:`jupyter_think.views.richtext`, which drops ``\\href``'s link, ``\\style``'s style and
``\\color``'s colour. TeX that is too long or too deeply nested, or that latex2mathml cannot read, is
shown as typed (in ``<code>``), never as an error.

Example:
    >>> tex_html("2^n - 1")
    '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msup><mn>2</mn><mi>n</mi></msup><mo>\u2212</mo><mn>1</mn></mrow></math>'
    >>> tex_html("{" * 400 + "x" + "}" * 400)[:22]
    '<code class="jt-tex">$'
"""

from __future__ import annotations

import html
from xml.etree import ElementTree

MAX_TEX_CHARS = 4_000
"""Longest TeX typeset; a longer one is shown as typed."""
MAX_DEPTH = 60
"""Deepest MathML nesting kept; deeper TeX is shown as typed (it could only be a page-breaking attack)."""


def tex_html(tex: str, *, display: bool = False) -> str:
    """The MathML of ``tex`` (``display``: a block of its own), or the TeX as typed in ``<code>``.

    The result still goes through the allow-list (:func:`jupyter_think.views.richtext.markdown_html`
    does it for the whole thought).
    """
    if len(tex) <= MAX_TEX_CHARS and tex.count("{") <= MAX_DEPTH * 4:
        from latex2mathml.converter import convert_to_element

        try:
            root = convert_to_element(tex, display="block" if display else "inline")
        # (latex2mathml has a dozen unrelated error classes and its own recursion: TeX it cannot read
        # is shown as typed, whatever the reason)
        except Exception:
            return _as_typed(tex, display)
        if _depth(root) <= MAX_DEPTH:
            _unescape(root)
            return ElementTree.tostring(root, encoding="unicode", short_empty_elements=False)
    return _as_typed(tex, display)


def _as_typed(tex: str, display: bool) -> str:
    fence = "$$" if display else "$"
    return f'<code class="jt-tex">{html.escape(fence + tex + fence)}</code>'


def _depth(root: ElementTree.Element) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _unescape(root: ElementTree.Element) -> None:
    """latex2mathml keeps symbols as entity text (``&#x02212;``): make them characters, so that the
    serialiser escapes everything a student typed and nothing is read as markup."""
    for element in root.iter():
        if element.text:
            element.text = html.unescape(element.text)
        if element.tail:
            element.tail = html.unescape(element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = html.unescape(value)
