"""Tool-loop adapters for the ``openai`` and ``anthropic`` SDKs: run a response's tool calls, answer them.

``openai_tool_results(response, tool)`` and ``anthropic_tool_results(response, tool)`` take what the
SDK's ``create`` returned, run each ``sequentialthinking`` call against ``tool`` and return the
messages that carry the results back, in that API's format — an empty list when the model made no
tool call (it has answered). Invalid arguments, or a call to a tool that is not there, go back to
the model as an error result, so the loop goes on. An agent loop is then a few lines::

    while True:
        response = client.chat.completions.create(model=model, messages=messages, tools=[tool.openai_tool()])
        messages.append(response.choices[0].message)
        results = openai_tool_results(response, tool)
        if not results:
            break
        messages += results

:func:`openai_agent` and :func:`anthropic_agent` are that loop, ready to hand to
:func:`~jupyter_think.experiment`. The result functions read responses by attribute or by key, so
the SDK objects and plain dicts both work, and they import no SDK; the ready-made agents import
their SDK when first called (with a one-line install hint when it is missing).

Usage: the result functions record each response's tokens and model on an experiment run's tool
(:meth:`~jupyter_think.experiments.tool.RunTool.record_usage`; Anthropic's cached input tokens count
as input), and the ready-made agents measure the seconds of each ``create`` call. A forked run
(``runs.rerun``) starts with thoughts copied from its source: the ready-made agents replay them to
the model as earlier tool calls (:func:`replayed_calls`), so it goes on from there.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

if TYPE_CHECKING:
    from jupyter_think.agent.tool import SequentialThinkingTool


def _field(item: Any, name: str) -> Any:
    """``item[name]`` for a mapping, else ``item.name`` (``None`` when absent)."""
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _run(tool: SequentialThinkingTool, name: Any, arguments: Any) -> tuple[str, bool]:
    """Run one tool call; return (result text, is error)."""
    if name != tool.name:
        return f"Unknown tool {name!r}: the only tool here is {tool.name!r}", True
    result = tool.call(arguments)
    return result["content"][0]["text"], bool(result["isError"])


def record_usage(response: Any, tool: SequentialThinkingTool, seconds: float | None = None) -> None:
    """Count ``response``'s tokens and model on ``tool`` when it is an experiment run's tool (else nothing).

    Reads Chat Completions (``prompt_tokens`` / ``completion_tokens``), Responses and Anthropic
    (``input_tokens`` / ``output_tokens``; Anthropic's cache reads and writes count as input) usage.
    """
    record = getattr(tool, "record_usage", None)
    usage = _field(response, "usage")
    if record is None or usage is None:
        return
    given = _field(usage, "input_tokens")
    if given is None:
        given = _field(usage, "prompt_tokens")
    cached = (_field(usage, "cache_creation_input_tokens") or 0) + (
        _field(usage, "cache_read_input_tokens") or 0
    )
    produced = _field(usage, "output_tokens")
    if produced is None:
        produced = _field(usage, "completion_tokens")
    model = _field(response, "model")
    record(
        int(given or 0) + int(cached), int(produced or 0), model if isinstance(model, str) else None, seconds
    )


def replayed_calls(tool: SequentialThinkingTool) -> list[tuple[dict[str, Any], str]]:
    """The thoughts a forked run starts with (``tool.prefix``) as (tool-call arguments, the tool's answer).

    The answers are what the tool said when each thought was recorded in the run's session, so a model
    given them as earlier tool calls goes on at the next thought.
    """
    from jupyter_think.core.models import ThoughtInput

    calls = []
    branches: list[str] = []
    fields = set(ThoughtInput.model_fields)
    for position, thought in enumerate(getattr(tool, "prefix", ()), start=1):
        if thought.joins_branch and thought.branch_id not in branches:
            branches.append(thought.branch_id)
        answer = {
            "thoughtNumber": thought.thought_number,
            "totalThoughts": thought.total_thoughts,
            "nextThoughtNeeded": thought.next_thought_needed,
            "branches": list(branches),
            "thoughtHistoryLength": position,
            "sessionId": tool.session_id,
        }
        arguments = thought.model_dump(mode="json", by_alias=True, exclude_none=True, include=fields)
        calls.append((arguments, to_json(answer, indent=2).decode()))
    return calls


def require(package: str) -> Any:
    """Import an optional SDK, or raise ``ImportError`` saying how to install it.

    Example:
        >>> require("no_such_sdk")
        Traceback (most recent call last):
        ...
        ImportError: this needs the 'no_such_sdk' package: pip install 'jupyter-think[no_such_sdk]'
    """
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(
            f"this needs the {package!r} package: pip install 'jupyter-think[{package}]'"
        ) from None


# --- OpenAI ------------------------------------------------------------------------------------------


def openai_tool_results(
    response: Any, tool: SequentialThinkingTool, *, seconds: float | None = None
) -> list[dict[str, Any]]:
    """Run the tool calls of an OpenAI response; return the messages that answer them.

    ``response`` is what ``client.chat.completions.create`` returned (or its message): the result is
    one ``{"role": "tool", "tool_call_id": ..., "content": ...}`` message per call. Or it is what
    ``client.responses.create`` returned (or its ``output``): one ``function_call_output`` item per
    ``function_call`` (define the tool there with :func:`responses_tool`). Arguments arrive as
    JSON text and are parsed by the tool. An empty list means the model made no tool call. The
    response's usage is recorded on an experiment run's tool (``seconds``: how long the call took).

    Example:
        >>> from jupyter_think import SequentialThinkingTool, SessionManager
        >>> tool = SequentialThinkingTool(SessionManager(persist=False))
        >>> message = {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
        ...     "function": {"name": "sequentialthinking", "arguments": '{"thought": "Plan",'
        ...     ' "thoughtNumber": 1, "totalThoughts": 2, "nextThoughtNeeded": true}'}}]}
        >>> [(m["role"], m["tool_call_id"]) for m in openai_tool_results(message, tool)]
        [('tool', 'call_1')]
    """
    record_usage(response, tool, seconds)
    output = _field(response, "output")
    if isinstance(response, list) or output is not None:  # the Responses API
        return _responses_results(response if isinstance(response, list) else output, tool)
    choices = _field(response, "choices")
    message = _field(choices[0], "message") if choices else response
    results = []
    for call in _field(message, "tool_calls") or []:
        function = _field(call, "function")
        if function is None:  # a custom (non-function) tool call: not ours
            name = _field(_field(call, "custom"), "name")
            text = f"Unknown tool {name!r}: the only tool here is {tool.name!r}"
        else:
            text, _ = _run(tool, _field(function, "name"), _field(function, "arguments"))
        results.append({"role": "tool", "tool_call_id": _field(call, "id"), "content": text})
    return results


def responses_tool(tool: SequentialThinkingTool) -> dict[str, Any]:
    """The tool in the OpenAI Responses API's ``tools`` format (flat, unlike Chat Completions').

    Example:
        >>> from jupyter_think import SequentialThinkingTool, SessionManager
        >>> definition = responses_tool(SequentialThinkingTool(SessionManager(persist=False)))
        >>> definition["type"], definition["name"], definition["parameters"]["required"][0]
        ('function', 'sequentialthinking', 'thought')
    """
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.input_schema,
    }


def _responses_results(items: Any, tool: SequentialThinkingTool) -> list[dict[str, Any]]:
    results = []
    for item in items or []:
        if _field(item, "type") != "function_call":
            continue
        text, _ = _run(tool, _field(item, "name"), _field(item, "arguments"))
        results.append({"type": "function_call_output", "call_id": _field(item, "call_id"), "output": text})
    return results


def _openai_message(message: Any) -> Any:
    """The assistant message as a dict to send back (the SDK object dumped, a dict as it is)."""
    if isinstance(message, Mapping):
        return dict(message)
    return message.model_dump(exclude_none=True)


# --- Anthropic ---------------------------------------------------------------------------------------


def anthropic_tool_results(
    response: Any, tool: SequentialThinkingTool, *, seconds: float | None = None
) -> list[dict[str, Any]]:
    """Run the ``tool_use`` blocks of an Anthropic message; return the ``user`` message that answers them.

    ``response`` is what ``client.messages.create`` returned (or its ``content`` list). The result
    is ``[{"role": "user", "content": [tool_result blocks]}]`` (``is_error`` set for invalid
    arguments), or ``[]`` when the message has no ``tool_use`` block (the model has answered). The
    response's usage is recorded on an experiment run's tool (``seconds``: how long the call took).

    Example:
        >>> from jupyter_think import SequentialThinkingTool, SessionManager
        >>> tool = SequentialThinkingTool(SessionManager(persist=False))
        >>> reply = {"role": "assistant", "stop_reason": "tool_use", "content": [{"type": "tool_use",
        ...     "id": "toolu_1", "name": "sequentialthinking",
        ...     "input": {"thought": "Plan", "thoughtNumber": 1, "totalThoughts": 2}}]}
        >>> block = anthropic_tool_results(reply, tool)[0]["content"][0]
        >>> block["tool_use_id"], block["is_error"], block["content"]
        ('toolu_1', True, 'Invalid arguments: nextThoughtNeeded: required')
    """
    record_usage(response, tool, seconds)
    content = response if isinstance(response, list) else _field(response, "content")
    blocks = []
    for block in content or []:
        if _field(block, "type") != "tool_use":
            continue
        text, is_error = _run(tool, _field(block, "name"), _field(block, "input"))
        blocks.append(
            {"type": "tool_result", "tool_use_id": _field(block, "id"), "content": text, "is_error": is_error}
        )
    return [{"role": "user", "content": blocks}] if blocks else []


def _anthropic_text(response: Any) -> str:
    texts = [
        _field(block, "text")
        for block in _field(response, "content") or []
        if _field(block, "type") == "text"
    ]
    return "\n".join(text for text in texts if text)


# --- ready-made agents ---------------------------------------------------------------------------------


def _prompt(config: Any) -> tuple[str, dict[str, Any]]:
    """A run's config as (prompt, extra create() options): a text, or a dict with ``prompt``."""
    if isinstance(config, str):
        return config, {}
    if isinstance(config, Mapping) and isinstance(config.get("prompt"), str):
        extra = {key: value for key, value in config.items() if key != "prompt"}
        return config["prompt"], extra
    raise TypeError("an agent's config is the prompt text, or a dict with 'prompt' and create() options")


class _LazyClient:
    """One SDK client for all the runs of an agent, made on first use (SDK clients are thread-safe)."""

    def __init__(self, client: Any, make: Callable[[], Any]) -> None:
        self._client = client
        self._make = make
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client


def openai_agent(
    model: str,
    *,
    client: Any = None,
    system: str | None = None,
    max_turns: int = 50,
    **options: Any,
) -> Callable[[Any, SequentialThinkingTool], str | None]:
    """An agent for :func:`~jupyter_think.experiment`: a Chat Completions tool loop with the tool.

    Each run's config is the user prompt, or a dict with ``prompt`` and more ``create()`` options
    (``temperature``, …). ``client`` defaults to ``openai.OpenAI()`` (reads ``OPENAI_API_KEY``);
    pass one for another endpoint (``base_url``). Returns the model's final text; raises
    ``RuntimeError`` when it has not answered after ``max_turns`` replies.
    """
    clients = _LazyClient(client, lambda: require("openai").OpenAI())

    def agent(config: Any, tool: SequentialThinkingTool) -> str | None:
        prompt, extra = _prompt(config)
        messages: list[Any] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        for number, (arguments, answer) in enumerate(
            replayed_calls(tool), start=1
        ):  # a fork's first thoughts
            call = {"id": f"replayed_{number}", "type": "function",
                    "function": {"name": tool.name, "arguments": to_json(arguments).decode()}}  # fmt: skip
            messages += [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": answer},
            ]
        for _ in range(max_turns):
            started = time.perf_counter()
            response = clients.get().chat.completions.create(
                model=model, messages=messages, tools=[tool.openai_tool()], **{**options, **extra}
            )
            seconds = time.perf_counter() - started
            message = response.choices[0].message
            messages.append(_openai_message(message))
            results = openai_tool_results(response, tool, seconds=seconds)
            if not results:
                return _field(message, "content")
            messages += results
        raise RuntimeError(f"the model gave no answer in {max_turns} turns")

    return agent


def anthropic_agent(
    model: str,
    *,
    client: Any = None,
    system: str | None = None,
    max_tokens: int = 1024,
    max_turns: int = 50,
    **options: Any,
) -> Callable[[Any, SequentialThinkingTool], str]:
    """An agent for :func:`~jupyter_think.experiment`: a Messages API tool loop with the tool.

    Each run's config is the user prompt, or a dict with ``prompt`` and more ``create()`` options.
    ``client`` defaults to ``anthropic.Anthropic()`` (reads ``ANTHROPIC_API_KEY``). Returns the
    text of the model's final message; raises ``RuntimeError`` after ``max_turns`` replies.
    """
    clients = _LazyClient(client, lambda: require("anthropic").Anthropic())

    def agent(config: Any, tool: SequentialThinkingTool) -> str:
        prompt, extra = _prompt(config)
        messages: list[Any] = [{"role": "user", "content": prompt}]
        for number, (arguments, answer) in enumerate(
            replayed_calls(tool), start=1
        ):  # a fork's first thoughts
            use = {"type": "tool_use", "id": f"replayed_{number}", "name": tool.name, "input": arguments}
            messages += [
                {"role": "assistant", "content": [use]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": answer}],
                },
            ]
        settings = {"max_tokens": max_tokens, **options, **extra}
        if system is not None:
            settings.setdefault("system", system)
        for _ in range(max_turns):
            started = time.perf_counter()
            response = clients.get().messages.create(
                model=model, messages=messages, tools=[tool.anthropic_tool()], **settings
            )
            seconds = time.perf_counter() - started
            messages.append({"role": "assistant", "content": response.content})
            results = anthropic_tool_results(response, tool, seconds=seconds)
            if not results:
                return _anthropic_text(response)
            messages += results
        raise RuntimeError(f"the model gave no answer in {max_turns} turns")

    return agent


__all__ = [
    "anthropic_agent",
    "anthropic_tool_results",
    "openai_agent",
    "openai_tool_results",
    "record_usage",
    "replayed_calls",
    "require",
    "responses_tool",
]
