"""The MCP stdio server: the ``sequentialthinking`` tool over a session store, one session per connection.

Built on the official ``mcp`` SDK: its low-level :class:`mcp.server.lowlevel.Server` (the
high-level ``MCPServer`` with the SDK's thread-based stdio transport does about 950 calls/s here,
less than half the reference server) over :func:`~jupyter_think.mcp_stdio.pipe_stdio`, a stdio transport on asyncio pipes.
The SDK handles the handshake, ``tools/list``, ``ping``, notifications and every malformed or
unusual message; once the client has sent ``notifications/initialized``, a well-formed
``tools/call`` of our tool is answered by the transport's fast path straight from the read loop (the
same result object the SDK would send, without its per-request task, context and re-validation,
which cost more than the thought itself). The tool, its schema and its results are exactly
:class:`~jupyter_think.SequentialThinkingTool`'s, so an agent sees the reference server's
behaviour, and every thought goes through the same :class:`~jupyter_think.SessionManager` and
persistence code as a notebook's.

Durability: by default (``durability="async"``) thoughts are group-committed by the persistence
loop: every thought acknowledged is written and fsynced within ``flush_interval`` (0.2 s), many
thoughts per fsync, and everything is flushed when the server exits (stdin closed, SIGTERM); a
SIGKILL or power loss can lose at most the last ``flush_interval`` of thoughts. With
``durability="sync"`` each thought is fsynced before its result is sent (one fsync per call).

Each server process serves one client connection. Its thoughts go to session
``mcp-<time>-<pid>-1`` (a new chain, ``thoughtNumber`` 1 after a completed one, moves on to
``...-2``), so several servers on one store never collide. ``--session ID`` names the session:
a notebook that has ``%session ID`` open watches the agent think, live.

Run it with ``jupyter-think mcp [--dir DIR] [--session ID] [--durability sync]``; for example,
in an MCP client's configuration::

    {"command": "jupyter-think", "args": ["mcp", "--dir", "/data/think"]}
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any, Literal

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from . import __version__
from .ids import is_valid_id, validate_id
from .manager import SessionManager
from .mcp_stdio import pipe_stdio, stdio_is_piped
from .tool import SequentialThinkingTool

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


async def serve(
    sessions_dir: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "async",
    persist: bool = True,
) -> None:
    """Serve MCP over this process's stdin/stdout until stdin closes, then flush and close the store.

    ``persist=False`` keeps the thoughts in memory only (the benchmark uses it to separate the
    protocol's cost from the store's).
    """
    manager = SessionManager(store=None if sessions_dir is None else str(sessions_dir), durability=durability, persist=persist)
    try:
        tool = connection_tool(manager, session_id)
        server = build_server(tool)
        if stdio_is_piped():
            transport = pipe_stdio(tool)
        else:  # stdin or stdout is a regular file: the SDK's thread-based transport reads it
            transport = stdio_server()
        async with transport as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        manager.close()


def run(
    sessions_dir: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "async",
    persist: bool = True,
) -> None:
    """Run :func:`serve` until stdin closes (what ``jupyter-think mcp`` does); SIGTERM also flushes."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    asyncio.run(serve(sessions_dir, session_id, durability, persist))


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
