"""The pure graph layout: lanes, fork positions, revision edges, the final mark, determinism, speed."""

from __future__ import annotations

from sessions import proof_session

from jupyter_think import Session
from jupyter_think.core.models import Thought, ThoughtInput
from jupyter_think.views.layout import LayoutBuilder, layout, layout_thoughts


def test_trunk_is_lane_zero_and_branches_get_lanes_in_creation_order() -> None:
    graph = layout(proof_session())
    assert [(lane.index, lane.name, lane.from_thought) for lane in graph.lanes] == [
        (0, "main", None),
        (1, "induction", 2),
        (2, "geometry", 3),
    ]
    assert [len(graph.lane_nodes(i)) for i in range(3)] == [5, 2, 1]


def test_nodes_keep_arrival_order_and_lanes_take_consecutive_columns() -> None:
    graph = layout(proof_session())
    assert [(n.index, n.lane, n.column) for n in graph.nodes] == [
        (0, 0, 0),
        (1, 0, 1),
        (2, 0, 2),  # trunk 1, 2, 3
        (3, 1, 2),
        (4, 1, 3),  # induction starts right after its fork point (column of thought 2)
        (5, 0, 3),  # the revision continues the trunk
        (6, 2, 3),  # geometry forks at thought 3 (column 2)
        (7, 0, 4),  # the conclusion
    ]


def test_a_branch_lane_starts_one_column_after_its_fork_point() -> None:
    graph = layout(proof_session())
    induction, geometry = graph.lanes[1], graph.lanes[2]
    assert graph.nodes[induction.fork].thought.thought == "Small cases"
    assert induction.start == graph.nodes[induction.fork].column + 1
    assert graph.nodes[geometry.fork].thought.thought == "Guess n squared"
    assert geometry.start == 3


def test_edges_link_sequences_forks_and_revisions() -> None:
    edges = [(e.kind, e.source, e.target) for e in layout(proof_session()).edges]
    assert sorted(edges) == sorted(
        [
            ("sequence", 0, 1),
            ("sequence", 1, 2),
            ("sequence", 2, 5),
            ("sequence", 5, 7),
            ("fork", 1, 3),
            ("sequence", 3, 4),
            ("revision", 5, 1),
            ("fork", 2, 6),
        ]
    )


def test_node_kinds_and_the_final_mark() -> None:
    graph = layout(proof_session())
    assert [n.kind for n in graph.nodes] == [
        "thought",
        "thought",
        "thought",
        "branch",
        "branch",
        "revision",
        "branch",
        "final",
    ]
    assert graph.final == 7


def test_no_final_mark_while_the_session_is_open() -> None:
    s = proof_session()
    s.think("One more idea")
    assert layout(s).final is None


def test_a_revision_in_a_branch_points_into_its_own_lane_first() -> None:
    s = Session("r")
    s.think("a", total=3)
    s.think("b")
    s.branch("alt", from_thought=1)
    s.think("alt two")  # number 2 in the branch, like "b" in the trunk
    s.revise(2, "alt two, revised")
    graph = layout(s)
    revision = graph.nodes[-1]
    assert graph.nodes[revision.revises].thought.thought == "alt two"


def test_a_revision_in_a_branch_of_a_trunk_thought_points_to_the_trunk() -> None:
    s = Session("r")
    s.think("a", total=3)
    s.think("b")
    s.branch("alt", from_thought=2)
    s.revise(1, "a, revised in the branch")
    graph = layout(s)
    assert graph.nodes[-1].lane == 1 and graph.nodes[-1].revises == 0


def test_an_empty_branch_still_gets_a_lane_at_its_fork_point() -> None:
    s = Session("e")
    s.think("a", total=2)
    s.think("b")
    s.branch("later", from_thought=1)
    graph = layout(s)
    assert [(lane.name, lane.fork, lane.start) for lane in graph.lanes] == [
        ("main", None, 0),
        ("later", 0, 1),
    ]


def test_a_branch_forking_from_a_missing_number_has_no_fork_edge() -> None:
    # The agent tool is lenient: a branch may name a thought that does not exist.
    thoughts = [
        Thought(thought="a", thought_number=1, total_thoughts=2, next_thought_needed=True),
        Thought(
            thought="far",
            thought_number=10,
            total_thoughts=10,
            next_thought_needed=True,
            branch_id="x",
            branch_from_thought=9,
        ),
    ]
    graph = layout_thoughts(thoughts)
    assert graph.lanes[1].fork is None
    assert [e.kind for e in graph.edges] == []
    assert graph.nodes[1].column == 9


def test_a_revision_of_a_missing_thought_has_no_edge() -> None:
    thoughts = [
        Thought(thought="a", thought_number=1, total_thoughts=2, next_thought_needed=True),
        Thought(
            thought="fix",
            thought_number=2,
            total_thoughts=2,
            next_thought_needed=True,
            is_revision=True,
            revises_thought=7,
        ),
    ]
    graph = layout_thoughts(thoughts)
    assert graph.nodes[1].kind == "revision" and graph.nodes[1].revises is None
    assert [e.kind for e in graph.edges] == ["sequence"]


def test_placing_one_by_one_gives_the_full_layout() -> None:
    s = proof_session()
    builder = LayoutBuilder()
    for thought in s.thoughts:
        builder.add(thought)
    assert builder.layout() == layout(s)


def test_layout_is_deterministic() -> None:
    s = proof_session()
    copy = Session.from_json(s.to_json())
    assert layout(s) == layout(copy)
    assert layout(s) == layout(s)


def test_a_branch_id_on_a_thought_without_a_fork_stays_in_the_trunk() -> None:
    # Reference-server semantics: a thought joins a branch only with both branch fields set.
    s = Session("t")
    s.record(
        ThoughtInput(
            thought="a", thought_number=1, total_thoughts=2, next_thought_needed=True, branch_id="loose"
        )
    )
    graph = layout(s)
    assert len(graph.lanes) == 1 and graph.nodes[0].lane == 0


def big_session(count: int) -> Session:
    s = Session("big", max_thoughts=count)
    s.think("start", total=count)
    for i in range(1, count):
        if i % 500 == 0:
            s.branch(f"b{i}", from_thought=s.trunk[-1].thought_number)
        elif i % 500 == 50:
            s.switch_branch("main")
        if i % 37 == 0:
            s.revise(s.thoughts[-2].thought_number, f"revision {i}")
        else:
            s.think(f"thought {i}")
    return s


def test_ten_thousand_thoughts_are_all_placed_in_their_lanes() -> None:
    """(How fast: benchmarks/bench_widget.py prints the layout time at 100 / 1 000 / 10 000 thoughts.)"""
    s = big_session(10_000)
    graph = layout(s)
    assert len(graph.nodes) == 10_000 and len(graph.lanes) == 20
