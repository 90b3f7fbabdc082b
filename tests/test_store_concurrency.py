"""Two processes writing one session at the same time lose nothing and see each other's thoughts."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jupyter_think.store import SessionStore

WRITER = Path(__file__).with_name("store_writer.py")


@pytest.mark.parametrize("compact_floor", [1000, 60], ids=["journal only", "with compactions"])
def test_two_processes_writing_500_thoughts_each_lose_nothing(tmp_path: Path, compact_floor: int) -> None:
    root = tmp_path / "store"
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                str(root),
                "shared",
                "--count",
                "500",
                "--tag",
                tag,
                "--seed",
                str(seed),
                "--compact-floor",
                str(compact_floor),
                "--wait-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed, tag in enumerate(("A", "B"))
    ]
    try:
        for writer in writers:
            assert writer.stdout.readline() == "ready\n"
        for writer in writers:  # start both at once
            writer.stdin.write("g")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    assert [writer.returncode for writer in writers] == [0, 0]
    acked = [{line[4:] for line in out.splitlines() if line.startswith("ack ")} for out in outputs]
    foreign = [
        int(next(line for line in out.splitlines() if line.startswith("foreign "))[8:]) for out in outputs
    ]
    final_sizes = [
        int(next(line for line in out.splitlines() if line.startswith("session "))[8:]) for out in outputs
    ]
    assert all(len(ids) >= 500 for ids in acked)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing damaged, nothing repaired
        loaded = SessionStore(root).load("shared", max_thoughts=10**9)
    stored = [thought.id for thought in loaded.session.thoughts]
    assert len(stored) == len(set(stored)) == len(acked[0] | acked[1])
    assert set(stored) == acked[0] | acked[1]
    # each process received the other's thoughts through `foreign`, and its final read holds all
    assert all(count > 0 for count in foreign)
    assert max(final_sizes) == len(stored)  # the writer that finished last followed the other to the end
