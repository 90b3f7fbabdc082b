"""Tool-loop adapters with the real ``openai`` and ``anthropic`` SDK clients (SPEC §5, issues 13 and 22).

Each SDK client talks to the package's scripted model (``jupyter_think.agent.scripted``: in-process
through an httpx transport, or over HTTP on 127.0.0.1; no network, no key) that answers in that API's
format: a first thought, then a call whose arguments are invalid (``nextThoughtNeeded`` missing),
then — once the error has come back as a tool result — the corrected call together with a branch
thought in one turn, a final thought, and the answer. The loops are the few lines the docs show.
Tokens are summed exactly from the usage the model reported; a forked run's first thoughts reach
the model as earlier tool calls.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from jupyter_think import SequentialThinkingTool, SessionManager, experiment
from jupyter_think.agent.adapters import (
    anthropic_agent,
    anthropic_tool_results,
    openai_agent,
    openai_tool_results,
    responses_tool,
)
from jupyter_think.agent.scripted import ScriptedModel

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
def model() -> ScriptedModel:
    return ScriptedModel(TURNS)


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
    model: ScriptedModel, manager: SessionManager
) -> None:
    with model.serve() as server:  # over HTTP, as a client configured by a base URL reaches it
        client = openai.OpenAI(base_url=server.openai_url, api_key="test", max_retries=0)
        run_the_chat_loop(client, manager)
    requests = model.bodies("chat")
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


def run_the_chat_loop(client: Any, manager: SessionManager) -> None:
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


def test_openai_responses_loop_answers_function_calls_with_outputs(
    model: ScriptedModel, manager: SessionManager
) -> None:
    client = model.openai_client()
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
    requests = model.bodies("responses")
    assert requests[0]["tools"][0]["name"] == "sequentialthinking"
    assert requests[2]["input"][-1] == {
        "type": "function_call_output",
        "call_id": "call_1_0",
        "output": "Invalid arguments: nextThoughtNeeded: required",
    }


def test_anthropic_messages_loop_answers_tool_use_and_flags_errors(
    model: ScriptedModel, manager: SessionManager
) -> None:
    client = model.anthropic_client()
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
    requests = model.bodies("messages")
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
    model: ScriptedModel, manager: SessionManager
) -> None:
    openai_client = model.openai_client()
    anthropic_client = model.anthropic_client()
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
    chat = model.bodies("chat")
    assert {b["messages"][0]["content"] for b in chat} == {"How few weighings?", "And with 27 coins?"}
    assert any(b.get("temperature") == 0 for b in chat)
    messages = model.bodies("messages")
    assert all(b["system"] == "Think first." for b in messages)
    assert any(b.get("stop_sequences") == ["END"] for b in messages)


def test_a_model_that_never_answers_ends_its_run_with_an_error(manager: SessionManager) -> None:
    looping = [[FIRST], [FIRST], [FIRST], ANSWER]
    client = ScriptedModel(looping).openai_client()
    runs = experiment("loop", openai_agent("test-model", client=client, max_turns=2), ["q"], manager=manager)
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


# --- usage and forks (issue 22) ---------------------------------------------------------------------------


def responses_agent(client: Any) -> Any:
    """A Responses API loop (the ready-made agents use Chat Completions): the result function records usage."""

    def agent(prompt: str, tool: Any) -> str:
        items: list[Any] = [{"role": "user", "content": prompt}]
        while True:
            response = client.responses.create(model="resp-model", input=items, tools=[responses_tool(tool)])
            items += response.output
            results = openai_tool_results(response, tool)
            if not results:
                return response.output_text
            items += results

    return agent


def test_tokens_are_summed_exactly_through_the_real_clients(manager: SessionManager) -> None:
    prices = {"gpt-model": (2.0, 8.0), "claude-model": (3.0, 15.0), "resp-model": (1.0, 1.0)}
    for name, make in (
        ("chat", lambda model: openai_agent("gpt-model", client=model.openai_client())),
        ("responses", lambda model: responses_agent(model.openai_client())),
        ("messages", lambda model: anthropic_agent("claude-model", client=model.anthropic_client())),
    ):
        model = ScriptedModel(TURNS)
        runs = experiment(
            f"tokens-{name}", make(model), ["How few?", "And with 27?"], prices=prices, manager=manager
        )
        assert [r.status for r in runs] == ["ok", "ok"]
        reported = [r["usage"] for r in model.requests]
        assert len(reported) == 10  # five replies per run
        assert sum(r.usage.input_tokens for r in runs) == sum(u[0] for u in reported) > 0
        assert sum(r.usage.output_tokens for r in runs) == sum(u[1] for u in reported) > 0
        assert [r.usage.model_calls for r in runs] == [5, 5]
        price = prices[{"chat": "gpt-model", "responses": "resp-model", "messages": "claude-model"}[name]]
        usage = runs[0].usage
        assert usage.cost == pytest.approx(
            (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1e6
        )
        if name != "responses":  # the ready-made agents time each create() call
            assert usage.model_seconds > 0


def test_a_forks_first_thoughts_reach_the_model_as_earlier_tool_calls(manager: SessionManager) -> None:
    def plan(request: Any) -> list[Any]:
        mine = request.run.session_id if request.run is not None else "?"
        return [
            [{**FIRST, "thought": f"{mine}: restate"}],
            [{**SECOND, "thought": f"{mine}: three groups"}],
            [{**FINAL, "thought": f"{mine}: two weighings"}],
            ANSWER,
        ]

    for make, client_of, api in (
        (openai_agent, ScriptedModel.openai_client, "chat"),
        (anthropic_agent, ScriptedModel.anthropic_client, "messages"),
    ):
        model = ScriptedModel(plan)
        runs = experiment(f"src-{api}", make("m", client=client_of(model)), ["q"], manager=manager)
        source = runs[0].session_id
        model.requests.clear()
        forked = runs.rerun(source, 2)[0]
        assert [t.thought for t in forked.session.thoughts] == [
            f"{source}: restate",
            f"{source}: three groups",
            f"{forked.session_id}: two weighings",  # the model went on at thought 3
        ]
        first = model.bodies(api)[0]["messages"]
        calls = [m for m in first if m["role"] == "assistant"]
        assert len(calls) == 2 and len(model.bodies(api)) == 2  # two replayed calls; two replies to finish
        replayed = (
            [json.loads(c["tool_calls"][0]["function"]["arguments"]) for c in calls]
            if api == "chat"
            else [c["content"][0]["input"] for c in calls]
        )
        assert [(a["thought"], a["thoughtNumber"]) for a in replayed] == [
            (f"{source}: restate", 1),
            (f"{source}: three groups", 2),
        ]
