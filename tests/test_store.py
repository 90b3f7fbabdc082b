"""The session store on real files: round trips, damage of every file kind, unsafe ids and paths."""

from __future__ import annotations

import errno
import json
import os
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import filelock
import pytest

from jupyter_think.journal import encode_changes, encode_snapshot
from jupyter_think.models import SessionRecord
from jupyter_think.session import Session
from jupyter_think.store import (
    NewerFormatError,
    SessionStore,
    StoreError,
    StoreWarning,
)


class Recorder:
    """A session whose local changes are collected for the store (what the persistence loop does)."""

    def __init__(self, session_id: str = "demo", created_at: datetime | None = None) -> None:
        self.session = Session(session_id, max_thoughts=10**6, created_at=created_at)
        self.pending: list = []
        self.session.subscribe(lambda event: None if event.remote else self.pending.append(event.change))

    def flush(self, store: SessionStore) -> object:
        """Append what is pending; it stays pending when the append fails."""
        result = store.append(self.session.id, self.pending, created_at=self.session.created_at)
        self.pending = []
        return result


def rich_session(store: SessionStore, session_id: str = "demo") -> Recorder:
    writer = Recorder(session_id)
    s = writer.session
    s.think("Restate the problem", total=4)
    s.think("Try a small case")
    writer.flush(store)
    s.branch("alt", from_thought=1)
    s.think("Another angle")
    s.revise(2, "The small case was wrong")
    writer.flush(store)
    s.think("Conclude", done=True)
    writer.flush(store)
    return writer


def load(root: Path, session_id: str = "demo", **kwargs: object):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = SessionStore(root, **kwargs).load(session_id)
    return loaded, [str(w.message) for w in caught]


def files_under(path: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


# --- round trips ---------------------------------------------------------------------------------


def test_a_reopened_store_rebuilds_the_identical_session(tmp_path: Path) -> None:
    writer = rich_session(SessionStore(tmp_path / "store"))
    loaded, messages = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()
    assert loaded.session.active_branch == "alt"
    assert loaded.session.branches["alt"].from_thought == 1
    assert [t.revises_thought for t in loaded.session.thoughts] == [None, None, None, 2, None]
    assert loaded.last_seq == 7 and messages == []


def test_compaction_keeps_the_session_identical_and_empties_the_journal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    store.compact("demo")
    assert (tmp_path / "store" / "demo" / "journal.jsonl").stat().st_size == 0
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()
    assert loaded.last_seq == 7


def test_compaction_is_amortised_and_replay_skips_what_the_snapshot_holds(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store", compact_floor=10)
    writer = Recorder()
    journal = tmp_path / "store" / "demo" / "journal.jsonl"
    sizes = []
    for number in range(60):
        writer.session.think(f"thought {number}")
        writer.flush(store)
        sizes.append(journal.read_bytes().count(b"\n"))
    assert max(sizes) <= 31 and sizes.count(0) >= 2  # the journal was reset, never let grow unbounded
    # a crash between the snapshot's replace and the journal's reset leaves old records behind
    old_journal = journal.read_bytes()
    store.compact("demo")
    journal.write_bytes(old_journal)
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()


def test_files_and_directories_are_private(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    session_dir = tmp_path / "store" / "demo"
    assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700
    assert session_dir.stat().st_mode & 0o777 == 0o700
    # a new session is its journal alone; the first record keeps the session's creation time
    assert sorted(os.listdir(session_dir)) == ["journal.jsonl"]
    first, second = (
        json.loads(line) for line in (session_dir / "journal.jsonl").read_text().splitlines()[:2]
    )
    assert set(first) == {"format_version", "seq", "crc32", "created_at", "change"}
    assert datetime.fromisoformat(first["created_at"]) == writer.session.created_at
    assert set(second) == {"format_version", "seq", "crc32", "change"}
    store.compact("demo")
    for name in ("snapshot.json", "journal.jsonl"):
        assert (session_dir / name).stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(session_dir)) == ["journal.jsonl", "snapshot.json"]
    snapshot = json.loads((session_dir / "snapshot.json").read_text())
    assert snapshot["format_version"] == 1 and snapshot["record"]["id"] == "demo"


def test_the_creation_time_survives_reload_and_compaction_and_is_checksummed(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = Recorder(created_at=datetime.now(timezone.utc) - timedelta(hours=3))  # well before thought 1
    writer.session.think("Restate the problem")
    writer.flush(store)
    writer.session.think("Try a small case")
    writer.flush(store)
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.created_at == writer.session.created_at
    assert Session.from_json(loaded.session.to_json()).to_json() == writer.session.to_json()
    store.compact("demo")
    assert load(tmp_path / "store")[0].session.created_at == writer.session.created_at
    # a flipped digit in the creation time is damage, like one in the change
    store.trash("demo")
    writer = Recorder()
    writer.session.think("Restate the problem")
    writer.flush(store)
    journal = tmp_path / "store" / "demo" / "journal.jsonl"
    line = journal.read_bytes()
    at = line.index(b'"created_at":"') + len(b'"created_at":"') + 3  # the last digit of the year
    journal.write_bytes(line[:at] + (b"7" if line[at : at + 1] != b"7" else b"8") + line[at + 1 :])
    loaded, messages = load(tmp_path / "store")
    assert loaded is None and "checksum mismatch in record 1" in messages[0]


def test_a_missing_session_or_store_loads_as_none_and_creates_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    assert store.load("nothing") is None
    assert store.list_ids() == []
    assert not (tmp_path / "store").exists()


def test_list_ids_skips_dot_dirs_files_invalid_names_and_symlinks(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store, "b")
    rich_session(store, "a")
    root = tmp_path / "store"
    (root / "not valid").mkdir()
    (root / "file").write_text("x")
    (root / "link").symlink_to(tmp_path)
    store.trash("b")
    assert store.list_ids() == ["a"]


def test_describe_summarises_without_rebuilding(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    info = store.describe("demo")
    assert (info["thoughts"], info["branches"], info["status"]) == (5, 1, "complete")
    assert info["last_activity"] == writer.session.last_activity
    store.compact("demo")
    assert store.describe("demo")["thoughts"] == 5


def test_a_session_written_with_an_empty_first_snapshot_still_loads_and_appends(tmp_path: Path) -> None:
    """The earlier layout of a new session (an empty snapshot at seq 0 keeping created_at, then the
    journal from seq 1) is read as before."""
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    writer = Recorder(created_at=created)
    writer.session.think("Restate the problem")
    session_dir = tmp_path / "store" / "demo"
    session_dir.mkdir(parents=True)
    empty = SessionRecord(id="demo", created_at=created, last_activity=created)
    (session_dir / "snapshot.json").write_bytes(encode_snapshot(0, empty))
    (session_dir / "journal.jsonl").write_bytes(encode_changes(1, writer.pending))
    writer.pending = []
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.to_json() == writer.session.to_json()
    writer.session.think("Try a small case")
    writer.flush(SessionStore(tmp_path / "store"))
    lines = (session_dir / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) == 2 and all(b'"created_at"' not in line.split(b',"change":')[0] for line in lines)
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.to_json() == writer.session.to_json()


# --- two store objects (processes are in test_store_concurrency.py) -------------------------------


def test_each_writer_receives_the_others_changes_as_foreign(tmp_path: Path) -> None:
    first, second = SessionStore(tmp_path / "store"), SessionStore(tmp_path / "store")
    a, b = Recorder("shared"), Recorder("shared")
    a.session.think("from a")
    assert a.flush(first).foreign == []
    assert second.load("shared") is not None
    b.session.think("from b")
    result = b.flush(second)
    assert (result.first_seq, result.last_seq, result.foreign) == (2, 2, [])
    a.session.think("again from a")
    result = a.flush(first)
    assert [change.thought.thought for change in result.foreign] == ["from b"]
    assert [change.thought.thought for change in second.poll("shared")] == ["again from a"]
    assert second.poll("shared") == []


def test_poll_follows_a_compaction_by_another_writer(tmp_path: Path) -> None:
    writer_store, reader_store = (
        SessionStore(tmp_path / "store", compact_floor=3),
        SessionStore(tmp_path / "store"),
    )
    writer = Recorder("live")
    follower = Session("live")
    for number in range(20):
        writer.session.think(f"thought {number}")
        writer.flush(writer_store)
        if number % 7 == 0:
            for change in reader_store.poll("live"):
                follower.apply(change, remote=True)
    for change in reader_store.poll("live"):
        follower.apply(change, remote=True)
    assert [t.id for t in follower.thoughts] == [t.id for t in writer.session.thoughts]


def test_a_session_trashed_by_another_writer_is_reported_as_replaced(tmp_path: Path) -> None:
    store, other = SessionStore(tmp_path / "store"), SessionStore(tmp_path / "store")
    writer = rich_session(store)
    other.trash("demo")
    writer.session.think("after the trash")
    result = writer.flush(store)
    assert result.replaced and result.first_seq == 1
    store.save("demo", writer.session.to_record())
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()


# --- trash, archive, retention -----------------------------------------------------------------------


def test_trash_and_archive_move_sessions_without_deleting(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    first = store.trash("demo")
    rich_session(store)
    second = store.trash("demo")
    assert (first.name, second.name) == ("demo-1", "demo-2")
    assert (second / "journal.jsonl").exists() and store.load("demo") is None
    assert store.archive("demo") is None
    rich_session(store)
    assert store.archive("demo") == tmp_path / "store" / ".archive" / "demo-1"
    with pytest.raises(StoreError, match="no such stored session"):
        store.trash("demo")


def test_remove_idle_trashes_only_idle_sessions_not_kept(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    for session_id in ("old", "kept", "fresh"):
        rich_session(store, session_id)
    past = datetime.now(timezone.utc) - timedelta(days=40)
    for session_id in ("old", "kept"):
        record = store.load(session_id).session.to_record()
        store.save(
            session_id,
            record.model_copy(
                update={
                    "last_activity": past,
                    "thoughts": [t.model_copy(update={"created_at": past}) for t in record.thoughts],
                }
            ),
        )
    assert store.remove_idle(timedelta(days=30), keep={"kept"}) == ["old"]
    assert store.list_ids() == ["fresh", "kept"]
    assert (tmp_path / "store" / ".trash" / "old-1" / "snapshot.json").exists()


# --- damaged files ---------------------------------------------------------------------------------


def damage_journal(path: Path, how: str) -> None:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    if how == "partial line":
        path.write_bytes(data + lines[-1][: len(lines[-1]) // 2])
    elif how == "truncated":
        path.write_bytes(data[:-7])
    elif how == "flipped byte":
        last = bytearray(lines[-1])
        last[len(last) // 2] ^= 0x01
        path.write_bytes(b"".join(lines[:-1]) + bytes(last))
    elif how == "garbage":
        path.write_bytes(data + os.urandom(300))
    elif how == "bad json":
        path.write_bytes(data + b'{"format_version":1,"seq":8,"crc32":0,"change":{]\n')
    elif how == "wrong types":
        path.write_bytes(data + b'{"format_version":"one","seq":[],"crc32":null,"change":7}\n')
    elif how == "deep nesting":
        path.write_bytes(
            data
            + b'{"format_version":1,"seq":8,"crc32":0,"change":'
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}\n"
        )
    elif how == "NULs":
        path.write_bytes(data + b"\0" * 4096)


JOURNAL_DAMAGE = [
    "partial line",
    "truncated",
    "flipped byte",
    "garbage",
    "bad json",
    "wrong types",
    "deep nesting",
    "NULs",
]


@pytest.mark.parametrize("how", JOURNAL_DAMAGE)
def test_a_damaged_journal_tail_is_cut_off_kept_aside_and_the_rest_loads(tmp_path: Path, how: str) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    journal = tmp_path / "store" / "demo" / "journal.jsonl"
    intact = journal.read_bytes()
    damage_journal(journal, how)
    damaged = journal.read_bytes()
    loaded, messages = load(tmp_path / "store")
    expected = (
        writer.session.thoughts
        if how in ("partial line", "garbage", "bad json", "wrong types", "deep nesting", "NULs")
        else writer.session.thoughts[:-1]
    )
    assert [t.id for t in loaded.session.thoughts] == [t.id for t in expected]
    assert len(messages) == 1 and "damaged tail" in messages[0] and loaded.warnings == messages
    kept = tmp_path / "store" / ".quarantine" / "demo-1" / "journal-tail.jsonl"
    assert str(kept) in messages[0]
    assert journal.read_bytes() + kept.read_bytes() == damaged  # nothing dropped
    assert intact.startswith(journal.read_bytes())
    # appending after the repair works and a reload is clean
    writer.session.think("after the repair")
    writer.flush(SessionStore(tmp_path / "store"))
    again, messages = load(tmp_path / "store")
    assert messages == [] and again.session.thoughts[-1].thought == "after the repair"


def test_an_append_cuts_a_damaged_tail_before_writing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    damage_journal(tmp_path / "store" / "demo" / "journal.jsonl", "partial line")
    writer.session.think("written after the torn tail")
    with pytest.warns(StoreWarning, match="damaged tail"):
        writer.flush(store)
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.to_json() == writer.session.to_json()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage",
        b'{"format_version":1,"seq":3',
        b'{"format_version":1,"seq":"x","record":{}}\n',
        b"\0" * 100,
        b"[" * 50_000,
    ],
    ids=["empty", "garbage", "truncated", "wrong types", "NULs", "deep nesting"],
)
def test_a_damaged_snapshot_quarantines_the_session_and_others_still_load(
    tmp_path: Path, content: bytes
) -> None:
    store = SessionStore(tmp_path / "store")
    broken = rich_session(store, "broken")
    store.compact("broken")
    broken.session.think("in the journal after the snapshot")
    broken.flush(store)
    other = rich_session(store, "healthy")
    snapshot = tmp_path / "store" / "broken" / "snapshot.json"
    journal = (tmp_path / "store" / "broken" / "journal.jsonl").read_bytes()
    snapshot.write_bytes(content)
    loaded, messages = load(tmp_path / "store", "broken")
    quarantined = tmp_path / "store" / ".quarantine" / "broken-1"
    assert loaded is None
    assert len(messages) == 1 and str(quarantined) in messages[0] and "damaged snapshot" in messages[0]
    assert (quarantined / "snapshot.json").read_bytes() == content
    assert (quarantined / "journal.jsonl").read_bytes() == journal
    healthy, _ = load(tmp_path / "store", "healthy")
    assert healthy.session.to_json() == other.session.to_json()
    assert SessionStore(tmp_path / "store").list_ids() == ["healthy"]


def test_a_snapshot_with_a_flipped_byte_is_caught_by_its_checksum(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    store.compact("demo")
    snapshot = tmp_path / "store" / "demo" / "snapshot.json"
    data = snapshot.read_bytes().replace(b"Restate the problem", b"Restate the pr0blem")
    snapshot.write_bytes(data)
    loaded, messages = load(tmp_path / "store")
    assert loaded is None and "checksum" in messages[0]


def test_a_truncated_snapshot_is_quarantined(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    store.compact("demo")
    snapshot = tmp_path / "store" / "demo" / "snapshot.json"
    snapshot.write_bytes(snapshot.read_bytes()[:-40])
    loaded, messages = load(tmp_path / "store")
    assert loaded is None and ".quarantine" in messages[0]


@pytest.mark.parametrize("content", [b"", b"garbage\0\xff" * 100])
def test_lock_file_content_does_not_matter(tmp_path: Path, content: bytes) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    (tmp_path / "store" / ".locks" / "demo.lock").write_bytes(content)
    writer.session.think("still writable")
    writer.flush(SessionStore(tmp_path / "store"))
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.to_json() == writer.session.to_json()


def test_a_lock_path_that_is_a_directory_or_symlink_is_moved_aside(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    lock = tmp_path / "store" / ".locks" / "demo.lock"
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    lock.unlink()
    lock.symlink_to(outside)
    writer.session.think("still writable")
    with pytest.warns(StoreWarning, match="lock path"):
        writer.flush(SessionStore(tmp_path / "store"))
    assert outside.read_text() == "precious"
    assert (tmp_path / "store" / ".quarantine" / "demo-1" / "demo.lock").is_symlink()
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()


def test_files_over_the_size_cap_are_refused_before_reading(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    store.compact("demo")
    with pytest.raises(StoreError, match="max_file_bytes"):
        SessionStore(tmp_path / "store", max_file_bytes=100).load("demo")
    assert (tmp_path / "store" / "demo" / "snapshot.json").exists()


# --- newer formats -------------------------------------------------------------------------------------


def test_a_newer_snapshot_is_left_untouched_with_a_clear_message(tmp_path: Path) -> None:
    root = tmp_path / "store"
    (root / "future").mkdir(parents=True)
    snapshot = root / "future" / "snapshot.json"
    snapshot.write_text(json.dumps({"format_version": 2, "seq": 9, "shape": "unknown", "record": {"x": 1}}))
    before = files_under(root / "future")
    with pytest.raises(
        NewerFormatError, match="format version 2, newer than 1: left untouched, upgrade jupyter-think"
    ):
        SessionStore(root).load("future")
    with pytest.raises(NewerFormatError):
        SessionStore(root).append("future", Recorder("future").pending or [])  # even a read-only sync refuses
    assert files_under(root / "future") == before
    assert not (root / ".quarantine").exists()
    assert SessionStore(root).describe("future")["status"] == "newer-format"
    assert SessionStore(root).remove_idle(timedelta(0)) == []


def test_a_newer_journal_record_is_left_untouched(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    journal = tmp_path / "store" / "demo" / "journal.jsonl"
    journal.write_bytes(journal.read_bytes() + b'{"format_version":3,"seq":8,"whatever":true}\n')
    before = files_under(tmp_path / "store" / "demo")
    with pytest.raises(NewerFormatError, match="journal record has format version 3"):
        SessionStore(tmp_path / "store").load("demo")
    writer.session.think("refused")
    with pytest.raises(NewerFormatError):
        writer.flush(SessionStore(tmp_path / "store"))
    assert files_under(tmp_path / "store" / "demo") == before


# --- unsafe ids and paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id", ["..", "a/b", "%2e%2e", "a\0b", "x" * 500, "", ".trash", "-x", "../../etc"]
)
def test_unsafe_ids_are_rejected_before_any_path_is_built(tmp_path: Path, bad_id: str) -> None:
    store = SessionStore(tmp_path / "store")
    for call in (
        lambda: store.load(bad_id),
        lambda: store.append(bad_id, []),
        lambda: store.poll(bad_id),
        lambda: store.trash(bad_id),
        lambda: store.archive(bad_id),
        lambda: store.describe(bad_id),
        lambda: store.compact(bad_id),
        lambda: store.save(
            bad_id,
            SessionRecord(
                id="ok", created_at=datetime.now(timezone.utc), last_activity=datetime.now(timezone.utc)
            ),
        ),
    ):
        with pytest.raises(ValueError, match="invalid session id"):
            call()
    assert not (tmp_path / "store").exists()


def test_a_symlinked_session_directory_is_quarantined_and_its_target_untouched(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store, "healthy")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "snapshot.json").write_text("not yours")
    (outside / "journal.jsonl").write_text("not yours either\n")
    before = files_under(outside)
    dir_mtime = outside.stat().st_mtime_ns
    (tmp_path / "store" / "evil").symlink_to(outside)
    assert store.list_ids() == ["healthy"]
    loaded, messages = load(tmp_path / "store", "evil")
    assert loaded is None and "symlink" in messages[0]
    writer = Recorder("evil")
    writer.session.think("a fresh start")
    writer.flush(SessionStore(tmp_path / "store"))
    assert files_under(outside) == before and outside.stat().st_mtime_ns == dir_mtime
    assert (tmp_path / "store" / ".quarantine" / "evil-1" / "evil").is_symlink()
    assert not (tmp_path / "store" / "evil").is_symlink()
    assert load(tmp_path / "store", "healthy")[0] is not None


@pytest.mark.parametrize("name", ["journal.jsonl", "snapshot.json"])
def test_a_symlinked_journal_or_snapshot_is_moved_aside_never_followed(tmp_path: Path, name: str) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    store.compact("demo")  # a snapshot is there to be replaced
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    planted = tmp_path / "store" / "demo" / name
    planted.unlink()
    planted.symlink_to(outside)
    writer.session.think("must not land outside")
    with pytest.warns(StoreWarning, match="not a regular file"):
        result = writer.flush(SessionStore(tmp_path / "store"))
    assert result.replaced  # the writer is told to write its whole session back
    assert outside.read_text() == "precious\n"
    assert (tmp_path / "store" / ".quarantine" / "demo-1" / name).is_symlink()


def test_a_directory_where_the_journal_belongs_quarantines_the_session_on_load(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    journal = tmp_path / "store" / "demo" / "journal.jsonl"
    journal.unlink()
    journal.mkdir()
    loaded, messages = load(tmp_path / "store")
    assert loaded is None and "not a regular file" in messages[0]
    assert (tmp_path / "store" / ".quarantine" / "demo-1" / "journal.jsonl").is_dir()


def test_an_empty_journal_loads_the_snapshot(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    store.compact("demo")
    (tmp_path / "store" / "demo" / "journal.jsonl").write_bytes(b"")
    loaded, messages = load(tmp_path / "store")
    assert messages == [] and loaded.session.to_json() == writer.session.to_json()


def test_a_journal_of_pure_garbage_is_kept_aside_whole(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = rich_session(store)
    garbage = b"\x00\xffnot json at all\n" * 50
    (tmp_path / "store" / "demo" / "journal.jsonl").write_bytes(garbage)
    assert store.describe("demo")["status"] == "damaged"
    loaded, messages = load(tmp_path / "store")  # no snapshot: nothing readable, the session goes aside
    assert loaded is None and "no snapshot and a damaged journal" in messages[0]
    assert (tmp_path / "store" / ".quarantine" / "demo-1" / "journal.jsonl").read_bytes() == garbage
    assert store.list_ids() == []
    store = SessionStore(tmp_path / "store")
    store.save("demo", writer.session.to_record())
    (tmp_path / "store" / "demo" / "journal.jsonl").write_bytes(garbage)
    loaded, messages = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json() and "damaged tail" in messages[0]
    assert (tmp_path / "store" / ".quarantine" / "demo-2" / "journal-tail.jsonl").read_bytes() == garbage


def test_a_symlinked_store_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "store").symlink_to(tmp_path / "real")
    with pytest.raises(StoreError, match="symlink"):
        SessionStore(tmp_path / "store")
    assert os.listdir(tmp_path / "real") == []


def test_compacting_a_session_with_a_damaged_snapshot_quarantines_it(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    rich_session(store)
    store.compact("demo")
    (tmp_path / "store" / "demo" / "snapshot.json").write_bytes(b"garbage")
    with pytest.warns(StoreWarning, match="damaged snapshot"):
        store.compact("demo")
    assert (tmp_path / "store" / ".quarantine" / "demo-1" / "snapshot.json").read_bytes() == b"garbage"
    assert store.list_ids() == []


def test_a_non_durable_append_is_read_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store")
    writer = Recorder()
    writer.session.think("quick")
    batch, writer.pending = writer.pending, []
    assert store.append("demo", batch, durable=False, created_at=writer.session.created_at).last_seq == 1
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()


def test_poll_takes_no_lock_when_nothing_changed_and_a_held_lock_times_out_clearly(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "store", lock_timeout=0.3)
    writer = rich_session(store)
    held = filelock.FileLock(str(tmp_path / "store" / ".locks" / "demo.lock"))
    with held:
        assert store.poll("demo") == []  # answered from a stat, without waiting for the lock
        writer.session.think("blocked")
        with pytest.raises(StoreError) as raised:
            writer.flush(store)
    assert raised.value.errno == errno.ETIMEDOUT
    assert "held the session lock" in str(raised.value) and "demo.lock" in str(raised.value)
    writer.flush(store)
    loaded, _ = load(tmp_path / "store")
    assert loaded.session.to_json() == writer.session.to_json()
