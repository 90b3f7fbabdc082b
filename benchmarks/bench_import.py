"""What starting jupyter-think costs: ``import jupyter_think``, and the command line's ``--help`` and ``list``.

Run: ``python benchmarks/bench_import.py [--runs 20] [--sessions 10000] [--tiny]`` (``--tiny``: 2 runs,
200 sessions). Prints, each beside its floor measured in the same run:

- the import alone (``python -X importtime``'s cumulative figure for ``jupyter_think``; median and best)
  beside pydantic's (the models are pydantic). Target: under 100 ms;
- ``jupyter-think --help``, wall time of a fresh process, beside ``python -c pass``. Target: <= 4x;
- ``jupyter-think list`` of a SQLite store holding ``--sessions`` sessions, beside a plain Python script
  that runs the same ``SELECT`` on the same file and prints one line per session. Target: <= 2x.

Wall times are medians over ``--runs`` fresh processes, the command and its floor run one after the other.
Every process reads compiled bytecode, as an installed package does: the children write and read it in
a cache directory of the run's own (``PYTHONPYCACHEPREFIX``), warmed by one untimed run of each command,
whatever ``PYTHONDONTWRITEBYTECODE`` says here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

CLI = "import sys; from jupyter_think.cli import main; sys.exit(main())"
"""What the ``jupyter-think`` console script runs."""
PLAIN_LIST = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT id, owner, thoughts, branches, status, last_activity FROM sessions WHERE state = 'live' ORDER BY id"
).fetchall()
print("ID  OWNER  THOUGHTS  BRANCHES  STATUS  LAST ACTIVITY")
for row in rows:
    print("  ".join(str(value) for value in row))
"""
"""The floor of ``list``: the same rows read and printed by a script that knows the table."""
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""The children's environment (``main`` adds the bytecode cache)."""


def import_time(module: str) -> float:
    """Milliseconds ``python -X importtime`` reports for importing ``module`` (cumulative)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=CHILD_ENV,
    )
    for line in reversed(done.stderr.splitlines()):
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no import time for {module}")


def wall(command: list[str]) -> float:
    """Milliseconds a fresh process running ``command`` takes, start to exit (output discarded)."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=CHILD_ENV)
    return (time.perf_counter() - start) * 1e3


def side_by_side(command: list[str], floor: list[str], runs: int) -> tuple[float, float]:
    """(median ms of ``command``, median ms of ``floor``), run alternately ``runs`` times each."""
    wall(floor), wall(command)  # (untimed: the bytecode cache is written)
    commands, floors = [], []
    for _ in range(runs):
        floors.append(wall(floor))
        commands.append(wall(command))
    return statistics.median(commands), statistics.median(floors)


def store_of(directory: Path, sessions: int) -> Path:
    """A SQLite store in ``directory`` holding ``sessions`` sessions of one thought each."""
    from jupyter_think.core.models import Thought, ThoughtAdded
    from jupyter_think.store import SessionWrite, open_store

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with open_store(directory) as store:
        for start in range(0, sessions, 1000):
            store.append(
                [
                    SessionWrite(
                        f"session-{number}",
                        [
                            ThoughtAdded(
                                thought=Thought(
                                    thought="A thought of about sixty characters, as an agent's step is.",
                                    thought_number=1,
                                    total_thoughts=1,
                                    next_thought_needed=False,
                                    created_at=at + timedelta(seconds=number),
                                )
                            )
                        ],
                    )
                    for number in range(start, min(start + 1000, sessions))
                ]
            )
    return directory / "sessions.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions in the store that list shows")
    parser.add_argument("--tiny", action="store_true", help="2 runs each, 200 sessions: a smoke run")
    args = parser.parse_args()
    if args.tiny:
        args.runs, args.sessions = 2, 200
    python = sys.executable
    bytecode = tempfile.TemporaryDirectory(prefix="bench-pycache-")
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = bytecode.name
    for module in ("pydantic", "jupyter_think"):
        import_time(module)  # (untimed: the bytecode cache is written)
    for module in ("pydantic", "jupyter_think"):
        times = [import_time(module) for _ in range(args.runs)]
        print(f"import {module:<14} median {statistics.median(times):6.1f} ms   best {min(times):6.1f} ms")
    print("target: jupyter_think under 100 ms (pydantic alone is the floor)")

    help_ms, bare_ms = side_by_side([python, "-c", CLI, "--help"], [python, "-c", "pass"], args.runs)
    print(
        f"jupyter-think --help     {help_ms:6.1f} ms   python -c pass {bare_ms:6.1f} ms   "
        f"x{help_ms / bare_ms:.2f} (target <= 4x)"
    )
    with tempfile.TemporaryDirectory() as root:
        database = store_of(Path(root), args.sessions)
        list_ms, plain_ms = side_by_side(
            [python, "-c", CLI, "--dir", root, "list"], [python, "-c", PLAIN_LIST, str(database)], args.runs
        )
    print(
        f"jupyter-think list ({args.sessions} sessions) {list_ms:6.1f} ms   plain SELECT and print "
        f"{plain_ms:6.1f} ms   x{list_ms / plain_ms:.2f} (target <= 2x)"
    )
    bytecode.cleanup()


if __name__ == "__main__":
    main()
