"""Exports (Markdown, Mermaid, JSON, HTML) and display cards: deterministic, escaped, well formed."""

from __future__ import annotations

import html
import json
import re
import time

import pytest

from jupyter_think import Session, SessionManager
from jupyter_think.display import branch_table, session_table, thought_card
from jupyter_think.export import export

SCRIPT = "<script>alert('x')</script>"


def sample(session_id: str = "demo") -> Session:
    """Trunk 1-3 (3 revises 1, and concludes), branch alt from 1 with two thoughts."""
    session = SessionManager(persist=False).session(session_id)
    session.think("Restate the problem", total=3)
    session.think("Try n = 2")
    session.branch("alt", 1)
    session.think("Other angle: induction")
    session.think("Induction step holds")
    session.switch_branch(None)
    session.revise(1, "The problem is about all n, not even n", done=True)
    return session


def outputs(session: Session) -> dict[str, str]:
    """Every text a notebook would store for this session."""
    summary = session.summary()
    card = thought_card(session.thoughts[-1], session.id)
    return {
        "summary/plain": summary.as_text(),
        "summary/html": summary._repr_html_(),
        "card/plain": card._repr_mimebundle_()["text/plain"],
        "card/html": card._repr_mimebundle_()["text/html"],
        "branches/plain": branch_table(session).plain,
        "branches/html": branch_table(session).html,
        "markdown": session.to_markdown(),
        "mermaid": session.to_mermaid(),
    }


# --- determinism ----------------------------------------------------------------------------------


def test_outputs_are_identical_for_the_same_thinking_at_different_times() -> None:
    first = outputs(sample())
    time.sleep(0.01)
    second = outputs(sample())
    assert first == second


def test_outputs_hold_no_ids_times_or_addresses() -> None:
    session = sample()
    secrets = [t.id for t in session.thoughts] + [t.created_at.isoformat()[:19] for t in session.thoughts]
    secrets.append(str(session.created_at.year))
    for name, text in outputs(session).items():
        for secret in secrets:
            assert secret not in text, f"{name} shows {secret!r}"
        assert not re.search(r"0x[0-9a-f]{6,}", text), name


def test_summary_text() -> None:
    assert sample().summary().as_text() == (
        "Session demo · complete · 5 thoughts (trunk 3, 1 branch, 1 revision) · estimate 3\n"
        "  active: main\n"
        "  branch alt: from 1, 2 thoughts\n"
        "  conclusion: The problem is about all n, not even n"
    )


def test_session_repr_str_and_pretty_are_the_summary_text() -> None:
    session = sample()
    text = session.summary().as_text()
    assert str(session.summary()) == repr(session.summary()) == text
    from IPython.lib.pretty import pretty

    assert pretty(session) == text


def test_thought_card_text_shows_heading_and_indented_body() -> None:
    session = sample()
    assert thought_card(session.thoughts[-1], "demo").plain == (
        "Thought 3/3 · session demo · revises 1 · done\n  The problem is about all n, not even n"
    )
    branch_thought = session.branches["alt"].thoughts[0]
    assert thought_card(branch_thought).plain.splitlines()[0] == "Thought 2/3 · branch alt (from 1)"


def test_multi_line_thought_card_indents_every_line() -> None:
    thought = Session("m").think("line one\nline two\n\nline four")
    assert thought_card(thought).plain.splitlines()[1:] == ["  line one", "  line two", "  ", "  line four"]


def test_branch_table_marks_the_active_lane() -> None:
    session = sample()
    session.switch_branch("alt")
    assert branch_table(session).plain == (
        "Branches of demo (* active)\n  main  from   -  3 thoughts\n* alt   from   1  2 thoughts"
    )


def test_session_table_lists_sessions_and_says_when_there_are_none() -> None:
    assert session_table([]).plain == "No sessions yet."
    table = session_table([("demo", "memory", 5, True), ("one", "memory", 1, False), ("other", "store", 7, False)]).plain
    assert table.splitlines() == [
        "Sessions (* active)",
        "* demo   memory  5 thoughts",
        "  one    memory  1 thought",
        "  other  store   7 thoughts",
    ]


# --- HTML escaping --------------------------------------------------------------------------------


def script_session() -> Session:
    session = SessionManager(persist=False).session("xss")
    session.think(SCRIPT, total=2)
    session.think(f"done {SCRIPT} & <b>bold</b>", done=True)
    return session


@pytest.mark.parametrize("name", ["summary/html", "card/html", "branches/html"])
def test_html_displays_escape_thought_text(name: str) -> None:
    text = outputs(script_session())[name]
    assert "<script" not in text and "<b>bold" not in text


def test_card_html_shows_the_text_escaped_exactly() -> None:
    session = script_session()
    card = thought_card(session.thoughts[0])
    assert html.escape(SCRIPT) in card.html
    assert "Thought 1/2" in card.html


def test_standalone_html_page_escapes_thought_text() -> None:
    page = script_session().to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert html.escape(SCRIPT) in page
    assert "<svg" in page


# --- Mermaid --------------------------------------------------------------------------------------


def mermaid_decode(label: str) -> str:
    """What Mermaid shows for a label: its ``#code;`` entities decoded, then HTML entities."""
    return html.unescape(re.sub(r"#(\w+);", lambda m: f"&#{m[1]};" if m[1].isdigit() else f"&{m[1]};", label))


NODE = re.compile(r'^    (t\d+)\["([^"\[\]]*)"\]$')


def test_mermaid_labels_escape_quotes_and_brackets() -> None:
    session = Session("m")
    tricky = 'Say "stop" [now] <b>#1;</b> & `c` {x} | y'
    session.think(tricky)
    [node] = [line for line in session.to_mermaid().splitlines() if line.startswith("    t1[")]
    match = NODE.match(node)
    assert match is not None, node
    assert mermaid_decode(match[2]) == f"1. {tricky}"


def test_mermaid_labels_are_one_line_and_short() -> None:
    session = Session("m")
    session.think("first line\nsecond line " + "word " * 40)
    label = NODE.match(session.to_mermaid().splitlines()[1])[2]
    assert "\n" not in label and len(label) <= 60 and label.endswith("…")


def test_mermaid_flowchart_structure() -> None:
    lines = sample().to_mermaid().splitlines()
    assert lines[0] == "flowchart TD"
    nodes = [NODE.match(line)[1] for line in lines if NODE.match(line)]
    assert nodes == ["t1", "t2", "t5", "t3", "t4"]  # trunk first, then each branch; names = arrival order
    assert '    subgraph b1["alt (from 1)"]' in lines
    assert "    t1 --> t2" in lines and "    t2 --> t5" in lines
    assert '    t1 -->|"alt"| t3' in lines and "    t3 --> t4" in lines
    assert "    t5 -. revises .-> t1" in lines
    assert lines[-1] == "    style t5 stroke-width:3px"


def test_mermaid_branch_named_like_a_keyword_or_node_stays_well_formed() -> None:
    session = Session("m")
    session.think("a")
    session.branch("end", 1)
    session.think("b")
    session.branch("t1", 1)
    session.think("c")
    lines = session.to_mermaid().splitlines()
    assert [line for line in lines if line.strip().startswith("subgraph")] == [
        '    subgraph b1["end (from 1)"]',
        '    subgraph b2["t1 (from 1)"]',
    ]
    assert lines.count("    end") == 2


# --- Markdown and JSON ----------------------------------------------------------------------------


def test_markdown_structure() -> None:
    markdown = sample().to_markdown()
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert headings == [
        "# Session demo",
        "## Trunk",
        "### Thought 1/3",
        "### Thought 2/3",
        "### Thought 3/3 · revises 1 · done",
        "## Branch alt (from thought 1)",
        "### Thought 2/3 · branch alt (from 1)",
        "### Thought 3/3 · branch alt (from 1)",
        "## Conclusion",
    ]
    assert "Status: complete · 5 thoughts" in markdown
    assert markdown.rstrip().endswith("The problem is about all n, not even n")


def test_markdown_keeps_thought_text_verbatim() -> None:
    session = Session("md")
    text = "Use **bold**, `code` and a list:\n- one\n- two"
    session.think(text)
    assert f"\n{text}\n" in session.to_markdown()


def test_open_session_markdown_has_no_conclusion() -> None:
    session = Session("open")
    session.think("still thinking")
    assert "## Conclusion" not in session.to_markdown()


def test_json_export_is_the_session_record_with_wire_names() -> None:
    session = sample()
    data = json.loads(export(session, "json"))
    assert data["id"] == "demo" and data["formatVersion"] == 1
    assert [t["thoughtNumber"] for t in data["thoughts"]] == [1, 2, 2, 3, 3]
    assert data["branches"]["alt"]["fromThought"] == 1
    assert Session.from_json(export(session, "json")).to_json() == session.to_json()


@pytest.mark.parametrize(
    "fmt, start",
    [
        ("md", "# Session demo"),
        ("markdown", "# Session demo"),
        ("mmd", "flowchart TD"),
        ("mermaid", "flowchart TD"),
        ("html", "<!DOCTYPE html>"),
        ("JSON", "{"),
    ],
)
def test_export_formats_and_aliases(fmt: str, start: str) -> None:
    assert export(sample(), fmt).startswith(start)


def test_unknown_export_format_names_the_choices() -> None:
    with pytest.raises(ValueError, match="markdown, json, mermaid, html"):
        export(sample(), "pdf")
