"""What only the SQLite store promises: where its file is, who may read it, a symlinked directory, and
processes that create it at the same moment."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

from jupyter_think import SessionManager
from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.store import SessionWrite, open_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_is_one_private_database_created_at_the_first_write(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "store"
    with SessionManager(directory) as manager:
        manager.session("nothing-yet")
        assert not directory.exists(), "a session with no change created files"
        manager.session("private").think("Only for me")
        manager.flush()
        assert mode(directory) == 0o700
        for name in os.listdir(directory):
            assert mode(directory / name) == 0o600, name
        assert {name.split("-")[0] for name in os.listdir(directory)} == {"sessions.db"}


def test_a_symlinked_store_directory_is_followed_once(tmp_path: Path) -> None:
    target = tmp_path / "real-store"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    with SessionManager(link) as manager:
        manager.session("linked").think("Through the link")
    assert (target / "sessions.db").is_file()
    assert [row.id for row in open_store(str(target)).sessions()] == ["linked"]
    assert open_store(f"sqlite:///{link}").load("linked") is not None


def _first_use(directory: str, start: Any, number: int) -> None:
    """A process that waits for the start, then writes one thought to a fresh store and reads it back."""
    start.wait()
    store = open_store(directory)
    store.append(
        [
            SessionWrite(
                "shared",
                [
                    ThoughtAdded(
                        thought=Thought(
                            thought=f"from process {number}",
                            thought_number=number,
                            total_thoughts=3,
                            next_thought_needed=True,
                        )
                    )
                ],
            )
        ]
    )
    loaded = store.load("shared")
    assert loaded is not None and f"from process {number}" in [
        change.thought.thought for change in loaded.changes
    ]
    store.close()


def test_processes_that_open_a_new_store_at_the_same_moment_all_get_on(tmp_path: Path) -> None:
    """Setting a new database up (WAL, schema) while another process does: SQLite answers "database is
    locked" at once there, without its busy timeout; the store tries again, so no write or read fails."""
    context = multiprocessing.get_context("fork")
    for trial in range(25):
        directory = str(tmp_path / f"store-{trial}")
        start = context.Event()
        workers = [context.Process(target=_first_use, args=(directory, start, n)) for n in (1, 2, 3)]
        for worker in workers:
            worker.start()
        start.set()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0, 0, 0], f"trial {trial}"
        loaded = open_store(directory).load("shared")
        assert loaded is not None and len(loaded.changes) == 3
