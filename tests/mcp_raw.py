"""``jupyter-think mcp`` spoken to over its real stdin, stdout and stderr, line by line, as a client that
does not use the SDK (or a broken or hostile one) would: :class:`RawServer` and the lines it sends."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).with_name("jupyter-think")


def store_option(store: Path | str) -> list[str]:
    """The ``jupyter-think mcp`` option naming ``store``: ``--store URL`` for a URL, else ``--dir DIR``."""
    return ["--store", store] if isinstance(store, str) and "://" in store else ["--dir", str(store)]


def initialize_request(request_id: int, client: str) -> dict[str, Any]:
    """A raw JSON-RPC ``initialize`` request, for tests that speak to the server without the SDK."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }


class RawServer:
    """``jupyter-think mcp`` spoken to line by line over its real stdin, stdout and stderr.

    Replies and stderr lines are read by threads into queues, so a missing reply fails the test
    after ``timeout`` seconds instead of hanging it.
    """

    def __init__(self, store: Path | str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [str(SCRIPT), "mcp", *store_option(store), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.logged: queue.Queue[str] = queue.Queue()
        self._good_calls = 0
        self._pumps = [
            threading.Thread(target=self._pump, args=(pipe, sink), daemon=True)
            for pipe, sink in ((self.process.stdout, self.replies.put), (self.process.stderr, self._log))
        ]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(pipe: Any, sink: Callable[[bytes], None]) -> None:
        for line in iter(pipe.readline, b""):
            sink(line)

    def _log(self, line: bytes) -> None:
        self.logged.put(line.decode("utf-8", "replace").rstrip("\n"))

    def send_line(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def send(self, message: object) -> None:
        self.send_line(json.dumps(message, ensure_ascii=False).encode())

    def reply(self, timeout: float = 60) -> dict[str, Any]:
        try:
            return json.loads(self.replies.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(
                f"no reply within {timeout} s (server exit status {self.process.poll()})"
            ) from None

    def log_line(self, timeout: float = 60) -> str:
        """The next line the server wrote on stderr."""
        try:
            return self.logged.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing on stderr within {timeout} s") from None

    def handshake(self) -> None:
        self.send(initialize_request(1, "raw"))
        assert self.reply()["result"]["serverInfo"]["name"] == "jupyter-think"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def good_call(self, thought: str = "still here") -> dict[str, Any]:
        """A well-formed ``tools/call``; its structured result (checked: the history grew by one)."""
        self._good_calls += 1
        request_id = f"good-{self._good_calls}"
        self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {
                    "name": "sequentialthinking",
                    "arguments": {
                        "thought": thought,
                        "thoughtNumber": self._good_calls,
                        "totalThoughts": 1,
                        "nextThoughtNeeded": True,
                    },
                },
            }
        )
        reply = self.reply()
        assert reply["id"] == request_id, reply  # no stray reply came before it
        assert reply["result"]["isError"] is False, reply
        result = reply["result"]["structuredContent"]
        assert result["thoughtHistoryLength"] == self._good_calls  # the bad lines recorded nothing
        return result

    def rest(self) -> list[dict[str, Any]]:
        """Every reply not read yet, once the server has exited."""
        self._pumps[0].join(timeout=30)
        return [json.loads(self.replies.get_nowait()) for _ in range(self.replies.qsize())]

    def stderr_lines(self) -> list[str]:
        """Every stderr line not read yet, once the server has exited."""
        self._pumps[1].join(timeout=30)
        return [self.logged.get_nowait() for _ in range(self.logged.qsize())]

    def close(self, timeout: float = 30) -> int:
        """Close stdin and wait for the server to exit; its exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def call_line(request_id: object, arguments: str) -> bytes:
    """A ``tools/call`` line for ``sequentialthinking`` whose arguments are the raw JSON text given."""
    return (
        f'{{"jsonrpc": "2.0", "id": {json.dumps(request_id)}, "method": "tools/call", '
        f'"params": {{"name": "sequentialthinking", "arguments": {arguments}}}}}'
    ).encode()
