"""Every benchmark runs once in its tiny mode, so that none of them rots (issue 21).

Each ``benchmarks/bench_*.py`` is run as a reader would run it (``python benchmarks/bench_X.py --tiny``)
and must finish without an error and print its figures beside the floor it is read against. The
figures of a tiny run are not judged: speed is for the benchmarks to show, never for a test to
assert. PostgreSQL benchmarks use the run's test server (``postgres_server``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow]

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

FLOORS = {
    "bench_compact.py": ["in memory", "target <= 400 B", "plain SELECT + json.loads of four fields"],
    "bench_core.py": ["bare BaseModel(9 fields)", "think/bare ="],
    "bench_commit.py": ["one-row commit (ms)", "SQLite", "PostgreSQL", "<= 2x"],
    "bench_import.py": [
        "import pydantic",
        "import jupyter_think",
        "target:",
        "python -c pass",
        "plain SELECT and print",
    ],
    "bench_persistence.py": ["persist=False, burst of 100", "loop (async), burst of 100", "sync mode:"],
    "bench_search.py": ["SQLite    PostgreSQL", "rare word (1 thought) (ms)", "target: under 50 ms"],
    "bench_store.py": ["bare pydantic Thought(...)", "the same on", "think() with the loop / bare pydantic"],
    "bench_experiments.py": [
        "compare by variant",
        "load_experiment in a new process",
        "(floor 1000 ms)",
        "commit 63c2f1c",
        "target: under 2 s",
        "diff    two runs",
    ],
    "bench_mcp.py": ["jupyter-think mcp, memory only", "x1.00 of", "one append + fdatasync"],
    "bench_widget.py": ["layout     100 thoughts", "ratio 1 000 / 100", "click -> detail"],
    "bench_store_timeout.py": ["longest wait (s)", "unix", "tcp", "target: every call <= store_timeout + 2"],
    "bench_presenter.py": [
        "SQLite     follower reaches",
        "PostgreSQL follower reaches",
        "floor (a bare NOTIFY",
    ],
}
"""What each benchmark must print: its figures, and the floor (or target) they are read against."""


def test_every_benchmark_has_a_tiny_run_here() -> None:
    assert sorted(path.name for path in BENCHMARKS.glob("bench_*.py")) == sorted(FLOORS)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_the_benchmark_runs_in_tiny_mode_and_prints_its_figures_beside_their_floor(
    name: str, request: pytest.FixtureRequest
) -> None:
    extra: list[str] = []
    if name in ("bench_search.py", "bench_presenter.py"):  # (an empty database to fill)
        extra = ["--postgres", request.getfixturevalue("postgres_server").new_database()]
    elif name in ("bench_store.py", "bench_commit.py"):  # (a server: fresh databases made on it)
        extra = ["--postgres", request.getfixturevalue("postgres_server").url()]
    done = run(BENCHMARKS / name, "--tiny", *extra)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    for expected in FLOORS[name]:
        assert expected in done.stdout, f"{name} printed no {expected!r}:\n{done.stdout}"


def run(script: Path, *args: str) -> subprocess.CompletedProcess[Any]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=script.parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
