"""The tables of ``list``, ``trash`` and ``archive`` on a personal (SQLite) store: ids in natural order
(``ten-2`` before ``ten-10``) and store text — ids, owners — shown escaped, never sent to the
terminal raw. (A class store's tables are tested in ``test_cli_class.py``.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from classroom import ok, run

from jupyter_think import SessionManager

IDS = ["ten-10", "ten-2", "Ten-1", "run-9b", "run-10", "run-9", "a"]
NATURAL = ["a", "run-9", "run-9b", "run-10", "Ten-1", "ten-2", "ten-10"]


def populate(store: Path, owner: str) -> None:
    os.environ["JUPYTERHUB_USER"] = owner  # (a personal store records who wrote a session)
    try:
        with SessionManager(store=str(store)) as manager:
            for session_id in IDS:
                manager.session(session_id).think(f"First thought of {session_id}")
            manager.flush(timeout=30)
    finally:
        del os.environ["JUPYTERHUB_USER"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    populate(root, "eve\x1b]0;pwned\x07\x1b[2J")
    return root


def first_column(table: str, column: int = 0) -> list[str]:
    return [line.split()[column] for line in table.strip().splitlines()[1:]]


def test_list_sorts_ids_naturally(store: Path) -> None:
    assert first_column(ok(run("--dir", str(store), "list"))) == NATURAL


def test_trash_sorts_ids_naturally(store: Path) -> None:
    for session_id in IDS:
        ok(run("--dir", str(store), "rm", session_id))
    assert first_column(ok(run("--dir", str(store), "trash")), 1) == NATURAL  # (after the ROW)


def test_an_owner_with_an_escape_sequence_is_shown_escaped(store: Path) -> None:
    listing = ok(run("--dir", str(store), "list"))
    assert "\x1b" not in listing and "\x07" not in listing
    assert listing.strip().splitlines()[1].split()[1] == "eve\\x1b]0;pwned\\x07\\x1b[2J"
