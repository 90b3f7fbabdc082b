"""What only the SQLite store promises: where its file is, who may read it, a symlinked directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jupyter_think import SessionManager
from jupyter_think.store import open_store


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
