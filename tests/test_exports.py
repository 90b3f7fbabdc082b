"""Exports (Markdown, Mermaid, JSON, HTML) and display cards: deterministic, escaped, well formed.

Mermaid output is also drawn by Mermaid itself in a browser: see ``test_mermaid.py``.
"""

from __future__ import annotations

import html
import json
import re
import time
from html.parser import HTMLParser

import pytest

from jupyter_think import Session, SessionManager
from jupyter_think.views.display import thought_card
from jupyter_think.views.export import export
from jupyter_think.views.listings import branch_table, session_table
from jupyter_think.views.richtext import markdown_html
from jupyter_think.views.tree import render_text

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
    table = session_table(
        [("demo", "memory", 5, True), ("one", "memory", 1, False), ("other", "store", 7, False)]
    ).plain
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


def test_card_html_shows_markup_in_a_thought_as_text() -> None:
    session = script_session()
    card = thought_card(session.thoughts[0])
    assert html.escape(SCRIPT, quote=False) in card.html
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


NODE = re.compile(r'^ +(t\d+)\["([^"\[\]]*)"\]$')


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
    assert '    subgraph b1["alt (from 1)"]' in lines  # parentheses are safe inside quotes
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
    ("fmt", "start"),
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


# --- Mermaid: no thought changes the diagram ------------------------------------------------------


def test_mermaid_escapes_every_character_mermaid_reads_in_a_label() -> None:
    session = Session("m")
    session.think("a %%{b")
    session.think("%%{init:{'themeCSS':'.node{fill:red}'}}%% x")
    session.think('q " ` # ; < > & [ ] { } | %% \\ = * _ ~ \x1b[31m\u202e')
    labels = [NODE.match(line)[2] for line in session.to_mermaid().splitlines() if NODE.match(line)]
    for label in labels:
        assert not re.search(r"[%\"`;<>&\[\]{}|\\~\x00-\x1f]", label.replace("#", "").replace(";", "")), label
        assert "%%" not in label and "%" not in label
    assert mermaid_decode(labels[0]) == "1. a %%{b"
    assert mermaid_decode(labels[2]) == '3. q " ` # ; < > & [ ] { } | %% \\ = * _ ~ \\x1b[31m\\u202e'


def test_mermaid_draws_the_edge_into_a_branch_forked_from_another_branch() -> None:
    session = Session("nested")
    for text in ("one", "two", "three"):
        session.think(text, total=6)
    session.branch("alt", from_thought=2)
    session.think("alt three")
    session.think("alt four")
    session.think("alt five")
    session.branch("sub", from_thought=5)  # 5 exists only on alt
    session.think("sub six")
    lines = session.to_mermaid().splitlines()
    names = {NODE.match(line)[2]: NODE.match(line)[1] for line in lines if NODE.match(line)}
    assert f'    {names["5. alt five"]} -->|"sub"| {names["6. sub six"]}' in lines
    assert f'    {names["2. two"]} -->|"alt"| {names["3. alt three"]}' in lines
    # the text tree hangs sub under alt's thought 5, the same graph
    assert "│           └── branch sub (from 5)" in render_text(session).splitlines()


# --- Markdown: rendered in HTML, literal in text/plain --------------------------------------------

MARKDOWN = "A thought can be **Markdown**:\n\n- with `code`\n- and a [link](https://example.org/a?b=1)"
HOSTILE = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) "
    "[tab](java&#9;script:alert(4)) <javascript:alert(5)> ![svg](data:image/svg+xml;base64,PHN2Zz4=) "
    '<a href="javascript:alert(6)">a</a> [up](JAVASCRIPT:alert(7)) [vb](vbscript:msgbox(8))'
)


class _Markup(HTMLParser):
    """The tags, event-handler attributes and link/image addresses of an HTML fragment."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.urls: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name in ("href", "src"):
                self.urls.append(value or "")


def _runs_code(url: str) -> bool:
    """Whether a browser would run or read ``url`` as a script or a file (ASCII whitespace dropped)."""
    squeezed = re.sub(r"[\x00-\x20]", "", html.unescape(url)).lower()
    return squeezed.startswith(("javascript:", "vbscript:", "file:", "data:text", "data:image/svg"))


def markdown_outputs(text: str) -> dict[str, str]:
    session = Session("md")
    thought = session.think(text)
    return {
        "card": thought_card(thought).html,
        "export": session.to_html(),
        "detail": markdown_html(text),
    }


@pytest.mark.parametrize("where", ["card", "export", "detail"])
def test_markdown_is_rendered_in_html(where: str) -> None:
    rendered = markdown_outputs(MARKDOWN)[where]
    assert "<strong>Markdown</strong>" in rendered
    assert "<li>with <code>code</code></li>" in rendered
    assert '<a href="https://example.org/a?b=1">link</a>' in rendered


@pytest.mark.parametrize("where", ["card", "export", "detail"])
def test_no_tag_or_script_link_from_a_thought_reaches_the_page(where: str) -> None:
    rendered = markdown_outputs(HOSTILE)[where]
    markup = _Markup(rendered)
    assert "script" not in markup.tags
    assert markup.handlers == []
    assert [url for url in markup.urls if _runs_code(url)] == []
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in rendered


def test_text_plain_keeps_the_markdown_as_typed() -> None:
    thought = Session("md").think(MARKDOWN)
    card = thought_card(thought)
    assert card.plain.splitlines()[1:] == ["  " + line if line else "  " for line in MARKDOWN.splitlines()]
    assert "<strong>" not in card.plain
    assert f"\n{MARKDOWN}\n" in Session.to_markdown(_with(MARKDOWN))


def _with(text: str) -> Session:
    session = Session("md")
    session.think(text)
    return session


def test_text_plain_shows_control_characters_escaped_and_exports_keep_them() -> None:
    session = _with("red \x1b[31malert\x1b[0m and \u202eevil")
    card = thought_card(session.thoughts[0])
    assert card.plain.splitlines()[1] == "  red \\x1b[31malert\\x1b[0m and \\u202eevil"
    assert "\x1b" not in card.plain and "\u202e" not in card.plain
    assert "\x1b[31m" in session.to_markdown()  # a file export is the data, exactly
    assert json.loads(session.to_json())["thoughts"][0]["thought"] == session.thoughts[0].thought
