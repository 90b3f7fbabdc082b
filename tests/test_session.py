"""Session semantics for people: numbering per lane, totals, status, strict errors, subscriptions, limits."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jupyter_think import Session, SessionEvent, SessionManager, ThinkError, ThoughtInput
from jupyter_think.core.errors import (
    BranchForksElsewhere,
    BranchNeedsId,
    InvalidThought,
    NoSuchThought,
    NumberTaken,
    TrunkHasNoFork,
    UnknownBranch,
)
from jupyter_think.core.models import BranchActivated, BranchCreated, SessionReset, ThoughtAdded


@pytest.fixture
def session() -> Session:
    return SessionManager(persist=False).session("s")


def numbers(thoughts) -> list[int]:
    return [t.thought_number for t in thoughts]


# --- numbering and totals -------------------------------------------------------------------------


def test_trunk_thoughts_are_numbered_in_order(session: Session) -> None:
    assert numbers(session.think(t) for t in ["a", "b", "c"]) == [1, 2, 3]


def test_a_branch_starts_after_its_fork_and_counts_on(session: Session) -> None:
    for text in ["a", "b", "c"]:
        session.think(text)
    session.branch("alt", from_thought=1)
    assert numbers([session.think("x"), session.think("y")]) == [2, 3]
    assert session.active_branch == "alt"
    session.switch_branch("main")
    assert session.think("d").thought_number == 4
    assert numbers(session.trunk) == [1, 2, 3, 4]
    assert numbers(session.branches["alt"].thoughts) == [2, 3]


def test_thought_in_a_named_new_branch_forks_without_switching(session: Session) -> None:
    session.think("a")
    session.think("b")
    thought = session.think("alt view", branch="side", branch_from=1)
    assert (thought.branch_id, thought.branch_from_thought, thought.thought_number) == ("side", 1, 2)
    assert session.active_branch is None
    assert session.branch_ids == ("side",)
    assert session.think("again", branch="side").thought_number == 3
    assert session.think("trunk").thought_number == 3


def test_explicit_number_overrides_the_next_number(session: Session) -> None:
    session.think("a")
    assert session.think("jump", number=10).thought_number == 10
    assert session.think("after").thought_number == 11


def test_a_number_already_used_on_the_lane_is_refused_naming_the_free_numbers(session: Session) -> None:
    session.think("a")
    session.think("b")
    session.think("e", number=5)
    with pytest.raises(NumberTaken) as caught:
        session.think("again", number=2)
    error = caught.value
    assert (error.number, error.branch_id, error.used) == (2, None, (1, 2, 5))
    assert str(error) == (
        "number 2 is already used on the trunk of session 's'; free numbers: 3-4, 6 and above"
    )
    assert [t.thought_number for t in session.thoughts] == [1, 2, 5]


def test_a_number_may_repeat_on_another_lane(session: Session) -> None:
    session.think("a", total=3)
    session.think("b")
    session.think("c")
    session.branch("alt", 1)
    assert session.think("alt two", number=2).thought_number == 2  # 2 is the trunk's, not alt's
    with pytest.raises(NumberTaken, match=r"on branch 'alt'.*free numbers: 3 and above"):
        session.think("alt two again", number=2)
    with pytest.raises(NumberTaken, match="free numbers: 3 and above"):
        session.think("at the fork", number=1)  # a branch counts the numbers up to its fork point


def test_the_next_number_is_one_above_the_highest_on_the_lane(session: Session) -> None:
    session.think("a")
    session.think("far ahead", number=5)
    session.think("filling a gap", number=3)
    assert session.think("next").thought_number == 6  # not 4: that would follow the gap-filler


def test_a_reference_to_a_repeated_number_means_its_latest_thought(session: Session) -> None:
    from jupyter_think.views.layout import layout

    def record(text: str, number: int, **extra: object) -> None:
        session.record(
            ThoughtInput(
                thought=text, thought_number=number, total_thoughts=3, next_thought_needed=True, **extra
            )
        )

    record("first one", 1)
    record("second one", 1)  # the agent tool is lenient: 1 twice
    record("two", 2)
    revision = session.revise(1, "about the latest one")
    session.branch("alt", 1)
    session.think("on alt")
    graph = layout(session)
    nodes = {node.thought.thought: node.index for node in graph.nodes}
    assert graph.nodes[nodes[revision.thought]].revises == nodes["second one"]
    alt = next(lane for lane in graph.lanes if lane.branch_id == "alt")
    assert alt.fork == nodes["second one"]


def test_total_is_kept_from_the_previous_thought(session: Session) -> None:
    session.think("a", total=5)
    assert session.think("b").total_thoughts == 5


def test_total_is_raised_to_the_number(session: Session) -> None:
    session.think("a", total=2)
    session.think("b")
    third = session.think("c")
    assert (third.thought_number, third.total_thoughts) == (3, 3)
    assert session.think("d", total=1).total_thoughts == 4


def test_first_thought_total_defaults_to_one(session: Session) -> None:
    assert session.think("only").total_thoughts == 1


def test_a_new_branch_inherits_the_trunk_estimate(session: Session) -> None:
    session.think("a", total=6)
    session.branch("alt", 1)
    assert session.think("x").total_thoughts == 6


def test_revise_records_the_next_thought_as_a_revision(session: Session) -> None:
    session.think("n is even")
    session.think("so n/2 is whole")
    revision = session.revise(1, "n may be odd")
    assert (revision.thought_number, revision.revises_thought, revision.is_revision) == (3, 1, True)
    assert session.summary().revisions == 1


def test_more_flag_sets_needs_more_thoughts(session: Session) -> None:
    assert session.think("a", more=True).needs_more_thoughts is True
    assert session.think("b").needs_more_thoughts is None


# --- status ---------------------------------------------------------------------------------------


def test_status_is_open_until_a_done_thought(session: Session) -> None:
    assert session.status == "open"
    session.think("a")
    assert session.status == "open"
    session.think("answer", done=True)
    assert session.status == "complete"
    assert session.summary().conclusion == "answer"


def test_a_later_thought_reopens_a_complete_session(session: Session) -> None:
    session.think("answer", done=True)
    session.think("wait, one more check")
    assert session.status == "open"
    assert session.summary().conclusion is None


# --- branches -------------------------------------------------------------------------------------


def test_branching_again_with_the_same_fork_just_switches(session: Session) -> None:
    session.think("a")
    session.branch("alt", 1)
    session.switch_branch(None)
    branch = session.branch("alt", 1)
    assert (branch.id, branch.from_thought, session.active_branch) == ("alt", 1, "alt")
    assert session.branch_ids == ("alt",)


def test_switching_to_main_returns_to_the_trunk(session: Session) -> None:
    session.think("a")
    session.branch("alt", 1)
    session.switch_branch("main")
    assert session.active_branch is None


def test_branches_are_in_creation_order(session: Session) -> None:
    session.think("a")
    for name in ["zeta", "alpha", "mid"]:
        session.branch(name, 1)
    assert list(session.branches) == ["zeta", "alpha", "mid"]


def test_branch_views_are_read_only(session: Session) -> None:
    session.think("a")
    session.branch("alt", 1)
    with pytest.raises(TypeError):
        session.branches["x"] = session.branches["alt"]  # type: ignore[index]
    assert isinstance(session.thoughts, tuple) and isinstance(session.trunk, tuple)


# --- strict errors for people: message says what to do, nothing changes ---------------------------


def _two_thoughts_and_a_branch(session: Session) -> None:
    session.think("a", total=3)
    session.think("b")
    session.branch("alt", 1)
    session.switch_branch(None)


STRICT_ERRORS = [
    ("revise a missing number", lambda s: s.revise(7, "no"), NoSuchThought, "no such thought"),
    ("branch from a missing number", lambda s: s.branch("new", 9), NoSuchThought, "no such thought"),
    (
        "think in a new branch from a missing number",
        lambda s: s.think("x", branch="new", branch_from=9),
        NoSuchThought,
        "no such thought",
    ),
    (
        "switch to an unknown branch",
        lambda s: s.switch_branch("nope"),
        UnknownBranch,
        "unknown branch 'nope'",
    ),
    ("think in an unknown branch", lambda s: s.think("x", branch="nope"), UnknownBranch, "branch_from"),
    ("main as a branch id", lambda s: s.branch("main", 1), TrunkHasNoFork, "trunk"),
    ("main with a fork point", lambda s: s.think("x", branch="main", branch_from=1), TrunkHasNoFork, "trunk"),
    ("fork point without a branch", lambda s: s.think("x", branch_from=1), BranchNeedsId, "give branch"),
    (
        "existing branch at another fork",
        lambda s: s.branch("alt", 2),
        BranchForksElsewhere,
        "forks at thought 1",
    ),
    (
        "a different fork point for an existing branch",
        lambda s: s.think("x", branch="alt", branch_from=2),
        BranchForksElsewhere,
        "already forks at thought 1",
    ),
    (
        "a number used on the trunk",
        lambda s: s.think("x", number=2),
        NumberTaken,
        "free numbers: 3 and above",
    ),
    (
        "a number up to a branch's fork",
        lambda s: s.think("x", branch="alt", number=1),
        NumberTaken,
        "2 and above",
    ),
    ("invalid branch id", lambda s: s.branch("a/b", 1), ValueError, "invalid branch id"),
    ("invalid branch id to switch", lambda s: s.switch_branch("../x"), ValueError, "invalid branch id"),
    ("blank text", lambda s: s.think("   "), InvalidThought, "text: must not be empty"),
    ("zero total", lambda s: s.think("x", total=0), InvalidThought, "total: "),
    ("zero number", lambda s: s.think("x", number=0), InvalidThought, "number: "),
    (
        "a boolean number",
        lambda s: s.think("x", number=True),
        InvalidThought,
        "number: must be a whole number from 1 to 2147483647, not a boolean (got True)",
    ),
    (
        "a number past 2**31 - 1",
        lambda s: s.think("x", number=2**63),
        InvalidThought,
        "number: must be a whole number from 1 to 2147483647 (got 9223372036854775808)",
    ),
    ("a boolean total", lambda s: s.think("x", total=False), InvalidThought, "total: must be a whole number"),
    (
        "a total past 2**31 - 1",
        lambda s: s.think("x", total=2**31),
        InvalidThought,
        "total: must be a whole number",
    ),
    ("a boolean revision", lambda s: s.revise(True, "x"), InvalidThought, "revises: must be a whole number"),
    (
        "a boolean fork point",
        lambda s: s.branch("new", True),
        InvalidThought,
        "from_thought: must be a whole number from 1 to 2147483647, not a boolean",
    ),
    (
        "a fork point past 2**31 - 1",
        lambda s: s.think("x", branch="new", branch_from=2**31),
        InvalidThought,
        "branch_from: must be a whole number",
    ),
    (
        "a NUL in the text",
        lambda s: s.think("a\x00b"),
        InvalidThought,
        "text: holds a NUL character (U+0000), which the store does not keep; remove it",
    ),
    (
        "a lone surrogate in the text",
        lambda s: s.think("x\udc00"),
        InvalidThought,
        "text: holds a lone surrogate (U+DC00 at character 2)",
    ),
]


@pytest.mark.parametrize(
    ("action", "kind", "expected"),
    [(a, k, e) for _, a, k, e in STRICT_ERRORS],
    ids=[n for n, _, _, _ in STRICT_ERRORS],
)
def test_a_bad_request_raises_a_typed_value_error_in_plain_words_and_changes_nothing(
    session: Session, action, kind: type[ValueError], expected: str
) -> None:
    _two_thoughts_and_a_branch(session)
    before = (session.to_json(), session.change_count)
    events: list[SessionEvent] = []
    session.subscribe(events.append)
    with pytest.raises(kind, match=re.escape(expected)) as caught:
        action(session)
    message = str(caught.value)
    assert "\n" not in message
    assert "%" not in message and "--" not in message  # no magic syntax in the API's words
    assert not re.search(r"[a-z][A-Z]", message)  # nor the tool's camelCase wire names
    assert (session.to_json(), session.change_count) == before
    assert events == []


def test_think_errors_are_think_errors() -> None:
    with pytest.raises(ThinkError):
        Session("x").revise(1, "nothing to revise")
    assert issubclass(ThinkError, ValueError)


def test_session_ids_are_validated() -> None:
    for bad in ("a/..", "../b", "", "a b", "a/b/c/.."):
        with pytest.raises(ValueError, match="invalid session id"):
            Session(bad)
    assert Session("ada/homework").id == "ada/homework", "another user's session, as a class store names it"


# --- limits ---------------------------------------------------------------------------------------


def test_max_thought_chars_refuses_longer_text() -> None:
    session = SessionManager(persist=False, max_thought_chars=10).session("s")
    assert session.think("x" * 10).thought == "x" * 10
    with pytest.raises(ThinkError, match=r"too long .11 characters, at most 10"):
        session.think("y" * 11)
    assert len(session) == 1


def test_max_thought_chars_is_bounded_by_what_both_engines_index() -> None:
    with pytest.raises(ValueError, match="max_thought_chars must be less than or equal to 120000"):
        SessionManager(persist=False, max_thought_chars=10**7)
    with pytest.raises(ValueError, match="max_thought_chars must be from 1 to 120000"):
        Session("s", max_thought_chars=10**7)
    session = SessionManager(persist=False, max_thought_chars=120_000).session("s")
    assert len(session.think("x" * 120_000).thought) == 120_000


def test_the_next_number_past_the_largest_is_refused_not_stored(session: Session) -> None:
    session.think("the last number there is", number=2**31 - 1)
    with pytest.raises(
        InvalidThought, match=r"number: must be a whole number from 1 to 2147483647 \(got 2147483648\)"
    ):
        session.think("one more")
    assert numbers(session.thoughts) == [2**31 - 1]


def test_a_number_taken_under_a_fork_at_the_largest_is_told_without_counting_to_it(session: Session) -> None:
    session.think("the last number there is", number=2**31 - 1)
    session.branch("far", 2**31 - 1)
    with pytest.raises(NumberTaken, match=r"free numbers: none$"):
        session.think("every number up to the fork is taken", branch="far", number=5)


def test_max_thoughts_refuses_more_and_says_to_conclude() -> None:
    session = SessionManager(persist=False, max_thoughts=2).session("s")
    session.think("a")
    session.think("b")
    with pytest.raises(ThinkError, match="conclude"):
        session.think("c")
    with pytest.raises(ThinkError, match="limit of 2"):
        session.record(
            ThoughtInput(thought="d", thought_number=3, total_thoughts=3, next_thought_needed=True)
        )
    assert len(session) == 2


# --- the lenient agent entry point ----------------------------------------------------------------


def test_record_keeps_references_as_given(session: Session) -> None:
    thought = session.record(
        ThoughtInput(
            thought="t", thought_number=5, total_thoughts=1, next_thought_needed=True, revises_thought=40
        )
    )
    assert (thought.thought_number, thought.total_thoughts, thought.revises_thought) == (5, 5, 40)
    assert thought.id and thought.created_at


def test_recording_the_same_thought_twice_gives_two_distinct_entries(session: Session) -> None:
    data = ThoughtInput(thought="t", thought_number=1, total_thoughts=1, next_thought_needed=True)
    first, second = session.record(data), session.record(data)
    assert first.id != second.id
    again = session.record(first)  # an already recorded Thought gets a fresh id, too
    assert len({first.id, second.id, again.id}) == 3 and len(session) == 3


# --- subscriptions --------------------------------------------------------------------------------


def test_subscribers_get_every_change_in_order(session: Session) -> None:
    events: list[SessionEvent] = []
    session.subscribe(events.append)
    session.think("a")
    session.branch("alt", 1)
    session.think("b")
    session.switch_branch(None)
    session.reset()
    kinds = [type(e.change) for e in events]
    assert kinds == [
        ThoughtAdded,
        BranchCreated,
        BranchActivated,
        ThoughtAdded,
        BranchActivated,
        SessionReset,
    ]
    assert [e.index for e in events] == [1, 2, 3, 4, 5, 6]
    assert {e.session_id for e in events} == {"s"} and not any(e.remote for e in events)
    assert events[3].change.thought.thought == "b"
    assert events[2].change.branch_id == "alt" and events[4].change.branch_id is None


def test_unsubscribe_stops_the_events(session: Session) -> None:
    events: list[SessionEvent] = []
    unsubscribe = session.subscribe(events.append)
    session.think("a")
    unsubscribe()
    session.think("b")
    assert len(events) == 1


def test_a_failing_subscriber_warns_and_thinking_goes_on(session: Session) -> None:
    later: list[SessionEvent] = []

    def broken(event: SessionEvent) -> None:
        raise RuntimeError("widget gone")

    session.subscribe(broken)
    session.subscribe(later.append)
    with pytest.warns(RuntimeWarning, match="widget gone"):
        thought = session.think("still recorded")
    assert session.thoughts == (thought,)
    assert len(later) == 1


def test_manager_subscribers_hear_every_session() -> None:
    manager = SessionManager(persist=False)
    events: list[SessionEvent] = []
    manager.subscribe(events.append)
    manager.session("one").think("a")
    manager.session("two").think("b")
    assert [(e.session_id, e.change.thought.thought) for e in events] == [("one", "a"), ("two", "b")]


def test_applying_a_known_thought_again_is_skipped(session: Session) -> None:
    events: list[SessionEvent] = []
    session.subscribe(events.append)
    session.think("a")
    assert session.apply(events[0].change, remote=True) is False
    assert len(session) == 1


def test_remote_changes_are_applied_and_marked_remote(session: Session) -> None:
    other = Session("s")
    changes: list[SessionEvent] = []
    other.subscribe(changes.append)
    other.think("from another kernel")
    events: list[SessionEvent] = []
    session.subscribe(events.append)
    assert session.apply(changes[0].change, remote=True) is True
    assert session.thoughts[0].thought == "from another kernel"
    assert events[0].remote is True


def test_reset_empties_the_session_and_the_manager_archives_it() -> None:
    manager = SessionManager(persist=False)
    session = manager.session("s")
    session.think("old", done=True)
    session.branch("alt", 1)
    assert manager.new_session("s") is session
    assert (len(session), session.branch_ids, session.active_branch, session.status) == (0, (), None, "open")
    assert [t.thought for t in manager.archived[0].thoughts] == ["old"]
    assert session.think("fresh").thought_number == 1


def test_concurrent_thinking_loses_nothing_and_numbers_stay_unique(session: Session) -> None:
    def worker() -> None:
        for _ in range(200):
            session.think("parallel")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert numbers(session.thoughts) == list(range(1, 801))


def test_repr_is_deterministic(session: Session) -> None:
    session.think("a")
    session.branch("alt", 1)
    session.think("b", done=True)
    assert repr(session) == "<Session 's': 2 thoughts, 1 branch, complete>"


def test_the_core_benchmark_runs_and_prints_the_ratios() -> None:
    script = Path(__file__).parent.parent / "benchmarks" / "bench_core.py"
    done = subprocess.run(
        [sys.executable, str(script), "--repeat", "1", "--number", "50"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for label in [
        "bare BaseModel(9 fields)",
        "Session.think()",
        "SequentialThinkingTool.call()",
        "think/bare =",
        "call/bare  =",
    ]:
        assert label in done.stdout
