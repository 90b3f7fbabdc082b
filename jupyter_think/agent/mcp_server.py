"""The MCP stdio server: the ``sequentialthinking`` tool over a session store, one session per connection.

Every message goes through the official ``mcp`` SDK's server: its low-level
:class:`mcp.server.lowlevel.Server` does the handshake, ``tools/list``, ``tools/call``, ``ping``,
cancellation and every protocol error; the ``tools/call`` handler returns the
:class:`~mcp.types.CallToolResult` of :class:`~jupyter_think.SequentialThinkingTool`, so an agent
sees the reference server's schema and behaviour, and every thought goes through the same
:class:`~jupyter_think.SessionManager` and persistence code as a notebook's.

Transport: :func:`~jupyter_think.agent.mcp_stdio.stdio_streams`, one JSON-RPC message per line on
stdin and stdout, framed on asyncio pipes (a worker thread reads stdin when it is a regular
file). It replaces the SDK's ``stdio_server``, which moves every line through a worker thread
and so serves about a third fewer calls per second (``benchmarks/bench_mcp.py`` measures both). A
line that is no message for the server is never dropped silently: a request whose id can be read
is answered with a JSON-RPC error, an unreadable line with ``-32700`` and ``"id": null``, and each
is logged as one line on stderr; the server keeps serving.

Durability: by default (``durability="async"``) a thought is acknowledged as soon as it is
recorded in memory, and the persistence loop group-commits: every acknowledged thought is
committed to the store (SQLite or PostgreSQL) within ``flush_interval`` (0.2 s), many thoughts per
transaction. When the server exits (stdin closed, SIGTERM or SIGINT) everything is flushed first;
what the store does not take then (a server that is down, a full or read-only disk) is kept in the
local spill file, the last line on stderr says where, the exit status is 1, and the next process
that opens the store saves it first (or ``jupyter-think recover``). A SIGKILL can lose the last
``flush_interval`` of thoughts. With ``durability="sync"`` each thought
is committed before its result is sent (one transaction per call), and a thought the store refuses
is answered ``isError: true`` ("Not recorded"): nothing is acknowledged that is not stored.

Each server process serves one client connection. Its thoughts go to session
``mcp-<time>-<pid>-1`` (a new chain, ``thoughtNumber`` 1 after a completed one, moves on to
``...-2``), so several servers on one store never collide. ``--session ID`` names the session:
a notebook that has ``%session ID`` open watches the agent think, live.

Run it with ``jupyter-think [--dir DIR | --store URL] mcp [--session ID] [--durability sync|async]``;
for example, in an MCP client's configuration::

    {"command": "jupyter-think", "args": ["mcp", "--dir", "/data/think"]}
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any, Literal

from mcp import types
from mcp.server.lowlevel import Server

from jupyter_think import __version__
from jupyter_think.agent.mcp_stdio import stdio_streams
from jupyter_think.agent.tool import SequentialThinkingTool
from jupyter_think.core.ids import is_valid_id, validate_ref
from jupyter_think.manager import SessionManager

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
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
        return SequentialThinkingTool(
            manager, agent_id=agent_id, session_id=f"{agent_id}-1", owns_agent_id=True
        )
    validate_ref(session_id)
    agent_id = session_id if is_valid_id(f"{session_id}-999999") else "mcp"
    return SequentialThinkingTool(manager, agent_id=agent_id, session_id=session_id)


def build_server(tool: SequentialThinkingTool) -> Server:
    """A low-level MCP ``Server`` exposing ``tool`` (``tools/list`` and ``tools/call``).

    A call returns the tool's own result as a ``CallToolResult``: content, structuredContent and
    isError reach the client unchanged. An unknown tool name is an ``isError`` result too.

    Example:
        >>> server = build_server(SequentialThinkingTool(SessionManager(persist=False)))
        >>> server.name, server.get_capabilities().tools is not None
        ('jupyter-think', True)
    """
    listing = types.ListToolsResult(tools=[types.Tool.model_validate(tool.mcp_tool())])

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return listing

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name != tool.name:
            message = f"Unknown tool {params.name!r}: use {tool.name!r}"
            return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
        # Inline, not in a worker thread: one connection, one call at a time, and a call that has
        # started always completes (a cancellation cannot cut it between record and result).
        return types.CallToolResult.model_validate(tool.call(params.arguments or {}))

    server = Server(
        SERVER_NAME,
        version=__version__,
        instructions=SERVER_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    # The SDK's documented opt-out of its OpenTelemetry middleware (a span per message, which
    # nothing here exports).
    server.middleware.clear()
    return server


async def serve(
    store: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "async",
    persist: bool = True,
) -> int | None:
    """Serve MCP over this process's stdin/stdout until stdin closes, then flush and close the store.

    SIGTERM and SIGINT end it the same way: no more lines are read, the call in progress
    completes, everything is flushed. Returns the number of the signal that ended it, if one did.
    Call it from the main thread (signal handlers). ``store`` is a directory or a store URL (default:
    the environment's, see :func:`~jupyter_think.core.config.default_store_location`). ``persist=False``
    keeps the thoughts in memory only (the benchmark uses it to separate the protocol's cost from the
    store's).
    """
    loop = asyncio.get_running_loop()
    manager = SessionManager(
        store=None if store is None else str(store), durability=durability, persist=persist
    )
    try:
        server = build_server(connection_tool(manager, session_id))
        async with stdio_streams() as (read_stream, write_stream):
            for signum in _STOP_SIGNALS:
                loop.add_signal_handler(signum, read_stream.stop, signum)
            await server.run(read_stream, write_stream, server.create_initialization_options())
        return read_stream.stopped_by
    finally:
        try:
            manager.close()  # raises, saying where, when the store did not take everything (see run())
        finally:
            for signum in _STOP_SIGNALS:  # only now: a second signal must not cut the flush short
                loop.remove_signal_handler(signum)


def run(
    store: str | Path | None = None,
    session_id: str | None = None,
    durability: Literal["async", "sync"] = "async",
    persist: bool = True,
) -> None:
    """Run :func:`serve` until stdin closes (what ``jupyter-think mcp`` does).

    After SIGTERM or SIGINT (everything flushed) it exits with status 128 + the signal's number.
    Refused lines and the SDK's warnings are logged on stderr, one line each. When the store did not
    take every thought before the exit, ``OSError`` is raised saying where they are kept (the
    command line prints it as its last line and exits with status 1).
    """
    logging.basicConfig(format="jupyter-think mcp: %(message)s", level=logging.WARNING)
    signum = asyncio.run(serve(store, session_id, durability, persist))
    if signum is not None:
        raise SystemExit(128 + signum)
