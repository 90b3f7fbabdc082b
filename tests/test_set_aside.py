"""One change the store refuses for its content blocks nothing: a real trigger on each engine refuses
payloads holding a marker word, and the loop sets that change aside (with the later changes of its
session, in order) in the spill file, commits everything else, names it in one warning and in every
``flush()`` until ``jupyter-think recover`` has stored it. A sync call with such a change raises and
leaves no trace.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jupyter_think import SessionManager
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.persistence import PersistenceWarning
from jupyter_think.persistence.spill import Spill
from jupyter_think.store import open_store

CLI = str(Path(sys.executable).parent / "jupyter-think")
MARKER = "FORBIDDEN"
REFUSAL = "refused: the payload holds the marker"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private Jupyter data directory: the spill files of this test (children inherit it)."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# --- helpers --------------------------------------------------------------------------------------------


def refuse_marker(location: str) -> None:
    """Install a real trigger that refuses every change whose payload holds the marker word."""
    if "://" in location:
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION jupyter_think.refuse_marker() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.payload LIKE '%{MARKER}%' THEN RAISE EXCEPTION '{REFUSAL}'; END IF; RETURN NEW; END $$"
            )
            conn.execute(
                "CREATE TRIGGER refuse_marker BEFORE INSERT ON jupyter_think.changes "
                "FOR EACH ROW EXECUTE FUNCTION jupyter_think.refuse_marker()"
            )
        return
    with sqlite3.connect(Path(location) / "sessions.db") as conn:
        conn.execute(
            f"CREATE TRIGGER refuse_marker BEFORE INSERT ON changes WHEN NEW.payload LIKE '%{MARKER}%' "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def accept_marker(location: str) -> None:
    """Drop the trigger: the store takes every change again."""
    if "://" in location:
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_marker ON jupyter_think.changes")
        return
    with sqlite3.connect(Path(location) / "sessions.db") as conn:
        conn.execute("DROP TRIGGER refuse_marker")


def make_store(location: str) -> None:
    """Create the store's tables (the trigger needs them)."""
    with SessionManager(store=location) as manager:
        manager.session("setup").think("The tables exist")


def stored_texts(location: str, session_id: str, state: str = "live") -> list[str]:
    loaded = open_store(location).load(session_id, state=state)  # type: ignore[arg-type]
    return (
        [] if loaded is None else [c.thought.thought for c in loaded.changes if isinstance(c, ThoughtAdded)]
    )


def recover(location: str, *args: str) -> subprocess.CompletedProcess[str]:
    option = "--store" if "://" in location else "--dir"
    return subprocess.run(
        [CLI, "recover", option, location, *args], check=False, capture_output=True, text=True, timeout=120
    )


def said(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, PersistenceWarning) and text in str(w.message)
    ]


# --- a refused change among many good ones ------------------------------------------------------------------


def test_a_refused_change_blocks_nothing_is_named_until_recovered_and_recover_stores_it_exactly(
    store_location: str, data_dir: Path
) -> None:
    make_store(store_location)
    refuse_marker(store_location)
    sessions = ["alpha", "beta", "gamma", "delta"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = SessionManager(store=store_location)
        for number in range(101):
            session_id = sessions[number % 4]
            text = f"{MARKER} thought {number}" if number == 41 else f"thought {number}"  # beta's 11th
            manager.session(session_id).think(text)
        with pytest.raises(OSError) as raised:
            manager.flush(timeout=60)
        assert raised.value.errno == errno.EINVAL, raised.value
        message = str(raised.value)
        assert "'beta'" in message and "a thought, number 11" in message and REFUSAL in message
        assert "jupyter-think recover" in message and not isinstance(raised.value, TimeoutError)
        warned = said(caught, "set aside")
        assert len(warned) == 1, warned
        assert (
            "'beta'" in warned[0] and "change 11 (a thought, number 11)" in warned[0] and REFUSAL in warned[0]
        )
        assert said(caught, "could not save") == [], "a content refusal was reported as a store outage"

        in_memory = {
            session_id: [t.thought for t in manager.session(session_id).thoughts] for session_id in sessions
        }
        assert len(in_memory["beta"]) == 25, "the session in memory changed"
        for session_id in (
            "alpha",
            "gamma",
            "delta",
        ):  # every other change is stored, as a fresh open sees it
            assert stored_texts(store_location, session_id) == in_memory[session_id]
        assert stored_texts(store_location, "beta") == in_memory["beta"][:10]

        manager.session("beta").think("After the refusal")  # kept behind it, in order
        manager.session("alpha").think("Saved as usual")
        with pytest.raises(OSError, match="16 change"):
            manager.flush(timeout=60)
        assert stored_texts(store_location, "alpha")[-1] == "Saved as usual"
        assert len(said(caught, "set aside")) == 1, "one warning per refused change"

        assert manager.delete("beta") is True  # deleting the session works
        assert stored_texts(store_location, "beta", "trashed") == in_memory["beta"][:10]
        with pytest.raises(OSError, match="set aside"):
            manager.close()

    spill = Spill.for_store(open_store(store_location))
    assert stat.S_IMODE(spill.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spill.path.parent.stat().st_mode) == 0o700
    assert spill.path.parent == data_dir / "think" / "spill"
    still = recover(store_location)
    assert still.returncode == 1, still.stderr
    assert "Still refused: session beta change 11 (a thought, number 11): the store refuses" in still.stdout

    accept_marker(store_location)
    done = recover(store_location)
    assert done.returncode == 0, done.stderr
    assert "Stored 16 changes of session beta (it was in the trash: it is live again)." in done.stdout
    assert stored_texts(store_location, "beta") == [*in_memory["beta"], "After the refusal"]
    assert spill.entries() == []
    assert recover(store_location).stdout.startswith("Nothing is kept")


def test_a_sync_call_with_a_refused_change_raises_and_leaves_no_trace(store_location: str) -> None:
    make_store(store_location)
    refuse_marker(store_location)
    with SessionManager(store=store_location, durability="sync") as manager:
        session = manager.session("careful")
        session.think("Before")
        with pytest.raises(OSError) as raised:
            session.think(f"{MARKER} refused")
        assert raised.value.errno == errno.EINVAL
        assert "nothing was recorded" in str(raised.value) and REFUSAL in str(raised.value)
        assert [t.thought for t in session.thoughts] == ["Before"], "a refused sync change was applied"
        session.think("After")
        manager.flush(timeout=60)  # nothing set aside: a sync refusal is the caller's to see
    assert stored_texts(store_location, "careful") == ["Before", "After"]
    assert Spill.for_store(open_store(store_location)).entries() == []


# --- recovered by another process -----------------------------------------------------------------------


def test_a_recover_run_elsewhere_ends_the_hold_and_the_session_saves_in_order_again(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    make_store(location)
    refuse_marker(location)
    with warnings.catch_warnings(record=True), SessionManager(store=location) as manager:
        warnings.simplefilter("always")
        session = manager.session("held")
        for text in ("one", f"{MARKER} two", "three"):
            session.think(text)
        with pytest.raises(OSError, match="set aside"):
            manager.flush(timeout=60)
        session.think("four")
        with pytest.raises(OSError, match="3 change"):
            manager.flush(timeout=60)
        accept_marker(location)
        assert recover(location).returncode == 0
        manager.flush(timeout=60)  # recovered by another process: nothing is named any more
        session.think("five")
        manager.flush(timeout=60)
        assert manager.persistence_status()["set_aside"] == 0
    assert stored_texts(location, "held") == ["one", f"{MARKER} two", "three", "four", "five"]


def test_recover_exports_what_is_still_refused_and_discards_only_what_was_exported(tmp_path: Path) -> None:
    location = str(tmp_path / "store")
    make_store(location)
    refuse_marker(location)
    manager = SessionManager(store=location)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        manager.session("kept").think(f"{MARKER} é \x1b[31m")
        manager.session("kept").think("behind it")
        with pytest.raises(OSError):
            manager.close()

    refused = recover(location, "--discard")
    assert refused.returncode == 2 and "never exported: add --export FILE" in refused.stderr
    unwritable = recover(location, "--export", str(tmp_path / "no-such-dir" / "x.jsonl"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    export = tmp_path / "refused.jsonl"
    exported = recover(location, "--export", str(export))
    assert exported.returncode == 1 and "Wrote 2 changes still kept" in exported.stdout
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [(line["session"], line["state"]) for line in lines] == [("kept", "refused"), ("kept", "behind")]
    assert lines[0]["change"]["thought"]["thought"] == f"{MARKER} é \x1b[31m" and REFUSAL in lines[0]["cause"]
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600
    discarded = recover(location, "--discard")
    assert discarded.returncode == 0 and "Discarded 2 changes" in discarded.stdout
    assert recover(location).stdout.startswith("Nothing is kept")
    assert stored_texts(location, "kept") == []
