"""An exit never drops acknowledged changes: what a store refuses when a process exits is kept in the
spill file (SQLite, 0600, one per store and database role) and the next process that opens the store
saves it first — once, to the session's live row — with one line saying how many; a kill while the
spill file is written leaves it whole. (The MCP server's exit with PostgreSQL down:
``test_mcp_server.py``; changes refused for their content: ``test_set_aside.py``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from disk_faults import tmpfs
from test_set_aside import MARKER, accept_marker, make_store, recover, refuse_marker, stored_texts

from jupyter_think import SessionManager, Thought
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.persistence import PersistenceWarning
from jupyter_think.persistence.spill import Spill, ToSpill
from jupyter_think.store import SessionWrite, open_store

root_only = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"),
    reason="a read-only remount needs root; under CI it runs and fails rather than skips",
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Jupyter data directory: the spill files of this test (children inherit it)."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def added(text: str, number: int) -> ThoughtAdded:
    return ThoughtAdded(
        thought=Thought(thought=text, thought_number=number, total_thoughts=number, next_thought_needed=True)
    )


def caught_up(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PersistenceWarning) and "earlier process" in str(w.message)
    ]


# --- an exit on a store that refuses writes -----------------------------------------------------------------

EXITING_WRITER = """
import sys
from jupyter_think import SessionManager
manager = SessionManager(store=sys.argv[1])
session = manager.session("notes")
for number in range(5):
    session.think(f"written read-only {number}")
print(len(session), flush=True)
# no close(): the interpreter's exit hook flushes, and keeps what the store refuses
"""


@root_only
def test_an_exit_on_a_read_only_store_keeps_the_changes_and_the_next_process_saves_them(
    tmp_path: Path,
) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk:
        location = str(disk / "store")
        with SessionManager(store=location) as first:
            first.session("notes").think("before the remount")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            exited = subprocess.run(
                [sys.executable, "-c", EXITING_WRITER, location],
                check=False,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert exited.returncode == 0, exited.stderr
            assert exited.stdout.strip() == "6"  # acknowledged: the session in memory had them
            last = exited.stderr.strip().splitlines()[-1]
            assert "5 change(s) of session(s) 'notes' could not be saved" in last, exited.stderr
            assert "they are kept in" in last and "jupyter-think recover --dir" in last
            assert stored_texts(location, "notes") == ["before the remount"]
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        spill = Spill.for_store(open_store(location))
        assert oct(spill.path.stat().st_mode & 0o777) == "0o600"
        with warnings.catch_warnings(record=True) as caught, SessionManager(store=location) as manager:
            warnings.simplefilter("always")
            notes = manager.session("notes")  # the next process that opens the store: saved first
            assert [t.thought for t in notes.thoughts] == [
                "before the remount",
                *(f"written read-only {n}" for n in range(5)),
            ]
        assert len(caught_up(caught)) == 1 and "saved 5 change(s) of 1 session(s)" in caught_up(caught)[0]
        assert len(stored_texts(location, "notes")) == 6
        assert spill.entries() == []


# --- replaying: once, to the live row ---------------------------------------------------------------------


def test_changes_kept_at_exit_are_saved_once_to_the_live_row_and_refused_ones_wait_for_recover(
    store_location: str,
) -> None:
    """A commit whose answer was lost (ECONNRESET) may be stored already; the session may have been
    trashed by someone else meanwhile; one change may be refused for its content."""
    make_store(store_location)
    store = open_store(store_location)
    unconfirmed = added("committed, unconfirmed", 1)
    written = store.append([SessionWrite("lost", [unconfirmed])])[0]
    store.trash("lost")  # by someone else, after the exit
    kept = [
        ToSpill("lost", unconfirmed, written.key),
        ToSpill("lost", added("never committed", 2), written.key),
        ToSpill("other", added("other session", 1)),
        ToSpill("refused", added(f"{MARKER} at exit", 1)),
        ToSpill("refused", added("behind the refused one", 2)),
    ]
    spill = Spill.for_store(store)
    spill.keep_at_exit(kept, "the server is unreachable")
    refuse_marker(store_location)
    with warnings.catch_warnings(record=True) as caught, SessionManager(store=store_location) as manager:
        warnings.simplefilter("always")
        lost = manager.session("lost")
        assert [t.thought for t in lost.thoughts] == ["committed, unconfirmed", "never committed"]
        assert [t.thought for t in manager.session("other").thoughts] == ["other session"]
        assert len(manager.session("refused")) == 0
    lines = caught_up(caught)
    assert len(lines) == 1, lines
    assert (
        "saved 3 change(s) of 2 session(s)" in lines[0]
        and "2 change(s) the store refuses stay there" in lines[0]
    )
    assert stored_texts(store_location, "lost") == [
        "committed, unconfirmed",
        "never committed",
    ]  # live, not twice
    assert [entry.state for entry in spill.entries()] == ["refused", "behind"]
    accept_marker(store_location)
    done = recover(store_location)
    assert done.returncode == 0, done.stderr
    assert stored_texts(store_location, "refused") == [f"{MARKER} at exit", "behind the refused one"]


def test_a_session_made_here_after_an_earlier_refusal_is_kept_behind_it_in_order(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    make_store(location)
    refuse_marker(location)
    spill = Spill.for_store(open_store(location))
    spill.set_aside([ToSpill("held", added(f"{MARKER} refused earlier", 1))], "refused: the marker", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = SessionManager(store=location)
        manager.session("held").think("made in the next process")
        manager.session("free").think("not held")
        with pytest.raises(OSError, match="1 change"):
            manager.flush(timeout=60)
        assert any("kept behind it, in order" in str(w.message) for w in caught)
        with pytest.raises(OSError):
            manager.close()
    assert stored_texts(location, "free") == ["not held"]
    assert stored_texts(location, "held") == []
    accept_marker(location)
    assert recover(location).returncode == 0
    assert stored_texts(location, "held") == [f"{MARKER} refused earlier", "made in the next process"]


def test_a_command_that_writes_saves_what_an_earlier_process_kept_first_and_says_so(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    make_store(location)
    Spill.for_store(open_store(location)).keep_at_exit([ToSpill("later", added("kept at exit", 1))], "down")
    removed = subprocess.run(
        [sys.executable, "-m", "jupyter_think.cli", "--dir", location, "rm", "later"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert removed.returncode == 0, removed.stderr  # saved first, so there was a session to remove
    assert "saved 1 change(s) of 1 session(s) that an earlier process could not save" in removed.stderr
    assert stored_texts(location, "later", "trashed") == ["kept at exit"]


# --- the spill file itself -----------------------------------------------------------------------------------

KEEPER = """
import sys
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.persistence.spill import Spill, ToSpill
from jupyter_think.store import open_store

spill = Spill.for_store(open_store(sys.argv[1]))
for batch in range(10_000):
    spill.keep_at_exit([
        ToSpill("s", ThoughtAdded(thought=Thought(thought=f"{batch}-{n}", thought_number=n + 1, total_thoughts=50,
                next_thought_needed=True)))
        for n in range(50)
    ], "down")
    print(batch, flush=True)
"""


def test_a_kill_while_the_spill_file_is_written_leaves_every_kept_batch_whole(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    acknowledged = 0
    for _ in range(3):  # each child is killed while it writes batch after batch of 50
        child = subprocess.Popen([sys.executable, "-c", KEEPER, location], stdout=subprocess.PIPE, text=True)
        lines: list[str] = []
        enough = threading.Event()

        def read(
            child: subprocess.Popen[str] = child, lines: list[str] = lines, enough: threading.Event = enough
        ) -> None:
            for line in child.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if len(lines) >= 3:
                    enough.set()
            enough.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert enough.wait(timeout=120)
        child.kill()
        assert child.wait(timeout=60) == -signal.SIGKILL, "the child ended before it was killed"
        reader.join(timeout=30)
        acknowledged += len(lines)
        entries = Spill.for_store(open_store(location)).entries()
        assert len(entries) % 50 == 0, "a kill left part of a batch in the spill file"
        assert len(entries) >= 50 * acknowledged, "a batch acknowledged as kept is missing"
