"""A damaged store, seen through the manager and the CLI: real files damaged with plain writes (garbage,
truncation, a zeroed page, a flipped bit, a byte that is not UTF-8), a row edited by hand, and a
damaged page met by a reader while a writer in another process goes on writing.

What a user can count on: one bad change is skipped with a warning naming its session and sequence
number, and the rest of the session loads; a file SQLite calls corrupt is kept byte for byte in
``.quarantine/`` and repaired in place with everything that can be read, without a live writer losing
an acknowledged thought or an intact session leaving the store; a session that lost changes says so
each time it is opened, is marked by ``list``, and numbers its next thought after the highest it had.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyter_think import SessionManager
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.store import SessionWrite, StoreWarning, open_store
from jupyter_think.store.sqlite.store import SQLiteStore

CLI = str(Path(sys.executable).parent / "jupyter-think")
RACE_RUNS = 5
pytestmark = [pytest.mark.timeout(1800)]  # several runs of processes per test: slow under load, not hung


def texts_of(location: str, session_id: str) -> list[str]:
    loaded = open_store(location).load(session_id)
    return (
        [] if loaded is None else [c.thought.thought for c in loaded.changes if isinstance(c, ThoughtAdded)]
    )


def fill_store(location: str) -> None:
    with SessionManager(store=location) as manager:
        for session_id in ("alpha", "beta"):
            for number in range(200):
                manager.session(session_id).think(f"{session_id} {number} " + "y" * 300)


def fill(location: str | Path, sessions: dict[str, int], chars: int = 300) -> None:
    """Sessions of numbered thoughts, written in the order given (each one's rows together in the file)."""
    store = SQLiteStore(location)
    for session_id, count in sessions.items():
        thoughts = [
            ThoughtAdded(
                thought=Thought(
                    thought=f"{session_id} {number} " + "y" * chars,
                    thought_number=number,
                    total_thoughts=count,
                    next_thought_needed=True,
                )
            )
            for number in range(1, count + 1)
        ]
        store.append([SessionWrite(session_id, thoughts)])
    store.close()


def middle_leaf(database: Path) -> int:
    """A page of the changes table in the middle of the rows written first (the first session's)."""
    conn = sqlite3.connect(database)
    try:
        leaves = [page for (page,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'changes' AND pagetype = 'leaf' ORDER BY path"
        )]  # fmt: skip
    finally:
        conn.close()
    return leaves[4]


def zero_page(database: Path, page: int, page_size: int = 4096) -> None:
    with open(database, "r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(bytes(page_size))
        file.flush()
        os.fsync(file.fileno())


def damage(database: Path, how: str) -> bytes:
    """Damage ``database`` (``garbage`` over all of it, or ``truncated`` to half); return its bytes now."""
    size = database.stat().st_size
    if how == "garbage":
        database.write_bytes(bytes((n * 7 + 13) % 251 for n in range(size)))
    else:
        os.truncate(database, size // 2)
    return database.read_bytes()


def store_warnings(caught: list[warnings.WarningMessage], needle: str = "") -> list[str]:
    return [
        str(w.message) for w in caught if issubclass(w.category, StoreWarning) and needle in str(w.message)
    ]


def cli(location: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "--dir", location, *args], capture_output=True, text=True, timeout=120, check=False
    )


# --- a whole file damaged ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_database_is_kept_with_its_bytes_and_the_store_takes_new_thoughts(
    tmp_path: Path, how: str
) -> None:
    location = str(tmp_path / "store")
    fill_store(location)
    assert sorted(os.listdir(location)) == ["sessions.db"]
    damaged = damage(tmp_path / "store" / "sessions.db", how)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            session = manager.session("alpha")
            session.think("After the damage")
            manager.flush(timeout=120)
    named = store_warnings(caught, "is damaged")
    assert len(named) == 1, store_warnings(caught)
    assert str(tmp_path / "store" / "sessions.db") in named[0] and ".quarantine" in named[0]

    (kept,) = (tmp_path / "store" / ".quarantine").glob("*.db")
    assert kept.read_bytes() == damaged, "the damaged database was not kept byte for byte"
    assert kept.name in named[0]
    alpha = texts_of(location, "alpha")
    if how == "garbage":  # nothing in it can be read
        assert alpha == ["After the damage"]
        assert [row.id for row in open_store(location).sessions(("live", "trashed", "archived"))] == ["alpha"]
    else:  # alpha's pages are in the first half: carried over whole, and thinking goes on after them
        assert len(alpha) == 201 and alpha[-1] == "After the damage" and alpha[0].startswith("alpha 0 ")
        assert "1 session(s) carried over whole" in named[0]


# --- one change damaged ----------------------------------------------------------------------------------


@pytest.fixture
def edited_row(store_location: str, engine: str) -> str:
    """A store whose session ``mixed`` has changes 1-3, change 2 edited to invalid JSON."""
    with SessionManager(store=store_location) as manager:
        session = manager.session("mixed")
        for text in ("one", "two", "three"):
            session.think(text)
    _sql(
        store_location, engine, 'UPDATE {changes} SET payload = \'{{"kind": "thought", "thou\' WHERE seq = 2'
    )
    return store_location


@pytest.mark.filterwarnings("ignore::jupyter_think.store.StoreWarning")  # (each read of the bad row warns)
def test_a_row_edited_to_invalid_json_is_skipped_the_session_loads_and_thinking_goes_on_after_it(
    edited_row: str, engine: str
) -> None:
    location = edited_row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            session = manager.session("mixed")
            assert [t.thought for t in session.thoughts] == ["one", "three"]
            session.think("four")
            manager.flush(timeout=120)
    skipped = store_warnings(caught)
    assert skipped and "'mixed'" in skipped[0] and "change 2" in skipped[0]
    assert texts_of(location, "mixed") == ["one", "three", "four"]
    loaded = open_store(location).load("mixed")
    assert loaded is not None and loaded.skipped == [2]
    assert [seq for seq, _ in open_store(location).changes_since(loaded.row.key, 0)] == [1, 3, 4]
    assert _sql(location, engine, "SELECT seq, payload FROM {changes} ORDER BY seq")[1] == (
        2,
        '{"kind": "thought", "thou',
    ), "the bad row was not kept"
    where = ["--dir", location] if engine == "sqlite" else ["--store", location]
    shown = subprocess.run(
        [CLI, *where, "show", "mixed"], capture_output=True, text=True, timeout=120, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "four" in shown.stdout and "change 2" in shown.stderr


def _sql(location: str, engine: str, statement: str) -> list[tuple[object, ...]]:
    if engine == "sqlite":
        conn = sqlite3.connect(f"{location}/sessions.db", isolation_level=None)
        try:
            return conn.execute(statement.format(changes="changes")).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(location, autocommit=True) as conn:
        cursor = conn.execute(statement.format(changes="jupyter_think.changes"))  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_a_payload_byte_that_is_not_utf8_costs_that_change_only(tmp_path: Path) -> None:
    """Written before checksums (so only its decoding can tell): ``session()``, ``show`` and ``export``
    all work, with a warning naming the session and the change; every other change is there."""
    location = str(tmp_path / "store")
    fill(location, {"accents": 5}, chars=20)
    conn = sqlite3.connect(tmp_path / "store" / "sessions.db", isolation_level=None)
    (payload,) = conn.execute("SELECT CAST(payload AS BLOB) FROM changes WHERE seq = 3").fetchone()
    broken = payload.replace(b"accents 3", b"accents \xff")  # valid JSON around a byte UTF-8 never has
    conn.execute("UPDATE changes SET payload = CAST(? AS TEXT), checksum = NULL WHERE seq = 3", (broken,))
    conn.close()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            session = manager.session("accents")
            assert [t.thought_number for t in session.thoughts] == [1, 2, 4, 5]
    (said,) = store_warnings(caught)
    assert "'accents'" in said and "change 3" in said
    shown = cli(location, "show", "accents")
    exported = cli(location, "export", "accents", "--format", "json")
    for done in (shown, exported):
        assert done.returncode == 0, done.stderr
        assert "change 3" in done.stderr and "accents 5" in done.stdout


@pytest.mark.filterwarnings("ignore::jupyter_think.store.StoreWarning")  # (each read of the bad row warns)
def test_a_stored_number_no_engine_keeps_costs_that_change_only(store_location: str, engine: str) -> None:
    """A number edited by hand above 2**63 - 1 (no version wrote one; the columns of a restored session
    hold 64-bit integers) is damage like any other: that change is skipped with a warning naming it, the
    session opens (it raised OverflowError before) and takes thoughts after it."""
    with SessionManager(store=store_location) as manager:
        session = manager.session("huge")
        for text in ("one", "two", "three"):
            session.think(text)
    _sql(
        store_location,
        engine,
        "UPDATE {changes} SET checksum = NULL, "
        "payload = replace(payload, '\"thoughtNumber\":2', '\"thoughtNumber\":18446744073709551616') "
        "WHERE seq = 2",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=store_location) as manager:
            session = manager.session("huge")
            assert [(t.thought_number, t.thought) for t in session.thoughts] == [(1, "one"), (3, "three")]
            session.think("four")
            manager.flush(timeout=120)
    (said,) = {text for text in store_warnings(caught) if "'huge'" in text}
    assert "change 2" in said and "thoughtNumber" in said and "skipped" in said
    assert texts_of(store_location, "huge") == ["one", "three", "four"]


def test_a_bit_flipped_inside_a_payload_is_caught_by_its_checksum(tmp_path: Path) -> None:
    """The flip keeps the row valid JSON and UTF-8 (``f`` -> ``g``): without the checksum the thought's
    text would change silently. It is skipped with a warning, and the rest loads."""
    location = str(tmp_path / "store")
    with SessionManager(store=location) as manager:
        session = manager.session("flipped")
        for text in ("first", "flip-me please", "third"):
            session.think(text)
    database = tmp_path / "store" / "sessions.db"
    data = bytearray(database.read_bytes())
    at = data.index(b"flip-me please")
    data[at] ^= 0x01  # 'f' -> 'g'
    database.write_bytes(bytes(data))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            assert [t.thought for t in manager.session("flipped").thoughts] == ["first", "third"]
    (said,) = store_warnings(caught)
    assert "'flipped'" in said and "change 2 does not match its checksum" in said
    assert b"glip-me please" in database.read_bytes(), "the damaged row was not kept"


# --- a damaged page: what can be read is carried over -----------------------------------------------


def test_a_zeroed_page_carries_the_rest_of_the_session_over_reports_it_on_every_open_and_numbering_goes_on(
    tmp_path: Path,
) -> None:
    location = str(tmp_path / "store")
    fill(location, {"partial": 150, "whole": 20})
    database = tmp_path / "store" / "sessions.db"
    zero_page(database, middle_leaf(database))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            partial = manager.session("partial")
            carried = [t.thought_number for t in partial.thoughts]
            assert 100 < len(carried) < 150 and carried[0] == 1 and carried[-1] == 150
            assert partial.think("After the damage").thought_number == 151, "renumbered after a loss"
            assert len(manager.session("whole")) == 20
            manager.flush(timeout=120)
    (repaired,) = store_warnings(caught, "is damaged")
    (kept,) = (tmp_path / "store" / ".quarantine").glob("*.db")
    lost = 150 - len(carried)
    assert f"'partial' ({lost} of 150 changes missing)" in repaired and str(kept) in repaired
    (first_open,) = store_warnings(caught, "session 'partial' was damaged")
    assert f"{lost} of its 150 changes" in first_open and str(kept) in first_open

    for _ in range(2):  # every open says it again, and the rest is still where it was said to be
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with SessionManager(store=location) as manager:
                again = manager.session("partial")
                assert len(again) == len(carried) + 1 and again.thoughts[-1].thought_number == 151
        (said,) = store_warnings(caught)
        assert (
            "session 'partial' was damaged" in said
            and f"{lost} of its 151 changes" in said
            and str(kept) in said
        )
    listed = cli(location, "list")
    assert listed.returncode == 0, listed.stderr
    marked = [line for line in listed.stdout.splitlines() if "DAMAGED" in line]
    assert any(line.startswith("partial ") for line in marked) and not any("whole" in line for line in marked)
    assert any(f"{lost} of its 151 changes" in line and str(kept) in line for line in marked)
    shown = cli(location, "show", "partial")
    assert shown.returncode == 0 and "After the damage" in shown.stdout and "was damaged" in shown.stderr


def test_a_store_from_before_checksums_is_migrated_and_keeps_numbering_after_a_lost_page(
    tmp_path: Path,
) -> None:
    """Schema 2 (no checksums, no highest thought number): migrating fills the number in from the stored
    thoughts, so a page lost afterwards still cannot make a number be given twice."""
    location = str(tmp_path / "store")
    fill(location, {"older": 150})
    database = tmp_path / "store" / "sessions.db"
    conn = sqlite3.connect(database, isolation_level=None)
    for statement in (
        "ALTER TABLE changes DROP COLUMN checksum",
        "ALTER TABLE sessions DROP COLUMN top_number",
        "ALTER TABLE sessions DROP COLUMN missing",
        "ALTER TABLE sessions DROP COLUMN kept_in",
        "PRAGMA user_version = 2",
    ):
        conn.execute(statement)
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # rows without checksums load without a word
        assert len(texts_of(location, "older")) == 150
    assert open_store(location).sessions()[0].top_number == 150
    zero_page(database, middle_leaf(database))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SessionManager(store=location) as manager:
            assert manager.session("older").think("Next").thought_number == 151
    assert store_warnings(caught, "session 'older' was damaged")


# --- a damaged page met by a reader while a writer writes ------------------------------------------------

WRITER = """
import os, sys
from jupyter_think import SessionManager
location, stop = sys.argv[1:3]
manager = SessionManager(store=location, durability="sync")
session = manager.session("writer")
number = 0
while not os.path.exists(stop):
    number += 1
    try:
        session.think(f"writer {number}")
    except OSError as exc:  # refused, not recorded: never acknowledged
        print("refused", exc, flush=True)
        continue
    print("ack", number, flush=True)
manager.close(timeout=300)
print("done", flush=True)
"""


@dataclass
class Writer:
    """A writer process, drained by a thread (a full pipe would stop it and hide the race)."""

    process: subprocess.Popen[str]
    acked: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    seen: threading.Condition = field(default_factory=threading.Condition)

    def drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.seen:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("ack "):
                    self.acked.append(f"writer {line.split()[1]}")
                self.seen.notify_all()
        with self.seen:
            self.seen.notify_all()

    def wait_for_acks(self, count: int) -> None:
        with self.seen:
            done = self.seen.wait_for(
                lambda: len(self.acked) >= count or self.process.poll() is not None, 300
            )
        assert done and self.process.poll() is None, f"the writer stopped: {self.lines[-5:]}"


@pytest.mark.parametrize("run", range(RACE_RUNS))
def test_a_damaged_page_met_by_a_reader_while_a_writer_writes_loses_no_acknowledged_thought(
    tmp_path: Path, run: int
) -> None:
    location = str(tmp_path / "store")
    intact = {f"intact-{n}": 12 + n for n in range(19)}
    fill(location, {"damaged": 150, **intact})
    database = tmp_path / "store" / "sessions.db"
    page = middle_leaf(database)
    stop = tmp_path / "stop"
    errors = tmp_path / "writer.err"
    with open(errors, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, location, str(stop)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    writer = Writer(process)
    drainer = threading.Thread(target=writer.drain, daemon=True)
    drainer.start()
    try:
        writer.wait_for_acks(50 + 20 * run)  # (the damage lands at a different point of each run)
        zero_page(database, page)
        before = len(writer.acked)
        readers = [  # two at once: one repairs, the other waits for it and reads the repaired file
            subprocess.Popen([CLI, "--dir", location, "show", "damaged"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        writer.wait_for_acks(before + 1)  # the writer writes while they start (however slow it runs)
        shown = [reader.communicate(timeout=300) for reader in readers]
        after_reader = len(writer.acked)
        writer.wait_for_acks(after_reader + 100)  # the writer goes on in the repaired file
    finally:
        stop.touch()
        process.wait(timeout=300)
        drainer.join(timeout=60)
    assert process.returncode == 0 and writer.lines[-1] == "done", errors.read_text()
    assert 0 < before < after_reader < len(writer.acked), (
        "the writer did not write before, while and after the repair"
    )
    for reader, (out, err) in zip(readers, shown, strict=False):
        assert reader.returncode == 0, err
        assert "session 'damaged' was damaged" in err and "damaged 150 " in out
    assert sum("is damaged" in err for _, err in shown) == 1, "not one repair"

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        store = open_store(location)
        stored = set(texts_of(location, "writer"))
        missing = [text for text in writer.acked if text not in stored]
        assert not missing, f"{len(missing)} acknowledged thoughts are not in the live store: {missing[:5]}"
        for session_id, count in intact.items():
            assert len(texts_of(location, session_id)) == count, f"{session_id} left the live store"
        row = next(row for row in store.sessions() if row.id == "damaged")
        assert (
            row.damaged and 0 < row.missing < 150 and len(texts_of(location, "damaged")) == 150 - row.missing
        )
    assert len(list((tmp_path / "store" / ".quarantine").glob("*.db"))) == 1
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def test_a_writer_waiting_for_the_lock_while_the_file_is_replaced_writes_into_the_new_file(
    tmp_path: Path,
) -> None:
    """The write lock is taken on the file the writer had open; the file at the store's path is
    another by then (moved aside by hand, or by an older jupyter-think): the write goes to that one."""
    fill(tmp_path, {"s": 1})
    writer = SQLiteStore(tmp_path)
    writer.sessions()  # connected to the file there now
    beginning = threading.Event()
    connection = writer._file._conn  # (no public hook: the trace shows when it asks for the lock)
    assert connection is not None
    connection.set_trace_callback(lambda sql: beginning.set() if sql == "BEGIN IMMEDIATE" else None)
    database = tmp_path / "sessions.db"
    holder = sqlite3.connect(database, isolation_level=None)
    with sqlite3.connect(tmp_path / "fresh.db") as fresh:
        holder.backup(fresh)  # the file that will take its place
    holder.execute("BEGIN IMMEDIATE")  # the old file's write lock, held while the file is replaced
    done: list[object] = []
    thread = threading.Thread(
        target=lambda: done.append(
            writer.append([SessionWrite("s", [_thought("written while replaced", 2)])])
        )
    )
    thread.start()
    assert beginning.wait(60), "the writer never asked for the lock"  # its file was checked: the old one
    for suffix in ("", "-wal", "-shm"):  # moved aside whole, as by hand: a WAL left behind would be replayed
        os.replace(f"{database}{suffix}", tmp_path / f"aside.db{suffix}")
    os.replace(tmp_path / "fresh.db", database)
    holder.execute("COMMIT")
    holder.close()
    thread.join(timeout=60)
    assert done, "the write failed"
    assert texts_of(str(tmp_path), "s") == ["s 1 " + "y" * 300, "written while replaced"]


def _thought(text: str, number: int) -> ThoughtAdded:
    return ThoughtAdded(
        thought=Thought(thought=text, thought_number=number, total_thoughts=number, next_thought_needed=True)
    )
