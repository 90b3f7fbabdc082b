"""Maths in thoughts (SPEC §7): ``$…$`` and ``$$…$$`` typeset as MathML on the kernel side, everywhere a
thought is shown as HTML; the TeX as typed where it is text; prices stay prices; a student's hostile
TeX adds nothing to a teacher's page; plain text on request."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from jupyter_think import Session
from jupyter_think.views.display import thought_card
from jupyter_think.views.richtext import ALLOWLIST, markdown_html, use_markdown
from jupyter_think.widgets.feed import GraphFeed

MERSENNE = "Primes $2^n - 1$ are the Mersenne primes"


@pytest.fixture
def lesson() -> Session:
    session = Session("maths")
    session.think(MERSENNE, total=2)
    session.think("It costs $5 and $10, and 2**n - 1 is written so in Python", done=True)
    return session


def tags(html_text: str) -> set[str]:
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html_text))


def test_dollar_maths_is_mathml_in_a_card_the_html_export_and_the_text_pane(lesson: Session) -> None:
    card = thought_card(lesson.thoughts[0]).html
    assert "<math" in card and "<msup><mn>2</mn><mi>n</mi></msup>" in card
    assert "<math" in lesson.to_html()
    detail = GraphFeed(lesson.snapshot()).detail(0)  # what the widget sends its text pane
    assert detail is not None and "<math" in detail["html"]
    assert detail["text"] == MERSENNE  # the text as typed travels beside it


def test_display_maths_is_a_block_and_stays_inside_the_allow_list() -> None:
    shown = markdown_html("The sum:\n\n$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$")
    assert '<math display="block">' in shown
    assert tags(shown) <= set(ALLOWLIST["elements"])


def test_prices_and_spaced_dollars_stay_text(lesson: Session) -> None:
    assert markdown_html("It costs $5 and $10") == "<p>It costs $5 and $10</p>"
    assert markdown_html("between $ 3 and $ 4") == "<p>between $ 3 and $ 4</p>"
    assert "<math" not in thought_card(lesson.thoughts[1]).html


def test_markdown_export_svg_and_text_tree_keep_the_tex_as_typed(lesson: Session) -> None:
    assert MERSENNE in lesson.to_markdown()
    assert "<math" not in lesson.to_markdown()
    svg = lesson.to_svg()
    assert "<math" not in svg
    labels = "".join(ET.fromstring(svg).itertext())
    assert "Primes $2^n - 1$" in labels  # the label's first words, as typed
    assert "Primes $2^n - 1$" in repr(lesson.graph())
    assert "$2^n - 1$" in thought_card(lesson.thoughts[0]).plain


@pytest.mark.parametrize(
    "tex",
    [
        r"\href{javascript:alert(1)}{click}",
        r"\href{https://evil.example}{click}",
        r"\text{<script>alert(1)</script>}",
        r"\text{<img src=x onerror=alert(1)>}",
        r"\style{background:url(https://evil.example)}{x}",
        r"\color{red}{x} \mathcolor{red}{y}",
        r"\hspace{99999em} x",
        "{" * 2_000 + "x" + "}" * 2_000,
        r"\frac{a}" * 3_000,
        "x^" * 5_000,
    ],
)
def test_hostile_tex_adds_no_link_script_style_or_page_breaking_size(tex: str) -> None:
    shown = markdown_html(f"Look: ${tex}$ done")
    assert tags(shown) <= set(ALLOWLIST["elements"]), shown
    assert not re.search(r"\s(href|src|style|on\w+|mathcolor|mathbackground|class=\"(?!jt-))", shown), shown
    assert "<script" not in shown and "99999em" not in shown
    assert shown.startswith("<p>Look: ") and shown.endswith(" done</p>")  # the rest of the thought is kept


def test_tex_it_cannot_read_is_shown_as_typed() -> None:
    assert markdown_html("broken $x^$ here") == '<p>broken <code class="jt-tex">$x^$</code> here</p>'


def test_plain_text_keeps_what_markdown_would_change_and_still_typesets_maths(lesson: Session) -> None:
    use_markdown(False)
    try:
        shown = thought_card(lesson.thoughts[1]).html
        assert "2**n - 1" in shown and "<strong>" not in shown
        assert "<math" in thought_card(lesson.thoughts[0]).html
        assert "<strong>" not in lesson.to_html() and "2**n - 1" in lesson.to_html()
        assert "<strong>" not in (GraphFeed(lesson.snapshot()).detail(1) or {})["html"]
    finally:
        use_markdown(True)
    assert "<strong>" in markdown_html("2**n - 1 and 2**n")  # Markdown's reading, when it is asked for
