"""The MCP stdio server: the ``sequentialthinking`` tool over a session store, one session per connection.

Built on the official ``mcp`` SDK: its low-level :class:`mcp.server.lowlevel.Server` (the
high-level ``MCPServer`` with the SDK's thread-based stdio transport does about 950 calls/s here,
less than half the reference server) over :func:`pipe_stdio`, a stdio transport on asyncio pipes.
The tool, its schema and its results are exactly :class:`~jupyter_think.SequentialThinkingTool`'s,
so an agent sees the reference server's behaviour, and every thought goes through the same
:class:`~jupyter_think.SessionManager` and persistence code as a notebook's, durable
(``durability="sync"``) before its result is sent.

Each server process serves one client connection. Its thoughts go to session
``mcp-<time>-<pid>-1`` (a new chain, ``thoughtNumber`` 1 after a completed one, moves on to
``...-2``), so several servers on one store never collide. ``--session ID`` names the session:
a notebook that has ``%session ID`` open watches the agent think, live.

Run it with ``jupyter-think mcp [--dir DIR] [--session ID]``; for example, in an MCP client's
configuration::

    {"command": "jupyter-think", "args": ["mcp", "--dir", "/data/think"]}
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from typing_extensions import Self

from . import __version__
from .ids import is_valid_id, validate_id
from .manager import SessionManager
from .tool import SequentialThinkingTool

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Longest JSON-RPC line read from stdin (a thought is at most 100 000 characters)."""
SERVER_NAME = "jupyter-think"
SERVER_INSTRUCTIONS = (
    "Sequential thinking: call `sequentialthinking` once per numbered thought; revise, branch, "
    "and set nextThoughtNeeded false on the conclusion. Thoughts are kept in a jupyter-think store."
)


def connection_agent_id(now: float | None = None, pid: int | None = None) -> str:
    """An agent id unique to this server process: ``mcp-<UTC time>-<pid>``.

    Example:
        >>> connection_agent_id(now=0, pid=42)
        'mcp-19700101T000000-42'
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() if now is None else now))
    return f"mcp-{stamp}-{os.getpid() if pid is None else pid}"


def connection_tool(manager: SessionManager, session_id: str | None = None) -> SequentialThinkingTool:
    """The tool for one connection: bound to ``session_id``, else to a fresh ``mcp-<time>-<pid>-1``.

    With ``session_id``, a new chain continues in ``<session_id>-<n>`` (when that is a valid id).

    Example:
        >>> tool = connection_tool(SessionManager(persist=False), "review")
        >>> tool.session_id, tool.agent_id
        ('review', 'review')
    """
    if session_id is None:
        agent_id = connection_agent_id()
        return SequentialThinkingTool(manager, agent_id=agent_id, session_id=f"{agent_id}-1")
    validate_id(session_id)
    agent_id = session_id if is_valid_id(f"{session_id}-999999") else "mcp"
    return SequentialThinkingTool(manager, agent_id=agent_id, session_id=session_id)


def build_server(tool: SequentialThinkingTool) -> Server:
    """A low-level MCP ``Server`` exposing ``tool`` (``tools/list`` and ``tools/call``).

    Results are the tool's own ``CallToolResult`` dicts: content, structuredContent and isError
    reach the client unchanged. An unknown tool name is an ``isError`` result too.
    """
    definition = types.Tool.model_validate(tool.mcp_tool())
    listing = types.ListToolsResult(tools=[definition])

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return listing

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
        if params.name != tool.name:
            result: dict[str, Any] = {
                "content": [{"type": "text", "text": f"Unknown tool {params.name!r}: use {tool.name!r}"}],
                "isError": True,
            }
        else:
            # Inline, not in a worker thread: one connection, one call at a time, and a call that
            # has started always completes (a cancellation cannot cut it between record and result).
            result = tool.call(params.arguments or {})
        return result

    server = Server(
        SERVER_NAME,
        version=__version__,
        instructions=SERVER_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    server.middleware.clear()  # the OpenTelemetry span per message costs more than the tool call
    return server


class _StdinMessages:
    """The read half of the stdio transport: one JSON-RPC message per line of stdin, no threads.

    The SDK's ``stdio_server`` reads and writes through a worker thread per line; on a pipe,
    asyncio's own pipe transports do the same job in the event loop, several times faster.
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def receive(self) -> SessionMessage | Exception:
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial
                if not line.strip():
                    raise anyio.EndOfStream from None
            except asyncio.LimitOverrunError:
                await self._skip_line()
                return ValueError(f"message longer than {MAX_MESSAGE_BYTES} bytes dropped")
            if line.strip():
                break
        try:
            return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
        except ValueError as exc:  # a malformed line: the dispatcher logs it and keeps serving
            return exc

    async def _skip_line(self) -> None:
        """Drop the rest of an oversized line (up to and including its newline)."""
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(max(exc.consumed, 1))
            except asyncio.IncompleteReadError:
                return

    def __aiter__(self) -> _StdinMessages:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass


class _StdoutMessages:
    """The write half: each message is one line on stdout, handed to the pipe at once."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, item: SessionMessage) -> None:
        if self._writer.is_closing():
            raise anyio.BrokenResourceError("stdout is closed")
        self._writer.write(item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n")
        await self._writer.drain()  # returns at once unless the client has stopped reading

    async def aclose(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass


def stdio_is_piped() -> bool:
    """True when stdin and stdout are pipes, sockets or terminals (what :func:`pipe_stdio` serves)."""
    for fd in (0, 1):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return False
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            return False
    return True


@asynccontextmanager
async def pipe_stdio() -> AsyncIterator[tuple[_StdinMessages, _StdoutMessages]]:
    """The stdio transport on pipes: message streams over this process's stdin and stdout.

    While it runs, file descriptors 0 and 1 point at ``/dev/null`` and stderr, so a stray
    ``print`` cannot corrupt the protocol; both are restored afterwards. Needs
    :func:`stdio_is_piped` (a regular file cannot be watched by the event loop).
    """
    loop = asyncio.get_running_loop()
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    in_transport = out_transport = None
    try:
        reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
        in_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
        )
        out_transport, out_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
        )
        writer = asyncio.StreamWriter(out_transport, out_protocol, None, loop)
        yield _StdinMessages(reader), _StdoutMessages(writer)
    finally:
        for transport in (in_transport, out_transport):
            if transport is not None:
                transport.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


async def serve(
    sessions_dir: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "sync",
    persist: bool = True,
) -> None:
    """Serve MCP over this process's stdin/stdout until stdin closes, then flush and close the store.

    ``persist=False`` keeps the thoughts in memory only (the benchmark uses it to separate the
    protocol's cost from the store's).
    """
    manager = SessionManager(sessions_dir, durability=durability, persist=persist)
    try:
        server = build_server(connection_tool(manager, session_id))
        if stdio_is_piped():
            transport = pipe_stdio()
        else:  # stdin or stdout is a regular file: the SDK's thread-based transport reads it
            transport = stdio_server()
        async with transport as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        manager.close()


def run(
    sessions_dir: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "sync",
    persist: bool = True,
) -> None:
    """Run :func:`serve` until stdin closes (what ``jupyter-think mcp`` does); SIGTERM also flushes."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    asyncio.run(serve(sessions_dir, session_id, durability, persist))


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
