"""Tool-loop adapters with the real ``openai`` and ``anthropic`` SDK clients (SPEC §5, issue 13).

Each SDK client talks to a local HTTP server (``model_server.py``, 127.0.0.1, no network, no key)
that answers in that API's format with a scripted model: a first thought, then a call whose
arguments are invalid (``nextThoughtNeeded`` missing), then — once the error has come back as a
tool result — the corrected call together with a branch thought in one turn, a final thought, and
the answer. The loops are the few lines the docs show.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from model_server import ModelServer

from jupyter_think import SequentialThinkingTool, SessionManager, experiment
from jupyter_think.agent.adapters import (
    anthropic_agent,
    anthropic_tool_results,
    openai_agent,
    openai_tool_results,
    responses_tool,
)

FIRST = {
    "thought": "Restate: 9 coins, one heavier",
    "thoughtNumber": 1,
    "totalThoughts": 3,
    "nextThoughtNeeded": True,
}
SLIP = {"thought": "Split into three groups of three", "thoughtNumber": 2, "totalThoughts": 3}
SECOND = {**SLIP, "nextThoughtNeeded": True}
BRANCH = {
    "thought": "Or halves: 4 against 4",
    "thoughtNumber": 3,
    "totalThoughts": 4,
    "nextThoughtNeeded": True,
    "branchFromThought": 2,
    "branchId": "halves",
}
FINAL = {
    "thought": "Two weighings find it",
    "thoughtNumber": 3,
    "totalThoughts": 3,
    "nextThoughtNeeded": False,
}
ANSWER = "Two weighings: 3 against 3, then 1 against 1."
TURNS: list[Any] = [[FIRST], [SLIP], [SECOND, BRANCH], [FINAL], ANSWER]
RECORDED = [FIRST["thought"], SECOND["thought"], BRANCH["thought"], FINAL["thought"]]


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(TURNS) as running:
        yield running


@pytest.fixture
def manager() -> Iterator[SessionManager]:
    with SessionManager(persist=False) as running:
        yield running


def assert_the_run_was_recorded(manager: SessionManager, session_id: str) -> None:
    session = manager.session(session_id)
    assert [t.thought for t in session.thoughts] == RECORDED  # the invalid call recorded nothing
    assert session.branch_ids == ("halves",)
    assert session.status == "complete"


def test_openai_chat_completions_loop_answers_every_call_and_sends_errors_back(
    server: ModelServer, manager: SessionManager
) -> None:
    client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
    tool = SequentialThinkingTool(manager, session_id="openai-chat")
    messages: list[Any] = [{"role": "user", "content": "How few weighings find the heavier of 9 coins?"}]
    while True:
        response = client.chat.completions.create(
            model="test-model", messages=messages, tools=[tool.openai_tool()]
        )
        messages.append(response.choices[0].message)
        results = openai_tool_results(response, tool)
        if not results:
            break
        messages += results

    assert response.choices[0].message.content == ANSWER
    assert_the_run_was_recorded(manager, "openai-chat")
    requests = server.bodies("/chat/completions")
    assert len(requests) == 5
    assert requests[0]["tools"][0]["function"]["name"] == "sequentialthinking"
    error_reply = requests[2]["messages"][-1]  # what the model saw after its invalid call
    assert error_reply == {
        "role": "tool",
        "tool_call_id": "call_1_0",
        "content": "Invalid arguments: nextThoughtNeeded: required",
    }
    both = requests[3]["messages"][-2:]  # two calls in one turn: two tool messages, in order
    assert [m["tool_call_id"] for m in both] == ["call_2_0", "call_2_1"]
    assert json.loads(both[1]["content"])["branches"] == ["halves"]


def test_openai_responses_loop_answers_function_calls_with_outputs(
    server: ModelServer, manager: SessionManager
) -> None:
    client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
    tool = SequentialThinkingTool(manager, session_id="openai-responses")
    items: list[Any] = [{"role": "user", "content": "How few weighings find the heavier of 9 coins?"}]
    while True:
        response = client.responses.create(model="test-model", input=items, tools=[responses_tool(tool)])
        items += response.output
        results = openai_tool_results(response, tool)
        if not results:
            break
        items += results

    assert response.output_text == ANSWER
    assert_the_run_was_recorded(manager, "openai-responses")
    requests = server.bodies("/responses")
    assert requests[0]["tools"][0]["name"] == "sequentialthinking"
    assert requests[2]["input"][-1] == {
        "type": "function_call_output",
        "call_id": "call_1_0",
        "output": "Invalid arguments: nextThoughtNeeded: required",
    }


def test_anthropic_messages_loop_answers_tool_use_and_flags_errors(
    server: ModelServer, manager: SessionManager
) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
    tool = SequentialThinkingTool(manager, session_id="anthropic")
    messages: list[Any] = [{"role": "user", "content": "How few weighings find the heavier of 9 coins?"}]
    while True:
        response = client.messages.create(
            model="test-model", max_tokens=1024, messages=messages, tools=[tool.anthropic_tool()]
        )
        messages.append({"role": "assistant", "content": response.content})
        results = anthropic_tool_results(response, tool)
        if not results:
            break
        messages += results

    assert response.content[0].text == ANSWER
    assert_the_run_was_recorded(manager, "anthropic")
    requests = server.bodies("/messages")
    assert len(requests) == 5
    assert requests[0]["tools"][0]["name"] == "sequentialthinking"
    assert requests[2]["messages"][-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1_0",
                "content": "Invalid arguments: nextThoughtNeeded: required",
                "is_error": True,
            }
        ],
    }
    blocks = requests[3]["messages"][-1]["content"]
    assert [(b["tool_use_id"], b["is_error"]) for b in blocks] == [("toolu_2_0", False), ("toolu_2_1", False)]


def test_ready_made_agents_run_an_experiment_through_both_sdks(
    server: ModelServer, manager: SessionManager
) -> None:
    openai_client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
    anthropic_client = anthropic.Anthropic(base_url=server.url, api_key="test", max_retries=0)
    # A config is the prompt, or a dict with the prompt and more create() options for that run.
    gpt = experiment(
        "gpt",
        openai_agent("test-model", client=openai_client),
        ["How few weighings?", {"prompt": "And with 27 coins?", "temperature": 0}],
        manager=manager,
    )
    claude = experiment(
        "claude",
        anthropic_agent("test-model", client=anthropic_client, system="Think first."),
        ["How few weighings?", {"prompt": "And with 27 coins?", "stop_sequences": ["END"]}],
        manager=manager,
    )
    for runs in (gpt, claude):
        assert [(r.status, r.value) for r in runs] == [("ok", ANSWER), ("ok", ANSWER)]
        for result in runs:
            assert_the_run_was_recorded(manager, result.session_id)
    chat = server.bodies("/chat/completions")
    assert {b["messages"][0]["content"] for b in chat} == {"How few weighings?", "And with 27 coins?"}
    assert any(b.get("temperature") == 0 for b in chat)
    messages = server.bodies("/messages")
    assert all(b["system"] == "Think first." for b in messages)
    assert any(b.get("stop_sequences") == ["END"] for b in messages)


def test_a_model_that_never_answers_ends_its_run_with_an_error(manager: SessionManager) -> None:
    looping = [[FIRST], [FIRST], [FIRST], ANSWER]
    with ModelServer(looping) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
        runs = experiment(
            "loop", openai_agent("test-model", client=client, max_turns=2), ["q"], manager=manager
        )
    assert runs[0].status == "error"
    assert runs[0].message == "RuntimeError: the model gave no answer in 2 turns"
    assert len(manager.session("loop-1")) == 2  # what it recorded is kept


def test_a_call_to_another_tool_is_answered_with_an_error_and_records_nothing(
    manager: SessionManager,
) -> None:
    tool = SequentialThinkingTool(manager, session_id="other")
    message = {
        "role": "assistant",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "search_web", "arguments": "{}"}}
        ],
    }
    assert openai_tool_results(message, tool) == [
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": "Unknown tool 'search_web': the only tool here is 'sequentialthinking'",
        }
    ]
    reply = {
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "t1", "name": "search_web", "input": {}},
        ]
    }
    [answer] = anthropic_tool_results(reply, tool)
    assert (
        answer["content"][0]["is_error"] is True
        and "Unknown tool 'search_web'" in answer["content"][0]["content"]
    )
    assert len(manager.session("other")) == 0


def test_arguments_that_are_not_json_go_back_as_an_error(manager: SessionManager) -> None:
    tool = SequentialThinkingTool(manager, session_id="broken")
    message = {
        "tool_calls": [{"id": "c1", "function": {"name": "sequentialthinking", "arguments": '{"thought": '}}]
    }
    [result] = openai_tool_results(message, tool)
    assert (
        result["content"] == "Invalid arguments: arguments: expected a JSON object, got text that is not JSON"
    )


def test_a_response_without_tool_calls_needs_no_answer(manager: SessionManager) -> None:
    tool = SequentialThinkingTool(manager, session_id="done")
    assert openai_tool_results({"choices": [{"message": {"role": "assistant", "content": "4"}}]}, tool) == []
    assert (
        anthropic_tool_results({"content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn"}, tool)
        == []
    )


@pytest.mark.parametrize(("make", "package"), [(openai_agent, "openai"), (anthropic_agent, "anthropic")])
def test_a_missing_sdk_says_how_to_install_it(
    make: Any, package: str, manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # as if the package were not installed
    runs = experiment(f"no-{package}", make("some-model"), ["q"], manager=manager)
    assert runs[0].status == "error"
    assert runs[0].message == (
        f"ImportError: this needs the {package!r} package: pip install 'jupyter-think[{package}]'"
    )
