"""The teacher's smaller lists: natural order everywhere, and a trash whose rows say when and by whom
each copy was trashed and restore by row."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from classroom import ok, refused, run

from jupyter_think import SessionManager
from jupyter_think.ipython.session_actions import list_sessions


def test_the_managers_sessions_are_in_natural_order(tmp_path: Path) -> None:
    with SessionManager(str(tmp_path / "store")) as manager:
        for session_id in ["ten-10", "ten-2", "ten-1"]:
            manager.session(session_id).think("x")
        assert manager.sessions() == ["ten-1", "ten-2", "ten-10"]


def test_session_list_shows_ids_in_natural_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SessionManager(str(tmp_path / "store")) as manager:
        for session_id in ["ten-10", "ten-2", "ten-1"]:
            manager.session(session_id).think("x")
        list_sessions(manager)  # what %session --list shows
    shown = capsys.readouterr().out
    assert shown.index("ten-1 ") < shown.index("ten-2 ") < shown.index("ten-10 ")


def test_trash_rows_say_when_and_by_whom_and_one_row_is_restored(tmp_path: Path) -> None:
    store = tmp_path / "store"
    os.environ["JUPYTERHUB_USER"] = "ada"
    try:
        for words in ["first notes", "second notes", "third notes"]:
            with SessionManager(str(store), durability="sync") as manager:
                manager.session("notes").think(words)
            ok(run("--dir", str(store), "rm", "notes", env={"JUPYTERHUB_USER": "ada"}))
        with SessionManager(str(store), durability="sync") as manager:
            manager.session("idle").think("forgotten")
        with SessionManager(str(store)) as manager:  # retention, as `jupyter-think gc` runs it
            manager.store.trash_idle(timedelta(seconds=0))
    finally:
        del os.environ["JUPYTERHUB_USER"]
    listing = run("--dir", str(store), "trash")
    lines = ok(listing).strip().splitlines()
    assert lines[0].split() == ["ROW", "ID", "OWNER", "THOUGHTS", "TRASHED", "BY"]
    rows = [line.split() for line in lines[1:]]
    assert [row[1] for row in rows] == ["idle", "notes", "notes", "notes"]
    assert [row[-1] for row in rows] == ["retention", "ada", "ada", "ada"]
    assert all(row[-2] == "UTC" for row in rows)  # when: 2026-01-02 03:04 UTC
    assert "trash restore ID --row N" in listing.stderr
    second = min(int(row[0]) for row in rows if row[1] == "notes") + 1  # the second copy trashed
    ok(run("--dir", str(store), "trash", "restore", "notes", "--row", str(second)))
    with SessionManager(str(store)) as manager:
        assert [t.thought for t in manager.session("notes").thoughts] == ["second notes"]
    missing = run("--dir", str(store), "trash", "restore", "notes", "--row", "999")
    assert "no row 999 of session 'notes'" in refused(missing)
