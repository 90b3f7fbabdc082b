"""Following a PostgreSQL store: ``LISTEN jupyter_think`` on psycopg's async connection, never waiting on
a frozen server.

Every transaction that changes a session sends ``NOTIFY jupyter_think`` (no payload: see
:func:`~.rows.notify`); :func:`notifications` yields as soon as one arrives, so a kernel following a
session hears another machine's commit at once. When no notification came for ``timeout`` seconds it
asks the server for a sign of life (``SELECT 1``, given up after ``timeout``), so a frozen or vanished
server is noticed and the connection made anew. While the server is unreachable it retries every
``interval`` and yields after reconnecting (changes may have been missed meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg

from jupyter_think.store.postgres.schema import CHANNEL
from jupyter_think.store.postgres.watchdog import WATCHDOG


async def notifications(conninfo: str, timeout: float, interval: float) -> AsyncIterator[None]:
    """Yield whenever another connection may have committed (see the module docstring); never ends."""
    while True:
        try:
            aconn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        except psycopg.Error:
            await anyio.sleep(interval)
            continue
        try:
            await _bounded(aconn, f"LISTEN {CHANNEL}", timeout)
            yield  # (re)connected: whatever happened while we were away is checked once
            heard_at = time.monotonic()
            while True:
                heard = False
                async for _ in aconn.notifies(timeout=interval, stop_after=1):
                    heard = True
                if heard:
                    heard_at = time.monotonic()
                    yield
                elif time.monotonic() - heard_at >= timeout:
                    await _bounded(aconn, "SELECT 1", timeout)
                    heard_at = time.monotonic()
        except psycopg.Error:
            await anyio.sleep(interval)
        finally:
            with anyio.CancelScope(shield=True):
                await aconn.close()


async def _bounded(aconn: psycopg.AsyncConnection[Any], statement: str, timeout: float) -> None:
    """Run ``statement``; its socket is shut down when the server has not answered within ``timeout``.

    (Shielded: cancelled mid-statement, psycopg would send a cancel request to the server and log
    a warning when that is cut short too; the watchdog ends the wait anyway.)"""
    ticket = WATCHDOG.arm(aconn.pgconn.socket, time.monotonic() + timeout)
    try:
        with anyio.CancelScope(shield=True):
            await aconn.execute(statement)
    finally:
        WATCHDOG.disarm(ticket)
