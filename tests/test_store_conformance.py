"""One conformance suite for every store engine: each test runs on SQLite and on a real PostgreSQL server.

The store interface (``jupyter_think.store.base.Store``) promises the same behaviour on both:
changes round-trip exactly, seqs are assigned inside the writing transaction, trash / archive /
restore are state changes that never lose a change, a writer that meets a session trashed by
someone else restores it, a payload that does not validate is skipped with a warning and stays
stored, and invalid ids are refused before the store is touched.
"""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone

import anyio
import pytest
from sessions import proof_session

from jupyter_think import Session
from jupyter_think.core.models import Change, SessionReset, Thought, ThoughtAdded
from jupyter_think.store import SessionNotFound, SessionWrite, StoreWarning, open_store


def recorded(session: Session) -> list[Change]:
    """Every change of a session built by people's calls, in order (a subscriber from the start)."""
    changes: list[Change] = []
    session.subscribe(lambda event: changes.append(event.change))
    return changes


def thought(text: str, number: int = 1, at: datetime | None = None) -> ThoughtAdded:
    fields = {"created_at": at} if at is not None else {}
    return ThoughtAdded(
        thought=Thought(
            thought=text, thought_number=number, total_thoughts=number, next_thought_needed=True, **fields
        )
    )


def rebuilt(store_location: str, session_id: str) -> Session:
    loaded = open_store(store_location).load(session_id)
    assert loaded is not None
    return Session.from_changes(session_id, loaded.changes, created_at=loaded.row.created_at)


def texts(loaded) -> list[str]:  # type: ignore[no-untyped-def]
    return [change.thought.thought for change in loaded.changes if isinstance(change, ThoughtAdded)]


# --- round trip and numbering -----------------------------------------------------------------------


def test_a_session_with_branches_revisions_and_the_active_branch_round_trips_exactly(
    store_location: str,
) -> None:
    session = Session("proof")
    changes = recorded(session)
    proof_session(into=session)
    session.switch_branch("geometry")
    open_store(store_location).append([SessionWrite("proof", changes, created_at=session.created_at)])
    assert rebuilt(store_location, "proof").to_json() == session.to_json()


def test_seqs_are_consecutive_across_appends_and_changes_since_returns_what_follows(
    store_location: str,
) -> None:
    store = open_store(store_location)
    first = store.append([SessionWrite("count", [thought("one"), thought("two", 2)])])[0]
    second = store.append([SessionWrite("count", [thought("three", 3)], expected_key=first.key)])[0]
    assert [(s.first_seq, s.last_seq) for s in first.segments + second.segments] == [(1, 2), (3, 3)]
    later = store.changes_since(second.key, 1)
    assert [seq for seq, _ in later] == [2, 3]
    assert store.heads(["count", "nowhere"])["count"].last_seq == 3


def test_one_append_for_several_sessions_is_one_transaction(store_location: str) -> None:
    store = open_store(store_location)
    unstorable = ThoughtAdded.model_construct(thought=object())  # fails inside the transaction
    with pytest.raises(Exception):  # noqa: B017 (each engine and driver refuses an object in its own words)
        store.append([SessionWrite("fine", [thought("kept?")]), SessionWrite("broken", [unstorable])])
    assert store.load("fine") is None, "the first session's changes were committed although the batch failed"
    store.append([SessionWrite("fine", [thought("now")]), SessionWrite("also", [thought("too")])])
    assert texts(store.load("fine")) == ["now"] and texts(store.load("also")) == ["too"]


def test_a_missing_session_loads_as_none(store_location: str) -> None:
    store = open_store(store_location)
    assert store.load("never") is None
    assert store.sessions() == []
    assert store.heads(["never"]) == {}


def test_unsafe_ids_are_refused_before_the_store_is_touched(store_location: str) -> None:
    store = open_store(store_location)
    # (``a/b`` is a reference to user a's session b, not a path: see the reference tests)
    for bad in ("..", "../b", "a/..", "a/", "/b", "a/b/../c", "", "x" * 500, "%2e%2e", "nul\x00", "a\x1b/b"):
        with pytest.raises(ValueError, match="invalid session id"):
            store.append([SessionWrite(bad, [thought("no")])])
        with pytest.raises(ValueError, match="invalid session id"):
            store.trash(bad)
    assert store.sessions(("live", "trashed", "archived")) == []


def test_the_list_row_counts_thoughts_branches_status_and_names_the_owner(
    store_location: str, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner of a personal store's session is its user ($JUPYTERHUB_USER, else the OS user); on
    PostgreSQL the database sets it (the role that created the row), whatever the client says."""
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    session = Session("listed")
    changes = recorded(session)
    session.think("Start", total=3)
    session.branch("alt", from_thought=1)
    session.think("Side road")
    session.switch_branch("main")
    session.think("Done", done=True)
    open_store(store_location).append([SessionWrite("listed", changes, created_at=session.created_at)])
    (row,) = open_store(store_location).sessions()
    owner = "ada" if engine == "sqlite" else "postgres"
    assert (row.id, row.ref, row.owner, row.state, row.thoughts, row.branches, row.status) == (
        "listed",
        "listed",
        owner,
        "live",
        3,
        1,
        "complete",
    )
    assert row.created_at == session.created_at
    assert row.last_activity == session.last_activity


# --- trash, archive, restore -------------------------------------------------------------------------


def test_trash_and_restore_are_state_changes_that_keep_every_change(store_location: str) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("bin", [thought("one"), thought("two", 2)])])
    row = store.trash("bin")
    assert row.state == "trashed" and row.thoughts == 2
    assert store.load("bin") is None
    assert [r.id for r in store.sessions(("trashed",))] == ["bin"]
    assert texts(store.load("bin", state="trashed")) == ["one", "two"]
    store.restore("bin")
    assert texts(store.load("bin")) == ["one", "two"]
    with pytest.raises(SessionNotFound):
        store.trash("nothing-here")


def test_each_trashed_copy_says_who_trashed_it_and_that_row_can_be_restored(store_location: str) -> None:
    store = open_store(store_location)
    for words in ["first", "second"]:
        store.append([SessionWrite("notes", [thought(words)])])
        row = store.trash("notes")
        assert row.trashed_by  # the user who trashed it (the connected role, or the OS user)
    copies = sorted(store.sessions(("trashed",)), key=lambda copy: copy.key)
    assert [copy.trashed_by for copy in copies] == [row.trashed_by] * 2
    assert texts(store.restore("notes", key=copies[0].key) and store.load("notes")) == ["first"]
    with pytest.raises(SessionNotFound):
        store.restore("notes", key=copies[0].key)  # (live now: no longer in the trash)
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    store.append([SessionWrite("idle", [thought("old", at=long_ago)], created_at=long_ago)])
    assert [copy.trashed_by for copy in store.trash_idle(timedelta(days=30), keep=())] == ["retention"]


def test_restoring_from_the_trash_refuses_while_a_live_session_has_the_id(store_location: str) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("twice", [thought("old")])])
    store.trash("twice")
    store.append(
        [SessionWrite("twice", [thought("new")])]
    )  # a new session, no expected row: not the trashed one
    assert texts(store.load("twice")) == ["new"]
    with pytest.raises(OSError, match="move it to the trash first"):
        store.restore("twice")
    assert texts(store.load("twice")) == ["new"]
    assert texts(store.load("twice", state="trashed")) == ["old"]


def test_a_writer_that_meets_its_session_trashed_restores_it_with_nothing_lost(store_location: str) -> None:
    writer, remover = open_store(store_location), open_store(store_location)
    key = writer.append([SessionWrite("busy", [thought("one")])])[0].key
    remover.trash("busy")  # e.g. `jupyter-think rm busy` while a kernel writes
    result = writer.append([SessionWrite("busy", [thought("two", 2)], expected_key=key)])[0]
    assert result.restored and result.key == key
    assert texts(remover.load("busy")) == ["one", "two"]
    assert remover.sessions(("trashed",)) == []


def test_a_writer_whose_trashed_session_lost_its_id_to_a_new_one_writes_into_the_trashed_copy(
    store_location: str,
) -> None:
    writer, other = open_store(store_location), open_store(store_location)
    key = writer.append([SessionWrite("taken", [thought("mine")])])[0].key
    other.trash("taken")
    other.append([SessionWrite("taken", [thought("theirs")])])
    result = writer.append([SessionWrite("taken", [thought("mine again", 2)], expected_key=key)])[0]
    assert result.in_trash and not result.restored
    assert texts(other.load("taken")) == ["theirs"]
    assert texts(other.load("taken", state="trashed")) == ["mine", "mine again"]


def test_a_reset_archives_the_old_content_and_starts_fresh_in_one_transaction(store_location: str) -> None:
    store = open_store(store_location)
    old = store.append([SessionWrite("redo", [thought("first attempt")])])[0].key
    reset = SessionReset()
    result = store.append(
        [SessionWrite("redo", [thought("last words", 2), reset, thought("second attempt")], expected_key=old)]
    )[0]
    assert [segment.after_reset for segment in result.segments] == [False, True]
    assert result.segments[0].key == old and result.key != old
    assert texts(store.load("redo")) == ["second attempt"]
    assert texts(store.load("redo", state="archived")) == ["first attempt", "last words"]
    assert store.load("redo").row.created_at == reset.at
    again = store.append([SessionWrite("redo", [reset], expected_key=result.key)])[0]  # a retried batch
    assert again.key == result.key, "a retried reset archived the fresh session"
    assert texts(store.load("redo")) == ["second attempt"]


def test_a_writer_whose_session_was_started_anew_elsewhere_writes_to_the_new_one(store_location: str) -> None:
    writer, other = open_store(store_location), open_store(store_location)
    key = writer.append([SessionWrite("fresh", [thought("old")])])[0].key
    other.append([SessionWrite("fresh", [SessionReset(), thought("new")], expected_key=key)])
    result = writer.append([SessionWrite("fresh", [thought("late", 2)], expected_key=key)])[0]
    assert result.key != key
    assert texts(other.load("fresh")) == ["new", "late"]


def test_restoring_from_the_archive_archives_the_live_session(store_location: str) -> None:
    store = open_store(store_location)
    key = store.append([SessionWrite("swap", [thought("A")])])[0].key
    store.append([SessionWrite("swap", [SessionReset(), thought("B")], expected_key=key)])
    store.restore("swap", state="archived")
    assert texts(store.load("swap")) == ["A"]
    assert texts(store.load("swap", state="archived")) == ["B"]


def test_emptying_the_trash_deletes_only_what_is_old_enough(store_location: str) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("a", [thought("a")]), SessionWrite("b", [thought("b")])])
    store.trash("a")
    store.trash("b")
    assert store.purge_trash(timedelta(days=1)) == []
    assert sorted(row.id for row in store.purge_trash()) == ["a", "b"]
    assert store.sessions(("live", "trashed", "archived")) == []


def test_idle_sessions_move_to_the_trash_except_those_kept(store_location: str) -> None:
    store = open_store(store_location)
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    store.append(
        [
            SessionWrite("old", [thought("old", at=long_ago)], created_at=long_ago),
            SessionWrite("old-but-loaded", [thought("kept", at=long_ago)], created_at=long_ago),
            SessionWrite("recent", [thought("new")]),
        ]
    )
    moved = store.trash_idle(timedelta(days=30), keep={"old-but-loaded"})
    assert [row.id for row in moved] == ["old"]
    assert [row.id for row in store.sessions()] == ["old-but-loaded", "recent"]


# --- damage and versions ------------------------------------------------------------------------------


def test_a_payload_that_does_not_validate_is_skipped_with_a_warning_and_stays_stored(
    store_location: str, engine: str
) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("mixed", [thought("one"), thought("two", 2), thought("three", 3)])])
    _edit_payload(store_location, engine, seq=2, payload='{"kind": "thought", "thought": {"broken": tr')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = open_store(store_location).load("mixed")
    assert texts(loaded) == ["one", "three"]
    assert loaded.skipped == [2]
    named = [w for w in caught if issubclass(w.category, StoreWarning) and "'mixed'" in str(w.message)]
    assert named and "change 2" in str(named[0].message)
    store.append([SessionWrite("mixed", [thought("four", 4)], expected_key=loaded.row.key)])
    with pytest.warns(StoreWarning, match="change 2"):
        following = open_store(store_location).changes_since(loaded.row.key, 0)
    assert [seq for seq, _ in following] == [1, 3, 4]
    assert _payload(store_location, engine, seq=2).startswith('{"kind": "thought", "thought": {"broken"')


def test_a_change_written_by_a_newer_version_is_skipped_and_the_rest_loads(
    store_location: str, engine: str
) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("future", [thought("now"), thought("later", 2)])])
    _edit_payload(store_location, engine, seq=2, payload='{"kind": "hologram", "at": "2030-01-01T00:00:00Z"}')
    with pytest.warns(StoreWarning, match="change 2 is not valid"):
        loaded = open_store(store_location).load("future")
    assert texts(loaded) == ["now"]


def test_a_payload_changed_without_its_checksum_is_skipped_with_a_warning_and_the_rest_loads(
    store_location: str, engine: str
) -> None:
    """A change edited behind the store's back (plain SQL, a flipped bit) still reads as valid JSON: its
    checksum tells, the change is skipped and named, and every other change loads."""
    store = open_store(store_location)
    store.append([SessionWrite("edited", [thought("one"), thought("two", 2), thought("three", 3)])])
    edited = _payload(store_location, engine, seq=2).replace("two", "TWO")
    _edit_payload(store_location, engine, seq=2, payload=edited, checked=False)
    with pytest.warns(StoreWarning, match="'edited': change 2 does not match its checksum"):
        loaded = open_store(store_location).load("edited")
    assert texts(loaded) == ["one", "three"] and loaded.skipped == [2]
    with pytest.warns(StoreWarning, match="change 2 does not match its checksum"):
        assert [seq for seq, _ in open_store(store_location).changes_since(loaded.row.key, 0)] == [1, 3]
    assert "TWO" in _payload(store_location, engine, seq=2), "the edited row was not kept"


def test_changes_written_before_checksums_load_as_unverified_without_a_word(
    store_location: str, engine: str
) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("older", [thought("one"), thought("two", 2)])])
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"{store_location}/sessions.db") as conn:
            conn.execute("UPDATE changes SET checksum = NULL")
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute("UPDATE jupyter_think.changes SET checksum = NULL")
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        assert texts(open_store(store_location).load("older")) == ["one", "two"]


def test_a_damaged_row_holding_two_thoughts_is_skipped_and_does_not_shift_the_others(
    store_location: str, engine: str
) -> None:
    """A thought row loads fastest in the form the store writes it; one damaged into two JSON values
    (which a joined JSON array would read as two thoughts) is skipped like any invalid row."""
    store = open_store(store_location)
    store.append([SessionWrite("shifted", [thought("one"), thought("two", 2), thought("three", 3)])])
    two = _payload(store_location, engine, seq=2)
    inner = two[len('{"kind":"thought","thought":') : -1]
    _edit_payload(
        store_location, engine, seq=2, payload='{"kind":"thought","thought":' + inner + "," + inner + "}"
    )
    with pytest.warns(StoreWarning, match="change 2 is not valid"):
        loaded = open_store(store_location).load("shifted")
    assert texts(loaded) == ["one", "three"] and loaded.skipped == [2]
    assert [entry.thought_number for entry in loaded.entries] == [1, 3]


def test_a_long_session_loads_whole_in_order_with_damage_and_other_changes_in_later_batches(
    store_location: str, engine: str
) -> None:
    """A load reads a long session a batch of rows at a time: every intact row of every batch loads in
    order, and a damaged row far into the session is named by its own seq."""
    from jupyter_think.core.models import BranchCreated
    from jupyter_think.store.base import LOAD_BATCH

    count = LOAD_BATCH * 2 + 10
    changes: list[Change] = [thought(f"step {n}", n) for n in range(1, count + 1)]
    changes.insert(LOAD_BATCH + 5, BranchCreated(branch_id="late", from_thought=3))
    store = open_store(store_location)
    store.append([SessionWrite("long", changes)])
    damaged = LOAD_BATCH * 2 + 3  # a seq in the third batch
    _edit_payload(store_location, engine, seq=damaged, payload='{"kind": "thought", "thought": {"cut')
    with pytest.warns(StoreWarning, match=f"'long': change {damaged} is not valid"):
        loaded = open_store(store_location).load("long")
    assert loaded.skipped == [damaged]
    expected = [change for seq, change in enumerate(changes, start=1) if seq != damaged]
    assert loaded.changes == expected and len(loaded.entries) == count
    session = Session.from_changes("long", loaded.entries)
    assert "late" in session.branches and len(session) == count - 1


def test_a_thought_row_in_another_valid_form_loads_the_same(store_location: str, engine: str) -> None:
    """Written by another version (keys in another order, spaces): validated as a change, same result."""
    store = open_store(store_location)
    store.append([SessionWrite("forms", [thought("one"), thought("two", 2)])])
    two = ThoughtAdded.model_validate_json(_payload(store_location, engine, seq=2))
    reordered = f'{{"thought": {two.thought.model_dump_json(by_alias=True)}, "kind": "thought"}}'
    _edit_payload(store_location, engine, seq=2, payload=reordered)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        loaded = open_store(store_location).load("forms")
    assert texts(loaded) == ["one", "two"] and loaded.changes[1] == two


def test_a_thought_is_stored_as_the_json_of_its_change() -> None:
    """The fast form is the change's own JSON (rows written before it existed load fast too)."""
    from jupyter_think.store.codec import encode

    change = thought("exactly this")
    assert encode(change) == change.model_dump_json(by_alias=True, exclude_none=True)
    assert ThoughtAdded.model_validate_json(encode(change)) == change


def _edit_payload(store_location: str, engine: str, seq: int, payload: str, *, checked: bool = True) -> None:
    """Store ``payload`` in change ``seq``: as a writer would (its checksum with it), so what a test
    meets is the payload's content; ``checked=False`` leaves the old checksum (damage, an edit by hand)."""
    from jupyter_think.store.codec import checksum

    crc = checksum(payload)
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"{store_location}/sessions.db") as conn:
            conn.execute("UPDATE changes SET payload = ? WHERE seq = ?", (payload, seq))
            if checked:
                conn.execute("UPDATE changes SET checksum = ? WHERE seq = ?", (crc, seq))
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute("UPDATE jupyter_think.changes SET payload = %s WHERE seq = %s", (payload, seq))
            if checked:
                conn.execute("UPDATE jupyter_think.changes SET checksum = %s WHERE seq = %s", (crc, seq))


def _payload(store_location: str, engine: str, seq: int) -> str:
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"{store_location}/sessions.db") as conn:
            return conn.execute("SELECT payload FROM changes WHERE seq = ?", (seq,)).fetchone()[0]
    import psycopg

    with psycopg.connect(store_location) as conn:
        return conn.execute("SELECT payload FROM jupyter_think.changes WHERE seq = %s", (seq,)).fetchone()[0]


def test_a_store_written_by_a_newer_schema_is_refused_with_the_fix(store_location: str, engine: str) -> None:
    open_store(store_location).append([SessionWrite("v", [thought("x")])])
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"{store_location}/sessions.db") as conn:
            conn.execute("PRAGMA user_version = 99")
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute("UPDATE jupyter_think.meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(OSError, match=r"newer jupyter-think .*upgrade"):
        open_store(store_location).load("v")


# --- following ------------------------------------------------------------------------------------------


def test_a_commit_by_another_connection_is_seen_by_watch(store_location: str) -> None:
    follower, writer = open_store(store_location), open_store(store_location)
    writer.append([SessionWrite("watched", [thought("first")])])
    heard: list[int] = []

    async def follow() -> None:
        with anyio.fail_after(30):
            async for _ in follower.watch(0.05):
                heads = await anyio.to_thread.run_sync(follower.heads, ["watched"])
                heard.append(heads["watched"].last_seq)
                if heard[-1] == 2:
                    return
                if len(heard) == 1:
                    await anyio.to_thread.run_sync(
                        lambda: writer.append([SessionWrite("watched", [thought("second", 2)])])
                    )

    anyio.run(follow)
    assert heard[0] == 1 and heard[-1] == 2


# --- full-text search -------------------------------------------------------------------------------


def test_search_finds_every_word_in_trunk_and_branch_thoughts_best_first(store_location: str) -> None:
    session = Session("cache")
    changes = recorded(session)
    session.think("Measure the cache hit rate before anything else", total=3)
    session.branch("serial", from_thought=1)
    session.think("The serializer is slow; the cache is fine")
    other = Session("other")
    other_changes = recorded(other)
    other.think("Nothing about that topic here")
    store = open_store(store_location)
    store.append([SessionWrite("cache", changes), SessionWrite("other", other_changes)])
    hits = store.search("cache")
    assert {(hit.session_id, hit.thought_number) for hit in hits} == {("cache", 1), ("cache", 2)}
    assert all("[cache]" in hit.snippet.lower() for hit in hits)
    both = store.search("serializer cache")
    assert [(hit.session_id, hit.thought_number) for hit in both] == [("cache", 2)]
    assert store.search("measuring") == [], "no stemming: measuring does not find measure"
    assert store.search("MEASURE")[0].thought_number == 1, "case is ignored"
    assert store.search("cache", session_ids=["other"]) == []
    assert store.search("topic", session_ids=["other", "cache"])[0].session_id == "other"


def test_the_rank_of_a_thought_never_depends_on_the_rest_of_the_store(store_location: str) -> None:
    """More matches rank first, ties by session and step; other sessions' words change nothing, so a
    notebook that shows a search prints the same whatever else shares its store (nbval)."""
    store = open_store(store_location)
    coins = [
        thought("Split into three groups of 3: weigh 3 against 3; the heavy group is on the lighter side", 1),
        thought("Revise: a balanced pan tells where the coin is, so use three groups, not two", 2),
    ]
    store.append([SessionWrite("coins-1", coins)])
    alone = [(hit.session_id, hit.thought_number, hit.score) for hit in store.search("three groups")]
    assert [hit[:2] for hit in alone] == [("coins-1", 1), ("coins-1", 2)]  # three, groups in each: by step
    crowd = [thought(f"{'groups ' * (n % 5)}three words, then padding {'x ' * n}", n) for n in range(1, 60)]
    store.append([SessionWrite("crowd", crowd)])
    ranked = [
        (hit.session_id, hit.thought_number, hit.score) for hit in store.search("three groups", limit=100)
    ]
    assert [hit for hit in ranked if hit[0] == "coins-1"] == alone
    assert [
        (h.session_id, h.thought_number, h.score) for h in store.search("three groups", ["coins-1"])
    ] == alone
    scores = [score for _, _, score in ranked]
    assert scores == sorted(scores, reverse=True)


def test_search_ignores_query_syntax_and_finds_nothing_in_an_empty_store(store_location: str) -> None:
    store = open_store(store_location)
    assert store.search("anything") == []
    store.append([SessionWrite("syntax", [thought('a "quoted" OR NEAR(x y) * -minus word')])])
    for query in ('"quoted"', "OR", "NEAR(x", "*", "-minus", "quoted)", "'", "", "   "):
        store.search(query)  # never an engine error
    assert [hit.session_id for hit in store.search('"quoted" minus')] == ["syntax"]


def test_search_leaves_out_trashed_sessions_and_follows_a_restore(store_location: str) -> None:
    store = open_store(store_location)
    store.append([SessionWrite("binned", [thought("A unique zebra thought")])])
    store.trash("binned")
    assert store.search("zebra") == []
    store.restore("binned")
    assert [hit.session_id for hit in store.search("zebra")] == ["binned"]
    store.trash("binned")
    store.purge_trash()  # gone for good, from the index too
    assert store.search("zebra") == []


def test_a_store_from_before_the_search_index_is_indexed_when_opened(
    store_location: str, engine: str
) -> None:
    store = open_store(store_location)
    store.append(
        [SessionWrite("older", [thought("Written before search existed"), thought("second note", 2)])]
    )
    store.close()
    if engine == "sqlite":
        import sqlite3

        with sqlite3.connect(f"{store_location}/sessions.db") as conn:
            conn.execute("DROP TABLE thought_text")
            conn.execute("PRAGMA user_version = 1")
    else:
        import psycopg

        with psycopg.connect(store_location, autocommit=True) as conn:
            conn.execute("DROP TABLE jupyter_think.thought_text")
            conn.execute("UPDATE jupyter_think.meta SET value = '1' WHERE key = 'schema_version'")
    reopened = open_store(store_location)
    assert [(hit.session_id, hit.thought_number) for hit in reopened.search("search existed")] == [
        ("older", 1)
    ]
    reopened.append([SessionWrite("older", [thought("third note", 3)])])
    assert sorted(hit.thought_number for hit in reopened.search("note")) == [2, 3]


def test_a_word_in_thousands_of_thoughts_is_still_found_in_the_session_asked_for(store_location: str) -> None:
    """Past SEARCH_WINDOW matches only the newest are ranked; asking for a session looks in its own."""
    from jupyter_think.store.base import SEARCH_WINDOW

    store = open_store(store_location)
    many = SEARCH_WINDOW + 100
    store.append([SessionWrite("older", [thought(f"common word {n}", n) for n in range(1, many + 1)])])
    store.append([SessionWrite("newer", [thought(f"common word {n}", n) for n in range(1, many + 1)])])
    assert {hit.session_id for hit in store.search("common", limit=50)} == {"newer"}
    older = store.search("common", session_ids=["older"], limit=10)
    assert len(older) == 10 and {hit.session_id for hit in older} == {"older"}
