"""``jupyter-think mcp`` driven by the official ``mcp`` client over stdio, as an agent host would.

One server per module (each start costs about a second); tests share its connection, so each
assertion is about the change its own calls make.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from jupyter_think import SequentialThinkingTool, SessionManager

SCRIPT = Path(sys.executable).with_name("jupyter-think")


def initialize_request(request_id: int, client: str) -> dict[str, Any]:
    """A raw JSON-RPC ``initialize`` request, for tests that speak to the server without the SDK."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": client, "version": "1"},
        },
    }


def server_params(store: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=str(SCRIPT), args=["mcp", "--dir", str(store), *extra])


@asynccontextmanager
async def connect(store: Path, *extra: str) -> AsyncIterator[ClientSession]:
    """An initialized client session with a ``jupyter-think mcp --dir store`` it started."""
    async with (
        stdio_client(server_params(store, *extra)) as (read_stream, write_stream),
        ClientSession(read_stream, write_stream) as session,
    ):
        await session.initialize()
        yield session


@dataclass
class Agent:
    """A connected client: ``think(**arguments)`` calls the tool and returns the result."""

    portal: BlockingPortal
    session: ClientSession
    store: Path

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.portal.call(self.session.call_tool, name, arguments)

    def think(self, **arguments: Any) -> Any:
        return self.call("sequentialthinking", arguments)

    def step(self, number: int, total: int = 3, more: bool = True, **extra: Any) -> dict[str, Any]:
        result = self.think(
            thought=f"thought {number}",
            thoughtNumber=number,
            totalThoughts=total,
            nextThoughtNeeded=more,
            **extra,
        )
        assert not result.is_error, result.content
        return result.structured_content


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    store = tmp_path_factory.mktemp("mcp") / "store"
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(connect(store)) as session:
        yield Agent(portal, session, store)


def stored_in_another_process(store: Path) -> dict[str, list[str]]:
    """Session id -> thought texts, as a fresh SessionManager in a separate Python process sees them."""
    code = textwrap.dedent(
        """
        import json, sys
        from jupyter_think import SessionManager
        with SessionManager(sys.argv[1]) as manager:
            print(json.dumps({sid: [t.thought for t in manager.session(sid).thoughts]
                              for sid in manager.sessions()}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(store)], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- handshake and tool listing -----------------------------------------------------------------------


def test_initialize_names_the_server_and_offers_tools(agent: Agent) -> None:
    assert agent.session.server_info is not None
    assert agent.session.server_info.name == "jupyter-think"
    assert agent.session.server_capabilities is not None
    assert agent.session.server_capabilities.tools is not None


def test_lists_the_sequentialthinking_tool_with_the_agent_tools_schema(agent: Agent) -> None:
    listing = agent.portal.call(agent.session.list_tools)
    reference = SequentialThinkingTool(SessionManager(persist=False))
    assert [tool.name for tool in listing.tools] == ["sequentialthinking"]
    tool = listing.tools[0]
    assert tool.input_schema == reference.input_schema
    assert tool.output_schema == reference.output_schema
    assert tool.description == reference.description
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is False and tool.annotations.idempotent_hint is False


# --- reference semantics -------------------------------------------------------------------------------


def test_each_call_adds_one_to_the_history(agent: Agent) -> None:
    first = agent.step(1)
    second = agent.step(2)
    again = agent.step(2)  # the same number again still grows the history, as in the reference
    assert second["thoughtHistoryLength"] == first["thoughtHistoryLength"] + 1
    assert again["thoughtHistoryLength"] == second["thoughtHistoryLength"] + 1


def test_result_text_is_the_structured_content_as_json(agent: Agent) -> None:
    result = agent.think(
        thought="text and structure", thoughtNumber=3, totalThoughts=3, nextThoughtNeeded=True
    )
    assert result.is_error is False
    assert json.loads(result.content[0].text) == result.structured_content
    assert set(result.structured_content) >= {
        "thoughtNumber",
        "totalThoughts",
        "nextThoughtNeeded",
        "branches",
        "thoughtHistoryLength",
        "sessionId",
    }


def test_total_thoughts_is_raised_to_the_thought_number(agent: Agent) -> None:
    result = agent.step(7, total=3)
    assert result["thoughtNumber"] == 7 and result["totalThoughts"] == 7


def test_a_branch_needs_both_branch_fields(agent: Agent) -> None:
    only_id = agent.step(4, branchId="only-id")
    only_from = agent.step(5, branchFromThought=2)
    both = agent.step(6, branchFromThought=2, branchId="alt-a")
    assert "only-id" not in only_id["branches"]
    assert only_from["branches"] == only_id["branches"]
    assert both["branches"] == [*only_id["branches"], "alt-a"]


def test_references_to_thoughts_not_recorded_are_accepted(agent: Agent) -> None:
    revision = agent.step(8, isRevision=True, revisesThought=99)
    branch = agent.step(9, branchFromThought=77, branchId="from-nowhere")
    assert revision["thoughtNumber"] == 8
    assert "from-nowhere" in branch["branches"]


def test_numbers_and_booleans_given_as_strings_are_coerced(agent: Agent) -> None:
    result = agent.think(thought="strings", thoughtNumber="10", totalThoughts="2", nextThoughtNeeded="true")
    assert result.is_error is False
    assert result.structured_content["thoughtNumber"] == 10
    assert result.structured_content["totalThoughts"] == 10
    assert result.structured_content["nextThoughtNeeded"] is True


def test_bad_input_is_an_error_result_and_the_server_keeps_serving(agent: Agent) -> None:
    missing = agent.think(thought="no number", totalThoughts=2, nextThoughtNeeded=True)
    bad_type = agent.think(thought="x", thoughtNumber="three", totalThoughts=3, nextThoughtNeeded=True)
    bad_branch = agent.think(
        thought="x",
        thoughtNumber=1,
        totalThoughts=3,
        nextThoughtNeeded=True,
        branchFromThought=1,
        branchId="../escape",
    )
    for result, field in ((missing, "thoughtNumber"), (bad_type, "thoughtNumber"), (bad_branch, "branchId")):
        assert result.is_error is True
        assert field in result.content[0].text
    after = agent.step(11)
    assert after["thoughtNumber"] == 11


def test_unknown_tool_is_an_error_result(agent: Agent) -> None:
    result = agent.call("no-such-tool", {"thought": "x"})
    assert result.is_error is True
    assert "sequentialthinking" in result.content[0].text


def test_a_new_chain_after_a_conclusion_goes_to_a_new_session(agent: Agent) -> None:
    concluded = agent.step(12, more=False)
    fresh = agent.step(1)
    assert fresh["sessionId"] != concluded["sessionId"]
    assert fresh["thoughtHistoryLength"] == 1
    assert fresh["sessionId"].startswith("mcp-")


# --- the store ----------------------------------------------------------------------------------------


def test_thoughts_are_on_disk_for_a_manager_in_another_process(agent: Agent) -> None:
    marker = agent.think(
        thought="visible from outside", thoughtNumber=2, totalThoughts=3, nextThoughtNeeded=True
    )
    session_id = marker.structured_content["sessionId"]
    length = marker.structured_content["thoughtHistoryLength"]
    deadline = time.monotonic() + 10  # group commit (the default): on disk within flush_interval, 0.2 s
    while True:
        stored = stored_in_another_process(agent.store)
        if stored.get(session_id, [""])[-1] == "visible from outside":
            break
        assert time.monotonic() < deadline, stored
        time.sleep(0.1)
    assert len(stored[session_id]) == length
    first_session = [sid for sid in stored if sid != session_id]
    assert len(first_session) == 1 and "thought 12" in stored[first_session[0]]


def test_a_second_server_on_the_same_store_writes_its_own_session(agent: Agent) -> None:
    async def second() -> str:
        async with connect(agent.store) as other:
            result = await other.call_tool(
                "sequentialthinking",
                {
                    "thought": "second agent",
                    "thoughtNumber": 1,
                    "totalThoughts": 1,
                    "nextThoughtNeeded": False,
                },
            )
            return result.structured_content["sessionId"]

    mine = agent.step(3)["sessionId"]
    theirs = anyio.run(second)
    assert theirs != mine
    assert stored_in_another_process(agent.store)[theirs] == ["second agent"]


def test_a_manager_watching_the_named_session_sees_the_agent_think_live(tmp_path: Path) -> None:
    store = tmp_path / "store"

    async def agent_run() -> None:
        async with connect(store, "--session", "review") as session:
            for number in (1, 2):
                await session.call_tool(
                    "sequentialthinking",
                    {
                        "thought": f"review {number}",
                        "thoughtNumber": number,
                        "totalThoughts": 2,
                        "nextThoughtNeeded": number < 2,
                    },
                )

    with SessionManager(store) as notebook:  # what a notebook with `%session review` open holds
        watched = notebook.session("review")
        anyio.run(agent_run)
        deadline = time.monotonic() + 15
        while len(watched) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [t.thought for t in watched.thoughts] == ["review 1", "review 2"]
        assert watched.status == "complete"
    assert stored_in_another_process(store) == {"review": ["review 1", "review 2"]}


def test_the_server_survives_bad_lines_and_exits_cleanly_when_stdin_closes(tmp_path: Path) -> None:
    def send(message: dict[str, Any]) -> None:
        assert server.stdin is not None
        server.stdin.write(json.dumps(message) + "\n")
        server.stdin.flush()

    def answer() -> dict[str, Any]:
        assert server.stdout is not None
        return json.loads(server.stdout.readline())

    server = subprocess.Popen(
        [str(SCRIPT), "mcp", "--dir", str(tmp_path / "store"), "--session", "raw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        send(initialize_request(1, "raw"))
        assert answer()["result"]["serverInfo"]["name"] == "jupyter-think"
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "sequentialthinking",
                    "arguments": {
                        "thought": "raw",
                        "thoughtNumber": 1,
                        "totalThoughts": 1,
                        "nextThoughtNeeded": False,
                    },
                },
            }
        )
        reply = answer()
        assert reply["id"] == 2 and reply["result"]["structuredContent"]["thoughtHistoryLength"] == 1
        send({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"})
        assert answer()["error"]["code"] == -32601  # a protocol error answered, the server still up
        assert server.stdin is not None
        server.stdin.write("{not json\n" + "x" * (17 * 1024 * 1024) + "\n")  # malformed, then oversized
        deep = "[" * 100_000 + "]" * 100_000  # deeper than any JSON parser recurses
        server.stdin.write(
            '{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "sequentialthinking", '
            f'"arguments": {deep}}}}}\n'
        )
        send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        replies = [answer()]
        while "id" not in replies[-1] or replies[-1]["id"] is None:  # the parse error has no id
            replies.append(answer())
        assert replies[-1] == {"jsonrpc": "2.0", "id": 4, "result": {}}
        server.stdin.close()  # type: ignore[union-attr]
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert stored_in_another_process(tmp_path / "store") == {"raw": ["raw"]}


def test_calls_after_the_handshake_get_the_same_answers_as_through_the_sdk(tmp_path: Path) -> None:
    """A call before ``notifications/initialized`` goes through the SDK's dispatcher; after it, plain
    calls are answered by the read loop. Both must answer alike, for results and for errors."""
    server = subprocess.Popen(
        [str(SCRIPT), "mcp", "--dir", str(tmp_path / "store"), "--session", "twice"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask(message: dict[str, Any]) -> dict[str, Any]:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        server.stdin.flush()
        return json.loads(server.stdout.readline()) if "id" in message else {}

    def call(request_id: object, arguments: object, name: str = "sequentialthinking") -> dict[str, Any]:
        params = {"name": name, "arguments": arguments}
        return ask({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})

    cases: list[tuple[object, str]] = [
        (
            {
                "thought": 'é ☃ \u2028 "quoted"\n',
                "thoughtNumber": 1,
                "totalThoughts": 2,
                "nextThoughtNeeded": True,
            },
            "sequentialthinking",
        ),
        ({"thought": "same", "thoughtNumber": 1}, "sequentialthinking"),  # invalid: an error result
        ({"thought": "x"}, "no_such_tool"),
    ]
    try:
        assert ask(initialize_request(0, "raw"))["result"]
        before = [call(f"sdk-{n}", arguments, name) for n, (arguments, name) in enumerate(cases)]
        ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
        after = [call(f"fast-{n}", arguments, name) for n, (arguments, name) in enumerate(cases)]
        server.stdin.close()  # type: ignore[union-attr]
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert before[0]["result"]["structuredContent"]["thoughtHistoryLength"] == 1
    assert after[0]["result"]["structuredContent"]["thoughtHistoryLength"] == 2  # the failed calls add none
    for sdk, fast in zip(before, after):
        assert sdk["id"].startswith("sdk-") and fast["id"].startswith("fast-")
        if "structuredContent" in sdk["result"]:  # the history grew and the second one repeats the first
            for answer in (sdk, fast):
                result = answer["result"]
                result["content"] = [json.loads(result["content"][0]["text"])]
                for shown in (result["structuredContent"], result["content"][0]):
                    shown.update(thoughtHistoryLength=0, repeated=False, warning="")
        assert {**sdk, "id": None} == {**fast, "id": None}
    first_thought = cases[0][0]["thought"]  # type: ignore[index]
    assert stored_in_another_process(tmp_path / "store") == {"twice": [first_thought] * 2}


def test_requests_from_a_file_are_answered_and_async_thoughts_are_flushed_at_exit(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "\n".join(
            json.dumps(message)
            for message in [
                initialize_request(1, "file"),
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "tools/call",
                    "params": {
                        "name": "sequentialthinking",
                        "arguments": {
                            "thought": "from a file",
                            "thoughtNumber": 1,
                            "totalThoughts": 1,
                            "nextThoughtNeeded": False,
                        },
                    },
                },
            ]
        )
        + "\n"
    )
    store = tmp_path / "store"
    with requests.open() as stdin:
        done = subprocess.run(
            [str(SCRIPT), "mcp", "--dir", str(store), "--session", "filed", "--durability", "async"],
            stdin=stdin,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    assert replies[0]["id"] == 1 and replies[0]["result"]["serverInfo"]["name"] == "jupyter-think"
    assert stored_in_another_process(store) == {"filed": ["from a file"]}


def test_an_invalid_session_option_exits_with_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SCRIPT), "mcp", "--dir", str(tmp_path), "--session", "../x"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "invalid session id" in done.stderr and done.stdout == ""
