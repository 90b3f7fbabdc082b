"""The teaching changes through the Python API: amend, retract, decide, merge.

Each change kind: what it does to the session, that it is stored and restored after a restart
through a real store (SQLite and PostgreSQL), followed live by another manager on the same store,
sent to subscribers, and round-tripped through JSON; and each refusal is a typed one-line error
that leaves the session exactly as it was.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sessions import lesson_session

from jupyter_think import Session, SessionEvent, SessionManager, ThinkError
from jupyter_think.core.errors import (
    BadOutcome,
    InvalidThought,
    InvalidValue,
    MergeIntoItself,
    NoSuchThought,
    NothingToMerge,
    ThoughtIsRetracted,
    ThoughtTooLong,
    TrunkCannot,
    UnknownBranch,
)
from jupyter_think.core.models import (
    BranchDecided,
    BranchMerged,
    ThoughtAmended,
    ThoughtRetracted,
    change_adapter,
)
from jupyter_think.store import open_store


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition()`` until true (generous: CI machines may be busy)."""
    done = threading.Event()
    timer = threading.Timer(timeout, done.set)
    timer.start()
    try:
        while not condition():
            if done.wait(0.01):
                raise AssertionError(f"condition still false after {timeout} s")
    finally:
        timer.cancel()


def stored(location: str, session_id: str) -> Session:
    """What a fresh reader rebuilds from the store's changes."""
    loaded = open_store(location).load(session_id)
    assert loaded is not None and loaded.skipped == []
    return Session.from_changes(session_id, loaded.changes, created_at=loaded.row.created_at)


def two_branches(session_id: str = "t") -> Session:
    """Trunk 1-2, branch alt from 2 (3, 4), branch other from 2 (3); trunk active."""
    s = Session(session_id)
    s.think("Restate", total=4)
    s.think("Guess")
    s.branch("alt", from_thought=2)
    s.think("Alt step")
    s.think("Alt result", done=True)
    s.branch("other", from_thought=2)
    s.think("Other step")
    s.switch_branch("main")
    return s


# --- amend -------------------------------------------------------------------------------------------


def test_amend_shows_the_new_text_and_keeps_the_earlier_ones() -> None:
    s = Session("a")
    s.think("2**7 - 1 = 217", total=2)
    s.think("Next")
    amended = s.amend(1, "2**7 - 1 = 127")
    s.amend(1, "2**7 - 1 = 127, a prime")
    first = s.thoughts[0]
    assert first.thought == "2**7 - 1 = 127, a prime" and first.id == amended.id
    assert (first.thought_number, len(s.thoughts)) == (1, 2)  # not a new thought: a revision would be
    snapshot = s.snapshot()
    assert snapshot.is_amended(first)
    assert snapshot.earlier_texts(first) == ("2**7 - 1 = 217", "2**7 - 1 = 127")
    assert s.trunk[0].thought == "2**7 - 1 = 127, a prime"


def test_amending_with_the_same_text_records_nothing() -> None:
    s = Session("same")
    s.think("Fine as it is")
    before = s.change_count
    s.amend(1, "Fine as it is")
    assert s.change_count == before and not s.snapshot().amended


def test_amend_means_the_thought_on_the_active_lane() -> None:
    s = two_branches()
    s.switch_branch("alt")
    s.amend(3, "Alt step, corrected")
    s.amend(1, "Restate, corrected")  # below the fork point: the trunk's thought
    s.switch_branch("other")
    s.amend(3, "Other step, corrected")
    assert [t.thought for t in s.branches["alt"].thoughts] == ["Alt step, corrected", "Alt result"]
    assert [t.thought for t in s.branches["other"].thoughts] == ["Other step, corrected"]
    assert s.trunk[0].thought == "Restate, corrected"


def test_the_record_keeps_the_text_a_thought_was_recorded_with() -> None:
    s = Session("rec")
    s.think("Teh plan")
    s.amend(1, "The plan")
    record = json.loads(s.to_json())
    assert record["thoughts"][0]["thought"] == "Teh plan"
    (placed,) = record["changes"]
    assert placed["after"] == 1
    assert placed["change"]["kind"] == "amend" and placed["change"]["text"] == "The plan"


# --- retract -----------------------------------------------------------------------------------------


def test_a_retracted_thought_stays_but_no_longer_counts() -> None:
    s = Session("r")
    s.think("Step", total=3)
    s.think("A dead end")
    s.think("Conclusion", done=True)
    s.retract(2)
    assert len(s.thoughts) == 3 and s.history_length == 2
    snapshot = s.snapshot()
    assert [t.thought for t in snapshot.counted] == ["Step", "Conclusion"]
    assert snapshot.is_retracted(s.thoughts[1])
    summary = s.summary()
    assert (summary.thoughts, summary.retracted, summary.status) == (2, 1, "complete")


def test_retracting_the_conclusion_reopens_the_session() -> None:
    s = Session("reopen")
    s.think("Step", total=2)
    s.think("Too quick a conclusion", done=True)
    s.retract(2)
    assert s.status == "open" and s.conclusion is None and s.summary().conclusion is None


def test_the_tool_does_not_count_retracted_thoughts_in_its_history_length() -> None:
    from jupyter_think import SequentialThinkingTool

    with SessionManager(persist=False) as manager:
        tool = SequentialThinkingTool(manager)
        for number in (1, 2):
            result = tool.call(
                {
                    "thought": f"step {number}",
                    "thoughtNumber": number,
                    "totalThoughts": 3,
                    "nextThoughtNeeded": True,
                }
            )
        assert result["structuredContent"]["thoughtHistoryLength"] == 2
        manager.active.retract(2)
        result = tool.call(
            {"thought": "step 3", "thoughtNumber": 3, "totalThoughts": 3, "nextThoughtNeeded": True}
        )
        assert result["structuredContent"]["thoughtHistoryLength"] == 2
        assert len(manager.active.thoughts) == 3


# --- decide ------------------------------------------------------------------------------------------


def test_a_chosen_branch_decides_the_conclusion() -> None:
    s = two_branches()
    s.switch_branch("other")
    s.think("Other result", done=True)  # the last thought, but on the branch not chosen
    assert s.conclusion.thought == "Other result"
    s.decide("alt", "chosen", note="shorter")
    assert s.conclusion.thought == "Alt result"
    assert s.summary().conclusion == "Alt result" and s.status == "complete"
    assert s.snapshot().path == frozenset({None, "alt"})


def test_an_abandoned_branch_is_never_the_conclusion() -> None:
    s = two_branches()
    s.decide("alt", "abandoned")
    assert s.conclusion is None and s.status == "open"


def test_the_latest_decision_wins_and_keeps_its_note() -> None:
    s = two_branches()
    s.decide("alt", "chosen", note="looks good")
    s.decide("alt", "abandoned", note="a flaw in step 3")
    branch = s.branches["alt"]
    assert (branch.outcome, branch.note) == ("abandoned", "a flaw in step 3")
    assert list(s.decisions) == ["alt"]
    assert [c.kind for c in s.snapshot().timeline].count("decide") == 2  # both stay in the history


def test_deciding_the_same_way_again_records_nothing() -> None:
    s = two_branches()
    s.decide("other", "abandoned", note="too slow")
    before = s.change_count
    assert s.decide("other", "abandoned", note="too slow").note == "too slow"
    assert s.change_count == before


def test_a_blank_note_is_no_note() -> None:
    s = two_branches()
    assert s.decide("alt", "chosen", note="   ").note is None


# --- merge -------------------------------------------------------------------------------------------


def test_merge_continues_the_trunk_from_the_branch_and_numbers_after_it() -> None:
    s = two_branches()
    s.switch_branch("alt")
    merge = s.merge("alt")
    assert (merge.branch_id, merge.into, merge.thought_number) == ("alt", None, 4)
    assert s.active_branch is None
    following = s.think("Back on the trunk")
    assert following.branch_id is None and following.thought_number == 5
    assert s.merges == (merge,)


def test_merge_into_another_branch() -> None:
    s = two_branches()
    s.merge("alt", into="other")
    assert s.active_branch == "other"
    assert s.think("Other continues from alt").thought_number == 5


def test_merge_follows_the_last_thought_that_counts() -> None:
    s = two_branches()
    s.switch_branch("alt")
    s.retract(4)
    assert s.merge("alt").thought_number == 3


def test_merging_again_with_nothing_new_only_returns_to_the_target() -> None:
    s = two_branches()
    first = s.merge("alt")
    s.switch_branch("alt")
    assert s.merge("alt") == first
    assert len(s.merges) == 1 and s.active_branch is None


def test_numbers_on_the_target_mean_the_merged_branch_when_the_target_lacks_them() -> None:
    s = two_branches()
    s.merge("alt")
    s.amend(4, "Alt result, corrected")  # the trunk has no 4: the merged branch's
    assert s.branches["alt"].thoughts[-1].thought == "Alt result, corrected"


# --- refusals: typed, one line, nothing changed --------------------------------------------------------

REFUSALS: list[tuple[str, Callable[[Session], Any], type[ThinkError], str]] = [
    (
        "amend a missing thought",
        lambda s: s.amend(9, "x"),
        NoSuchThought,
        "cannot amend thought 9: the trunk of session 't' has no thought 9 (its numbers: 1-2)",
    ),
    ("amend a thought of another lane", lambda s: s.amend(4, "x"), NoSuchThought, "cannot amend thought 4"),
    ("retract a missing thought", lambda s: s.retract(7), NoSuchThought, "cannot retract thought 7"),
    (
        "retract twice",
        lambda s: (s.retract(2), s.retract(2)),
        ThoughtIsRetracted,
        "thought 2 on the trunk of session 't' is retracted already",
    ),
    ("amend a retracted thought", lambda s: (s.retract(2), s.amend(2, "x")), ThoughtIsRetracted, "thought 2"),
    ("amend to nothing", lambda s: s.amend(1, "   "), InvalidThought, "text: must not be empty"),
    ("amend too long", lambda s: s.amend(1, "x" * 100_001), ThoughtTooLong, "thought too long"),
    (
        "amend a boolean",
        lambda s: s.amend(True, "x"),
        InvalidThought,
        "number: must be a whole number from 1 to 2147483647, not a boolean (got True)",
    ),
    (
        "retract a boolean",
        lambda s: s.retract(True),
        InvalidThought,
        "number: must be a whole number from 1 to 2147483647, not a boolean (got True)",
    ),
    (
        "retract past 2**31 - 1",
        lambda s: s.retract(2**63),
        InvalidThought,
        "number: must be a whole number from 1 to 2147483647 (got 9223372036854775808)",
    ),
    (
        "amend to a lone surrogate",
        lambda s: s.amend(1, "\ud800"),
        InvalidThought,
        "text: holds a lone surrogate (U+D800 at character 1), which is not Unicode text; remove it",
    ),
    (
        "amend to a NUL",
        lambda s: s.amend(1, "a\x00b"),
        InvalidThought,
        "text: holds a NUL character (U+0000), which the store does not keep; remove it",
    ),
    (
        "decide with a note too long",
        lambda s: s.decide("alt", "chosen", note="n" * 10_001),
        InvalidValue,
        "note: too long (10001 characters, at most 10000); shorten it",
    ),
    (
        "decide with a NUL in the note",
        lambda s: s.decide("alt", "chosen", note="why\x00"),
        InvalidValue,
        "note: holds a NUL character (U+0000)",
    ),
    (
        "decide with a note that is no text",
        lambda s: s.decide("alt", "chosen", note=5),
        InvalidValue,
        "note: must be text (or None for no note) (got 5)",
    ),
    (
        "decide an unknown branch",
        lambda s: s.decide("ghost", "chosen"),
        UnknownBranch,
        "cannot decide branch 'ghost': session 't' has no such branch (its branches: alt, other)",
    ),
    (
        "decide with a bad outcome",
        lambda s: s.decide("alt", "won"),
        BadOutcome,
        "a branch is decided 'chosen' or 'abandoned', not 'won'",
    ),
    ("decide the trunk", lambda s: s.decide("main", "chosen"), TrunkCannot, "'main' is the trunk"),
    ("decide an invalid id", lambda s: s.decide("../x", "chosen"), ValueError, "invalid branch id"),
    (
        "merge into itself",
        lambda s: s.merge("alt", into="alt"),
        MergeIntoItself,
        "branch 'alt' cannot be merged into itself",
    ),
    ("merge an unknown branch", lambda s: s.merge("ghost"), UnknownBranch, "cannot merge branch 'ghost'"),
    (
        "merge into an unknown branch",
        lambda s: s.merge("alt", into="ghost"),
        UnknownBranch,
        "cannot merge into branch 'ghost'",
    ),
    ("merge the trunk", lambda s: s.merge("main", into="alt"), TrunkCannot, "'main' is the trunk"),
    (
        "merge a branch with nothing counted",
        lambda s: (s.switch_branch("other"), s.retract(3), s.merge("other")),
        NothingToMerge,
        "branch 'other' of session 't' has no thought to merge",
    ),
]


def _steps(request_: Callable[[Session], Any]) -> list[Callable[[Session], Any]]:
    """The calls a refusal request makes (a tuple-building lambda makes several), one function each."""

    class Probe:
        def __init__(self) -> None:
            self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args, **kwargs: self.calls.append((name, args, kwargs))

    probe = Probe()
    request_(probe)  # type: ignore[arg-type]
    return [
        (lambda s, name=name, args=args, kwargs=kwargs: getattr(s, name)(*args, **kwargs))
        for name, args, kwargs in probe.calls
    ]


@pytest.mark.parametrize(("what", "request_", "error", "says"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_typed_one_line_errors_that_change_nothing(
    what: str, request_: Callable[[Session], Any], error: type[ThinkError], says: str
) -> None:
    s = two_branches()
    *allowed, refused = _steps(request_)
    for step in allowed:
        step(s)
    before, count = s.to_json(), s.change_count
    events: list[SessionEvent] = []
    s.subscribe(events.append)
    with pytest.raises(error) as raised:
        refused(s)
    assert str(raised.value).startswith(says) and "\n" not in str(raised.value)
    assert s.to_json() == before and s.change_count == count and events == []


# --- events, JSON, the timeline ---------------------------------------------------------------------------


def test_subscribers_receive_each_teaching_change() -> None:
    s = two_branches()
    events: list[SessionEvent] = []
    s.subscribe(events.append)
    s.amend(1, "Restated")
    s.retract(2)
    s.decide("alt", "chosen", note="why")
    s.merge("alt")
    kinds = [type(event.change) for event in events]
    assert kinds == [ThoughtAmended, ThoughtRetracted, BranchDecided, BranchMerged]
    assert [event.index for event in events] == list(range(s.change_count - 3, s.change_count + 1))
    for event in events:  # each is what the store keeps: it survives its own JSON
        assert change_adapter.validate_json(event.change.model_dump_json(by_alias=True)) == event.change


def test_json_round_trip_is_exact_with_every_change_kind() -> None:
    s = lesson_session()
    text = s.to_json()
    again = Session.from_json(text)
    assert again.to_json() == text
    assert again.snapshot().timeline == s.snapshot().timeline
    assert again.summary() == s.summary() and again.to_svg() == s.to_svg()


def test_the_timeline_orders_every_change_as_it_happened() -> None:
    timeline = lesson_session().snapshot().timeline
    kinds = [change.kind for change in timeline]
    assert kinds == [
        "thought",
        "thought",
        "thought",
        "thought",
        "amend",
        "branch",
        "activate",
        "thought",
        "thought",
        "retract",
        "thought",
        "branch",
        "activate",
        "thought",
        "thought",
        "decide",
        "decide",
        "merge",
        "thought",
        "thought",
    ]
    amended = timeline[2].thought  # the thought as recorded: the amendment comes later
    assert amended.thought.endswith("217: all prime") and timeline[4].thought_id == amended.id


def test_a_snapshot_is_not_changed_by_later_teaching() -> None:
    s = two_branches()
    before = s.snapshot()
    s.amend(1, "Changed later")
    s.retract(2)
    assert before.thoughts[0].thought == "Restate" and not before.retracted and not before.amended


def test_applying_a_change_twice_or_one_that_does_not_fit_is_harmless() -> None:
    s = two_branches()
    change = ThoughtRetracted(thought_id=s.thoughts[1].id, thought_number=2)
    assert s.apply(change) is True
    assert s.apply(change) is False
    assert s.apply(ThoughtAmended(thought_id="not-here", thought_number=1, text="x")) is False
    assert s.apply(BranchDecided(branch_id="ghost", outcome="chosen")) is False
    assert (
        s.apply(BranchMerged(branch_id="alt", into="alt", thought_id=s.thoughts[3].id, thought_number=4))
        is False
    )
    assert s.history_length == len(s.thoughts) - 1


# --- stored, restored, followed (SQLite and PostgreSQL) ----------------------------------------------


def test_every_teaching_change_is_restored_after_a_restart(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        expected = lesson_session(into=manager.session("lesson")).to_json()
    assert stored(store_location, "lesson").to_json() == expected
    with SessionManager(store=store_location) as reopened:
        restored = reopened.session("lesson")
        assert restored.to_json() == expected
        assert restored.think("One more step").thought_number == 9  # numbering goes on after the merge


def test_sync_durability_commits_each_teaching_change_before_it_returns(store_location: str) -> None:
    with SessionManager(store=store_location, durability="sync") as manager:
        s = manager.session("careful")
        s.think("Teh start", total=2)
        s.amend(1, "The start")
        assert stored(store_location, "careful").thoughts[0].thought == "The start"
        s.branch("alt", from_thought=1)
        s.think("Idea")
        s.decide("alt", "chosen", note="good")
        assert stored(store_location, "careful").branches["alt"].outcome == "chosen"


def test_another_manager_follows_the_teaching_changes_live(store_location: str) -> None:
    with SessionManager(store=store_location) as left, SessionManager(store=store_location) as right:
        teacher = left.session("shared")
        teacher.think("Teh start", total=3)
        teacher.branch("idea", from_thought=1)
        teacher.think("An idea")
        left.flush()
        student = right.session("shared")
        wait_for(lambda: len(student.thoughts) == 2)
        teacher.amend(1, "The start")
        teacher.decide("idea", "chosen", note="it works")
        teacher.merge("idea")
        teacher.retract(1)
        left.flush()
        wait_for(lambda: len(student.merges) == 1 and student.history_length == 1)
        assert student.to_json() == teacher.to_json()
        assert student.active_branch is None


def test_search_finds_the_words_of_an_amended_thought(store_location: str) -> None:
    with SessionManager(store=store_location) as manager:
        s = manager.session("typo")
        s.think("The Mersene numbers")
        s.amend(1, "The Mersenne numbers")
        hits = manager.search("Mersenne")
        assert [(hit.session_id, hit.thought_number) for hit in hits] == [("typo", 1)]
        assert "[Mersenne]" in hits[0].snippet


def test_search_in_memory_finds_amended_text() -> None:
    with SessionManager(persist=False) as manager:
        s = manager.session("typo")
        s.think("The Mersene numbers")
        s.amend(1, "The Mersenne numbers")
        assert [hit.snippet for hit in manager.search("Mersenne")] == ["The [Mersenne] numbers"]
