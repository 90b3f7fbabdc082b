"""compare(): one row per session with known answers; to_records() / to_dataframe() per thought."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from sessions import proof_session

from jupyter_think import Session, SessionManager, compare, experiment
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.experiments.compare import COLUMNS, Comparison, session_counts

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def timed(session_id: str, texts: list[str], seconds: list[float], done: bool = True) -> Session:
    """A session whose thoughts were recorded at T0 + seconds (built from changes, as the store does)."""
    changes = [
        ThoughtAdded(
            thought=Thought(
                thought=text,
                thought_number=n,
                total_thoughts=len(texts),
                next_thought_needed=not (done and n == len(texts)),
                created_at=T0 + timedelta(seconds=at),
            )
        )
        for n, (text, at) in enumerate(zip(texts, seconds, strict=True), start=1)
    ]
    return Session.from_changes(session_id, changes)


def test_each_session_gets_one_row_with_its_counts() -> None:
    proof = proof_session()  # 8 thoughts, 2 branches, 1 revision, concluded
    open_run = timed("open-run", ["Guess", "Check the guess"], [0, 2.5], done=False)
    empty = Session("empty")
    rows = compare([proof, open_run, empty], dataframe=False)
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["session"], r["thoughts"], r["branches"], r["revisions"], r["retractions"]) for r in rows] == [
        ("proof", 8, 2, 1, 0),
        ("open-run", 2, 0, 0, 0),
        ("empty", 0, 0, 0, 0),
    ]
    assert [(r["completed"], r["conclusion"]) for r in rows] == [
        (True, "Conclude: the sum is n squared"),
        (False, None),
        (False, None),
    ]
    assert rows[1]["duration"] == 2.5 and rows[2]["duration"] is None


def test_with_pandas_it_is_a_dataframe_indexed_by_session() -> None:
    frame = compare([proof_session(), timed("fast", ["Only", "Done"], [0, 1])])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == ["proof", "fast"]
    assert list(frame.columns) == list(COLUMNS[1:])
    assert frame.loc["proof", "thoughts"] == 8 and bool(frame.loc["fast", "completed"])
    assert frame.loc["fast", "duration"] == 1.0


def test_without_pandas_it_is_a_list_of_dicts_shown_as_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)  # as if pandas were not installed
    rows = compare([proof_session(), timed("fast", ["Plan <b>", "Done & dusted"], [0, 1])])
    assert isinstance(rows, Comparison) and isinstance(rows[0], dict)
    assert repr(rows) == (
        "session  thoughts  branches  revisions  retractions  completed  conclusion\n"
        "proof           8         2          1            0  yes        Conclude: the sum is n squared\n"
        "fast            2         0          0            0  yes        Done & dusted"
    )
    assert "duration" not in rows._repr_html_() and "Done &amp; dusted" in rows._repr_html_()
    assert rows.as_text(duration=True).splitlines()[2].endswith("1.00 s")
    with pytest.raises(ImportError, match=r"pip install 'jupyter-think\[pandas\]'"):
        compare([proof_session()], dataframe=True)
    with pytest.raises(ImportError, match="pandas is not installed"):
        proof_session().to_dataframe()


def test_compare_takes_an_experiment_or_its_results() -> None:
    def agent(config: int, tool: object) -> None:
        for n in range(1, config + 1):
            tool.call(
                {
                    "thought": f"t{n}",
                    "thoughtNumber": n,
                    "totalThoughts": config,
                    "nextThoughtNeeded": n < config,
                }
            )

    with SessionManager(persist=False) as manager:
        runs = experiment("cmp", agent, [1, 3], manager=manager)
        by_experiment = compare(runs, dataframe=False)
        by_results = compare(list(runs), dataframe=False)
    assert [(r["session"], r["thoughts"]) for r in by_experiment] == [("cmp-1", 1), ("cmp-2", 3)]
    assert by_results == by_experiment


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["cmp-1"], r"got the id 'cmp-1': pass jupyter_think.get_manager\(\).session\('cmp-1'\)"),
        ([42], "expected a Session"),
        ("cmp-1", "takes an experiment, its runs or a list of sessions"),
    ],
)
def test_something_else_than_sessions_is_refused_with_what_to_pass(given: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        compare(given)  # type: ignore[arg-type]


def test_no_sessions_give_an_empty_table() -> None:
    assert repr(compare([], dataframe=False)) == "No sessions to compare."
    frame = compare([])
    assert frame.empty and list(frame.columns) == list(COLUMNS[1:])


def test_a_retracted_thought_counts_only_as_a_retraction_and_moves_the_conclusion() -> None:
    session = proof_session()
    assert session_counts(session).as_dict() == {
        "thoughts": 8,
        "branches": 2,
        "revisions": 1,
        "retractions": 0,
    }
    session.retract(3)  # "Guess n squared" on the trunk
    assert session_counts(session).as_dict() == {
        "thoughts": 7,
        "branches": 2,
        "revisions": 1,
        "retractions": 1,
    }
    row = compare([session], dataframe=False)[0]
    assert (row["thoughts"], row["retractions"], row["conclusion"]) == (
        7,
        1,
        "Conclude: the sum is n squared",
    )
    session.retract(session.thoughts[-1].thought_number)  # the conclusion itself
    row = compare([session], dataframe=False)[0]
    assert (row["completed"], row["conclusion"]) == (False, None)


def test_to_records_gives_one_dict_per_thought_in_arrival_order() -> None:
    session = proof_session()
    records = session.to_records()
    assert len(records) == 8
    first, branch = records[0], records[3]
    assert (first["session_id"], first["position"], first["thought"], first["thought_number"]) == (
        "proof",
        1,
        "Restate the problem",
        1,
    )
    assert (branch["branch_id"], branch["branch_from_thought"], branch["position"]) == ("induction", 2, 4)
    assert records[5]["is_revision"] and records[5]["revises_thought"] == 2
    assert {"id", "created_at", "next_thought_needed", "total_thoughts"} <= set(first)


def test_to_dataframe_has_a_row_per_thought() -> None:
    frame = proof_session().to_dataframe()
    assert len(frame) == 8
    assert list(frame["thought_number"]) == [1, 2, 3, 3, 4, 4, 4, 5]
    assert frame["branch_id"].tolist()[3:5] == ["induction", "induction"]
    empty = Session("nothing").to_dataframe()
    assert empty.empty and {"session_id", "position", "thought"} <= set(empty.columns)
