"""Two writers, a remover and a reader on one session at once, in four real processes, on both engines.

One writer thinks with ``durability="sync"`` and acknowledges a thought once ``think()`` returned; the
other thinks in the default ``async`` durability and acknowledges thoughts only after a successful
``manager.flush()``. Meanwhile ``jupyter-think rm`` moves the session to the trash (at a seeded
moment: after a seeded number of acknowledgements) and ``jupyter-think show`` reads it over and over.
The ``rm`` process runs the installed ``jupyter-think`` script, started ahead with its imports done and
held at a gate, so that it acts within moments of its cue rather than after an interpreter start.
Afterwards every acknowledged thought is in the store — in the live session, or in the trashed copy
when the remove came last — and no row holds a thought twice. The journal store lost acknowledged
thoughts in 3 of 10 such runs; each engine gets 10 runs here.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyter_think.core.models import ThoughtAdded
from jupyter_think.store import open_store

RUNS = 10
THOUGHTS = 500
CLI = str(Path(sys.executable).parent / "jupyter-think")
TIMEOUT = 600  # seconds for a whole run: generous, a busy CI machine must not fail it
pytestmark = [pytest.mark.timeout(1800)]  # ten runs per engine: pytest-timeout's 300 s is not per run

WRITER = """
import random, sys
from jupyter_think import SessionManager
location, durability, name, seed, count = sys.argv[1:6]
rng = random.Random(int(seed))
manager = SessionManager(store=location, durability=durability)
session = manager.session("shared")
unacked, flush_after = [], rng.randint(1, 40)
for number in range(int(count)):
    try:
        thought = session.think(f"{name} {number}")
    except OSError as exc:  # sync: refused and not recorded; never acknowledged
        print("refused", exc, flush=True)
        continue
    if durability == "sync":
        print("ack", thought.id, flush=True)
        continue
    unacked.append(thought.id)
    if len(unacked) >= flush_after or number == int(count) - 1:
        try:
            manager.flush(timeout=300)
        except OSError as exc:  # not acknowledged; kept in memory and retried
            print("unflushed", exc, flush=True)
            continue
        print("".join(f"ack {thought_id}\\n" for thought_id in unacked), end="", flush=True)
        unacked, flush_after = [], rng.randint(1, 40)
manager.close(timeout=300)
print("done", flush=True)
"""


GATED_CLI = """
import runpy, sys
import jupyter_think.cli, jupyter_think.store.sqlite.store  # the imports, done before the cue
if "--store" in sys.argv:
    import jupyter_think.store.postgres.store
print("ready", flush=True)
sys.stdin.readline()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass
class Writer:
    """A writer process and what it printed."""

    process: subprocess.Popen[str]
    acked: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    ack_seen: threading.Condition | None = None

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ack "):
                assert self.ack_seen is not None
                with self.ack_seen:
                    self.acked.append(line.split()[1])
                    self.ack_seen.notify_all()
        assert self.ack_seen is not None
        with self.ack_seen:
            self.ack_seen.notify_all()


def _where(location: str, engine: str) -> list[str]:
    return ["--dir", location] if engine == "sqlite" else ["--store", location]


def one_run(location: str, engine: str, seed: int) -> dict[str, object]:
    """Two writers, ``rm`` after a seeded number of acknowledgements, ``show`` in a loop; check the store."""
    rng = random.Random(seed)
    ack_seen = threading.Condition()
    writers = [
        Writer(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, location, durability, durability, str(seed), str(THOUGHTS)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            ack_seen=ack_seen,
        )
        for durability in ("sync", "async")
    ]
    readers = [threading.Thread(target=writer.read, daemon=True) for writer in writers]
    for reader in readers:
        reader.start()

    writing = threading.Event()
    writing.set()
    shows: list[subprocess.CompletedProcess[str]] = []

    def show_repeatedly() -> None:
        while True:
            command = [CLI, *_where(location, engine), "show", "shared"]
            shows.append(subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT))
            if not writing.is_set():
                return

    shower = threading.Thread(target=show_repeatedly, daemon=True)
    shower.start()

    remover = subprocess.Popen(
        [sys.executable, "-c", GATED_CLI, CLI, *_where(location, engine), "rm", "shared"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert remover.stdout is not None and remover.stdout.readline() == "ready\n"
    # mostly while both write; every fifth run once everything is acknowledged (the trash keeps it all)
    rm_after = 2 * THOUGHTS if seed % 5 == 4 else rng.randint(1, 2 * THOUGHTS - 100)
    with ack_seen:
        ack_seen.wait_for(
            lambda: (
                sum(len(w.acked) for w in writers) >= rm_after
                or all(w.process.poll() is not None for w in writers)
            ),
            timeout=TIMEOUT,
        )
    removed_out, removed_err = remover.communicate("go\n", timeout=TIMEOUT)
    acks_at_rm = sum(len(w.acked) for w in writers)

    for writer in writers:
        writer.process.wait(timeout=TIMEOUT)
    for reader in readers:
        reader.join(timeout=TIMEOUT)
    writing.clear()
    shower.join(timeout=TIMEOUT)

    for writer in writers:
        assert writer.process.stderr is not None
        stderr = writer.process.stderr.read()
        assert writer.process.returncode == 0, f"writer failed:\n{stderr}\n" + "\n".join(writer.lines[-20:])
        assert writer.lines[-1] == "done"
        assert "Traceback" not in stderr, stderr
    assert remover.returncode == 0, removed_err
    assert removed_out.startswith("Moved session shared"), removed_out
    assert shows, "show never ran"
    for shown in shows:
        assert shown.returncode in (0, 2), shown.stderr  # 2: "no session" while it is in the trash
        assert "Traceback" not in shown.stderr, shown.stderr

    acked = [thought_id for writer in writers for thought_id in writer.acked]
    assert len(acked) == len(set(acked))
    store = open_store(location)
    everywhere: set[str] = set()
    rows = store.sessions(("live", "trashed", "archived"))
    for row in rows:
        assert row.id == "shared"
        loaded = store.load(row.id, key=row.key)
        assert loaded is not None and not loaded.skipped
        ids = [change.thought.id for change in loaded.changes if isinstance(change, ThoughtAdded)]
        twice = [thought_id for thought_id, count in Counter(ids).items() if count > 1]
        assert not twice, f"row {row.key} ({row.state}) holds {len(twice)} thought(s) twice"
        everywhere.update(ids)
    lost = set(acked) - everywhere
    assert not lost, (
        f"{len(lost)} of {len(acked)} acknowledged thoughts are nowhere (rm after {rm_after} acks)"
    )
    store.close()
    return {
        "acked": len(acked),
        "refused": sum(line.startswith(("refused", "unflushed")) for w in writers for line in w.lines),
        "rows": sorted(row.state for row in rows),
        "shows": len(shows),
        "rm_after": rm_after,
        "acks_when_rm_returned": acks_at_rm,
    }


def test_two_writers_a_remover_and_a_reader_lose_no_acknowledged_thought(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    outcomes = []
    for run in range(RUNS):
        if engine == "postgres":
            location = request.getfixturevalue("postgres_server").new_database()
        else:
            location = str(tmp_path / f"store-{run}")
        outcomes.append(one_run(location, engine, seed=run))
    print(*outcomes, sep="\n")  # (shown with -s: how the runs went)
    assert all(outcome["acked"] for outcome in outcomes)
