"""The MCP stdio transport on asyncio pipes: JSON-RPC lines in and out, with a fast path for tool calls.

:func:`pipe_stdio` gives the SDK's ``Server.run`` a read and a write stream over this process's
stdin and stdout, without the worker thread per line of the SDK's ``stdio_server``. Once the
client has sent ``notifications/initialized``, a well-formed ``tools/call`` of the tool is
answered by :class:`_FastCalls` straight from the read loop; every other line goes to the SDK.
:func:`stdio_is_piped` says whether this transport can serve the current stdin and stdout.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp import types
from mcp.shared.message import SessionMessage
from typing_extensions import Self

from .tool import SequentialThinkingTool

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Longest JSON-RPC line read from stdin (a thought is at most 100 000 characters)."""

_CALL_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
_CALL_PARAM_KEYS = frozenset({"name", "arguments", "_meta"})


class _FastCalls:
    """Answers plain ``tools/call`` requests for the tool without the SDK's dispatcher.

    Only after ``notifications/initialized`` (the handshake is the SDK's), and only for a request
    whose shape leaves nothing to interpret: ``jsonrpc`` "2.0", an int or string id, params with
    ``name`` equal to the tool's and ``arguments`` an object (``_meta`` allowed, ignored as the
    SDK's tool handler ignores it). Anything else goes to the SDK. The reply is the tool's own
    ``CallToolResult`` dict, which is what the SDK path sends too.
    """

    def __init__(self, tool: SequentialThinkingTool) -> None:
        self.tool = tool
        self.ready = False

    def reply(self, line: bytes) -> bytes | None:
        """The response line for ``line`` when it is a call this path answers, else ``None``."""
        if not self.ready or b'"tools/call"' not in line or b"\\ud" in line or b"\\uD" in line:
            return None  # (an escaped surrogate may be a lone one, which the SDK refuses as invalid JSON)
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # the SDK's path answers it (or logs it) instead
            return None
        if not isinstance(message, dict) or message.keys() - _CALL_KEYS:
            return None
        request_id, params = message.get("id"), message.get("params")
        if (
            message.get("jsonrpc") != "2.0"
            or message.get("method") != "tools/call"
            or type(request_id) not in (int, str)
            or not isinstance(params, dict)
            or params.keys() - _CALL_PARAM_KEYS
            or params.get("name") != self.tool.name
            or not isinstance(params.get("arguments", {}), dict)
            or not isinstance(params.get("_meta", {}), dict)
        ):
            return None
        # Inline, as in the SDK path: a call that has started always completes.
        result = self.tool.call(params.get("arguments") or {})
        response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        try:
            return json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        except UnicodeEncodeError:  # never expected (surrogates are left to the SDK); escape, do not fail
            return json.dumps(response, separators=(",", ":")).encode() + b"\n"


class _Stream:
    """An anyio-style stream with nothing to release: closing and ``async with`` are no-ops."""

    async def aclose(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass


class _StdinMessages(_Stream, asyncio.Protocol):
    """The read half of the stdio transport: one JSON-RPC message per line of stdin, no threads.

    The SDK's ``stdio_server`` reads and writes through a worker thread per line; here the event
    loop's pipe transport hands each chunk of stdin to :meth:`data_received`, which splits it into
    lines. With ``fast``, plain tool calls are answered right there (see :class:`_FastCalls`),
    without a task switch; every other line is queued for the SDK, which takes it with
    :meth:`receive`. Reading pauses while the queue or stdout's buffer is full.
    """

    QUEUE_HIGH = 64
    """Lines queued for the SDK above which reading pauses."""

    def __init__(self, fast: _FastCalls | None = None) -> None:
        self._fast = fast
        self._out: asyncio.WriteTransport | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._buffer = bytearray()
        self._skipping = False  # dropping the rest of an oversized line
        self._queue: deque[bytes | Exception] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._eof = False
        self._paused_for: set[str] = set()

    # --- the event loop's side -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False
            elif end + 1 - start > MAX_MESSAGE_BYTES:
                self._queue.append(ValueError(f"message longer than {MAX_MESSAGE_BYTES} bytes dropped"))
            else:
                self._line(bytes(buffer[start : end + 1]))
            start = end + 1
        del buffer[:start]
        if len(buffer) > MAX_MESSAGE_BYTES:
            if not self._skipping:
                self._queue.append(ValueError(f"message longer than {MAX_MESSAGE_BYTES} bytes dropped"))
                self._skipping = True
            buffer.clear()
        if len(self._queue) > self.QUEUE_HIGH:
            self.pause("queue")
        self._wake()

    def eof_received(self) -> bool:
        if self._buffer and not self._skipping:
            self._line(bytes(self._buffer))
        self._buffer.clear()
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake()

    def pause(self, reason: str) -> None:
        """Stop reading stdin until :meth:`resume` with the same reason (queue full, stdout full)."""
        if not self._paused_for and self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()
        self._paused_for.add(reason)

    def resume(self, reason: str) -> None:
        if reason in self._paused_for:
            self._paused_for.discard(reason)
            if not self._paused_for and self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()

    def attach_output(self, transport: asyncio.WriteTransport) -> None:
        """Where the answers of fast calls are written (stdout's transport)."""
        self._out = transport

    def _line(self, line: bytes) -> None:
        if not line.strip():
            return
        if self._fast is not None and self._out is not None and not self._out.is_closing():
            try:
                response = self._fast.reply(line)
            except Exception:  # never let one line stop the reader: the SDK's path takes it instead
                response = None
            if response is not None:
                self._out.write(response)
                return
        self._queue.append(line)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the SDK's side ------------------------------------------------------------------------

    async def receive(self) -> SessionMessage | Exception:
        while not self._queue:
            if self._eof:
                raise anyio.EndOfStream
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._queue.popleft()
        if len(self._queue) <= self.QUEUE_HIGH // 2:
            self.resume("queue")
        if isinstance(item, Exception):
            return item
        try:
            message = types.jsonrpc_message_adapter.validate_json(item, by_name=False)
        except ValueError as exc:  # a malformed line: the dispatcher logs it and keeps serving
            return exc
        if (
            self._fast is not None
            and isinstance(message, types.JSONRPCNotification)
            and message.method == "notifications/initialized"
        ):
            self._fast.ready = True
        return SessionMessage(message)

    def __aiter__(self) -> _StdinMessages:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _StdoutProtocol(asyncio.streams.FlowControlMixin):
    """Stdout's pipe protocol: while its buffer is over the high-water mark, stdin is not read."""

    def __init__(self, reader: _StdinMessages) -> None:
        super().__init__()
        self._reader = reader

    def pause_writing(self) -> None:
        super().pause_writing()
        self._reader.pause("stdout")

    def resume_writing(self) -> None:
        super().resume_writing()
        self._reader.resume("stdout")


class _StdoutMessages(_Stream):
    """The write half: each message is one line on stdout, handed to the pipe at once."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, item: SessionMessage) -> None:
        await self.send_bytes(
            item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        )

    async def send_bytes(self, line: bytes) -> None:
        """Write one encoded message line (ending in a newline)."""
        if self._writer.is_closing():
            raise anyio.BrokenResourceError("stdout is closed")
        self._writer.write(line)
        await self._writer.drain()  # returns at once unless the client has stopped reading


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
async def pipe_stdio(
    tool: SequentialThinkingTool | None = None,
) -> AsyncIterator[tuple[_StdinMessages, _StdoutMessages]]:
    """The stdio transport on pipes: message streams over this process's stdin and stdout.

    With ``tool``, plain calls of it are answered by the read loop (:class:`_FastCalls`).

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
        reader = _StdinMessages(None if tool is None else _FastCalls(tool))
        in_transport, _ = await loop.connect_read_pipe(lambda: reader, os.fdopen(wire_in, "rb", buffering=0))
        out_transport, out_protocol = await loop.connect_write_pipe(
            lambda: _StdoutProtocol(reader), os.fdopen(wire_out, "wb", buffering=0)
        )
        reader.attach_output(out_transport)
        yield reader, _StdoutMessages(asyncio.StreamWriter(out_transport, out_protocol, None, loop))
    finally:
        for transport in (in_transport, out_transport):
            if transport is not None:
                transport.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)
