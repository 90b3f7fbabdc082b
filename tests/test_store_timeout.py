"""A frozen PostgreSQL server (every server process stopped with ``SIGSTOP``) holds no call longer than
``store_timeout``, over the Unix socket and over TCP: a frozen server still acknowledges TCP, so the
client gives the socket up itself.

One freeze per transport. During it, at once: a sync ``think()``, ``manager.session(<new id>)`` and
``manager.search()`` each raise ``OSError(ETIMEDOUT)`` saying ``store_timeout``; the LISTEN connection
of a follower notices and reconnects; a process that exits with a change pending ends within its
bounded exit flush. The server is thawed only long after (``THAW``): every call ends by its own bound,
which the test tells from the thaw without depending on how fast a loaded machine is (the figures,
``store_timeout + 2`` s for a call on a quiet machine, are measured in benchmarks/bench_store_timeout.py).
After ``SIGCONT`` the same manager works again, and the store holds exactly what was acknowledged.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from pg_server import SUPERUSER_PASSWORD

from jupyter_think import SessionManager
from jupyter_think.store import open_store
from jupyter_think.store.postgres import listen

STORE_TIMEOUT = 5.0
THAW = 240.0  # the watchdog thaws the server this long after the freeze: whatever ends before, ended itself
BOUNDED = THAW / 2  # a call or an exit that ended before this ended by its own bound, not by the thaw
WATCH_TIMEOUT = 1.0  # the follower's own store: it notices a silent server after 2 x this

LEAVING = """
import sys
from jupyter_think import SessionManager
manager = SessionManager(store=sys.argv[1], store_timeout=5)
session = manager.session("leaving")
session.think("Saved before the freeze")
manager.flush(timeout=60)
print("ready", flush=True)
sys.stdin.readline()
session.think("Made while the server is frozen")
"""


class Follower:
    """``store.watch()`` of a store of its own, in a thread: the times it yielded (each (re)connect
    and each notification), and ``gave_up``: set when its LISTEN connection gave a statement up (the
    sign of life it asks a silent server for), the proof that it noticed a frozen server."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store = open_store(url, timeout=WATCH_TIMEOUT)
        self.yields: list[float] = []
        self.gave_up = threading.Event()
        bounded = listen._bounded

        async def watched(aconn: Any, statement: str, timeout: float) -> None:
            try:
                await bounded(aconn, statement, timeout)
            except BaseException:
                if timeout == WATCH_TIMEOUT:  # (this follower's: the manager's own loop waits longer)
                    self.gave_up.set()
                raise

        monkeypatch.setattr(listen, "_bounded", watched)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=anyio.run, args=(self._follow,), daemon=True)
        self._thread.start()

    async def _follow(self) -> None:
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                async for _ in self.store.watch(0.2):
                    self.yields.append(time.monotonic())

            tasks.start_soon(watch)
            while not self._stop.is_set():
                await anyio.sleep(0.1)
            tasks.cancel_scope.cancel()

    def wait_for_yield_after(self, moment: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(at > moment for at in self.yields):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def timed(call: Callable[[], Any], start: threading.Barrier, into: list[tuple[float, Any]]) -> None:
    start.wait()
    began = time.monotonic()
    try:
        outcome: Any = call()
    except Exception as exc:
        outcome = exc
    into.append((time.monotonic() - began, outcome))


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_a_frozen_server_holds_no_call_past_store_timeout_and_the_manager_works_again_after(
    postgres_server: Any, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.new_database(tcp=transport == "tcp")
    with SessionManager(store=url, durability="sync", store_timeout=STORE_TIMEOUT) as manager:
        session = manager.session("steady")
        session.think("Before the freeze")
        assert [hit.thought_number for hit in manager.search("freeze")] == [1]  # connected, indexed
        follower = Follower(url, monkeypatch)
        assert follower.wait_for_yield_after(0, timeout=30), "the follower's LISTEN connection is up"
        leaving = subprocess.Popen(
            [sys.executable, "-c", LEAVING, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert leaving.stdout is not None and leaving.stdout.readline() == "ready\n"
        calls = {
            "think": lambda: session.think("During the freeze"),
            "session": lambda: manager.session("opened-during-the-freeze"),
            "search": lambda: manager.search("freeze"),
        }
        outcomes: dict[str, list[tuple[float, Any]]] = {name: [] for name in calls}
        start = threading.Barrier(len(calls) + 1)
        threads = [
            threading.Thread(target=timed, args=(call, start, outcomes[name])) for name, call in calls.items()
        ]
        with postgres_server.frozen(at_most=THAW):
            frozen_at = time.monotonic()
            for thread in threads:
                thread.start()
            start.wait()
            leaving.stdin.write("go\n")  # type: ignore[union-attr]
            leaving.stdin.flush()  # type: ignore[union-attr]
            for thread in threads:
                thread.join(timeout=60)
            _, stderr = leaving.communicate(timeout=60)
            exited_after = time.monotonic() - frozen_at
            assert follower.gave_up.wait(30), "the follower never noticed the frozen server"
        thawed_at = time.monotonic()

        for name, found in outcomes.items():
            (seconds, outcome) = found[0]
            assert STORE_TIMEOUT - 1 <= seconds < BOUNDED, (
                f"{name} waited {seconds:.1f} s on the frozen server"
            )
            assert isinstance(outcome, OSError) and outcome.errno == errno.ETIMEDOUT, f"{name}: {outcome!r}"
            message = str(outcome)
            assert "\n" not in message and "store_timeout" in message and SUPERUSER_PASSWORD not in message, (
                message
            )
        assert "nothing was recorded" in str(outcomes["think"][0][1])
        assert not manager.is_loaded("opened-during-the-freeze"), "never started empty for want of a read"
        assert exited_after < BOUNDED, f"the exiting process took {exited_after:.1f} s"
        assert leaving.returncode == 0, stderr
        assert follower.wait_for_yield_after(thawed_at, timeout=30), "the follower reconnected by itself"
        follower.stop()

        session.think("After the freeze")  # the same manager: a fresh connection
        assert [hit.thought_number for hit in manager.search("freeze", sessions=["steady"])] == [1, 2]
        assert manager.session("opened-after-the-freeze").thoughts == ()
        acknowledged = ["Before the freeze", "After the freeze"]
        assert [thought.thought for thought in session.thoughts] == acknowledged
    with SessionManager(store=url) as reader:  # what another process finds: exactly what was acknowledged
        assert [thought.thought for thought in reader.session("steady").thoughts] == acknowledged
        assert reader.session("leaving").thoughts[0].thought == "Saved before the freeze"
