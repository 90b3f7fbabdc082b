"""Thought and session models: validation rules, wire names, metadata, and the exact JSON round trip."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jupyter_think import Session, SessionManager, Thought, ThoughtInput
from jupyter_think.core.ids import ID_PATTERN
from jupyter_think.core.models import (
    MAX_NOTE_CHARS,
    MAX_NUMBER,
    MAX_TEXT_CHARS,
    BranchActivated,
    BranchCreated,
    BranchDecided,
    BranchMerged,
    SessionRecord,
    SessionReset,
    ThoughtAdded,
    ThoughtAmended,
    ThoughtRetracted,
    change_adapter,
)
from jupyter_think.core.session.session import ThinkError

WIRE_NAMES = [
    "thought",
    "thoughtNumber",
    "totalThoughts",
    "nextThoughtNeeded",
    "isRevision",
    "revisesThought",
    "branchFromThought",
    "branchId",
    "needsMoreThoughts",
]


def make(**fields: object) -> ThoughtInput:
    return ThoughtInput(
        **{"thought": "x", "thought_number": 1, "total_thoughts": 1, "next_thought_needed": True, **fields}
    )


# --- validation rules -----------------------------------------------------------------------------


def test_total_lower_than_number_is_raised_to_it() -> None:
    assert make(thought_number=5, total_thoughts=2).total_thoughts == 5


def test_total_higher_than_number_is_kept() -> None:
    assert make(thought_number=2, total_thoughts=9).total_thoughts == 9


@given(number=st.integers(1, 10**6), total=st.integers(1, 10**6))
def test_total_is_always_at_least_the_number(number: int, total: int) -> None:
    assert make(thought_number=number, total_thoughts=total).total_thoughts == max(number, total)


def test_revises_thought_implies_is_revision() -> None:
    assert make(revises_thought=1).is_revision is True
    assert make(revises_thought=1, is_revision=False).is_revision is True


def test_is_revision_without_a_number_is_allowed() -> None:
    thought = make(is_revision=True)
    assert thought.is_revision is True and thought.revises_thought is None


def test_optional_fields_default_to_none() -> None:
    thought = make()
    assert (
        thought.is_revision,
        thought.revises_thought,
        thought.branch_from_thought,
        thought.branch_id,
        thought.needs_more_thoughts,
    ) == (None, None, None, None, None)


@pytest.mark.parametrize("text", ["", " ", "\n\t", "\u3000\u00a0", "\u2028"])
def test_blank_thought_is_rejected(text: str) -> None:
    with pytest.raises(ValidationError, match="thought"):
        make(thought=text)


@pytest.mark.parametrize(
    "field", ["thought_number", "total_thoughts", "revises_thought", "branch_from_thought"]
)
@pytest.mark.parametrize("value", [0, -3])
def test_numbers_below_one_are_rejected(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        make(**{field: value})


NUMBER_FIELDS = ["thought_number", "total_thoughts", "revises_thought", "branch_from_thought"]


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@pytest.mark.parametrize(
    "value", [MAX_NUMBER + 1, 2**63, 10**30, 2.5, float("inf"), float("nan"), "9" * 5000]
)
def test_numbers_past_what_both_engines_keep_are_rejected_in_one_line(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        make(**{field: value})
    (error,) = caught.value.errors()
    assert error["loc"] == (field,) and error["msg"] == "must be a whole number from 1 to 2147483647"


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(field: str, value: bool) -> None:
    with pytest.raises(ValidationError, match="not a boolean"):
        make(**{field: value})


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_the_largest_number_and_numeric_strings_are_taken(field: str) -> None:
    assert getattr(make(**{field: MAX_NUMBER}), field) == MAX_NUMBER
    assert getattr(make(**{field: "3"}), field) == 3


@pytest.mark.parametrize(
    "build",
    [
        lambda n: BranchCreated(branch_id="b", from_thought=n),
        lambda n: ThoughtAmended(thought_id="t", thought_number=n, text="x"),
        lambda n: ThoughtRetracted(thought_id="t", thought_number=n),
        lambda n: BranchMerged(branch_id="b", into=None, thought_id="t", thought_number=n),
    ],
    ids=["branch", "amend", "retract", "merge"],
)
@pytest.mark.parametrize("value", [True, 0, MAX_NUMBER + 1])
def test_every_change_naming_a_thought_takes_only_thought_numbers(build: object, value: object) -> None:
    with pytest.raises(ValidationError, match="whole number from 1 to 2147483647"):
        build(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("before\x00after", "holds a NUL character (U+0000)"),
        ("\x00", "holds a NUL character (U+0000)"),
        ("caf\ud800", "holds a lone surrogate (U+D800 at character 4)"),
        ("\udfff end", "holds a lone surrogate (U+DFFF at character 1)"),
        ("x" * (MAX_TEXT_CHARS + 1), f"too long ({MAX_TEXT_CHARS + 1} characters, at most {MAX_TEXT_CHARS})"),
    ],
    ids=["NUL", "only NUL", "lone high surrogate", "lone low surrogate", "too long"],
)
def test_a_text_the_store_cannot_keep_is_rejected_saying_what_to_do(text: str, says: str) -> None:
    for build, field in (
        (lambda: make(thought=text), "thought"),
        (lambda: ThoughtAmended(thought_id="t", thought_number=1, text=text), "text"),
    ):
        with pytest.raises(ValidationError) as caught:
            build()
        (error,) = caught.value.errors()
        assert error["loc"] == (field,) and says in error["msg"] and "\n" not in error["msg"]
        assert "; remove it" in error["msg"] or "; shorten it" in error["msg"]


def test_a_pair_of_surrogates_is_not_a_lone_one_and_the_longest_text_is_taken() -> None:
    assert make(thought="😀 \U0001f600").thought == "😀 😀"
    assert len(make(thought="x" * MAX_TEXT_CHARS).thought) == MAX_TEXT_CHARS


def test_a_decision_note_is_capped_and_holds_no_nul() -> None:
    assert BranchDecided(branch_id="b", outcome="chosen", note="n" * MAX_NOTE_CHARS).note is not None
    for note, says in (
        ("n" * (MAX_NOTE_CHARS + 1), "too long"),
        ("a\x00", "NUL"),
        ("\ud800", "lone surrogate"),
    ):
        with pytest.raises(ValidationError, match=says):
            BranchDecided(branch_id="b", outcome="chosen", note=note)


def test_a_time_without_its_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Thought(
            thought="x",
            thought_number=1,
            total_thoughts=1,
            next_thought_needed=True,
            created_at=datetime(2026, 1, 2),
        )
    with pytest.raises(ValidationError, match="timezone"):
        ThoughtRetracted(thought_id="t", thought_number=1, at=datetime(2026, 1, 2))


def test_a_change_read_back_from_json_loads_as_it_was_stored() -> None:
    """What an earlier version stored (a NUL on SQLite, a number past 2**31 - 1) still loads; only
    values given as Python objects are checked."""
    stored = (
        '{"kind": "thought", "thought": {"thought": "kept\\u0000as stored", "thoughtNumber": 4294967296, '
        '"totalThoughts": 4294967296, "nextThoughtNeeded": true, "id": "ab", "createdAt": "2026-01-02T03:04:05Z"}}'
    )
    change = change_adapter.validate_json(stored)
    assert change.thought.thought == "kept\x00as stored" and change.thought.thought_number == 2**32
    with pytest.raises(ValidationError):
        change_adapter.validate_python(json.loads(stored))


@pytest.mark.parametrize(
    "branch_id", ["..", "a/b", "", "-x", "_x", "a b", "x" * 129, "é", "a\x00b", "%2e%2e"]
)
def test_invalid_branch_id_is_rejected_with_the_rule(branch_id: str) -> None:
    with pytest.raises(ValidationError, match="branch id: 1-128 characters"):
        make(branch_id=branch_id)


@pytest.mark.parametrize("branch_id", ["a", "Alt-2", "0_x", "x" * 128, "main"])
def test_valid_branch_ids_are_accepted(branch_id: str) -> None:
    assert make(branch_id=branch_id).branch_id == branch_id


def test_models_are_immutable() -> None:
    thought = Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=True)
    with pytest.raises(ValidationError):
        thought.thought = "changed"  # type: ignore[misc]


# --- wire names -----------------------------------------------------------------------------------


def test_dump_by_alias_uses_exactly_the_wire_names() -> None:
    data = make(thought_number=2, total_thoughts=3, branch_id="b", branch_from_thought=1).model_dump(
        by_alias=True
    )
    assert list(data) == WIRE_NAMES


def test_wire_names_and_python_names_are_both_accepted() -> None:
    by_wire = ThoughtInput.model_validate(
        {"thought": "t", "thoughtNumber": 2, "totalThoughts": 2, "nextThoughtNeeded": False, "branchId": "b"}
    )
    by_name = ThoughtInput(
        thought="t", thought_number=2, total_thoughts=2, next_thought_needed=False, branch_id="b"
    )
    assert by_wire == by_name


def test_recorded_thought_dumps_id_and_created_at_in_camel_case() -> None:
    data = json.loads(
        Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=True).model_dump_json(
            by_alias=True
        )
    )
    assert list(data) == [*WIRE_NAMES, "id", "createdAt"]
    assert data["createdAt"].endswith("Z")


# --- metadata -------------------------------------------------------------------------------------


def test_every_recorded_thought_has_a_unique_id() -> None:
    session = Session("ids")
    for n in range(300):
        session.think(f"thought {n}")
    ids = [t.id for t in session.thoughts]
    assert len(set(ids)) == 300
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_created_at_is_utc_and_now() -> None:
    before = datetime.now(timezone.utc)
    thought = Session("t").think("now")
    after = datetime.now(timezone.utc)
    assert thought.created_at.utcoffset() == timedelta(0)
    assert before <= thought.created_at <= after


def test_thought_survives_its_own_json() -> None:
    thought = Thought(
        thought='x "y" ünï',
        thought_number=3,
        total_thoughts=2,
        next_thought_needed=False,
        revises_thought=1,
        branch_id="b",
        branch_from_thought=1,
        needs_more_thoughts=True,
    )
    assert Thought.model_validate_json(thought.model_dump_json(by_alias=True)) == thought


@pytest.mark.parametrize(
    "change",
    [
        ThoughtAdded(
            thought=Thought(thought="t", thought_number=1, total_thoughts=1, next_thought_needed=True)
        ),
        BranchCreated(branch_id="alt", from_thought=2),
        BranchActivated(branch_id=None),
        BranchActivated(branch_id="alt"),
        SessionReset(),
    ],
    ids=["thought", "branch", "activate-trunk", "activate-branch", "reset"],
)
def test_every_change_kind_survives_json(change: object) -> None:
    text = change_adapter.dump_json(change, by_alias=True)
    assert change_adapter.validate_json(text) == change


def test_session_record_rejects_invalid_ids() -> None:
    now = datetime.now(timezone.utc)
    with pytest.raises(ValidationError, match="session id"):
        SessionRecord(id="../x", created_at=now, last_activity=now)
    with pytest.raises(ValidationError, match="branch id"):
        SessionRecord(id="ok", created_at=now, last_activity=now, branches={"a/b": {"from_thought": 1}})


def test_from_json_rejects_garbage_with_value_error() -> None:
    with pytest.raises(ValueError):
        Session.from_json('{"id": "x"}')
    with pytest.raises(ValueError):
        Session.from_json("not json")


# --- property: any valid session survives the JSON round trip -------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40).filter(
    lambda s: s.strip()
)  # NUL: refused
branch_ids = st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda s: s != "main" and len(s) <= 12)
numbers = st.integers(1, 50)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("think"), texts, st.none() | numbers, st.booleans(), st.booleans()),
        st.tuples(st.just("revise"), texts, st.integers(0, 1000)),
        st.tuples(st.just("branch"), branch_ids, st.integers(0, 1000)),
        st.tuples(st.just("switch"), st.integers(0, 1000)),
        st.tuples(
            st.just("record"),
            texts,
            numbers,
            numbers,
            st.booleans(),
            st.none() | numbers,
            st.none() | numbers,
            st.none() | branch_ids,
            st.none() | st.booleans(),
        ),
        st.tuples(st.just("reset")),
    ),
    max_size=25,
)


def build(ops: list[tuple], session: Session | None = None) -> Session:
    """A session from generated operations; references are mapped onto what exists, so all are valid."""
    if session is None:
        session = SessionManager(persist=False).session("prop")
    for op in ops:
        kind = op[0]
        if kind == "think":
            _, text, total, done, more = op
            session.think(text, total=total, done=done, more=more)
        elif kind == "revise" and session.thoughts:
            numbers_seen = sorted({t.thought_number for t in session.thoughts})
            session.revise(numbers_seen[op[2] % len(numbers_seen)], op[1])
        elif kind == "branch" and session.thoughts:
            numbers_seen = sorted({t.thought_number for t in session.thoughts})
            try:
                session.branch(op[1], numbers_seen[op[2] % len(numbers_seen)])
            except ThinkError:  # the id exists at another fork: a person gets this error
                assert op[1] in session.branches
        elif kind == "switch":
            choices = [None, *session.branch_ids]
            session.switch_branch(choices[op[1] % len(choices)])
        elif kind == "record":
            _, text, number, total, more, revises, fork, branch_id, needs = op
            session.record(
                ThoughtInput(
                    thought=text,
                    thought_number=number,
                    total_thoughts=total,
                    next_thought_needed=more,
                    revises_thought=revises,
                    branch_from_thought=fork,
                    branch_id=branch_id,
                    needs_more_thoughts=needs,
                )
            )
        elif kind == "reset":
            session.reset()
    return session


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_any_session_survives_the_json_round_trip_exactly(ops: list[tuple]) -> None:
    session = build(ops)
    text = session.to_json()
    copy = Session.from_json(text)
    assert copy.to_json() == text
    assert copy.thoughts == session.thoughts
    assert copy.trunk == session.trunk
    assert dict(copy.branches) == dict(session.branches)
    assert copy.branch_ids == session.branch_ids
    assert copy.active_branch == session.active_branch
    assert copy.status == session.status
    assert (copy.id, copy.created_at, copy.last_activity) == (
        session.id,
        session.created_at,
        session.last_activity,
    )
    assert copy.summary() == session.summary()


@settings(max_examples=60, deadline=None)
@given(operations)
def test_replaying_the_change_events_rebuilds_the_same_session(ops: list[tuple]) -> None:
    manager = SessionManager(persist=False)
    events = []
    manager.subscribe(events.append)
    session = build(ops, manager.session("prop"))
    assert [event.index for event in events] == list(range(1, len(events) + 1))
    replayed = Session.from_changes("prop", [event.change for event in events])
    assert replayed.thoughts == session.thoughts
    assert dict(replayed.branches) == dict(session.branches)
    assert replayed.active_branch == session.active_branch
    assert replayed.status == session.status
