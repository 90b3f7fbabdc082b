"""A writer process for the store's crash and concurrency tests.

It restores a session from the store, records thoughts (now and then a branch), appends each batch
with ``SessionStore.append`` and, only after ``append`` returned, reports every thought it made
durable as a line ``ack <thought id>``; ``foreign <n>`` counts the thoughts it received from other
writers, and ``session <n>`` the thoughts its session holds at the end.

Run as a script (``python store_writer.py ROOT SESSION --count 500 --tag A``) or call
:func:`run_writer` in a forked child.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import warnings
from pathlib import Path

from jupyter_think.models import ThoughtAdded
from jupyter_think.session import Session
from jupyter_think.store import SessionStore


def _emit(out_fd: int, line: str) -> None:
    data = (line + "\n").encode()
    while data:
        data = data[os.write(out_fd, data) :]


def run_writer(
    root: Path,
    session_id: str,
    out_fd: int,
    *,
    count: int,
    tag: str,
    seed: int = 0,
    batch_max: int = 3,
    compact_floor: int = 1000,
    compact_chance: float = 0.0,
    wait_fd: int | None = None,
) -> None:
    """Append ``count`` batches of 1..``batch_max`` thoughts, reporting each acknowledged thought;
    after a batch, compact explicitly with probability ``compact_chance``."""
    warnings.simplefilter("ignore")
    rng = random.Random(seed)
    store = SessionStore(root, compact_floor=compact_floor)
    loaded = store.load(session_id, max_thoughts=10**9)
    session = loaded.session if loaded else Session(session_id, max_thoughts=10**9)
    pending: list = []
    session.subscribe(lambda event: None if event.remote else pending.append(event.change))
    _emit(out_fd, "ready")
    if wait_fd is not None:
        os.read(wait_fd, 1)
    foreign = 0
    for index in range(count):
        for _ in range(rng.randint(1, batch_max)):
            session.think(f"{tag} {index} " + "x" * rng.randint(0, 400))
        if rng.random() < 0.05:
            branch_id = f"{tag}-b{index}"
            session.branch(branch_id, from_thought=1)
            session.think(f"{tag} on {branch_id}")
            session.switch_branch(None)
        batch, pending[:] = list(pending), []
        result = store.append(session_id, batch, created_at=session.created_at)
        for change in result.foreign:
            if session.apply(change, remote=True) and isinstance(change, ThoughtAdded):
                foreign += 1
        for change in batch:
            if isinstance(change, ThoughtAdded):
                _emit(out_fd, f"ack {change.thought.id}")
        if rng.random() < compact_chance:
            store.compact(session_id)
    for change in store.poll(session_id):
        if session.apply(change, remote=True) and isinstance(change, ThoughtAdded):
            foreign += 1
    _emit(out_fd, f"foreign {foreign}")
    _emit(out_fd, f"session {len(session)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("session_id")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--tag", default="w")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-max", type=int, default=1)
    parser.add_argument("--compact-floor", type=int, default=1000)
    parser.add_argument("--wait-stdin", action="store_true", help="start writing after one byte on stdin")
    args = parser.parse_args(argv)
    run_writer(
        args.root,
        args.session_id,
        sys.stdout.fileno(),
        count=args.count,
        tag=args.tag,
        seed=args.seed,
        batch_max=args.batch_max,
        compact_floor=args.compact_floor,
        wait_fd=sys.stdin.fileno() if args.wait_stdin else None,
    )


if __name__ == "__main__":
    main()
