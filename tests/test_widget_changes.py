"""The graph widget's kernel side and the teaching changes: every change kind is one small message,
the final node and the chosen path travel with the step that moved them, and a front end that
applies the live messages holds exactly what a new widget would send."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_teaching_property import STEPS, run_step
from test_widget import Recorder, ask_detail

from jupyter_think import Session
from jupyter_think.views.layout import layout
from jupyter_think.widgets.graph import BranchGraph


def lesson(count: int, session_id: str = "lesson") -> Session:
    """A trunk of ``count - 3`` thoughts (the last ends the thinking) and a branch ``alt`` of three."""
    s = Session(session_id, max_thoughts=count + 10)
    s.think("Restate the problem", total=count)
    for i in range(2, count - 3):
        s.think(f"Trunk thought {i:05d}")
    s.think("Answer: twelve", done=True)
    s.branch("alt", from_thought=2)
    for i in range(3):
        s.think(f"Branch thought {i}", done=i == 2)
    return s


CHANGES = {
    "amend": lambda s: s.amend(2, "Trunk thought 00002, with its typo fixed"),
    "retract": lambda s: s.retract(2),
    "decide": lambda s: s.decide("alt", "abandoned", note="the trunk is simpler"),
    "merge": lambda s: s.merge("alt", into="main"),
}


def only_custom(recorder: Recorder) -> list[dict[str, Any]]:
    """The custom messages sent; fails if a trait (the whole snapshot) was sent again."""
    assert all(m.get("method") == "custom" for m in recorder.messages), [
        m.get("method") for m in recorder.messages
    ]
    return recorder.custom


@pytest.mark.parametrize("kind", list(CHANGES))
def test_each_teaching_change_is_one_message_whose_size_does_not_grow_with_the_session(kind: str) -> None:
    sizes = {}
    for count in (100, 10_000):
        s = lesson(count)
        s.switch_branch("main")
        graph = BranchGraph(s)
        recorder = Recorder(graph)
        CHANGES[kind](s)
        (message,) = only_custom(recorder)
        assert message["type"] == "event" and message["events"][0]["k"] == kind
        sizes[count] = recorder.sizes()[0]
        graph.close()
    assert abs(sizes[10_000] - sizes[100]) <= 0.1 * sizes[100], sizes


def test_an_amendment_sends_the_new_text_and_label_and_the_detail_keeps_the_earlier_texts() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    recorder = Recorder(graph)
    s.switch_branch("main")
    s.amend(1, "Restate **the** problem, spelled right")
    event = recorder.custom[-1]["events"][0]
    assert event == {
        "k": "amend",
        "i": 0,
        "text": "Restate **the** problem, spelled right",
        "full": True,
        "lb": ["Restate the", "problem, spelle…"],
        "t": 10,
    }
    ask_detail(graph, 0)
    reply = recorder.custom[-1]
    assert reply["text"] == "Restate **the** problem, spelled right"
    assert reply["html"] == "<p>Restate <strong>the</strong> problem, spelled right</p>"
    assert reply["earlier"] == [{"text": "Restate the problem", "html": "<p>Restate the problem</p>"}]
    # a new view's snapshot: the node as recorded, the amendment as a step of its own
    snapshot = BranchGraph(s).snapshot
    assert snapshot["nodes"][0]["text"] == "Restate the problem"
    assert snapshot["events"] == [event]


def test_retracting_the_conclusion_clears_the_final_mark_at_that_step() -> None:
    s = Session("retract")
    s.think("Guess", total=2)
    s.think("Conclude: 12", done=True)
    graph = BranchGraph(s)
    assert graph.snapshot["nodes"][1]["f"] == 1
    recorder = Recorder(graph)
    s.retract(2)
    assert recorder.custom[-1]["events"] == [{"k": "retract", "i": 1, "t": 2, "f": None}]


def test_abandoning_the_branch_that_ended_moves_the_final_mark_back_to_the_trunk() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    assert graph.snapshot["nodes"][-1]["f"] == 9  # the branch ended last
    recorder = Recorder(graph)
    s.decide("alt", "abandoned", note="a dead end")
    assert recorder.custom[-1]["events"] == [
        {"k": "decide", "lane": 1, "outcome": "abandoned", "note": "a dead end", "t": 10, "f": 6}
    ]


def test_choosing_a_branch_sends_the_bold_path_and_its_conclusion() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    recorder = Recorder(graph)
    s.decide("alt", "chosen", note="shorter")
    (event,) = recorder.custom[-1]["events"]
    assert event["p"] == [0, 1] and "f" not in event  # the branch's last thought concluded already
    assert layout(s).path == {0, 1} and layout(s).final == 9


def test_a_merge_is_a_step_and_the_next_thought_of_the_target_carries_the_merge_edge() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    recorder = Recorder(graph)
    s.merge("alt", into="main")
    merged = recorder.custom[-1]
    assert merged == {
        "type": "event",
        "gen": 0,
        "seq": 10,
        "events": [{"k": "merge", "i": 9, "lane": 0, "t": 10}],
        "active": 0,
    }
    s.think("Go on from the branch's result")
    added = recorder.custom[-1]["nodes"][0]
    assert added["mg"] == [9] and added["lane"] == 0 and added["t"] == 11
    assert added["col"] > graph.snapshot["nodes"][9]["col"]  # placed after the merged thought


def test_a_front_end_that_missed_steps_gets_every_one_from_the_first_it_lacks() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    s.amend(3, "Branch thought zero")  # on the active lane, alt
    s.think("One more")
    s.retract(4)
    recorder = Recorder(graph)
    graph._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"type": "sync", "gen": 0, "have": 11}}},
            "buffers": [],
        }
    )
    reply = recorder.custom[-1]
    assert reply["seq"] == 11
    assert [n["t"] for n in reply["nodes"]] == [11] and [e["t"] for e in reply["events"]] == [12]
    assert len(reply["lanes"]) == 2


def test_a_closed_widget_drops_the_graph_it_sent() -> None:
    s = lesson(10)
    graph = BranchGraph(s)
    assert graph.snapshot["nodes"]
    graph.close()
    assert graph.snapshot == {}
    assert "Answer: twelve" in repr(graph)  # what it showed can still be printed


class FrontEnd:
    """What static/graph.js keeps, in Python: the steps of a snapshot plus the live messages."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.lanes = {lane["lane"]: lane for lane in snapshot["lanes"]}
        self.items = sorted(snapshot["nodes"] + snapshot["events"], key=lambda item: item["t"])
        self.active = snapshot["active"]

    def receive(self, message: dict[str, Any]) -> None:
        for lane in message.get("lanes", []):
            self.lanes[lane["lane"]] = lane
        if message["type"] in ("add", "event"):
            assert message["seq"] == len(self.items), "a step was skipped"
            self.items.extend(message.get("nodes", []) + message.get("events", []))
        if "active" in message:
            self.active = message["active"]

    def state(self) -> tuple[Any, ...]:
        return (self.lanes, self.items, self.active)

    def last(self, key: str) -> Any:
        return next((item[key] for item in reversed(self.items) if key in item), None if key == "f" else [])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(STEPS, max_size=12), after=st.lists(STEPS, min_size=1, max_size=15))
def test_a_front_end_following_live_messages_holds_what_a_new_widget_sends(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    session = Session("live")
    session.think("Restate", total=5)
    for step in before:
        try:
            run_step(session, step)
        except ValueError:
            pass  # refused: changes nothing
    graph = BranchGraph(session)
    front = FrontEnd(graph.snapshot)
    recorder = Recorder(graph)
    for step in after:
        with contextlib.suppress(ValueError):
            run_step(session, step)
    for message in recorder.custom:
        front.receive(message)
    fresh = BranchGraph(session).snapshot
    assert front.state() == FrontEnd(fresh).state()
    expected = layout(session)
    assert front.last("f") == expected.final and front.last("p") == sorted(expected.path)
    conclusion = session.conclusion
    assert (expected.final is None) == (conclusion is None)
    if conclusion is not None:
        assert fresh["nodes"][expected.final]["n"] == conclusion.thought_number
    assert json.dumps(recorder.custom)  # every message is JSON as sent
    graph.close()
