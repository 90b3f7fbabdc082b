"""The compact core (issue 24): thoughts kept as columns behave like the models they were, and a restore
decodes stored rows straight into columns with the same result as validating each row as a model."""

from __future__ import annotations

import gc
import json
import warnings
from datetime import datetime, timedelta, timezone

import pytest

from jupyter_think import Session, SessionManager
from jupyter_think.core.models import Thought
from jupyter_think.core.session.columns import TAIL
from jupyter_think.store import open_store
from jupyter_think.store.codec import THOUGHT_PAYLOAD, checksum, decode_changes
from jupyter_think.store.thought_rows import ThoughtRows, thought_rows


def stored(*thoughts: Thought) -> bytes:
    """The joined JSON of ``thoughts`` as the codec joins stored payloads."""
    return (
        "[" + ",".join(t.model_dump_json(by_alias=True, exclude_none=True) for t in thoughts) + "]"
    ).encode()


def test_a_thought_the_caller_holds_is_the_one_the_session_gives_back_and_an_amendment_is_seen() -> None:
    session = Session("held")
    first = session.think("Restate the problem", total=3)
    assert session.thoughts[0] is first and session.recent(1)[0] is first
    session.amend(1, "Restate the problem precisely")
    assert first.thought == "Restate the problem"  # (the model held keeps the text it had)
    assert session.thoughts[0].thought == "Restate the problem precisely"
    timeline = session.snapshot().timeline
    assert [entry.thought.thought for entry in timeline if entry.kind == "thought"] == ["Restate the problem"]


def test_the_session_holds_no_object_the_collector_tracks_per_thought() -> None:
    session = Session("untracked", max_thoughts=5000)
    session.think("The first thought")
    gc.collect()
    before = len(gc.get_objects())
    for number in range(2000):
        session.think(f"Thought number {number} of a long session")
    gc.collect()
    # (the latest few keep their models, TAIL of them; a model per thought would be over 6 000 objects)
    assert len(gc.get_objects()) - before < 10 * TAIL
    assert session.thoughts[2000].thought == "Thought number 1999 of a long session"


def test_columns_rebuild_every_field_of_a_thought_exactly() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    thought = Thought(
        thought="Maybe the other way round",
        thought_number=4,
        total_thoughts=4,
        next_thought_needed=False,
        is_revision=False,
        revises_thought=2,
        branch_from_thought=1,
        branch_id="alt",
        needs_more_thoughts=True,
        created_at=at,
    )
    session = Session.from_changes("exact", [thought])
    rebuilt = session.thoughts[0]
    assert rebuilt == thought and rebuilt.created_at.utcoffset() == timedelta(hours=2)
    assert session.to_json() == Session.from_json(session.to_json()).to_json()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"total_thoughts": 1, "thought_number": 5},
        {"revises_thought": 1},
        {"is_revision": True, "revises_thought": 2, "needs_more_thoughts": False},
        {"branch_from_thought": 1, "branch_id": "alt"},
        {"branch_id": "only-named"},
        {"created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))},
    ],
)
def test_stored_thoughts_decode_to_the_same_thoughts_as_the_models(fields: dict[str, object]) -> None:
    base = {"thought": "Check it", "thought_number": 2, "total_thoughts": 3, "next_thought_needed": True}
    thoughts = [Thought(**{**base, **fields}), Thought(**base)]
    rows = thought_rows(stored(*thoughts), 2)
    assert isinstance(rows, ThoughtRows)
    assert rows.models() == [Thought.model_validate_json(t.model_dump_json(by_alias=True)) for t in thoughts]


@pytest.mark.parametrize(
    "change",
    [
        {"thoughtNumber": "2"},  # a numeric string: the model path takes it, not the columns
        {"thoughtNumber": 2.0},
        {"thoughtNumber": True},
        {"thoughtNumber": 0},
        {"thought": "   "},
        {"branchId": "no spaces allowed"},
        {"createdAt": "2026-01-02T03:04:05"},  # no zone
        {"id": ""},
    ],
)
def test_a_stored_thought_not_as_the_store_writes_it_is_left_to_the_model_path(
    change: dict[str, object],
) -> None:
    good = Thought(thought="Check it", thought_number=2, total_thoughts=3, next_thought_needed=True)
    item = {**json.loads(good.model_dump_json(by_alias=True, exclude_none=True)), **change}
    assert thought_rows(("[" + json.dumps(item) + "]").encode(), 1) is None
    payload = (THOUGHT_PAYLOAD + json.dumps(item) + "}").encode()
    try:
        expected: list[Thought] = [Thought.model_validate_json(json.dumps(item))]
    except ValueError:
        expected = []
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        entries, skipped = decode_changes("s", [(1, payload, checksum(payload))])
    assert entries == expected and skipped == ([] if expected else [1])
    assert len(said) == len(skipped)


def test_a_restored_session_with_branches_amendments_and_repeats_is_the_session_that_was_saved(
    tmp_path: object,
) -> None:
    root = str(tmp_path)
    with SessionManager(root) as manager:
        session = manager.session("saved")
        for number in range(30):
            session.think(f"Step {number}")
        session.branch("alt", from_thought=10)
        session.think("Another angle")
        session.switch_branch("main")
        session.think("Back on the trunk", number=40)
        session.think("Again with a number used on a branch", branch="alt")
        session.amend(3, "Step three, corrected")
        session.retract(4)
        manager.flush(timeout=30)
        saved = session.to_json()
    with SessionManager(root) as manager:
        restored = manager.session("saved")
        assert restored.to_json() == saved
        assert restored.think("Next").thought_number == 41
        assert restored.amend(3, "Step three, corrected again").thought == "Step three, corrected again"
    with open_store(root) as store:
        loaded = store.load("saved")
        assert loaded is not None and any(isinstance(part, ThoughtRows) for part in loaded.parts)
        assert [entry.thought for entry in loaded.entries if isinstance(entry, Thought)][:2] == [
            "Step 0",
            "Step 1",
        ]
