"""A local stand-in for the OpenAI and Anthropic HTTP APIs, for driving the real SDK clients offline.

``ModelServer`` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (a free port), started and stopped
as a context manager. It answers ``POST /v1/chat/completions`` (OpenAI Chat Completions),
``POST /v1/responses`` (OpenAI Responses) and ``POST /v1/messages`` (Anthropic Messages) in each
API's response format, following a script of turns: each turn is a list of tool-call arguments
(one tool call each), the last turn is the model's final text. The turn to play is read from the
conversation the client sent (how many assistant turns it holds), so the server keeps no state
per conversation and several conversations can run at once. Every request body is recorded.

Example::

    with ModelServer(TURNS) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self

Turn = Sequence[Any]  # tool-call arguments (dicts, or raw JSON text) for one model turn


class ModelServer:
    """The scripted model API; ``turns[:-1]`` are tool-call turns, ``turns[-1]`` is the final text."""

    def __init__(self, turns: Sequence[Turn | str], tool_name: str = "sequentialthinking") -> None:
        self.turns = list(turns)
        self.tool_name = tool_name
        self.requests: list[dict[str, Any]] = []  # {"path": ..., "body": ...}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name for the POST handler
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body})
                if self.path.endswith("/chat/completions"):
                    reply = server._chat(body)
                elif self.path.endswith("/responses"):
                    reply = server._responses(body)
                elif self.path.endswith("/messages"):
                    reply = server._messages(body)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="model-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def bodies(self, path_end: str) -> list[dict[str, Any]]:
        """The request bodies sent to paths ending with ``path_end``, in arrival order."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"].endswith(path_end)]

    # --- the script ---------------------------------------------------------------------------------

    def _turn(self, index: int) -> Turn | str:
        return self.turns[min(index, len(self.turns) - 1)]

    @staticmethod
    def _arguments(arguments: Any) -> str:
        return arguments if isinstance(arguments, str) else json.dumps(arguments)

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        turn_index = sum(1 for m in body["messages"] if m.get("role") == "assistant")
        turn = self._turn(turn_index)
        if isinstance(turn, str):
            message: dict[str, Any] = {"role": "assistant", "content": turn}
            finish = "stop"
        else:
            calls = [
                {
                    "id": f"call_{turn_index}_{k}",
                    "type": "function",
                    "function": {"name": self.tool_name, "arguments": self._arguments(arguments)},
                }
                for k, arguments in enumerate(turn)
            ]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{turn_index}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _responses(self, body: dict[str, Any]) -> dict[str, Any]:
        items = body["input"] if isinstance(body["input"], list) else []
        turn_index = 0
        answered = sum(1 for item in items if item.get("type") == "function_call_output")
        while turn_index < len(self.turns) - 1 and answered >= len(self.turns[turn_index]):
            answered -= len(self.turns[turn_index])
            turn_index += 1
        turn = self._turn(turn_index)
        if isinstance(turn, str):
            output: list[dict[str, Any]] = [
                {
                    "type": "message",
                    "id": f"msg_{turn_index}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": turn, "annotations": []}],
                }
            ]
        else:
            output = [
                {
                    "type": "function_call",
                    "id": f"fc_{turn_index}_{k}",
                    "call_id": f"call_{turn_index}_{k}",
                    "name": self.tool_name,
                    "arguments": self._arguments(arguments),
                    "status": "completed",
                }
                for k, arguments in enumerate(turn)
            ]
        return {
            "id": f"resp_{turn_index}",
            "object": "response",
            "created_at": 0,
            "model": body.get("model", "test-model"),
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        }

    def _messages(self, body: dict[str, Any]) -> dict[str, Any]:
        turn_index = sum(1 for m in body["messages"] if m.get("role") == "assistant")
        turn = self._turn(turn_index)
        if isinstance(turn, str):
            content: list[dict[str, Any]] = [{"type": "text", "text": turn}]
            stop = "end_turn"
        else:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{turn_index}_{k}",
                    "name": self.tool_name,
                    "input": arguments if isinstance(arguments, dict) else json.loads(arguments),
                }
                for k, arguments in enumerate(turn)
            ]
            stop = "tool_use"
        return {
            "id": f"msg_{turn_index}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "test-model"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
