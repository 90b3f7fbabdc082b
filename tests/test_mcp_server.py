"""``jupyter-think mcp`` as a real subprocess: driven by the official ``mcp`` client over stdio, as an
agent host would, and line by line over raw stdin/stdout, as a broken or hostile client would.

Each group shares one server (each start costs about a second), so each assertion is about the
change its own calls make.
"""

from __future__ import annotations

import json
import re
import signal
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
from mcp_raw import SCRIPT, RawServer, call_line, initialize_request

from jupyter_think import SequentialThinkingTool, SessionManager


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
    deadline = time.monotonic() + 60  # group commit (the default): on disk within flush_interval, 0.2 s
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
        # sync: committed before the answer, so the SDK's 2 s before it stops a server loses nothing
        async with connect(agent.store, "--durability", "sync") as other:
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
        async with connect(store, "--session", "review", "--durability", "sync") as session:
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
        deadline = time.monotonic() + 60
        while len(watched) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [t.thought for t in watched.thoughts] == ["review 1", "review 2"]
        assert watched.status == "complete"
    assert stored_in_another_process(store) == {"review": ["review 1", "review 2"]}


# --- raw lines, as a client that does not use the SDK sends them ----------------------------------------


class _AnyText(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()
"""Equal to any non-empty string (an error message whose wording the test leaves open)."""

GOOD_ARGUMENTS = '{"thought": "fine", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": true}'


@dataclass
class BadLine:
    """A line the server must refuse: the errors it must answer (code, id), and what its log line says."""

    line: bytes
    replies: list[tuple[int, object]]
    logged: str


BAD_LINES: dict[str, BadLine] = {
    "malformed JSON": BadLine(b"{not json", [(-32700, None)], "not JSON"),
    "a request cut short": BadLine(call_line(21, '{"thought": "cut sh'), [(-32700, 21)], "not JSON"),
    "a JSON number": BadLine(b"42", [(-32600, None)], "a JSON number is not"),
    "a JSON string": BadLine(b'"tools/call"', [(-32600, None)], "a JSON string is not"),
    "JSON null": BadLine(b"null", [(-32600, None)], "JSON null is not"),
    "an empty object": BadLine(b"{}", [(-32600, None)], 'jsonrpc must be "2.0"'),
    "an empty batch": BadLine(b"[]", [(-32600, None)], "an empty batch"),
    "a batch of requests": BadLine(
        b'[{"jsonrpc": "2.0", "id": 31, "method": "ping"}, ' + call_line(32, GOOD_ARGUMENTS) + b"]",
        [(-32600, 31), (-32600, 32)],
        "batches are not supported",
    ),
    "jsonrpc 1.0": BadLine(
        b'{"jsonrpc": "1.0", "id": 41, "method": "ping"}', [(-32600, 41)], 'jsonrpc must be "2.0"'
    ),
    "no jsonrpc member": BadLine(
        call_line(42, GOOD_ARGUMENTS).replace(b'"jsonrpc": "2.0", ', b""), [(-32600, 42)], "jsonrpc"
    ),
    "an id that is an object": BadLine(
        b'{"jsonrpc": "2.0", "id": {"n": 1}, "method": "ping"}',
        [(-32600, None)],
        "id must be a string or an integer",
    ),
    "an id that is null": BadLine(
        call_line(None, GOOD_ARGUMENTS), [(-32600, None)], "id must be a string or an integer"
    ),
    "an id that is a float": BadLine(
        b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}',
        [(-32600, None)],
        "id must be a string or an integer",
    ),
    "list params": BadLine(
        b'{"jsonrpc": "2.0", "id": 51, "method": "tools/call", "params": ["sequentialthinking", {}]}',
        [(-32602, 51)],
        "params must be an object",
    ),
    "invalid UTF-8": BadLine(
        call_line(
            61, '{"thought": "caf\xe9", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": true}'
        ).replace("\xe9".encode(), b"\xe9"),
        [(-32700, 61)],
        "not valid UTF-8",
    ),
    "invalid UTF-8 before the id": BadLine(
        b'{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "sequentialthinking", '
        b'"arguments": {"thought": "caf\xe9 \xff", "thoughtNumber": 1}}, "id": 62}',
        [(-32700, 62)],
        "not valid UTF-8",
    ),
    "a byte order mark": BadLine(
        b"\xef\xbb\xbf" + call_line(63, GOOD_ARGUMENTS), [(-32700, 63)], "starts with a byte order mark"
    ),
    "a byte order mark and invalid UTF-8": BadLine(
        b"\xef\xbb\xbf"
        + call_line("bom-64", GOOD_ARGUMENTS.replace("fine", "caf\xe9")).replace("\xe9".encode(), b"\xe9"),
        [(-32700, "bom-64")],
        "not valid UTF-8",
    ),
    "a number too long to read": BadLine(
        b'{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "sequentialthinking", '
        b'"arguments": {"thoughtNumber": ' + b"9" * 5000 + b'}}, "id": 65}',
        [(-32700, 65)],
        "a number too long to read",
    ),
    "a 50 MB line": BadLine(
        call_line(71, '{"thought": "' + "x" * (50 * 1024 * 1024) + '", "thoughtNumber": 1}'),
        [(-32600, 71)],
        "longer than the limit",
    ),
    "a lone surrogate": BadLine(
        call_line(
            81, '{"thought": "\\ud800", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": true}'
        ),
        [(-32700, 81)],
        "lone UTF-16 surrogate",
    ),
    "JSON nested too deeply": BadLine(
        call_line(91, "[" * 100_000 + "]" * 100_000), [(-32700, 91)], "nested too deeply"
    ),
    "a response nobody asked for": BadLine(
        b'{"jsonrpc": "2.0", "id": 7, "result": {}}', [], "a response to id 7, which this server never sent"
    ),
    "an unknown notification": BadLine(
        b'{"jsonrpc": "2.0", "method": "notifications/no_such_thing"}', [], "is not an MCP notification"
    ),
    "a notification with malformed params": BadLine(  # refused by the SDK, which logs it
        b'{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {"n": 1}}}',
        [],
        "dropped 'notifications/cancelled': malformed params",
    ),
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    server = RawServer(tmp_path_factory.mktemp("mcp-raw") / "store", "--session", "raw")
    try:
        server.handshake()
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_a_bad_line_is_answered_or_logged_and_the_server_keeps_serving(raw: RawServer, kind: str) -> None:
    bad = BAD_LINES[kind]
    raw.send_line(bad.line)
    for code, request_id in bad.replies:
        reply = raw.reply()
        assert reply["jsonrpc"] == "2.0" and reply["id"] == request_id, reply
        assert reply["error"]["code"] == code, reply
        assert reply["error"]["message"], reply
    logged = raw.log_line()
    assert re.fullmatch(r"jupyter-think mcp: (line \d+ )?dropped.+", logged), logged
    assert bad.logged in logged
    raw.good_call()


def test_good_and_bad_lines_in_one_write_are_each_answered(raw: RawServer) -> None:
    ping = b'{"jsonrpc": "2.0", "id": "%s", "method": "ping"}'
    raw.send_line(b"\n".join([ping % b"a", b"{oops", ping % b"b"]))
    replies = [raw.reply() for _ in range(3)]  # in any order: a client matches replies by id
    assert sorted(replies, key=lambda reply: (reply["id"] is None, str(reply["id"]))) == [
        {"jsonrpc": "2.0", "id": "a", "result": {}},
        {"jsonrpc": "2.0", "id": "b", "result": {}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": ANY_TEXT}},
    ]
    assert "dropped: not JSON" in raw.log_line()
    raw.good_call()


def test_a_protocol_error_is_answered_by_the_sdk(raw: RawServer) -> None:
    raw.send({"jsonrpc": "2.0", "id": "m", "method": "no/such/method"})
    assert raw.reply()["error"]["code"] == -32601
    raw.send({"jsonrpc": "2.0", "id": "p", "method": "tools/call", "params": {"name": 5}})
    assert raw.reply()["error"]["code"] == -32602
    raw.good_call()


def test_the_server_exits_cleanly_and_keeps_every_thought_when_stdin_closes(tmp_path: Path) -> None:
    server = RawServer(tmp_path / "store", "--session", "closing")
    try:
        server.handshake()
        server.good_call("first")
        server.send_line(b"{not json")
        assert server.reply()["error"]["code"] == -32700
        server.good_call("second")
        assert server.close() == 0
    finally:
        server.kill()
    assert stored_in_another_process(tmp_path / "store") == {"closing": ["first", "second"]}


def test_sigterm_in_a_burst_of_calls_keeps_every_acknowledged_thought_and_exits_quietly(
    tmp_path: Path,
) -> None:
    server = RawServer(tmp_path / "store", "--session", "terminated")  # group commit, the default
    try:
        server.handshake()
        burst = b"\n".join(
            call_line(number, GOOD_ARGUMENTS.replace('"fine"', f'"thought {number}"'))
            for number in range(200)
        )
        server.send_line(burst)
        first = server.reply()  # the server is busy with the burst
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 128 + signal.SIGTERM
        replies = [first, *server.rest()]
    finally:
        server.kill()
    acknowledged = [f"thought {reply['id']}" for reply in replies if "result" in reply]
    assert acknowledged and all(reply["result"]["isError"] is False for reply in replies)
    stored = stored_in_another_process(tmp_path / "store")
    assert stored == {"terminated": acknowledged}  # all flushed, none recorded without its reply
    assert server.stderr_lines() == []  # no traceback, nothing dropped


def test_thought_text_reaches_the_store_exactly_as_sent(tmp_path: Path) -> None:
    text = 'é ☃ \u2028 "quoted" \\ back\tslash\n😀 \x1b[31m'
    server = RawServer(tmp_path / "store", "--session", "exact")
    try:
        server.handshake()
        server.good_call(text)
        assert server.close() == 0
    finally:
        server.kill()
    assert stored_in_another_process(tmp_path / "store") == {"exact": [text]}


def test_requests_from_a_file_are_answered_into_a_file_and_thoughts_are_flushed_at_exit(
    tmp_path: Path,
) -> None:
    """The event loop cannot watch regular files: a thread reads stdin, stdout is written plainly."""
    call = json.loads(call_line(2, GOOD_ARGUMENTS.replace("fine", "from a file")))
    lines = [
        json.dumps(initialize_request(1, "file")),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": [',  # cut short
        json.dumps(call),  # the last line has no newline
    ]
    requests, replies_file = tmp_path / "requests.jsonl", tmp_path / "replies.jsonl"
    requests.write_text("\n".join(lines))
    store = tmp_path / "store"
    with requests.open() as stdin, replies_file.open("w") as stdout:
        done = subprocess.run(
            [str(SCRIPT), "mcp", "--dir", str(store), "--session", "filed", "--durability", "async"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            check=False,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    replies = {reply["id"]: reply for reply in map(json.loads, replies_file.read_text().splitlines())}
    assert replies[1]["result"]["serverInfo"]["name"] == "jupyter-think"
    assert replies[3]["error"]["code"] == -32700
    assert replies[2]["result"]["structuredContent"]["thoughtHistoryLength"] == 1
    assert "line 3 dropped: not JSON" in done.stderr
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


NEXT_PROCESS = """
import json, sys
from jupyter_think import SessionManager
with SessionManager(store=sys.argv[1]) as manager:
    print(json.dumps([thought.thought for thought in manager.session(sys.argv[2]).thoughts]))
"""


def test_an_async_server_exiting_while_postgres_is_down_keeps_every_acknowledged_thought(
    postgres_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thoughts acknowledged, then PostgreSQL stops and stdin closes: what the store did not take is
    kept in the spill file (the last line says where), and the next process opening the store saves it."""
    monkeypatch.setenv(
        "JUPYTER_DATA_DIR", str(tmp_path / "data")
    )  # the spill file's home, for the children too
    url = postgres_server.new_database()
    server = RawServer(url, "--session", "outage")  # async durability, the default
    acknowledged = []
    try:
        server.handshake()
        for number in range(10):
            server.good_call(f"before {number}")
            acknowledged.append(f"before {number}")
        postgres_server.crash()
        try:
            for number in range(10):
                server.good_call(f"during {number}")
                acknowledged.append(f"during {number}")
            assert server.close(timeout=120) == 1
            logged = server.stderr_lines()
        finally:
            postgres_server.start()
    finally:
        server.kill()
    assert logged, "the server said nothing about the thoughts it could not save"
    last = logged[-1]
    assert "could not be saved" in last and "they are kept in" in last and "jupyter-think recover" in last, (
        last
    )
    assert "kept in memory" not in last
    next_process = subprocess.run(
        [sys.executable, "-c", NEXT_PROCESS, url, "outage"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert next_process.returncode == 0, next_process.stderr
    assert json.loads(next_process.stdout) == acknowledged  # every acknowledged thought, once, in order
    assert "that an earlier process could not save" in next_process.stderr
