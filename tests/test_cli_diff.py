"""``jupyter-think diff A B``: two stored runs aligned step by step, printed for a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_think import SessionManager

SCRIPT = Path(sys.executable).parent / "jupyter-think"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_THINK_DIR"}
    return subprocess.run(
        [str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-diff") / "store"
    with SessionManager(root) as manager:
        for session_id, texts in {
            "run-1": [
                "Restate the puzzle",
                "Split into three groups",
                "Two weighings \x1b[31mfor sure\x1b[0m",
            ],
            "run-2": ["Restate the puzzle", "Split into halves", "Three weighings"],
        }.items():
            session = manager.session(session_id)
            for n, text in enumerate(texts, start=1):
                session.think(text, total=3, done=n == 3)
        manager.flush(timeout=30)
    return root


def test_diff_prints_the_two_runs_side_by_side(store: Path) -> None:
    done = run("--dir", str(store), "diff", "run-1", "run-2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Diff run-1 vs run-2 · 3 steps · agree on 1 · diverge at step 2"
    assert lines[2].startswith("=    1  1 Restate the puzzle") and lines[2].endswith("1 Restate the puzzle")
    assert lines[3].startswith("!    2  2 Split into three groups") and lines[3].endswith(
        "2 Split into halves"
    )
    assert "run-2: 2 more thoughts, concluded: Three weighings" in done.stdout
    assert "\x1b" not in done.stdout and "\\x1b[31mfor sure" in done.stdout  # control characters escaped


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("run-1", "nope", "no session 'nope'"),
        ("../etc", "run-1", "invalid session id '../etc'"),
    ],
)
def test_a_bad_or_unknown_id_is_a_one_line_usage_error(
    store: Path, first: str, second: str, message: str
) -> None:
    done = run("--dir", str(store), "diff", first, second)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("jupyter-think diff: ") and message in line


def test_diff_needs_two_ids(store: Path) -> None:
    done = run("--dir", str(store), "diff", "run-1")
    assert done.returncode == 2 and "the following arguments are required: B" in done.stderr
