"""The issue's reproductions, on both engines: a thoughtNumber of 2**63 and a NUL in a thought, sent through
the Python API, the agent tool and a real ``jupyter-think mcp``, are refused up front with a one-line
error naming the field; the 100 thoughts after them are all stored (seen by a fresh manager after the
writer closed). Before the checks, the bad thought was acknowledged and nothing after it was ever committed.
"""

from __future__ import annotations

import json
import re

import pytest
from mcp_raw import RawServer, call_line

from jupyter_think import SequentialThinkingTool, SessionManager
from jupyter_think.core.errors import InvalidThought

AFTER = 100
"""Good thoughts sent after the bad ones."""

BAD_NUMBER = "number: must be a whole number from 1 to 2147483647 (got 9223372036854775808)"
BAD_TEXT = "holds a NUL character (U+0000), which the store does not keep; remove it"


def stored_texts(store_location: str, session_id: str) -> list[str]:
    """The texts of ``session_id`` as a fresh manager over the store loads them."""
    with SessionManager(store=store_location) as manager:
        return [thought.thought for thought in manager.session(session_id).thoughts]


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_the_api_refuses_2_63_and_nul_and_every_later_thought_is_stored(
    store_location: str, durability: str
) -> None:
    with SessionManager(store=store_location, durability=durability) as manager:
        session = manager.session("api")
        session.think("before")
        refusals = [
            (lambda: session.think("huge", number=2**63), BAD_NUMBER),
            (lambda: session.think("nul\x00here"), f"text: {BAD_TEXT}"),
            (lambda: session.amend(1, "nul\x00here"), f"text: {BAD_TEXT}"),
            (lambda: session.retract(2**63), BAD_NUMBER),
            (lambda: session.branch("b", 2**63), "from_thought: must be a whole number"),
        ]
        for refused, says in refusals:
            with pytest.raises(InvalidThought) as caught:
                refused()
            assert str(caught.value).startswith(says) and "\n" not in str(caught.value)
        for n in range(AFTER):
            session.think(f"after {n}")
        manager.flush()
    assert stored_texts(store_location, "api") == ["before"] + [f"after {n}" for n in range(AFTER)]


def test_the_tool_refuses_2_63_and_nul_and_every_later_thought_is_stored(store_location: str) -> None:
    def arguments(number: object, text: str) -> dict[str, object]:
        return {"thought": text, "thoughtNumber": number, "totalThoughts": 1, "nextThoughtNeeded": True}

    with SessionManager(store=store_location) as manager:
        tool = SequentialThinkingTool(manager, session_id="tool")
        for bad, says in (
            (arguments(2**63, "huge"), "thoughtNumber: "),
            (arguments(2, "a\x00b"), "thought: "),
        ):
            result = tool.call(bad)
            assert result["isError"] is True
            message = result["content"][0]["text"]
            assert message.startswith(f"Invalid arguments: {says}") and "\n" not in message
        for n in range(AFTER):
            assert tool.call(arguments(n + 1, f"after {n}"))["isError"] is False
    assert stored_texts(store_location, "tool") == [f"after {n}" for n in range(AFTER)]


def test_mcp_refuses_2_63_and_nul_and_every_later_thought_is_stored(store_location: str) -> None:
    def line(request_id: str, number: object, text: str) -> bytes:
        arguments = {"thought": text, "thoughtNumber": number, "totalThoughts": 1, "nextThoughtNeeded": True}
        return call_line(request_id, json.dumps(arguments))

    server = RawServer(store_location, "--session", "mcp")
    try:
        server.handshake()
        server.send_line(line("huge", 2**63, "huge"))
        server.send_line(line("nul", 1, "a\x00b"))  # json.dumps writes the NUL as \u0000
        for request_id, says in (
            ("huge", "thoughtNumber: must be a whole number"),
            ("nul", f"thought: {BAD_TEXT}"),
        ):
            reply = server.reply()
            assert reply["id"] == request_id and reply["result"]["isError"] is True, reply
            assert says in reply["result"]["content"][0]["text"]
        server.send_line(b"\n".join(line(f"after-{n}", n + 1, f"after {n}") for n in range(AFTER)))
        replies = [server.reply() for _ in range(AFTER)]
        assert all(reply["result"]["isError"] is False for reply in replies)
        assert server.close() == 0
        assert not [
            entry for entry in server.stderr_lines() if re.search(r"Traceback|not saved|refused", entry)
        ]
    finally:
        server.kill()
    assert stored_texts(store_location, "mcp") == [f"after {n}" for n in range(AFTER)]
