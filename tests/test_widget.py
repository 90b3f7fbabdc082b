"""The graph widget's kernel side: what it sends, how it follows the session, how it prints."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_think import Session
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.views.render import render_svg
from jupyter_think.views.theme import KIND_COLORS
from jupyter_think.views.tree import render_text
from jupyter_think.widgets.graph import TEXT_LIMIT, BranchGraph


class Recorder:
    """Captures what the widget's comm sends to the front end."""

    def __init__(self, graph: BranchGraph) -> None:
        self.messages: list[dict[str, Any]] = []
        original = graph.comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            self.messages.append(data)
            original(data=data, metadata=metadata, buffers=buffers)

        graph.comm.send = send

    @property
    def custom(self) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m.get("method") == "custom"]

    def sizes(self) -> list[int]:
        return [len(json.dumps(m, separators=(",", ":"))) for m in self.messages]


def filled(count: int, session_id: str = "s") -> Session:
    s = Session(session_id, max_thoughts=count + 10)
    s.think("thought number one of the session", total=count)
    for i in range(2, count + 1):
        s.think(f"thought {i:05d} of the session")
    return s


@pytest.fixture
def session() -> Iterator[Session]:
    s = Session("demo")
    s.think("Restate the problem", total=3)
    s.think("Try small cases")
    return s


def test_payload_per_added_thought_does_not_grow_with_the_session() -> None:
    sizes = {}
    for count in (100, 10_000):
        s = filled(count)
        graph = BranchGraph(s)
        recorder = Recorder(graph)
        s.think("the same new thought, added at the end")
        assert len(recorder.messages) == 1  # one message, no trait (snapshot) re-sent
        sizes[count] = recorder.sizes()[0]
        graph.close()
    assert abs(sizes[10_000] - sizes[100]) <= 0.1 * sizes[100], sizes


def test_an_added_thought_is_sent_with_its_place(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    session.branch("alt", from_thought=1)
    session.think("Another angle", done=True)
    lanes, active, added = recorder.custom
    assert active == {"type": "active", "gen": 0, "active": 1}
    assert lanes == {
        "type": "lanes",
        "gen": 0,
        "lanes": [{"lane": 1, "id": "alt", "from": 1, "fork": 0, "start": 1}],
    }
    assert added["type"] == "add" and added["seq"] == 2
    assert added["nodes"] == [
        {
            "i": 2,
            "t": 2,
            "lane": 1,
            "col": 1,
            "n": 2,
            "kind": "final",
            "rev": None,
            "head": "Thought 2/3 · branch alt (from 1) · done",
            "text": "Another angle",
            "full": True,
            "lb": ["Another angle"],
            "f": 2,
        }
    ]


def test_snapshot_holds_the_session_at_display_time(session: Session) -> None:
    graph = BranchGraph(session)
    snapshot = graph.snapshot
    assert snapshot["session"] == "demo" and snapshot["steps"] == 2 and snapshot["events"] == []
    assert [(n["i"], n["t"], n["lane"], n["col"], n["text"], n["lb"]) for n in snapshot["nodes"]] == [
        (0, 0, 0, 0, "Restate the problem", ["Restate the", "problem"]),
        (1, 1, 0, 1, "Try small cases", ["Try small cases"]),
    ]
    assert not any("f" in n for n in snapshot["nodes"])  # no conclusion yet
    assert snapshot["lanes"] == [{"lane": 0, "id": "main", "from": None, "fork": None, "start": 0}]


def test_thoughts_from_another_thread_and_from_another_process_are_sent(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    worker = threading.Thread(target=session.think, args=("from a worker thread",))
    worker.start()
    worker.join()
    remote = Thought(
        thought="from another process", thought_number=4, total_thoughts=4, next_thought_needed=True
    )
    session.apply(ThoughtAdded(thought=remote), remote=True)
    assert [m["nodes"][0]["text"] for m in recorder.custom] == [
        "from a worker thread",
        "from another process",
    ]
    assert [m["seq"] for m in recorder.custom] == [2, 3]


def test_a_long_thought_is_cut_and_its_full_text_sent_on_request(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    long_text = "x" * (TEXT_LIMIT + 500)
    session.think(long_text)
    node = recorder.custom[-1]["nodes"][0]
    assert len(node["text"]) == TEXT_LIMIT and node["full"] is False
    graph._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"type": "text", "gen": 0, "i": 2}}},
            "buffers": [],
        }
    )
    assert recorder.custom[-1] == {
        "type": "text",
        "gen": 0,
        "i": 2,
        "text": long_text,
        "html": f"<p>{long_text}</p>",
    }


def ask_detail(graph: BranchGraph, index: int, gen: int = 0) -> None:
    """What the front end sends when a person clicks node ``index``."""
    graph._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"type": "text", "gen": gen, "i": index}}},
            "buffers": [],
        }
    )


def test_the_detail_of_a_thought_is_its_markdown_rendered_in_the_kernel(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    session.think("Use **bold** and <script>alert(1)</script> [x](javascript:alert(2))")
    live = recorder.custom[-1]["nodes"][0]
    assert "html" not in live  # live updates carry the plain text only
    ask_detail(graph, 2)
    reply = recorder.custom[-1]
    assert reply["type"] == "text" and reply["i"] == 2
    assert reply["html"] == (
        "<p>Use <strong>bold</strong> and &lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(2))</p>"
    )


def test_a_detail_request_for_a_missing_thought_gets_no_reply(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    for index in (-1, 2, True, "0", None):
        ask_detail(graph, index)  # type: ignore[arg-type]
    ask_detail(graph, 0, gen=7)  # from a front end that still shows an old generation
    assert recorder.custom == []


def test_the_front_end_gets_the_theme_the_python_renderers_use(session: Session) -> None:
    from jupyter_think.views.theme import THEME_FILE

    graph = BranchGraph(session)
    assert graph.theme == json.loads(THEME_FILE.read_text(encoding="utf-8"))
    state = graph.get_state()
    assert state["theme"]["kinds"]["revision"]["color"] == KIND_COLORS["revision"]
    graph.close()


def test_a_widget_made_while_other_threads_think_misses_and_repeats_nothing() -> None:
    session = Session("busy", max_thoughts=5_000)
    session.think("first", total=2)
    stop = threading.Event()

    def think() -> None:
        for _ in range(2_000):  # two workers stay under max_thoughts however slowly the graphs are made
            if stop.is_set():
                return
            session.think("from a worker thread")

    workers = [threading.Thread(target=think) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        graphs = [BranchGraph(session) for _ in range(20)]
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    expected = render_text(session)
    for graph in graphs:
        assert graph.text() == expected
        graph.close()


def test_a_front_end_that_missed_messages_gets_the_rest_on_request(session: Session) -> None:
    graph = BranchGraph(session)
    session.think("third")
    session.think("fourth")
    recorder = Recorder(graph)
    graph._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"type": "sync", "gen": 0, "have": 2}}},
            "buffers": [],
        }
    )
    reply = recorder.custom[-1]
    assert reply["type"] == "sync" and reply["seq"] == 2
    assert [n["text"] for n in reply["nodes"]] == ["third", "fourth"]


def test_a_reset_session_sends_a_new_snapshot(session: Session) -> None:
    graph = BranchGraph(session)
    session.reset()
    assert graph.snapshot["gen"] == 1 and graph.snapshot["nodes"] == []
    recorder = Recorder(graph)
    session.think("fresh start")
    assert recorder.custom[-1]["gen"] == 1 and recorder.custom[-1]["seq"] == 0


def svg_in(image_html: str) -> str:
    """The SVG document inside the ``<img src="data:image/svg+xml;base64,...">`` fallback."""
    encoded = re.search(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', image_html)
    assert encoded is not None, image_html[:200]
    return base64.b64decode(encoded.group(1)).decode("utf-8")


def test_repr_and_text_plain_are_the_text_tree(session: Session) -> None:
    graph = BranchGraph(session)
    assert repr(graph) == render_text(session)
    assert "0x" not in repr(graph)
    data, _ = graph._repr_mimebundle_()
    assert data["text/plain"] == render_text(session)
    assert data["text/html"].startswith('<img class="jupyter-think-graph" alt="Session ')
    assert svg_in(data["text/html"]) == render_svg(session)
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == graph.model_id


def test_repr_is_the_same_for_the_same_thinking() -> None:
    first, second = BranchGraph(filled(5, "same")), BranchGraph(filled(5, "same"))
    assert repr(first) == repr(second)
    assert first._repr_mimebundle_()[0]["text/html"] == second._repr_mimebundle_()[0]["text/html"]


def test_closing_stops_following_the_session(session: Session) -> None:
    graph = BranchGraph(session)
    recorder = Recorder(graph)
    graph.close()
    session.think("after close")
    assert not graph.following
    assert recorder.custom == []
    assert "after close" not in repr(graph)


def test_graph_reuses_the_open_widget_and_replaces_a_closed_one(session: Session) -> None:
    first = session.graph()
    assert session.graph() is first
    first.close()
    second = session.graph()
    assert second is not first and second.following
    second.close()


@pytest.mark.kernel
def test_a_notebook_shows_the_widget_with_the_text_tree_and_svg_fallbacks(kernel: Any) -> None:
    result = kernel.execute(
        "from jupyter_think import Session\n"
        "from jupyter_think.views.tree import render_text\n"
        "s = Session('shown')\n"
        "_ = s.think('Look at <b>this</b>', total=2)\n"
        "expected = render_text(s)\n"
        "s.graph()"
    )
    assert result.ok, result
    (output,) = result.outputs
    assert output["text/plain"].splitlines() == [
        "Session shown · open · 1 thought · 0 branches · 0 revisions",
        "main",
        "└── 1 Look at <b>this</b>",
    ]
    # an image, not inline SVG: JupyterLab strips inline SVG from untrusted notebooks
    assert output["text/html"].startswith('<img class="jupyter-think-graph"')
    svg = svg_in(output["text/html"])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="jupyter-think-graph"')
    assert "<b>" not in svg and "&lt;b&gt;this&lt;/b&gt;" in svg
    assert output["application/vnd.jupyter.widget-view+json"]["model_id"]
