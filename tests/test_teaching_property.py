"""Property: any sequence of think / revise / branch / amend / retract / decide / merge, replayed from
the store (SQLite and PostgreSQL), gives the same session as in memory; refused steps change nothing."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_think import Session, SessionManager
from jupyter_think.store import open_store

BRANCHES = ["alt", "beta", "main"]
NUMBERS = st.integers(min_value=1, max_value=7)
TEXTS = st.sampled_from(["step", "a typo fixed", "Markdown **bold**", "2**n - 1", "dead end", "é ✓"])

STEPS = st.one_of(
    st.tuples(st.just("think"), TEXTS, st.booleans()),
    st.tuples(st.just("revise"), NUMBERS, TEXTS),
    st.tuples(st.just("branch"), st.sampled_from(BRANCHES), NUMBERS),
    st.tuples(st.just("switch"), st.sampled_from(BRANCHES)),
    st.tuples(st.just("amend"), NUMBERS, TEXTS),
    st.tuples(st.just("retract"), NUMBERS),
    st.tuples(
        st.just("decide"),
        st.sampled_from(BRANCHES),
        st.sampled_from(["chosen", "abandoned"]),
        st.sampled_from([None, "why"]),
    ),
    st.tuples(st.just("merge"), st.sampled_from(BRANCHES), st.sampled_from(BRANCHES)),
)


def run_step(session: Session, step: tuple[Any, ...]) -> None:
    kind, *args = step
    if kind == "think":
        session.think(args[0], done=args[1])
    elif kind == "revise":
        session.revise(args[0], args[1])
    elif kind == "branch":
        session.branch(args[0], from_thought=args[1])
    elif kind == "switch":
        session.switch_branch(args[0])
    elif kind == "amend":
        session.amend(args[0], args[1])
    elif kind == "retract":
        session.retract(args[0])
    elif kind == "decide":
        session.decide(args[0], args[1], note=args[2])
    else:
        session.merge(args[0], into=args[1])


_names = itertools.count(1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEPS, min_size=1, max_size=25))
def test_any_teaching_history_replayed_from_the_store_is_the_session_in_memory(
    store_location: str, steps: list[tuple[Any, ...]]
) -> None:
    session_id = f"prop-{next(_names)}"
    with SessionManager(store=store_location) as manager:
        session = manager.session(session_id)
        session.think("start", total=3)
        for step in steps:
            before = session.to_json()
            try:
                run_step(session, step)
            except ValueError:
                assert session.to_json() == before, step  # a refused step changes nothing
        expected = session.to_json()
        manager.flush()
    loaded = open_store(store_location).load(session_id)
    assert loaded is not None and loaded.skipped == []
    replayed = Session.from_changes(session_id, loaded.changes, created_at=loaded.row.created_at)
    assert replayed.to_json() == expected
    assert Session.from_json(expected).to_json() == expected
    assert replayed.summary() == session.summary()
    assert replayed.snapshot().timeline == session.snapshot().timeline
