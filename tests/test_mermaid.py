"""The Mermaid export read and drawn by Mermaid itself, in Debian's Chromium (SPEC §3, §8).

Mermaid's browser bundle comes from the npm registry: ``./dev test`` fetches it into the virtual
environment and names it in ``$JUPYTER_THINK_MERMAID_JS``. Each test exports a session, lets Mermaid
parse it (its flowchart database: nodes, labels, edges) and draw it (the SVG a reader sees), and
checks what a reader would: the diagram is drawn, every label shows the thought's text exactly as the
export promised, and nothing in a thought changes the diagram (no directive applied, no comment cut).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lab_harness import Browser

from jupyter_think import Session
from jupyter_think.views.escape import escape_controls

pytestmark = [pytest.mark.browser]


def mermaid_bundle() -> Path:
    """The ``mermaid.min.js`` that ``./dev test`` fetched (the test fails, never skips, without it)."""
    named = os.environ.get("JUPYTER_THINK_MERMAID_JS")
    candidates = [Path(named)] if named else sorted(Path(sys.prefix).glob("mermaid-*/mermaid.min.js"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    pytest.fail("Mermaid's bundle is missing: run the tests with ./dev test, which fetches it with npm")


@pytest.fixture(scope="module")
def mermaid(browser: Browser) -> Iterator[Any]:
    """A blank page in Chromium with Mermaid loaded (strict security, as GitHub and most sites use)."""
    page = browser.context.new_page()
    page.route("**/*", lambda route: route.abort())  # nothing from the network
    page.set_content("<!DOCTYPE html><html><body><div id='out'></div></body></html>")
    page.add_script_tag(path=str(mermaid_bundle()))
    page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
    yield page
    assert browser.errors == []


DRAW = """async (text) => {
    const out = document.getElementById('out');
    out.textContent = '';
    try {
        const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
        const vertices = diagram.db.getVertices();
        const nodes = Object.fromEntries(
            (vertices instanceof Map ? Array.from(vertices.values()) : Object.values(vertices))
                .map(v => [v.id, v.text]));
        const edges = diagram.db.getEdges().map(e => [e.start, e.end, e.text ?? '', e.stroke]);
        const { svg } = await mermaid.render('diagram' + Math.random().toString(36).slice(2), text);
        out.innerHTML = svg;
        const labels = {};
        for (const node of out.querySelectorAll('g.node')) {
            const id = (node.id.match(/flowchart-(t\\d+)-/) || [])[1];
            if (id) labels[id] = node.querySelector('.nodeLabel').textContent;
        }
        const style = Array.from(out.querySelectorAll('style')).map(s => s.textContent).join('\\n');
        return { ok: true, nodes, edges, labels, style };
    } catch (error) {
        return { ok: false, error: String(error).slice(0, 500) };
    }
}"""


def draw(page: Any, session: Session) -> dict[str, Any]:
    """Mermaid's reading of the session's export; fails the test with Mermaid's error if it refuses it."""
    text = session.to_mermaid()
    result = page.evaluate(DRAW, text)
    assert result["ok"], f"Mermaid refused the export: {result['error']}\n{text}"
    return result


def shown(number: int, text: str) -> str:
    """What the export promises a label shows: ``N. text`` on one line, cut at 60, controls escaped."""
    line = " ".join(f"{number}. {text}".split())
    return escape_controls(line if len(line) <= 60 else line[:59] + "…")


def test_a_thought_holding_a_comment_start_does_not_break_the_diagram(mermaid: Any) -> None:
    session = Session("comment")
    session.think("a %%{b", total=2)
    session.think("%% looks like a comment", done=True)
    result = draw(mermaid, session)
    assert result["labels"] == {"t1": "1. a %%{b", "t2": "2. %% looks like a comment"}
    assert result["edges"] == [["t1", "t2", "", "normal"]]


def test_a_directive_in_a_thought_is_shown_not_applied(mermaid: Any) -> None:
    session = Session("directive")
    session.think("%%{init:{'themeCSS':'.node rect{fill:#f00}'}}%% take over", total=1)
    session.think("---\nconfig:\n  theme: forest\n---")
    result = draw(mermaid, session)
    assert "#f00" not in result["style"] and "forest" not in result["style"]
    assert result["labels"]["t1"] == "1. %%{init:{'themeCSS':'.node rect{fill:#f00}'}}%% take over"
    assert result["labels"]["t2"] == "2. --- config: theme: forest ---"


def test_every_ascii_character_in_a_thought_is_drawn_as_typed(mermaid: Any) -> None:
    printable = "".join(chr(code) for code in range(0x20, 0x7F))
    chunks = [printable[i : i + 40] for i in range(0, len(printable), 40)]
    session = Session("ascii")
    for chunk in chunks:
        session.think(chunk)
    session.think('#quot; #35; &amp; &lt;b&gt; `**md**` <br/> "end"')
    result = draw(mermaid, session)
    texts = [*chunks, '#quot; #35; &amp; &lt;b&gt; `**md**` <br/> "end"']
    assert result["labels"] == {f"t{i}": shown(i, text) for i, text in enumerate(texts, start=1)}


def test_control_and_bidi_characters_are_drawn_visibly(mermaid: Any) -> None:
    session = Session("controls")
    session.think("bell \x07 escape \x1b[31m red \u202e evil \x7f del")
    result = draw(mermaid, session)
    assert result["labels"]["t1"] == "1. bell \\x07 escape \\x1b[31m red \\u202e evil \\x7f del"


# (any text a thought can hold: no NUL, no lone surrogate — both are refused where they enter)
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.text(STORABLE, min_size=1).filter(lambda text: not text.isspace()), min_size=1, max_size=4)
)
def test_any_thought_text_is_drawn_as_the_export_promises(mermaid: Any, texts: list[str]) -> None:
    session = Session("any")
    for text in texts:
        session.think(text)
    result = draw(mermaid, session)
    assert result["labels"] == {f"t{i}": shown(i, text) for i, text in enumerate(texts, start=1)}


def test_branches_revisions_and_the_final_mark_are_drawn(mermaid: Any) -> None:
    session = Session("full")
    session.think("Restate", total=4)
    session.think("Small cases")
    session.branch("end", from_thought=1)  # a Mermaid keyword as a branch id
    session.think("Other angle")
    session.switch_branch("main")
    session.branch("idle", from_thought=2)  # a branch without thoughts
    session.switch_branch("main")
    session.revise(2, "Small cases again", done=True)
    result = draw(mermaid, session)
    assert sorted(result["edges"]) == [
        ["t1", "t2", "", "normal"],
        ["t1", "t3", "end", "normal"],
        ["t2", "t4", "", "normal"],
        ["t4", "t2", "revises", "dotted"],
    ]


def test_a_branch_forked_from_another_branch_hangs_from_its_thought(mermaid: Any) -> None:
    session = Session("nested")
    for text in ("one", "two", "three"):
        session.think(text, total=6)
    session.branch("alt", from_thought=2)
    for text in ("alt three", "alt four", "alt five"):
        session.think(text)
    session.branch("sub", from_thought=5)  # thought 5 exists only on alt
    session.think("sub six")
    result = draw(mermaid, session)
    by_text = {text: node for node, text in result["nodes"].items()}
    assert [by_text["5. alt five"], by_text["6. sub six"], "sub", "normal"] in result["edges"]
    assert [by_text["2. two"], by_text["3. alt three"], "alt", "normal"] in result["edges"]


TEACHING = """async (text) => {
    const out = document.getElementById('out');
    const { svg } = await mermaid.render('teach' + Math.random().toString(36).slice(2), text);
    out.innerHTML = svg;
    const classes = {};
    for (const node of out.querySelectorAll('g.node')) {
        const id = (node.id.match(/flowchart-(t\\d+)-/) || [])[1];
        if (id) classes[id] = Array.from(node.classList);
    }
    const widths = Array.from(out.querySelectorAll('path.flowchart-link'))
        .map(p => (p.getAttribute('style') || '').includes('stroke-width:4px'));
    return { classes, widths };
}"""


def test_the_teaching_state_is_drawn_by_mermaid(mermaid: Any) -> None:
    from sessions import lesson_session

    session = lesson_session()
    result = draw(mermaid, session)
    assert result["labels"]["t3"] == "3. 2, 3, 5, 7 give 3, 7, 31, 127: all prime ✎"
    assert ["t9", "t10", "merged", "normal"] in result["edges"]
    drawn = mermaid.evaluate(TEACHING, session.to_mermaid())
    assert "retracted" in drawn["classes"]["t6"]
    assert not any("retracted" in classes for node, classes in drawn["classes"].items() if node != "t6")
    assert sum(drawn["widths"]) == 8  # the chosen path: trunk, the fork into search, search, the merge
