"""How every view shows the teaching state: cards, summary, branch table, exports, the standalone SVG,
the text tree, the layout the widget will draw from, and ``jupyter-think show``.

All of it deterministic: the same thinking gives the same bytes (``lesson_session`` in sessions.py:
thought 3 amended, the proof branch's dead end retracted and the branch abandoned, the search branch
chosen and merged into the trunk, a revision and the conclusion after the merge).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

from sessions import lesson_session

from jupyter_think import Session, SessionManager
from jupyter_think.views.display import card_in
from jupyter_think.views.layout import label_lines, layout
from jupyter_think.views.listings import branch_table
from jupyter_think.views.render import render_svg
from jupyter_think.views.theme import LABELS, LINE_COLORS, STATES, THEME
from jupyter_think.views.tree import render_text
from jupyter_think.widgets.graph import BranchGraph

SVG_NS = "{http://www.w3.org/2000/svg}"

LESSON_TREE = """\
Session lesson · complete · 10 thoughts · 2 branches · 1 revision · 1 retracted
main
├── 1 Restate: is 2**n - 1 prime for every prime n?
├── 2 Compute small cases
├── 3 2, 3, 5, 7 give 3, 7, 31, 127: all prime  [amended]
├── 4 Guess: always prime
│   ├── branch proof (from 4) · abandoned: it proves the converse, not the guess
│   │   ├── 5 Look for a factor of 2**n - 1
│   │   ├── 6 Induction on n: from one prime to the next  [retracted]
│   │   └── 7 If n = a*b then 2**a - 1 divides 2**n - 1
│   └── branch search (from 4) · chosen: one counterexample settles it
│       ├── 5 Search the next primes, 11 and 13
│       ├── 6 2**11 - 1 = 2047 = 23 * 89: a counterexample
│       └── merged into main
├── 7 The guess is false: n = 11  [revises 4]
└── 8 Conclusion: a prime n is needed, not enough  [final]"""


# --- cards, summary, branch table ---------------------------------------------------------------------


def test_an_amended_thought_card_says_so_and_shows_what_it_was() -> None:
    s = lesson_session()
    card = card_in(s, s.thoughts[2])
    assert card.plain == (
        "Thought 3/6 · amended\n  2, 3, 5, 7 give 3, 7, 31, 127: all prime\n  was: 2, 3, 5, 7 give 3, 7, 31, 217: all prime"
    )
    assert "217" in card.html and "amended" in card.html


def test_a_retracted_thought_card_is_marked_struck_through_and_greyed() -> None:
    s = lesson_session()
    card = card_in(s, s.branches["proof"].thoughts[1])
    assert card.plain.splitlines()[0] == "Thought 6/6 · branch proof (from 4) · retracted"
    assert "text-decoration:line-through" in card.html and STATES["retracted"]["color"] in card.html


def test_summary_counts_without_retracted_thoughts_and_names_decisions_merges_and_conclusion() -> None:
    assert lesson_session().summary().as_text() == (
        "Session lesson · complete · 10 thoughts (trunk 6, 2 branches, 1 revision, 1 amended, 1 retracted) · estimate 8\n"
        "  active: main\n"
        "  branch proof: from 4, 2 thoughts · abandoned: it proves the converse, not the guess\n"
        "  branch search: from 4, 2 thoughts · chosen: one counterexample settles it\n"
        "  merged: search into main after thought 6\n"
        "  conclusion: Conclusion: a prime n is needed, not enough"
    )


def test_summary_html_names_each_decision_with_its_note() -> None:
    page = lesson_session().summary()._repr_html_()
    assert "<th>decision</th>" in page
    assert (
        "chosen: one counterexample settles it" in page and "merged: search into main after thought 6" in page
    )


def test_the_branch_table_shows_outcomes_notes_merges_and_retractions() -> None:
    assert branch_table(lesson_session()).plain == (
        "Branches of lesson (* active)\n"
        "* main    from   -  6 thoughts\n"
        "  proof   from   4  2 thoughts, 1 retracted  abandoned: it proves the converse, not the guess\n"
        "  search  from   4  2 thoughts  chosen: one counterexample settles it · merged into main"
    )


def test_a_session_without_teaching_changes_shows_as_before() -> None:
    s = Session("plain")
    s.think("One", total=2)
    s.think("Two", done=True)
    assert s.summary().as_text() == (
        "Session plain · complete · 2 thoughts (trunk 2, 0 branches, 0 revisions) · estimate 2\n"
        "  active: main\n  conclusion: Two"
    )


# --- exports -----------------------------------------------------------------------------------------


def test_markdown_marks_amended_and_retracted_thoughts_and_names_decisions_and_merges() -> None:
    text = lesson_session().to_markdown()
    assert "Status: complete · 10 thoughts · 1 retracted" in text
    assert (
        "### Thought 3/6 · amended\n\n2, 3, 5, 7 give 3, 7, 31, 127: all prime\n\n> Earlier text: 2, 3, 5, 7 give 3, 7, 31, 217"
        in text
    )
    assert "### Thought 6/6 · branch proof (from 4) · retracted" in text
    assert (
        "## Branch proof (from thought 4) · abandoned\n\n*Abandoned: it proves the converse, not the guess*"
        in text
    )
    assert "## Branch search (from thought 4) · chosen\n\n*Chosen: one counterexample settles it*" in text
    assert "## Merges\n\n- search into main after thought 6" in text
    assert text.endswith("## Conclusion\n\nConclusion: a prime n is needed, not enough\n")


def test_json_export_keeps_every_earlier_text_and_every_change() -> None:
    record = json.loads(lesson_session().to_json(indent=2))
    assert record["thoughts"][2]["thought"] == "2, 3, 5, 7 give 3, 7, 31, 217: all prime"
    kinds = [placed["change"]["kind"] for placed in record["changes"]]
    assert kinds == [
        "amend",
        "branch",
        "activate",
        "retract",
        "branch",
        "activate",
        "decide",
        "decide",
        "merge",
    ]
    amend = record["changes"][0]
    assert amend["after"] == 4 and amend["change"]["text"] == "2, 3, 5, 7 give 3, 7, 31, 127: all prime"
    decide = record["changes"][6]["change"]
    assert (decide["branchId"], decide["outcome"], decide["note"]) == (
        "search",
        "chosen",
        "one counterexample settles it",
    )
    merge = record["changes"][8]["change"]
    assert (merge["branchId"], merge["into"], merge["thoughtNumber"]) == ("search", None, 6)


def test_html_page_strikes_retracted_thoughts_and_lists_decisions() -> None:
    page = lesson_session().to_html()
    assert "<li>search: chosen: one counterexample settles it</li>" in page
    assert "<li>merged: search into main after thought 6</li>" in page
    assert "text-decoration:line-through" in page
    assert "<i>Earlier text:</i> 2, 3, 5, 7 give 3, 7, 31, 217: all prime" in page


def test_mermaid_draws_the_teaching_state() -> None:
    text = lesson_session().to_mermaid()
    lines = text.splitlines()
    assert '    t3["3. 2, 3, 5, 7 give 3, 7, 31, 127: all prime ✎"]' in lines
    assert '    subgraph b1["proof (from 4) · abandoned: it proves the converse, not the…"]' in lines
    assert '    subgraph b2["search (from 4) · chosen: one counterexample settles it"]' in lines
    assert "    t9 -->|merged| t10" in lines
    assert "    class t6 retracted" in lines
    assert "    style b1 opacity:0.35,stroke-dasharray:4 3" in lines
    assert "    linkStyle 4 stroke:" + LINE_COLORS["merge"] in lines
    # the chosen path: the trunk, the fork into search, search, the merge — not the proof branch
    bold = next(line for line in lines if line.endswith(f"stroke-width:{STATES['chosen']['width']}px"))
    assert bold == "    linkStyle 0,1,2,3,4,5,9,10 stroke-width:4px"


# --- the standalone SVG ---------------------------------------------------------------------------------


def svg_of(session: Session) -> ET.Element:
    return ET.fromstring(render_svg(session))


def test_the_svg_stands_alone_on_a_white_background_with_labels() -> None:
    root = svg_of(lesson_session())
    assert root.get("xmlns") is None and root.tag == f"{SVG_NS}svg"  # a namespaced, standalone document
    assert root.find(f"{SVG_NS}rect").get("fill") == "#fff"
    labels = [
        " ".join(t.text for t in g.iter(f"{SVG_NS}text") if t.get("class") == "label")
        for g in root.iter(f"{SVG_NS}g")
    ]
    assert labels[0] == "Restate: is 2**n - 1 prime for…"
    assert all(
        len(line) <= LABELS["chars"] for line in label_lines("Restate: is 2**n - 1 prime for every prime n?")
    )


def test_the_svg_draws_the_chosen_path_bold_and_abandoned_lanes_faded() -> None:
    root = svg_of(lesson_session())
    chosen = STATES["chosen"]
    bold = [
        e
        for e in root.iter()
        if e.get("stroke-width") == str(chosen["width"]) and e.get("class") in ("sequence", "fork", "merge")
    ]
    assert len(bold) == 8  # trunk 1-2-3-4-7-8, fork into search, search 5-6, the merge
    faded = [g for g in root.iter(f"{SVG_NS}g") if g.get("data-lane") == "1"]
    assert faded and all(g.get("opacity") == str(STATES["abandoned"]["opacity"]) for g in faded)
    assert {g.get("opacity") for g in root.iter(f"{SVG_NS}g") if g.get("data-lane") == "2"} == {None}


def test_the_svg_greys_retracted_marks_amended_and_rings_the_final_thought() -> None:
    root = svg_of(lesson_session())
    groups = list(root.iter(f"{SVG_NS}g"))
    retracted = [g for g in groups if "retracted" in (g.get("class") or "")]
    assert len(retracted) == 1
    circle = retracted[0].find(f"{SVG_NS}circle")
    assert circle.get("fill") == STATES["retracted"]["color"]
    assert all(
        t.get("text-decoration") == "line-through"
        for t in retracted[0].iter(f"{SVG_NS}text")
        if t.get("class") == "label"
    )
    amended = [g for g in groups if "amended" in (g.get("class") or "")]
    assert amended[0].find(f"{SVG_NS}text[@class='label']").text.startswith(STATES["amended"]["mark"])
    rings = [c for c in root.iter(f"{SVG_NS}circle") if c.get("stroke") == LINE_COLORS["final"]]
    assert len(rings) == 1


def test_the_svg_draws_merge_edges_and_writes_decisions_under_the_graph() -> None:
    root = svg_of(lesson_session())
    assert len([p for p in root.iter(f"{SVG_NS}path") if p.get("class") == "merge"]) == 1
    notes = [t.text for t in root.iter(f"{SVG_NS}text") if t.get("class") == "decision"]
    assert notes == [
        "proof: abandoned: it proves the converse, not the guess",
        "search: chosen: one counterexample settles it",
        "search merged into main after 6",
    ]


def test_a_merge_still_waiting_for_its_next_thought_is_drawn_as_a_stub() -> None:
    s = Session("wait")
    s.think("Start", total=2)
    s.branch("idea", from_thought=1)
    s.think("Idea")
    s.merge("idea")
    root = svg_of(s)
    assert len([p for p in root.iter(f"{SVG_NS}path") if p.get("class") == "merge"]) == 1
    assert "merged into main" in render_text(s)


def test_session_to_svg_is_the_svg_export(tmp_path: Path) -> None:
    s = lesson_session()
    assert s.to_svg() == render_svg(s)
    from jupyter_think.views.export import export

    assert export(s, "svg") == s.to_svg()


# --- the text tree and the CLI ---------------------------------------------------------------------------


def test_the_text_tree_marks_every_teaching_change() -> None:
    assert render_text(lesson_session()) == LESSON_TREE


def test_jupyter_think_show_prints_the_teaching_state(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with SessionManager(store=str(store)) as manager:
        lesson_session(into=manager.session("lesson"))
    script = Path(sys.executable).parent / "jupyter-think"
    done = subprocess.run(
        [str(script), "--dir", str(store), "show", "lesson"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == LESSON_TREE + "\n"


# --- the layout the live widget draws from -------------------------------------------------------------


def test_the_layout_gives_each_node_and_lane_its_teaching_state() -> None:
    graph = layout(lesson_session())
    retracted = [n.number for n in graph.nodes if n.retracted]
    amended = [n.number for n in graph.nodes if n.amended]
    assert (retracted, amended) == ([6], [3])
    assert [(lane.name, lane.outcome, lane.note) for lane in graph.lanes] == [
        ("main", None, None),
        ("proof", "abandoned", "it proves the converse, not the guess"),
        ("search", "chosen", "one counterexample settles it"),
    ]
    assert graph.path == frozenset({0, 2})
    (merge,) = [e for e in graph.edges if e.kind == "merge"]
    source, target = graph.nodes[merge.source], graph.nodes[merge.target]
    assert (source.lane, source.number, target.lane, target.number) == (2, 6, 0, 7)
    assert target.column == source.column + 1  # the trunk continues after the merged thought
    assert graph.nodes[graph.final].number == 8
    assert graph.ids[target.thought.id] == target.index


def test_labels_are_the_first_words_within_the_themes_size() -> None:
    assert label_lines("Restate: is 2**n - 1 prime for every prime n?") == (
        "Restate: is 2**n",
        "- 1 prime for…",
    )
    assert label_lines("Short") == ("Short",)
    assert label_lines("Averyveryverylongwordindeed and more") == ("Averyveryverylo…", "and more")
    assert THEME["labels"]["chars"] == LABELS["chars"]


def test_the_widget_follows_teaching_changes_and_its_fallbacks_show_them() -> None:
    s = Session("lesson")
    graph = BranchGraph(s)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a subscriber that fails is reported as a warning
            lesson_session(into=s)
        assert graph.following
        assert repr(graph) == LESSON_TREE
        assert graph.svg() == render_svg(s)
    finally:
        graph.close()
