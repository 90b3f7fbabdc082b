"""Benchmark: tool calls per second over MCP stdio, jupyter-think against the reference server.

Runs the same client workload (``--calls`` tool calls, default 2 000, made one after another with
the official ``mcp`` Python client over stdio) against

- ``jupyter-think mcp --dir <tmp>``, its default durability: group commit (``async``). Each thought
  is acknowledged at once and committed to the SQLite store by the persistence loop within
  ``flush_interval`` (0.2 s), many thoughts per transaction; everything is flushed when the server exits,
- ``jupyter-think mcp --dir <tmp> --durability sync``: each thought committed before its result returns,
- the same server with a memory-only manager (the protocol's cost alone),
- that memory-only server on the SDK's own ``mcp.server.stdio.stdio_server`` instead of
  jupyter-think's stdio transport (what the transport saves: the SDK's moves every line through a
  worker thread), and
- the reference server, npm package ``@modelcontextprotocol/server-sequential-thinking`` run with
  node (installed on first use into ``benchmarks/.node`` with ``npm install --prefix``; it keeps
  thoughts in memory only; ``DISABLE_THOUGHT_LOGGING=true`` stops its stderr log),

all in each round, side by side: all running at once, the calls interleaved in slices of 50, so a
burst of load on a shared machine hits each alike. It prints calls per second for each (median over
the rounds) and the ratios to the reference (the median of each round's ratio, steadier than the
rates on a shared machine); the target for the default server is at least x0.80. For each
jupyter-think server with a store it counts, from a fresh manager in this process, the thoughts on
disk 0.3 s after the last reply while the server still runs (printed), and again after the server
has exited: all of them (warm-up included) must be there. Then it breaks one jupyter-think call
down in-process (no MCP): the tool on a memory-only manager, on a group-committed store (until the
last thought is committed), on a durable-before-reply store, and the disk's fdatasync latency, so a
shortfall can be attributed.

    .venv/bin/python benchmarks/bench_mcp.py [--calls 2000] [--rounds 3] [--chain 10] [--tiny]

``--tiny`` is a smoke run of a few seconds: 60 calls, one round, and the reference server only when
it is installed already (nothing is fetched); without it the ratios are to the memory-only server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
NODE_PREFIX = HERE / ".node"
REFERENCE_PACKAGE = "@modelcontextprotocol/server-sequential-thinking"
REFERENCE_ENTRY = (
    NODE_PREFIX
    / "node_modules"
    / "@modelcontextprotocol"
    / "server-sequential-thinking"
    / "dist"
    / "index.js"
)
FLUSH_INTERVAL = 0.2
"""jupyter-think's default ``flush_interval``: group-committed thoughts are on disk within it."""
TARGET = 0.8
"""Calls per second of ``jupyter-think mcp`` (default durability) wanted, as a share of the reference's."""
SLICE = 50
"""Calls sent to one server before the next server's turn (see :func:`measure_side_by_side`)."""
CHAIN = 10
"""Thoughts per chain in the workload: thought 1..10, the last one concludes (next chain starts at 1)."""


def workload(calls: int, chain: int = CHAIN) -> list[dict[str, Any]]:
    """The tool arguments, in order: chains of ``chain`` thoughts with a revision and a branch each.

    Each chain is a new session for jupyter-think (a thought 1 after a concluded chain).

    Example:
        >>> [w["thoughtNumber"] for w in workload(12)]
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]
    """
    items = []
    for index in range(calls):
        number = index % chain + 1
        arguments: dict[str, Any] = {
            "thought": f"Step {number} of chain {index // chain}: weigh the options and note what follows. "
            * 3,
            "thoughtNumber": number,
            "totalThoughts": chain,
            "nextThoughtNeeded": number < chain,
        }
        if number == 4:
            arguments.update(isRevision=True, revisesThought=2)
        if number in (6, 7):
            arguments.update(branchFromThought=5, branchId="alternative")
        items.append(arguments)
    return items


def ensure_reference() -> Path:
    """Install the reference server into ``benchmarks/.node`` unless it is there; return its entry point."""
    if not REFERENCE_ENTRY.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install the reference server")
        print(f"installing {REFERENCE_PACKAGE} into {NODE_PREFIX} ...", flush=True)
        subprocess.run(
            [npm, "install", "--silent", "--prefix", str(NODE_PREFIX), REFERENCE_PACKAGE], check=True
        )
    return REFERENCE_ENTRY


@dataclass
class Client:
    """One server under test, connected: the time its timed calls took, and its error results."""

    session: ClientSession
    elapsed: float = 0.0
    errors: int = 0

    async def call(self, items: list[dict[str, Any]], timed: bool = True) -> None:
        start = time.perf_counter()
        for arguments in items:
            result = await self.session.call_tool("sequentialthinking", arguments)
            self.errors += bool(result.is_error)
        if timed:
            self.elapsed += time.perf_counter() - start


async def connect(stack: AsyncExitStack, params: StdioServerParameters) -> Client:
    """Start the server, initialize a client session with it (closed with ``stack``)."""
    read_stream, write_stream = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read_stream, write_stream))
    await session.initialize()
    tools = await session.list_tools()
    assert [t.name for t in tools.tools] == ["sequentialthinking"], tools
    return Client(session)


async def measure_side_by_side(
    servers: dict[str, StdioServerParameters],
    items: list[dict[str, Any]],
    before_close: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Client]:
    """Each server's client after ``items``, sent one after another to each, interleaved.

    All servers run at once; the calls go to them in turns of :data:`SLICE` calls (the order
    rotating), so a burst of load on this shared machine hits every server alike. 20 calls of
    warm-up first, not timed. ``before_close`` runs after the last call, while the servers still run.
    """
    async with AsyncExitStack() as stack:
        clients = {name: await connect(stack, params) for name, params in servers.items()}
        for client in clients.values():
            await client.call(items[:20], timed=False)
        order = list(clients.values())
        for start in range(0, len(items), SLICE):
            for client in order:
                await client.call(items[start : start + SLICE])
            order.append(order.pop(0))
        if before_close is not None:
            await before_close()
    return clients


def ours(store: Path, durability: str | None = None) -> StdioServerParameters:
    """``jupyter-think mcp --dir store``, with ``--durability`` when given (else the default)."""
    script = Path(sys.executable).with_name("jupyter-think")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_think.cli"]
    args = [*command[1:], "mcp", "--dir", str(store)]
    if durability is not None:
        args += ["--durability", durability]
    return StdioServerParameters(command=command[0], args=args)


def default_durability() -> str:
    """The ``--durability`` default of ``jupyter-think mcp``, read from its argument parser."""
    from jupyter_think.cli import build_parser

    return build_parser().parse_args(["mcp"]).durability


def ours_in_memory() -> StdioServerParameters:
    """The same server with a memory-only manager: the protocol's cost without the store's."""
    code = "from jupyter_think.agent.mcp_server import run; run(persist=False)"
    return StdioServerParameters(command=sys.executable, args=["-c", code])


SDK_TRANSPORT_SERVER = """
import anyio
from mcp.server.stdio import stdio_server
from jupyter_think import SessionManager
from jupyter_think.agent.mcp_server import build_server, connection_tool

async def main():
    with SessionManager(persist=False) as manager:
        server = build_server(connection_tool(manager))
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

anyio.run(main)
"""


def ours_on_sdk_stdio() -> StdioServerParameters:
    """The memory-only server on the SDK's ``stdio_server`` (a worker thread per line read or written)."""
    return StdioServerParameters(command=sys.executable, args=["-c", SDK_TRANSPORT_SERVER])


def reference(entry: Path) -> StdioServerParameters:
    node = shutil.which("node") or "node"
    return StdioServerParameters(command=node, args=[str(entry)], env={"DISABLE_THOUGHT_LOGGING": "true"})


def stored_thoughts(store: Path) -> int:
    """Thoughts on disk in ``store``, counted by a fresh manager in this process."""
    from jupyter_think import SessionManager

    with SessionManager(store) as manager:
        return sum(len(manager.session(session_id)) for session_id in manager.sessions())


def breakdown(items: list[dict[str, Any]], probes: int = 200) -> dict[str, float]:
    """Microseconds per call of the parts of one jupyter-think call, measured in this process."""
    from jupyter_think import SessionManager
    from jupyter_think.agent.mcp_server import connection_tool

    def per_call(**settings: Any) -> float:
        with (
            tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp,
            SessionManager(Path(tmp) / "s", **settings) as manager,
        ):
            tool = connection_tool(manager)
            start = time.perf_counter()
            for arguments in items:
                tool.call(arguments)
            if settings.get("persist", True):
                manager.flush(timeout=60)  # group commit: until the last thought is committed
            return (time.perf_counter() - start) / len(items) * 1e6

    figures = {
        "tool, memory only": per_call(persist=False),
        "tool + store, group commit, to last commit": per_call(durability="async"),
        "tool + store, committed before reply": per_call(durability="sync"),
    }
    with tempfile.TemporaryFile(dir=HERE) as probe:
        start = time.perf_counter()
        for _ in range(probes):
            probe.write(b"x" * 400 + b"\n")
            probe.flush()
            os.fdatasync(probe.fileno())
        figures["one append + fdatasync on this disk"] = (time.perf_counter() - start) / probes * 1e6
    return figures


LABELS = {
    "group": "jupyter-think mcp, group commit (default)",
    "sync": "jupyter-think mcp --durability sync",
    "memory": "jupyter-think mcp, memory only",
    "sdk-stdio": "the same on the SDK's stdio_server",
    "reference": "reference server (node, memory only)",
}


async def main_async(
    calls: int, rounds: int, chain: int, with_reference: bool = True, probes: int = 200
) -> None:
    items = workload(calls, chain)
    entry = ensure_reference() if with_reference else None
    floor = "reference" if entry is not None else "memory"
    labels = {name: label for name, label in LABELS.items() if entry is not None or name != "reference"}
    default = default_durability()
    from jupyter_think.core.config import ThinkSettings

    assert ThinkSettings().flush_interval == FLUSH_INTERVAL, "FLUSH_INTERVAL is not jupyter-think's default"
    assert default == "async", f"jupyter-think mcp defaults to --durability {default}"
    results: dict[str, list[float]] = {name: [] for name in labels}
    live_counts: dict[str, list[int]] = {"group": [], "sync": []}
    for round_number in range(1, rounds + 1):
        with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
            stores = {"group": Path(tmp) / "group", "sync": Path(tmp) / "sync"}

            async def while_running(stores: dict[str, Path] = stores) -> None:
                await anyio.sleep(FLUSH_INTERVAL + 0.1)  # on disk within flush_interval?
                for name, store in stores.items():
                    live_counts[name].append(await anyio.to_thread.run_sync(stored_thoughts, store))

            servers = {
                "group": ours(stores["group"]),
                "sync": ours(stores["sync"], "sync"),
                "memory": ours_in_memory(),
                "sdk-stdio": ours_on_sdk_stdio(),
            }
            if entry is not None:
                servers["reference"] = reference(entry)
            clients = await measure_side_by_side(servers, items, while_running)
            for name, client in clients.items():
                assert client.errors == 0, f"{client.errors} error results from {LABELS[name]}"
                results[name].append(calls / client.elapsed)
            for name, store in stores.items():  # the servers have exited
                on_disk = await anyio.to_thread.run_sync(stored_thoughts, store)
                assert on_disk == calls + 20, f"{name}: {on_disk} thoughts on disk, expected {calls + 20}"
        print(
            f"round {round_number}: jupyter-think group commit {results['group'][-1]:5.0f},"
            f" sync {results['sync'][-1]:5.0f}, memory only {results['memory'][-1]:5.0f}"
            f" (SDK stdio_server {results['sdk-stdio'][-1]:5.0f})"
            + (f"   reference {results['reference'][-1]:5.0f}" if entry is not None else "")
            + " calls/s",
            flush=True,
        )
    median = {name: statistics.median(rates) for name, rates in results.items()}
    ratios = {
        name: statistics.median(r / ref for r, ref in zip(rates, results[floor], strict=False))
        for name, rates in results.items()
    }
    of = "of the reference" if floor == "reference" else "of memory only (no reference server)"
    print(
        f"\n{calls} calls ({calls // chain} chains of {chain}) over stdio with the official Python client,"
        f" median of {rounds} round(s):"
    )
    for name, label in labels.items():
        print(
            f"  {label:<42} {median[name]:6.0f} calls/s  {1e6 / median[name]:6.0f} us/call   x{ratios[name]:.2f} {of}"
        )
    if entry is None:
        print("\nNo reference server in this run: the target (against the reference) is not judged.")
    verdict = "meets" if ratios["group"] >= TARGET else "MISSES"
    if entry is not None:
        print(
            f"\nDefault of `jupyter-think mcp`: group commit (--durability {default}); it {verdict} the target"
            f" of x{TARGET:.2f} (x{ratios['group']:.2f} of the reference's throughput)."
            " Why it is the default: every thought is"
            f" acknowledged at once and committed within flush_interval ({FLUSH_INTERVAL:g} s), many thoughts per"
            " transaction, and all are flushed when the server exits (stdin closed or SIGTERM); a SIGKILL or power"
            f" loss can lose at most the last {FLUSH_INTERVAL:g} s. --durability sync (a commit before each reply)"
            f" stays available; it waits for the disk on every call (x{ratios['sync']:.2f} of the reference)."
        )
    print(
        f"After every run with a store, all {calls + 20} thoughts sent (warm-up included) were read back"
        f" from disk once the server had exited. Read {FLUSH_INTERVAL + 0.1:g} s after the last reply,"
        f" with the server still running: group commit {min(live_counts['group'])}.."
        f"{max(live_counts['group'])}, sync {min(live_counts['sync'])}..{max(live_counts['sync'])}"
        f" of {calls + 20}."
    )
    print("\nOne jupyter-think call in-process, without MCP (us per call):")
    for name, micros in (await anyio.to_thread.run_sync(breakdown, items, probes)).items():
        print(f"  {name:<42} {micros:7.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--chain", type=int, default=CHAIN, help="thoughts per chain (each chain is a session)"
    )
    parser.add_argument("--tiny", action="store_true", help="60 calls, one round: a smoke run (see above)")
    args = parser.parse_args()
    if args.tiny:
        anyio.run(main_async, 60, 1, args.chain, REFERENCE_ENTRY.exists(), 20)
        return
    anyio.run(main_async, args.calls, args.rounds, args.chain)


if __name__ == "__main__":
    main()
