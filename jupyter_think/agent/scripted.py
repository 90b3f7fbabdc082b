"""A scripted model that the real ``openai`` and ``anthropic`` clients talk to: agents run offline, deterministic.

:class:`ScriptedModel` answers OpenAI Chat Completions, OpenAI Responses and Anthropic Messages
requests in each API's format, from a script: a *plan* is a list of turns, each turn a list of tool
calls (their arguments: one dict per ``sequentialthinking`` call), a final answer (text), or an
exception (the API answers an error, so the client raises). The model plays the turn of the plan that
the conversation has reached, so it keeps no state per conversation and any number of conversations
can run at once; a conversation that starts with replayed tool calls (a forked run) goes on from there.

The script is one plan for every conversation, or a function ``script(request) -> plan`` that picks
one from the :class:`ScriptedRequest`: the prompt, the system prompt, the run it serves (inside an
experiment: variant, repeat, session), and ``rng``, a random generator seeded by the run's session id
(else by the prompt), so each repeat of a variant draws its own plan and draws the same every time.

The real SDK clients reach it in-process through an httpx transport (:meth:`ScriptedModel.openai_client`,
:meth:`~ScriptedModel.anthropic_client`, their async forms), or over HTTP on 127.0.0.1
(:meth:`ScriptedModel.serve`, for a client configured by ``OPENAI_BASE_URL`` or in another process).
Each reply reports its usage: about one token per four characters of the conversation's messages
(tools left out) and of the reply, so token counts are deterministic too.

Example:
    >>> model = ScriptedModel([[{"thought": "Three groups of three", "thoughtNumber": 1, "totalThoughts": 1,
    ...                          "nextThoughtNeeded": False}], "Two weighings."])
    >>> client = model.openai_client()
    >>> reply = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "Coins?"}])
    >>> reply.choices[0].message.tool_calls[0].function.name, reply.usage.prompt_tokens
    ('sequentialthinking', 9)
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from jupyter_think.agent.scripted_api import READERS, WRITERS, Request, api_of

if TYPE_CHECKING:
    import httpx

    from jupyter_think.experiments.tool import RunTool

Turn = Any
"""A list of tool-call arguments (dicts, or raw JSON text), the final text, or an exception to answer with."""
Plan = Sequence[Turn]
Script = Plan | Callable[["ScriptedRequest"], Plan]


@dataclass(frozen=True)
class ScriptedRequest:
    """What a script sees of one request (see the module docstring)."""

    request: Request
    run: RunTool | None
    rng: random.Random

    @property
    def prompt(self) -> str:
        """The conversation's first user message."""
        return self.request.prompt

    @property
    def system(self) -> str | None:
        """The system prompt (``None`` when there is none)."""
        return self.request.system

    @property
    def variant(self) -> str | None:
        """The variant of the experiment run this conversation serves (``None`` outside an experiment)."""
        return None if self.run is None else self.run.variant

    @property
    def repeat(self) -> int | None:
        """The repeat of the run this conversation serves (``None`` outside an experiment)."""
        return None if self.run is None else self.run.repeat


def tokens(data: Any) -> int:
    """The scripted token count of ``data``: one token per four characters of its JSON (at least 1).

    Example:
        >>> tokens("Two weighings.")
        4
    """
    return max(1, len(json.dumps(data, ensure_ascii=False)) // 4)


class ScriptedModel:
    """A model that plays a script (see the module docstring); ``requests`` keeps every request it answered.

    ``latency`` is the seconds each reply takes (a real model takes its time: a live grid has something
    to show); ``tool`` the name of the tool its calls go to.
    """

    def __init__(self, script: Script, *, latency: float = 0.0, tool: str = "sequentialthinking") -> None:
        if not callable(script) and (isinstance(script, (str, bytes)) or not isinstance(script, Sequence)):
            raise TypeError("script is a plan (a list of turns) or a function script(request) -> plan")
        self.script = script
        self.latency = latency
        self.tool = tool
        self.requests: list[dict[str, Any]] = []
        """Each request answered: ``{"api", "body", "usage": (input tokens, output tokens)}``, in order."""
        self._lock = threading.Lock()

    # --- answering ------------------------------------------------------------------------------------

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON reply) for a request to ``path`` with ``body``: what both transports send."""
        api = api_of(path)
        if api is None:
            return 404, {"error": {"message": f"no such endpoint {path}", "type": "not_found"}}
        request = READERS[api](body)
        from jupyter_think.experiments.tool import current_run

        run = current_run.get()
        seed = run.run_session_id if run is not None else f"{request.prompt}\x00{body.get('seed', '')}"
        plan = (
            self.script(ScriptedRequest(request, run, random.Random(seed)))
            if callable(self.script)
            else self.script
        )
        if not plan:
            return 500, {"error": {"message": "the script gave an empty plan", "type": "server_error"}}
        turn = plan[min(request.turn, len(plan) - 1)]
        if isinstance(turn, BaseException):
            return 500, {"error": {"message": str(turn) or type(turn).__name__, "type": "server_error"}}
        if isinstance(turn, dict):
            turn = [turn]
        conversation = body.get("messages") if api != "responses" else body.get("input")
        usage = (tokens(conversation), tokens(turn))
        with self._lock:
            self.requests.append({"api": api, "body": body, "usage": usage})
        return 200, WRITERS[api](request, turn, usage, self.tool)

    def bodies(self, api: str) -> list[dict[str, Any]]:
        """The request bodies of one API (``chat``, ``responses``, ``messages``), in arrival order."""
        with self._lock:
            return [r["body"] for r in self.requests if r["api"] == api]

    def usage(self) -> tuple[int, int]:
        """(input tokens, output tokens) of every reply so far."""
        with self._lock:
            return sum(r["usage"][0] for r in self.requests), sum(r["usage"][1] for r in self.requests)

    # --- the real clients, in-process -------------------------------------------------------------------

    def transport(self, http: Any = None) -> Any:
        """An httpx transport that answers in-process (sync and async clients alike); ``http`` is the
        httpx module the client is made with (default ``httpx``; SDKs that moved to ``httpx2`` use that)."""
        if http is None:
            import httpx as http
        return _Transport(self, http)

    def _client(self, package: str, name: str, base: str, options: dict[str, Any]) -> Any:
        from jupyter_think.agent.adapters import require

        sdk = require(package)
        http_client = getattr(
            sdk, "DefaultAsyncHttpxClient" if name.startswith("Async") else "DefaultHttpxClient"
        )
        transport = self.transport(_http_module(http_client))
        return getattr(sdk, name)(
            **self._options(options, base), http_client=http_client(transport=transport)
        )

    def openai_client(self, **options: Any) -> Any:
        """An ``openai.OpenAI`` client whose requests this model answers (no network, no key)."""
        return self._client("openai", "OpenAI", "/v1", options)

    def async_openai_client(self, **options: Any) -> Any:
        """An ``openai.AsyncOpenAI`` client whose requests this model answers."""
        return self._client("openai", "AsyncOpenAI", "/v1", options)

    def anthropic_client(self, **options: Any) -> Any:
        """An ``anthropic.Anthropic`` client whose requests this model answers."""
        return self._client("anthropic", "Anthropic", "", options)

    def async_anthropic_client(self, **options: Any) -> Any:
        """An ``anthropic.AsyncAnthropic`` client whose requests this model answers."""
        return self._client("anthropic", "AsyncAnthropic", "", options)

    @staticmethod
    def _options(options: dict[str, Any], prefix: str) -> dict[str, Any]:
        return {
            "api_key": "scripted",
            "base_url": f"http://scripted.invalid{prefix}",
            "max_retries": 0,
            **options,
        }

    # --- over HTTP ----------------------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[ScriptedServer]:
        """This model on a local HTTP server (127.0.0.1, a free port) while the block runs."""
        server = ScriptedServer(self)
        try:
            yield server
        finally:
            server.close()

    def _pause(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)


def _http_module(client_class: type) -> Any:
    """The httpx module an SDK's client class is built on (``httpx``, or ``httpx2`` in newer SDKs)."""
    import importlib

    for cls in client_class.__mro__:
        top = cls.__module__.partition(".")[0]
        if top.startswith("httpx"):
            return importlib.import_module(top)
    import httpx

    return httpx


class _Transport:
    """The httpx transport of :meth:`ScriptedModel.transport` (``handle_request`` and its async form)."""

    def __init__(self, model: ScriptedModel, http: Any) -> None:
        self.model = model
        self.http = http

    def _response(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.read() or b"{}")
        except ValueError:
            body = {}
        status, reply = self.model.answer(request.url.path, body)
        return self.http.Response(status, json=reply, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.model._pause()
        return self._response(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import anyio

        if self.model.latency > 0:
            await anyio.sleep(self.model.latency)
        return self._response(request)

    def close(self) -> None:
        """Nothing to close (the transport holds no connection)."""

    async def aclose(self) -> None:
        """Nothing to close (the transport holds no connection)."""


class ScriptedServer:
    """A :class:`ScriptedModel` over HTTP on 127.0.0.1: ``url`` (Anthropic's base URL), ``openai_url``."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the standard library's name for the POST handler
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                model._pause()
                status, reply = model.answer(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # no line per request on stderr
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-model", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the Anthropic client's ``base_url``)."""
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def openai_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI client's ``base_url``)."""
        return f"{self.url}/v1"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
