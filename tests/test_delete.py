"""Deleting a session: files to the trash; a refused move keeps everything (as root: chattr +i)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jupyter_think import SessionManager

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chattr +i needs root (CI runs as root)")


def test_delete_moves_the_session_to_the_trash(tmp_path: Path) -> None:
    with SessionManager(tmp_path / "store") as manager:
        manager.session("gone").think("short-lived")
        manager.flush()
        manager.delete("gone")
        assert "gone" not in manager.sessions()
        trashed = list((tmp_path / "store" / ".trash").iterdir())
        assert [p.name.startswith("gone") for p in trashed] == [True]


@needs_root
def test_a_refused_delete_keeps_the_session_and_every_thought(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with SessionManager(store, flush_interval=60) as manager:  # the loop will not write on its own
        session = manager.session("kept")
        session.think("on disk")
        manager.flush()
        session.think("not yet on disk")
        subprocess.run(["chattr", "+i", str(store)], check=True)
        try:
            with pytest.raises(OSError):
                manager.delete("kept")
            assert manager.is_loaded("kept") and len(manager.session("kept")) == 2
        finally:
            subprocess.run(["chattr", "-i", str(store)], check=True)
        manager.flush()
    with SessionManager(store) as reopened:
        assert [t.thought for t in reopened.session("kept").thoughts] == ["on disk", "not yet on disk"]
