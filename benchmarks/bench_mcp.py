"""Benchmark: tool calls per second over MCP stdio, jupyter-think against the reference server.

Runs the same client workload (``--calls`` tool calls, default 2 000, made one after another with
the official ``mcp`` Python client over stdio) against

- ``jupyter-think mcp --dir <tmp>``: every thought durable on disk before its result returns,
- the same with ``--durability async`` (written by the persistence loop within 0.2 s),
- the same server with a memory-only manager (the protocol's cost alone), and
- the reference server, npm package ``@modelcontextprotocol/server-sequential-thinking`` run with
  node (installed on first use into ``benchmarks/.node`` with ``npm install --prefix``; it keeps
  thoughts in memory only; ``DISABLE_THOUGHT_LOGGING=true`` stops its stderr log),

and prints calls per second for each and the ratios to the reference. Afterwards it checks that every thought the
jupyter-think server acknowledged is in its store. Then it breaks one jupyter-think call down
in-process (no MCP): the tool on a memory-only manager, the tool on a durable store, the store
without its fsyncs, and the disk's fdatasync latency, so a shortfall can be attributed.

    .venv/bin/python benchmarks/bench_mcp.py [--calls 2000] [--rounds 3] [--chain 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
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


async def measure(params: StdioServerParameters, items: list[dict[str, Any]]) -> tuple[float, int]:
    """Calls per second of ``items`` sent one after another; also the number of error results."""
    errors = 0
    async with (
        stdio_client(params) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()
        assert [t.name for t in tools.tools] == ["sequentialthinking"], tools
        for arguments in items[:20]:  # warm-up, not timed
            await session.call_tool("sequentialthinking", arguments)
        start = time.perf_counter()
        for arguments in items:
            result = await session.call_tool("sequentialthinking", arguments)
            errors += bool(result.is_error)
        elapsed = time.perf_counter() - start
    return len(items) / elapsed, errors


def ours(store: Path, durability: str = "sync") -> StdioServerParameters:
    script = Path(sys.executable).with_name("jupyter-think")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_think.cli"]
    args = [*command[1:], "mcp", "--dir", str(store), "--durability", durability]
    return StdioServerParameters(command=command[0], args=args)


def ours_in_memory() -> StdioServerParameters:
    """The same server with a memory-only manager: the protocol's cost without the store's."""
    code = "from jupyter_think.mcp_server import run; run(persist=False)"
    return StdioServerParameters(command=sys.executable, args=["-c", code])


def reference(entry: Path) -> StdioServerParameters:
    node = shutil.which("node") or "node"
    return StdioServerParameters(command=node, args=[str(entry)], env={"DISABLE_THOUGHT_LOGGING": "true"})


def stored_thoughts(store: Path) -> int:
    """Thoughts on disk in ``store``, counted by a fresh manager in this process."""
    from jupyter_think import SessionManager

    with SessionManager(store) as manager:
        return sum(len(manager.session(session_id)) for session_id in manager.sessions())


def breakdown(items: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds per call of the parts of one jupyter-think call, measured in this process."""
    from jupyter_think import SessionManager
    from jupyter_think.mcp_server import connection_tool

    def per_call(**settings: Any) -> float:
        with (
            tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp,
            SessionManager(Path(tmp) / "s", **settings) as manager,
        ):
            tool = connection_tool(manager)
            start = time.perf_counter()
            for arguments in items:
                tool.call(arguments)
            return (time.perf_counter() - start) / len(items) * 1e6

    figures = {
        "tool, memory only": per_call(persist=False),
        "tool + store, durable (sync)": per_call(durability="sync"),
    }
    real_sync, real_fsync = os.fdatasync, os.fsync
    os.fdatasync = os.fsync = lambda fd: None  # type: ignore[assignment]
    try:
        figures["tool + store, fsync skipped"] = per_call(durability="sync")
    finally:
        os.fdatasync, os.fsync = real_sync, real_fsync
    with tempfile.TemporaryFile(dir=HERE) as probe:
        start = time.perf_counter()
        for _ in range(200):
            probe.write(b"x" * 400 + b"\n")
            probe.flush()
            os.fdatasync(probe.fileno())
        figures["one append + fdatasync on this disk"] = (time.perf_counter() - start) / 200 * 1e6
    return figures


async def main_async(calls: int, rounds: int, chain: int) -> None:
    items = workload(calls, chain)
    entry = ensure_reference()
    results: dict[str, list[float]] = {"sync": [], "async": [], "memory": [], "reference": []}
    for round_number in range(1, rounds + 1):
        rate, errors = await measure(ours_in_memory(), items)
        assert errors == 0, f"{errors} error results from jupyter-think (memory only)"
        results["memory"].append(rate)
        for durability in ("sync", "async"):
            with tempfile.TemporaryDirectory(prefix="bench-mcp-") as tmp:
                store = Path(tmp) / "sessions"
                rate, errors = await measure(ours(store, durability), items)
                assert errors == 0, f"{errors} error results from jupyter-think"
                on_disk = await anyio.to_thread.run_sync(stored_thoughts, store)
                assert on_disk == calls + 20, f"{on_disk} thoughts on disk, expected {calls + 20}"
                results[durability].append(rate)
        rate_ref, errors = await measure(reference(entry), items)
        assert errors == 0, f"{errors} error results from the reference server"
        results["reference"].append(rate_ref)
        print(
            f"round {round_number}: jupyter-think sync {results['sync'][-1]:5.0f}, async {results['async'][-1]:5.0f},"
            f" memory only {results['memory'][-1]:5.0f}   reference {rate_ref:5.0f} calls/s",
            flush=True,
        )
    best = {name: max(rates) for name, rates in results.items()}
    print(
        f"\n{calls} calls ({calls // chain} chains of {chain}) over stdio with the official Python client, best of {rounds}:"
    )
    print(
        f"  jupyter-think mcp, durable (sync):  {best['sync']:6.0f} calls/s  {1e6 / best['sync']:6.0f} us/call"
    )
    print(
        f"  jupyter-think mcp --durability async: {best['async']:4.0f} calls/s  {1e6 / best['async']:6.0f} us/call"
    )
    print(
        f"  jupyter-think mcp, memory only:     {best['memory']:6.0f} calls/s  {1e6 / best['memory']:6.0f} us/call"
    )
    print(
        f"  reference server (node, memory):    {best['reference']:6.0f} calls/s  {1e6 / best['reference']:6.0f} us/call"
    )
    print(
        f"  ratio sync / reference:  {best['sync'] / best['reference']:.2f}   "
        f"async / reference:  {best['async'] / best['reference']:.2f}"
    )
    print(f"  every thought acknowledged was verified on disk afterwards ({calls + 20} per run)")
    print("\nOne jupyter-think call in-process, without MCP (us per call):")
    for name, micros in (await anyio.to_thread.run_sync(breakdown, items)).items():
        print(f"  {name:<38} {micros:7.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--chain", type=int, default=CHAIN, help="thoughts per chain (each chain is a session)"
    )
    args = parser.parse_args()
    anyio.run(main_async, args.calls, args.rounds, args.chain)


if __name__ == "__main__":
    main()
