"""The static renderings shown without a widget front end: inline SVG and the text tree."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sessions import proof_session

from jupyter_think import Session
from jupyter_think.views.escape import escape_controls
from jupyter_think.views.render import DETAIL_LIMIT, render_svg
from jupyter_think.views.tree import render_text

SVG_NS = "{http://www.w3.org/2000/svg}"


def test_text_tree_of_a_small_session() -> None:
    assert render_text(proof_session()).splitlines() == [
        "Session proof · complete · 8 thoughts · 2 branches · 1 revision",
        "main",
        "├── 1 Restate the problem",
        "├── 2 Small cases",
        "│   └── branch induction (from 2)",
        "│       ├── 3 Base case",
        "│       └── 4 Step",
        "├── 3 Guess n squared",
        "│   └── branch geometry (from 3)",
        "│       └── 4 L-shapes",
        "├── 4 Small cases again  [revises 2]",
        "└── 5 Conclude: the sum is n squared  [final]",
    ]


def test_text_tree_of_an_empty_session() -> None:
    assert (
        render_text(Session("empty")) == "Session empty · open · 0 thoughts · 0 branches · 0 revisions\nmain"
    )


def test_text_tree_nests_a_branch_of_a_branch_and_lists_an_empty_branch() -> None:
    s = Session("nest")
    s.think("a", total=3)
    s.branch("left", from_thought=1)
    s.think("left two")
    s.branch("deeper", from_thought=2)  # number 2 exists only in branch "left"
    s.think("deeper three")
    s.switch_branch("main")
    s.branch("idle", from_thought=1)
    assert render_text(s).splitlines()[1:] == [
        "main",
        "└── 1 a",
        "    ├── branch left (from 1)",
        "    │   └── 2 left two",
        "    │       └── branch deeper (from 2)",
        "    │           └── 3 deeper three",
        "    └── branch idle (from 1)",
    ]


def test_text_tree_is_the_same_for_the_same_thinking() -> None:
    # Ids and times differ between the two sessions; the output must not.
    assert render_text(proof_session()) == render_text(proof_session())
    assert render_svg(proof_session()) == render_svg(proof_session())


def test_text_tree_elides_the_middle_of_long_lanes() -> None:
    s = Session("long", max_thoughts=1000)
    s.think("first", total=1000)
    for i in range(2, 1001):
        s.think(f"thought {i}", done=i == 1000)
    lines = render_text(s).splitlines()
    assert lines[2:] == [
        "├── 1 first",
        "├── 2 thought 2",
        "├── 3 thought 3",
        "├── 4 thought 4",
        "├── 5 thought 5",
        "├── … 990 more thoughts",
        "├── 996 thought 996",
        "├── 997 thought 997",
        "├── 998 thought 998",
        "├── 999 thought 999",
        "└── 1000 thought 1000  [final]",
    ]


def test_svg_is_well_formed_and_draws_every_thought() -> None:
    root = ET.fromstring(render_svg(proof_session()))
    assert root.tag == f"{SVG_NS}svg"
    nodes = root.findall(f"{SVG_NS}g")
    assert [node.get("data-lane") for node in nodes] == ["0", "0", "0", "1", "1", "0", "2", "0"]
    assert root.get("aria-label") == "Session proof · complete · 8 thoughts · 2 branches · 1 revision"
    dashed = [p for p in root.iter(f"{SVG_NS}path") if p.get("stroke-dasharray")]
    assert len(dashed) == 1  # one revision arc


def test_svg_shows_markup_in_thoughts_as_text() -> None:
    s = Session("xss")
    s.think('<script>alert("x")</script> & <b>bold</b>', total=1)
    svg = render_svg(s)
    assert "<script>" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter(f"{SVG_NS}title")]
    assert '1/1 <script>alert("x")</script> & <b>bold</b>' in titles


def test_svg_stays_well_formed_with_control_characters() -> None:
    s = Session("ctl")
    s.think("bell \x07 escape \x1b[31m nul-free", total=1)
    ET.fromstring(render_svg(s))


def test_large_sessions_get_an_overview_svg() -> None:
    s = Session("wide", max_thoughts=2 * DETAIL_LIMIT)
    s.think("first", total=2 * DETAIL_LIMIT)
    for i in range(2, 2 * DETAIL_LIMIT + 1):
        s.think(f"thought {i}")
    svg = render_svg(s)
    root = ET.fromstring(svg)
    assert root.get("width") == "1100"
    assert "(overview)" in root.get("aria-label")
    dots = root.find(f"{SVG_NS}path[@class='thought']")
    assert dots is not None and dots.get("d").count("h0") == 2 * DETAIL_LIMIT
    assert len(svg) < 30 * 2 * DETAIL_LIMIT  # a few bytes per thought, not a group each


def test_html_export_embeds_the_graph() -> None:
    page = proof_session().to_html()
    assert page.count("<svg") == 1 and 'class="jupyter-think-graph"' in page


# --- text for terminals: control characters shown, never sent raw -----------------------------------


def test_text_tree_shows_ansi_escapes_and_bidi_overrides_escaped() -> None:
    s = Session("ctl")
    s.think("red \x1b[31malert\x1b[0m \u202eevil\u202c \u2067isolated\u2069 \x9b2J \x7f", done=True)
    line = render_text(s).splitlines()[2]
    assert (
        line
        == "└── 1 red \\x1b[31malert\\x1b[0m \\u202eevil\\u202c \\u2067isolated\\u2069 \\x9b2J \\x7f  [final]"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x00\x07\x08\x1b\x7f", "\\x00\\x07\\x08\\x1b\\x7f"),
        ("\x80\x85\x9b\x9f", "\\x80\\x85\\x9b\\x9f"),
        (
            "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e",
            "\\u061c\\u200e\\u200f\\u202a\\u202b\\u202c\\u202d\\u202e",
        ),
        ("\u2066\u2067\u2068\u2069\u2028\u2029", "\\u2066\\u2067\\u2068\\u2069\\u2028\\u2029"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("carriage\rreturn", "carriage\\x0dreturn"),
    ],
)
def test_escape_controls_shows_each_control_character(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_escape_controls_keeps_text_a_person_wrote() -> None:
    text = "two\tcolumns\nnew line, C:\\path\\x1b, ünïcödé, עברית, 👩\u200d💻, 中文"
    assert escape_controls(text) == text
    assert escape_controls("a\nb\tc", keep="") == "a\\x0ab\\x09c"
