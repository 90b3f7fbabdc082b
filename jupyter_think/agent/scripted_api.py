"""The three model APIs the scripted model speaks: reading a request, writing a reply, in each API's JSON.

``read_*`` take a request body (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages) and give
the conversation so far as a :class:`Request` (the first user prompt, the system prompt, how many turns
the model has taken, the tool calls it made); ``reply_*`` give one model turn in that API's response
format: tool calls (one per argument dict) or the final text, with a ``usage`` block.

Example:
    >>> request = read_chat({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})
    >>> request.prompt, request.turn
    ('Hi', 0)
    >>> reply_chat(request, "Hello", (3, 1))["choices"][0]["message"]["content"]
    'Hello'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

API_PATHS = {"chat": "/chat/completions", "responses": "/responses", "messages": "/messages"}
"""The API of a request, from the end of its URL path."""


@dataclass(frozen=True)
class Request:
    """What a scripted model reads from one request: the conversation so far."""

    api: str
    model: str
    prompt: str
    system: str | None
    turn: int
    """How many turns the model has taken in this conversation (0: this is its first)."""
    calls: tuple[dict[str, Any], ...] = ()
    """The arguments of every tool call the model made so far (replayed ones too), in order."""
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping) and "text" in part
        )
    return ""


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        parsed = json.loads(raw) if isinstance(raw, (str, bytes)) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def read_chat(body: Mapping[str, Any]) -> Request:
    """A Chat Completions request body as a :class:`Request`."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    prompt = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    system = next(
        (_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")), None
    )
    assistant = [m for m in messages if m.get("role") == "assistant"]
    calls = tuple(
        _arguments((call.get("function") or {}).get("arguments"))
        for m in assistant
        for call in m.get("tool_calls") or []
        if isinstance(call, Mapping)
    )
    return Request("chat", str(body.get("model", "")), prompt, system, len(assistant), calls, body)


def read_responses(body: Mapping[str, Any]) -> Request:
    """A Responses request body as a :class:`Request` (a turn: consecutive items the model wrote)."""
    items = body.get("input")
    if isinstance(items, str):
        return Request("responses", str(body.get("model", "")), items, body.get("instructions"), 0, (), body)
    items = [item for item in items or [] if isinstance(item, Mapping)]
    prompt = next((_text(i.get("content")) for i in items if i.get("role") == "user"), "")
    turns, in_turn = 0, False
    for item in items:
        by_model = item.get("type") == "function_call" or item.get("role") == "assistant"
        turns += by_model and not in_turn
        in_turn = by_model
    calls = tuple(_arguments(i.get("arguments")) for i in items if i.get("type") == "function_call")
    return Request(
        "responses", str(body.get("model", "")), prompt, body.get("instructions"), turns, calls, body
    )


def read_messages(body: Mapping[str, Any]) -> Request:
    """An Anthropic Messages request body as a :class:`Request`."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    prompt = next((_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    system = body.get("system")
    assistant = [m for m in messages if m.get("role") == "assistant"]
    calls = tuple(
        _arguments(block.get("input"))
        for m in assistant
        if isinstance(m.get("content"), Sequence) and not isinstance(m.get("content"), str)
        for block in m["content"]
        if isinstance(block, Mapping) and block.get("type") == "tool_use"
    )
    return Request(
        "messages",
        str(body.get("model", "")),
        prompt,
        _text(system) if system else None,
        len(assistant),
        calls,
        body,
    )


READERS = {"chat": read_chat, "responses": read_responses, "messages": read_messages}


def _raw(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def reply_chat(
    request: Request, turn: Any, usage: tuple[int, int], tool: str = "sequentialthinking"
) -> dict[str, Any]:
    """One Chat Completions response: the tool calls of ``turn`` (a list of arguments), or its text."""
    if isinstance(turn, str):
        message: dict[str, Any] = {"role": "assistant", "content": turn}
        finish = "stop"
    else:
        calls = [
            {
                "id": f"call_{request.turn}_{k}",
                "type": "function",
                "function": {"name": tool, "arguments": _raw(a)},
            }
            for k, a in enumerate(turn)
        ]
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{request.turn}",
        "object": "chat.completion",
        "created": 0,
        "model": request.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def reply_responses(
    request: Request, turn: Any, usage: tuple[int, int], tool: str = "sequentialthinking"
) -> dict[str, Any]:
    """One Responses API response: ``function_call`` items, or a message with the text."""
    if isinstance(turn, str):
        output: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": f"msg_{request.turn}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": turn, "annotations": []}],
            }
        ]
    else:
        output = [
            {
                "type": "function_call",
                "id": f"fc_{request.turn}_{k}",
                "call_id": f"call_{request.turn}_{k}",
                "name": tool,
                "arguments": _raw(a),
                "status": "completed",
            }
            for k, a in enumerate(turn)
        ]
    return {
        "id": f"resp_{request.turn}",
        "object": "response",
        "created_at": 0,
        "model": request.model,
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": sum(usage)},
    }


def reply_messages(
    request: Request, turn: Any, usage: tuple[int, int], tool: str = "sequentialthinking"
) -> dict[str, Any]:
    """One Anthropic Messages response: ``tool_use`` blocks, or a text block."""
    if isinstance(turn, str):
        content: list[dict[str, Any]] = [{"type": "text", "text": turn}]
        stop = "end_turn"
    else:
        content = [
            {
                "type": "tool_use",
                "id": f"toolu_{request.turn}_{k}",
                "name": tool,
                "input": _arguments(a) if isinstance(a, str) else a,
            }
            for k, a in enumerate(turn)
        ]
        stop = "tool_use"
    return {
        "id": f"msg_{request.turn}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


WRITERS = {"chat": reply_chat, "responses": reply_responses, "messages": reply_messages}


def api_of(path: str) -> str | None:
    """``chat``, ``responses`` or ``messages`` from a request's URL path (``None``: not a model API)."""
    return next((api for api, end in API_PATHS.items() if path.rstrip("/").endswith(end)), None)
