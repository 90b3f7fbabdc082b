"""The MCP stdio transport: JSON-RPC lines on stdin and stdout as the SDK server's message streams.

:func:`stdio_streams` gives :meth:`mcp.server.lowlevel.Server.run` its read and write streams
over this process's stdin and stdout, as the SDK's :func:`mcp.server.stdio.stdio_server` does,
built on public APIs only: asyncio pipe transports where the event loop can watch the descriptor
(a pipe, a socket, a terminal), else a worker thread that reads and plain writes (a regular file,
/dev/null). The SDK's transport moves every line read and every line written through a worker
thread, which costs the whole server about a third of its calls per second (``benchmarks/bench_mcp.py``
measures both). This module only moves lines: each is read by
:class:`~jupyter_think.agent.mcp_messages.Lines`, every message goes to the SDK's server, and every
refused line is answered as it says and logged here, one line on stderr each.
"""

from __future__ import annotations

import asyncio
import logging
import os
import selectors
import sys
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.shared.message import SessionMessage
from typing_extensions import Self

from jupyter_think.agent.mcp_messages import Lines, Refusal

logger = logging.getLogger(__name__)

_CHUNK = 256 * 1024
"""Most bytes read from stdin at once."""


# --- stdin and stdout -------------------------------------------------------------------------------


def _pollable(fd: int, event: int) -> bool:
    """True when the event loop can watch ``fd`` (a pipe, socket or terminal; not a file, not /dev/null)."""
    with selectors.DefaultSelector() as selector:
        try:
            selector.register(fd, event)
        except (OSError, ValueError):
            return False
    return True


class _Input:
    """Chunks of stdin: from an asyncio pipe transport, or read by a worker thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._reader: asyncio.StreamReader | None = None
        self._transport: asyncio.BaseTransport | None = None

    async def open(self) -> None:
        if _pollable(self._fd, selectors.EVENT_READ):
            self._reader = asyncio.StreamReader(limit=_CHUNK)
            reader = self._reader
            self._transport, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self._fd, "rb", buffering=0)
            )

    async def read(self) -> bytes:
        if self._reader is not None:
            return await self._reader.read(_CHUNK)
        return await anyio.to_thread.run_sync(os.read, self._fd, _CHUNK)

    def stop(self) -> None:
        """Stop reading: a read waiting on the pipe returns at once."""
        if self._transport is not None:
            self._transport.close()  # the reader sees the end of input; the descriptor is closed

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        else:
            os.close(self._fd)


class _PipeProtocol(asyncio.Protocol):
    """Stdout's pipe protocol: says when the pipe's buffer is full and when the pipe is gone."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.lost = asyncio.Event()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()
        self.writable.set()


class _Output:
    """Lines to stdout: through an asyncio pipe transport (waiting while it is full), or plain writes."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._transport: asyncio.WriteTransport | None = None
        self._protocol: _PipeProtocol | None = None
        self.broken = False

    async def open(self) -> None:
        if _pollable(self._fd, selectors.EVENT_WRITE):
            self._transport, self._protocol = await asyncio.get_running_loop().connect_write_pipe(
                _PipeProtocol, os.fdopen(self._fd, "wb", buffering=0)
            )

    async def write(self, data: bytes) -> None:
        if self.broken or (self._protocol is not None and self._protocol.lost.is_set()):
            self.broken = True
            raise anyio.BrokenResourceError("stdout is closed")
        if self._transport is None:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                self.broken = True
                raise anyio.BrokenResourceError(f"stdout: {exc}") from exc
            return
        assert self._protocol is not None
        self._transport.write(data)
        if not self._protocol.writable.is_set():  # the client reads slowly: wait, do not buffer more
            await self._protocol.writable.wait()

    async def close(self, timeout: float = 5.0) -> None:
        """Close stdout once what was written has reached the pipe (at most ``timeout`` seconds)."""
        if self._transport is None:
            os.close(self._fd)
            return
        assert self._protocol is not None
        self._transport.close()  # flushes its buffer, then closes the descriptor
        with anyio.move_on_after(timeout, shield=True):
            await self._protocol.lost.wait()
        if not self._protocol.lost.is_set():
            self._transport.abort()


# --- the SDK's streams --------------------------------------------------------------------------------


class _Stream:
    """What both streams share: ``async with`` support (the pipes are closed by :func:`stdio_streams`)."""

    async def aclose(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class StdinMessages(_Stream):
    """The read stream: each message from stdin, in order; a refused line is answered and logged."""

    def __init__(self, source: _Input, out: StdoutMessages) -> None:
        self._source = source
        self._out = out
        self._lines = Lines()
        self._read: deque[SessionMessage | Refusal] = deque()
        self._eof = False
        self.stopped_by: int | None = None
        """The signal on which :meth:`stop` was called, if it was."""

    def stop(self, signum: int) -> None:
        """End the stream now, as if stdin had closed (on ``signum``); lines not yet read are left."""
        if self.stopped_by is None:
            self.stopped_by = signum
            self._eof = True
            self._read.clear()
            self._source.stop()

    async def receive(self) -> SessionMessage:
        while True:
            while not self._read:
                if self._eof:
                    raise anyio.EndOfStream
                chunk = await self._source.read()
                if self.stopped_by is None:
                    self._read.extend(self._lines.feed(chunk) if chunk else self._lines.end())
                    self._eof = not chunk
            outcome = self._read.popleft()
            if isinstance(outcome, SessionMessage):
                return outcome
            await self._refuse(outcome)

    async def _refuse(self, refusal: Refusal) -> None:
        logger.warning(refusal.log_line())
        for reply in refusal.replies():
            try:
                await self._out.send(reply)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class StdoutMessages(_Stream):
    """The write stream: each message as one line of JSON on stdout."""

    def __init__(self, sink: _Output) -> None:
        self._sink = sink
        self._closed = False

    async def send(self, item: SessionMessage) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        await self._sink.write(line.encode() + b"\n")

    async def aclose(self) -> None:
        self._closed = True


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[StdinMessages, StdoutMessages]]:
    """The stdio transport: the SDK server's read and write streams over this process's stdin and stdout.

    While it runs, descriptors 0 and 1 point at ``/dev/null`` and stderr, so a stray ``print`` or
    child process cannot corrupt the protocol; both (and their blocking mode) are restored after,
    once what was written has reached stdout.
    """
    sys.stdout.flush()
    blocking = os.get_blocking(0), os.get_blocking(1)
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    source, sink = _Input(wire_in), _Output(wire_out)
    try:
        await source.open()
        await sink.open()
        out = StdoutMessages(sink)
        yield StdinMessages(source, out), out
    finally:
        try:
            await sink.close()
        finally:
            source.close()
            for fd, saved, was_blocking in ((0, saved_in, blocking[0]), (1, saved_out, blocking[1])):
                os.dup2(saved, fd)
                os.close(saved)
                os.set_blocking(fd, was_blocking)  # the pipe transports made them non-blocking
