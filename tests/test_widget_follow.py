"""A graph follows its session by id: after ``%config ThinkConfig.sessions_dir`` (or ``store``) switches
the store, a graph shown before keeps updating, now from the session of the new manager."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_widget import Recorder

from jupyter_think import Session, SessionManager
from jupyter_think.widgets.graph import BranchGraph, follow_new_manager, graph_for


def test_a_graph_of_the_old_manager_follows_the_session_with_its_id_in_the_new_one() -> None:
    old, new = SessionManager(persist=False), SessionManager(persist=False)
    old.session("lesson").think("in the old store", total=3)
    new.session("lesson").think("already in the new store", total=3)
    graph = old.session("lesson").graph()
    recorder = Recorder(graph)
    follow_new_manager(old, new)
    assert "already in the new store" in graph.text() and "in the old store" not in graph.text()
    assert graph.snapshot["gen"] == 1  # every front end redraws from the new snapshot
    new.session("lesson").think("after the switch")
    old.session("lesson").think("written to the old object, not drawn")
    added = [m for m in recorder.custom if m["type"] == "add"]
    assert [(m["gen"], m["nodes"][0]["text"]) for m in added] == [(1, "after the switch")]
    assert graph_for(new.session("lesson")) is graph  # showing it again shows the same widget
    graph.close()


def test_a_graph_of_a_session_made_outside_the_manager_keeps_its_session() -> None:
    old, new = SessionManager(persist=False), SessionManager(persist=False)
    alone = Session("lesson")
    alone.think("on its own", total=2)
    graph = BranchGraph(alone)
    follow_new_manager(old, new)
    alone.think("still followed")
    assert "still followed" in graph.text() and graph.snapshot["gen"] == 0
    assert not new.is_loaded("lesson")  # nothing was created in the new manager
    graph.close()


def test_a_closed_graph_follows_nothing() -> None:
    old, new = SessionManager(persist=False), SessionManager(persist=False)
    graph = old.session("lesson").graph()
    graph.close()
    follow_new_manager(old, new)
    assert not graph.following and not new.is_loaded("lesson")


CAPTURE = """
g = __import__('jupyter_think').get_manager().active.graph()
sent = []
_send = g.comm.send
def _capture(data=None, metadata=None, buffers=None):
    sent.append(data)
    _send(data=data, metadata=metadata, buffers=buffers)
g.comm.send = _capture
"""
ADDED = "[m['content']['nodes'][0]['text'] for m in sent if m.get('method') == 'custom' and m['content']['type'] == 'add']"
REDRAWN = "[m['state']['snapshot']['gen'] for m in sent if m.get('method') == 'update' and 'snapshot' in m['state']]"


@pytest.mark.kernel
def test_a_graph_shown_before_the_store_switch_keeps_updating_from_the_new_store(
    make_kernel, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": ""})
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(first)!r}\n%load_ext jupyter_think").ok
    assert kernel.execute("%session lesson\n%think -t 3 Before the switch\n%session --flush").ok
    assert kernel.execute(CAPTURE).ok
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(second)!r}").ok
    assert kernel.execute("%think After the switch").ok
    assert kernel.value(ADDED) == ["After the switch"]
    assert kernel.value(REDRAWN) == [1]
    assert kernel.value("'After the switch' in g.text() and 'Before the switch' not in g.text()")
    # back to the first store: the graph shows the session kept there
    assert kernel.execute("%session --flush").ok
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(first)!r}").ok
    assert kernel.value("'Before the switch' in g.text() and 'After the switch' not in g.text()")
    assert kernel.execute("%think Back in the first store").ok
    assert kernel.value(ADDED) == ["After the switch", "Back in the first store"]
