"""The experiment grid's kernel side: what it sends as runs think, what it shows without a front end.

A :class:`FrontEnd` replays what the widget sends (the ``snapshot`` trait and the ``run`` messages)
with the same rule as ``static/grid.js`` (keep a card unless it is older than the one held), so the
tests check the state a browser would end up with, from the widget model's own traffic.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from jupyter_think import Session, SessionManager, aexperiment, experiment
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.experiments.run import RunTool
from jupyter_think.widgets.graph import BranchGraph
from jupyter_think.widgets.grid import THUMB_NODES, ExperimentGrid


class FrontEnd:
    """Captures the grid's comm traffic and keeps the cards a browser would show."""

    def __init__(self, grid: ExperimentGrid) -> None:
        self.cards: dict[int, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        for card in grid.snapshot["runs"]:
            self.put(card)
        original = grid.comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            json.dumps(data)  # what goes over the wire is JSON
            with self.lock:
                self.messages.append(data)
                if data.get("method") == "custom" and data["content"]["type"] == "run":
                    self.put(data["content"]["card"])
                elif data.get("method") == "update" and "snapshot" in data.get("state", {}):
                    for card in data["state"]["snapshot"]["runs"]:
                        self.put(card)
            original(data=data, metadata=metadata, buffers=buffers)

        grid.comm.send = send

    def put(self, card: dict[str, Any]) -> None:
        old = self.cards.get(card["run"])
        if old is None or old["v"] <= card["v"]:
            self.cards[card["run"]] = card

    def run_messages(self, run: int) -> list[dict[str, Any]]:
        with self.lock:
            return [
                m["content"]["card"]
                for m in self.messages
                if m.get("method") == "custom" and m["content"]["card"]["run"] == run
            ]


@pytest.fixture
def manager() -> Iterator[SessionManager]:
    with SessionManager(persist=False) as running:
        yield running


def steps(count: int) -> list[dict[str, Any]]:
    return [
        {"thought": f"step {n}", "thoughtNumber": n, "totalThoughts": count, "nextThoughtNeeded": n < count}
        for n in range(1, count + 1)
    ]


def test_the_grid_receives_every_update_of_fifty_parallel_runs(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    configs = [(rng.randint(1, 8), rng.random() < 0.2, rng.uniform(0, 0.003)) for _ in range(50)]

    def agent(config: tuple[int, bool, float], tool: RunTool) -> int:
        count, fails, pause = config
        for arguments in steps(count):
            time.sleep(pause)
            tool.call(arguments)
        if fails:
            raise RuntimeError(f"gave up after {count}")
        return count

    shown: list[tuple[FrontEnd, ExperimentGrid]] = []

    def display(grid: ExperimentGrid) -> None:  # the grid is shown before the runs start: a page follows it
        shown.append((FrontEnd(grid), grid))

    monkeypatch.setattr("IPython.display.display", display)
    runs = anyio.run(
        lambda: aexperiment("grid50", agent, configs, concurrency=8, manager=manager, display=True)
    )
    [(front_end, grid)] = shown
    for result, (count, fails, _) in zip(runs, configs, strict=True):
        card = front_end.cards[result.run]
        assert card["session"] == result.session_id
        assert card["status"] == ("error" if fails else "ok") == result.status
        assert card["message"] == (f"RuntimeError: gave up after {count}" if fails else None)
        assert card["counts"] == {"thoughts": count, "branches": 0, "revisions": 0, "retractions": 0}
        assert card["k"] == "t" * (count - 1) + "f" and card["c"] == list(range(count))
        # Every change reached the front end: running, each thought, the end; versions only grow.
        sent = front_end.run_messages(result.run)
        assert [m["status"] for m in sent] == ["running"] * (count + 1) + [result.status]
        assert [m["counts"]["thoughts"] for m in sent] == [0, *range(1, count + 1), count]
        assert [m["v"] for m in sent] == sorted({m["v"] for m in sent})
    assert grid.snapshot["runs"] == grid.cards()  # the final snapshot holds the truth too


def test_a_card_message_does_not_grow_with_the_run(manager: SessionManager) -> None:
    session = manager.session("long-1")
    grid = ExperimentGrid("long", [session])
    front_end = FrontEnd(grid)
    for arguments in steps(1000):
        session.think(arguments["thought"], total=1000)
    sizes = [len(json.dumps(m)) for m in front_end.run_messages(1)]
    assert front_end.cards[1]["counts"]["thoughts"] == 1000
    assert len(front_end.cards[1]["c"]) == THUMB_NODES and front_end.cards[1]["skipped"] == 1000 - THUMB_NODES
    assert max(sizes) <= 1.1 * sizes[THUMB_NODES]
    grid.close()


def test_thoughts_written_by_another_process_show_on_the_card(manager: SessionManager) -> None:
    sessions = [manager.session("remote-1"), manager.session("remote-2")]
    grid = ExperimentGrid("remote", sessions)
    front_end = FrontEnd(grid)
    sessions[0].think("local thought", total=3)
    other = Thought(
        thought="from another process", thought_number=2, total_thoughts=3, next_thought_needed=True
    )
    writer = threading.Thread(
        target=sessions[0].apply, args=(ThoughtAdded(thought=other),), kwargs={"remote": True}
    )
    writer.start()
    writer.join()
    branch = Thought(
        thought="a branch, remote too",
        thought_number=3,
        total_thoughts=3,
        next_thought_needed=False,
        branch_id="alt",
        branch_from_thought=1,
    )
    sessions[1].apply(ThoughtAdded(thought=branch), remote=True)
    assert front_end.cards[1]["counts"]["thoughts"] == 2
    assert front_end.cards[2]["counts"] == {"thoughts": 1, "branches": 1, "revisions": 0, "retractions": 0}
    assert front_end.cards[2]["l"] == [1] and front_end.cards[2]["complete"] is True
    grid.close()


def test_branches_and_revisions_are_drawn_and_counted(manager: SessionManager) -> None:
    session = manager.session("shape-1")
    grid = ExperimentGrid("shape", [session])
    front_end = FrontEnd(grid)
    session.think("one", total=4)
    session.think("two")
    session.branch("alt", from_thought=1)
    session.think("alt two")
    session.switch_branch("main")
    session.revise(2, "two again")
    card = front_end.cards[1]
    assert card["counts"] == {"thoughts": 4, "branches": 1, "revisions": 1, "retractions": 0}
    assert (card["c"], card["l"], card["k"]) == ([0, 1, 1, 2], [0, 0, 1, 0], "ttbr")
    assert card["forks"] == [[1, 0, 0]]  # lane 1 forks at column 0 of lane 0
    grid.close()


def test_clicking_a_run_opens_its_full_graph_and_clicking_again_closes_it(manager: SessionManager) -> None:
    sessions = [manager.session("click-1"), manager.session("click-2")]
    sessions[1].think("the second run's thought")
    grid = ExperimentGrid("click", sessions)
    grid._handle_custom_msg({"type": "open", "run": 2}, [])  # what a click on the second card sends
    assert isinstance(grid.detail, BranchGraph) and grid.detail.session_id == "click-2"
    assert grid.opened == 2
    assert grid.get_state()["detail"] == f"anywidget:{grid.detail.model_id}"
    assert grid.detail is sessions[1].graph()  # the session's one live graph widget
    grid._handle_custom_msg({"type": "open", "run": 2}, [])
    assert grid.detail is None and grid.opened == 0
    for nonsense in (
        {"type": "open", "run": 9},
        {"type": "open", "run": "1"},
        {"type": "open", "run": True},
        "x",
    ):
        grid._handle_custom_msg(nonsense, [])
        assert grid.detail is None and grid.opened == 0
    grid.close()


def test_a_front_end_that_asks_gets_every_card_as_the_snapshot(manager: SessionManager) -> None:
    session = manager.session("late-1")
    grid = ExperimentGrid("late", [session])
    session.think("before the page loaded")
    grid._handle_custom_msg({"type": "sync"}, [])
    assert grid.snapshot["runs"][0]["counts"]["thoughts"] == 1
    grid.close()


def test_a_stale_snapshot_never_undoes_a_newer_card() -> None:
    session = Session("order-1")
    grid = ExperimentGrid("order", [session])
    front_end = FrontEnd(grid)
    old = grid.snapshot
    session.think("newer")
    front_end.put(old["runs"][0])  # a snapshot sent earlier arrives late
    assert front_end.cards[1]["counts"]["thoughts"] == 1
    grid.close()


def test_the_grid_shows_a_deterministic_table_without_a_front_end() -> None:
    def build() -> ExperimentGrid:
        sessions = [Session("exp-1"), Session("exp-2"), Session("a-much-longer-name-3")]
        sessions[0].think("one <script>", total=2)
        grid = ExperimentGrid("exp", sessions)
        grid.set_status(1, "running")
        grid.set_status(2, "error", "ValueError: bad <input>\nsecond line")
        return grid

    first, second = build(), build()
    data, _ = first._repr_mimebundle_()
    assert data["text/plain"] == (
        "Experiment exp · 3 runs · 1 running · 1 error · 1 pending\n"
        "  exp-1                 running    1 thought · 0 branches · 0 revisions\n"
        "  exp-2                 error      0 thoughts · 0 branches · 0 revisions  ValueError: bad <input> second line\n"
        "  a-much-longer-name-3  pending    0 thoughts · 0 branches · 0 revisions"
    )
    assert "bad &lt;input&gt;" in data["text/html"] and "<script>" not in data["text/html"]
    again, _ = second._repr_mimebundle_()
    assert (again["text/plain"], again["text/html"]) == (data["text/plain"], data["text/html"])
    assert "application/vnd.jupyter.widget-view+json" in data
    with pytest.raises(ValueError, match="status must be one of"):
        first.set_status(1, "done")
    first.close()
    second.close()


def test_running_an_experiment_again_stops_the_previous_grid(manager: SessionManager) -> None:
    def agent(config: int, tool: RunTool) -> None:
        for arguments in steps(config):
            tool.call(arguments)

    first = experiment("rerun", agent, [2], manager=manager, display=True)
    old_grid = first.grid
    assert old_grid.following
    second = experiment("rerun", agent, [3], manager=manager, display=True)
    assert not old_grid.following and second.grid.following
    assert old_grid.cards()[0]["counts"]["thoughts"] == 2  # it keeps what it showed
    assert second.grid.cards()[0]["counts"]["thoughts"] == 3
    second.grid.close()


OUTSIDE_WRITER = """
import sys
from jupyter_think import SessionManager
with SessionManager(store=sys.argv[1]) as manager:
    run = manager.session("outside-1")
    for number in range(1, 6):
        run.think(f"written by another process {number}", total=5, done=number == 5)
"""


def test_a_run_written_by_another_process_through_the_store_fills_its_card(store_location: str) -> None:
    """A real second process (another kernel, `jupyter-think mcp --session`) on the same store: SQLite
    or a shared PostgreSQL server."""
    import subprocess
    import sys

    with SessionManager(store=store_location) as here:
        sessions = [here.session("outside-1"), here.session("outside-2")]
        grid = ExperimentGrid("outside", sessions)
        front_end = FrontEnd(grid)
        here.flush()
        subprocess.run([sys.executable, "-c", OUTSIDE_WRITER, store_location], check=True, timeout=120)
        deadline = time.monotonic() + 60
        while front_end.cards[1]["counts"]["thoughts"] < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert front_end.cards[1]["counts"]["thoughts"] == 5
        assert front_end.cards[1]["complete"] is True
        assert front_end.cards[2]["counts"]["thoughts"] == 0
        grid.close()


def test_a_retraction_in_a_run_moves_its_card_counts(manager: SessionManager) -> None:
    session = manager.session("teach-1")
    grid = ExperimentGrid("teach", [session])
    front_end = FrontEnd(grid)
    session.think("one", total=2)
    session.think("two", done=True)
    assert (front_end.cards[1]["counts"]["thoughts"], front_end.cards[1]["complete"]) == (2, True)
    session.retract(2)
    assert front_end.cards[1]["counts"] == {"thoughts": 1, "branches": 0, "revisions": 0, "retractions": 1}
    assert front_end.cards[1]["complete"] is False
    grid.close()


def test_cards_show_variant_repeat_score_answer_and_tokens_grouped_by_variant(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[tuple[FrontEnd, ExperimentGrid]] = []
    monkeypatch.setattr("IPython.display.display", lambda grid: shown.append((FrontEnd(grid), grid)))

    def agent(config: int, tool: RunTool) -> str:
        for arguments in steps(config):
            tool.call(arguments)
        tool.record_usage(input_tokens=40 * config, output_tokens=2, model="m")  # shown live on the card
        return f"{config} weighings\nbecause of the three outcomes"

    runs = experiment(
        "cards",
        agent,
        {"short": 1, "long": 3},
        repeat=2,
        score=lambda r: r.repeat == 1,
        manager=manager,
        display=True,
    )
    front_end, grid = shown[0]
    cards = [front_end.cards[k] for k in range(1, 5)]
    assert [(c["variant"], c["repeat"], c["status"], c["score"]) for c in cards] == [
        ("short", 1, "ok", "pass"),
        ("short", 2, "ok", "fail"),
        ("long", 1, "ok", "pass"),
        ("long", 2, "ok", "fail"),
    ]
    assert [(c["answer"], c["tokens"]) for c in cards][1:3] == [("1 weighings", 42), ("3 weighings", 122)]
    assert grid.text().splitlines()[:3] == [
        "Experiment cards · 4 runs · 4 ok",
        "variant short",
        "  cards-short-1  ok         1 thought · 0 branches · 0 revisions  score pass  42 tokens  1 weighings",
    ]
    assert "<th>variant</th>" in grid.html_table() and "<td>long</td>" in grid.html_table()
    shown.clear()
    forked = runs.rerun("cards-long-1", 2)
    [card] = shown[0][0].cards.values()
    assert (card["prefix"], card["from"], card["counts"]["thoughts"]) == (2, "cards-long-1", 5)
    assert "from cards-long-1 @2" in shown[0][1].text()
    assert forked[0].status == "ok"


def test_reading_every_card_while_runs_think_never_waits_on_a_sessions_lock() -> None:
    """A thread recording a thought holds its session's lock while it waits for the grid's; the grid's
    snapshot (its 1 s refresh, a front end's ``sync``) and ``update_run`` hold the grid's lock while
    they build cards: a card never takes a session's lock there, or both threads wait for ever."""
    sessions = [Session(f"lock-{k}", max_thoughts=500) for k in range(8)]
    grid = ExperimentGrid("locks", sessions)
    FrontEnd(grid)
    halfway = threading.Barrier(5)  # the four recording threads and this one

    def think(mine: list[Session]) -> None:
        for n in range(1, 101):
            for session in mine:
                session.think(f"step {n}", done=n == 100)
            if n == 50:
                halfway.wait(60)  # the second half is recorded while the grid builds its cards

    threads = [threading.Thread(target=think, args=(sessions[k::4],), daemon=True) for k in range(4)]
    for thread in threads:
        thread.start()
    halfway.wait(60)
    grid.finish()  # at least once while the sessions are half recorded, however fast the threads run
    assert all(50 <= card["counts"]["thoughts"] <= 100 for card in grid.cards())
    while any(thread.is_alive() for thread in threads):
        grid.finish()  # every card, under the grid's lock, while the sessions record
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a recording thread and the grid wait for each other"
    assert [card["complete"] for card in grid.cards()] == [True] * 8
    assert [card["counts"]["thoughts"] for card in grid.cards()] == [100] * 8
    grid.close()
