"""The agent tool: ``sequentialthinking`` with the MCP sequential-thinking server's schema and semantics.

``call(arguments)`` returns an MCP ``CallToolResult`` as a dict and never raises: invalid
arguments give ``isError: true`` with a message naming the field. Semantics follow the reference
server's ``processThought``: the history grows by one per call, ``totalThoughts`` is raised to
``thoughtNumber``, and a thought joins ``branches[branchId]`` only when both ``branchFromThought``
and ``branchId`` are set. References to thoughts not recorded yet are accepted as given, and a
number may repeat; a reference to a repeated number means the latest thought with it.

The input schema is derived from :class:`~jupyter_think.core.models.ThoughtInput` (wire names,
descriptions, limits), and the result text is the result object as JSON indented by two
spaces, as the reference server sends it.

Where the thoughts go: a tool built with ``session_id`` writes to that session; one built
without it writes to the manager's active session (so ``%%session ID`` or
``manager.activate(ID)`` scope it). When a ``thoughtNumber`` of 1 arrives after the chain in
that session completed, the tool starts its own session ``<agent_id>-<n>`` and goes on there.
It never changes the session the person has active.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import anyio.to_thread
from pydantic import ValidationError
from pydantic_core import to_json

from jupyter_think.core.errors import SessionFull, ThinkError, ThoughtTooLong
from jupyter_think.core.ids import validate_id
from jupyter_think.core.limits import NUMBER_RULE
from jupyter_think.core.models import Thought, ThoughtInput
from jupyter_think.core.session.session import Session, describe_validation_error
from jupyter_think.manager import SessionManager, get_manager

TOOL_NAME = "sequentialthinking"
REPEAT_WINDOW = 5
"""A thought identical to one of this many previous thoughts of the session is flagged."""

TOOL_DESCRIPTION = """\
Think through a problem step by step, one numbered thought per call, in a way that can change course.

Use it to break a hard problem into steps, to plan with room for revision, to analyse when the
full scope only becomes clear on the way, or to keep context over several steps.

- Give thoughtNumber and your current estimate totalThoughts; raise or lower the estimate as you
  learn (a thoughtNumber above totalThoughts raises it).
- Question or correct an earlier thought: isRevision true and revisesThought its number.
- Explore an alternative: branchFromThought (where it forks) together with branchId (a name of
  letters, digits, '_' or '-').
- Reached the end but need more: needsMoreThoughts true and keep going.
- Set nextThoughtNeeded false only when you have a satisfying answer; that thought is the
  conclusion.

Each call records the thought and returns thoughtNumber, totalThoughts, nextThoughtNeeded, the
branch ids so far and the length of the thought history."""

_KEY_ORDER = ("type", "minLength", "minimum", "maximum", "pattern", "description")


@cache
def input_schema() -> dict[str, Any]:
    """The tool's JSON Schema, derived from :class:`~jupyter_think.core.models.ThoughtInput`.

    Wire names, the model's descriptions and limits; an optional field is its plain type (an
    agent leaves it out rather than sending null); no other field is allowed. Computed once.

    Example:
        >>> input_schema()["properties"]["thoughtNumber"]
        {'type': 'integer', 'minimum': 1, 'maximum': 2147483647, 'description': 'Current thought number (1, 2, 3, ...)'}
    """
    derived = ThoughtInput.model_json_schema(by_alias=True)
    properties = {}
    for name, spec in derived["properties"].items():
        variants = [variant for variant in spec.get("anyOf", [spec]) if variant.get("type") != "null"]
        merged = {**variants[0], **{k: v for k, v in spec.items() if k not in ("anyOf", "title", "default")}}
        merged.pop("title", None)
        properties[name] = {key: merged[key] for key in sorted(merged, key=_KEY_ORDER.index)}
    return {
        "type": "object",
        "properties": properties,
        "required": derived["required"],
        "additionalProperties": False,
    }


OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thoughtNumber": {"type": "integer"},
        "totalThoughts": {"type": "integer"},
        "nextThoughtNeeded": {"type": "boolean"},
        "branches": {"type": "array", "items": {"type": "string"}},
        "thoughtHistoryLength": {"type": "integer"},
        "sessionId": {"type": "string"},
        "repeated": {"type": "boolean", "description": "True when the thought repeats a recent one"},
        "warning": {"type": "string"},
    },
    "required": ["thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength"],
}
ANNOTATIONS: dict[str, Any] = {
    "title": "Sequential thinking",
    "readOnlyHint": False,
    "destructiveHint": False,
    "idempotentHint": False,
    "openWorldHint": False,
}


@cache
def _fields_of_type(kind: str | None = None) -> frozenset[str]:
    """The wire names of the input fields (of JSON type ``kind`` when given)."""
    return frozenset(
        name for name, spec in input_schema()["properties"].items() if kind is None or spec["type"] == kind
    )


def next_chain_id(agent_id: str, session_ids: Iterable[str]) -> str:
    """The id of an agent's next chain: ``<agent_id>-<n>``, n one above the highest such n (1 when none).

    Only ids of exactly that form count (the agent's chains so far); no other session matters,
    and an earlier chain is never reused.

    Example:
        >>> next_chain_id("agent", ["default", "agent-1", "agent-3", "agent-x", "agents-9", "agent-2-notes"])
        'agent-4'
        >>> next_chain_id("agent", ["design", "agent-openai"])
        'agent-1'
    """
    form = re.compile(re.escape(agent_id) + r"-([1-9][0-9]{0,8})")
    highest = max((int(match[1]) for sid in session_ids if (match := form.fullmatch(sid))), default=0)
    return f"{agent_id}-{highest + 1}"


def tool_message(error: ThinkError) -> str:
    """The session's typed error in the tool's words (wire names, what the agent should do).

    Example:
        >>> tool_message(ThoughtTooLong(120, 100))
        'thought: too long (120 characters, at most 100); split it into several thoughts'
    """
    match error:
        case ThoughtTooLong(length=length, limit=limit):
            return f"thought: too long ({length} characters, at most {limit}); split it into several thoughts"
        case SessionFull(session_id=session_id, limit=limit):
            return (
                f"session {session_id!r} reached its limit of {limit} thoughts and records no more; "
                "conclude now: give your answer without further thoughts"
            )
    return str(error)


def error_result(message: str) -> dict[str, Any]:
    """An MCP ``CallToolResult`` with ``isError`` set and one text item."""
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _coerce(name: str, value: object) -> object:
    """Coerce like the reference server: "true"/"false" (any case) to booleans; no booleans as numbers."""
    if name in _fields_of_type("boolean"):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            shown = f" (got {value!r})" if len(repr(value)) <= 40 else ""
            raise ValueError(f"{name}: must be a boolean, true or false{shown}")
    elif name in _fields_of_type("integer") and isinstance(value, bool):
        raise ValueError(f"{name}: {NUMBER_RULE}, not a boolean (got {value!r})")
    return value


def _field_name(key: object) -> str:
    r"""An argument's name as a message shows it: as given when it is a short printable name, else escaped
    (a key holding a line break or a NUL must not break the one-line message).

    Example:
        >>> _field_name("mood"), _field_name("a\nb")
        ('mood', "'a\\nb'")
    """
    if isinstance(key, str) and key.isprintable() and len(key) <= 40:
        return key
    shown = ascii(key)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_arguments(arguments: object) -> Thought:
    """Validate tool arguments into a :class:`~jupyter_think.core.models.Thought` ready to record.

    Wire names only; numbers given as strings ("3") and booleans given as "true"/"false" are
    coerced, as in the reference server; a JSON text holding the object is accepted too (OpenAI
    hands tool arguments over as a string). Raises ``ValueError`` whose message names the field.

    Example:
        >>> parse_arguments({"thought": "a", "thoughtNumber": "2", "totalThoughts": 1,
        ...                  "nextThoughtNeeded": "false"}).total_thoughts
        2
    """
    if isinstance(arguments, (str, bytes, bytearray)):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise ValueError("arguments: expected a JSON object, got text that is not JSON") from None
    if not isinstance(arguments, Mapping):
        raise ValueError(f"arguments: expected an object with {', '.join(input_schema()['required'])}")
    fields = _fields_of_type()
    unknown = sorted((key for key in arguments if key not in fields), key=str)
    if unknown:
        names = ", ".join(input_schema()["properties"])
        raise ValueError(f"{_field_name(unknown[0])}: unknown field; the fields are {names}")
    given = {key: _coerce(key, value) for key, value in arguments.items() if value is not None}
    try:
        return Thought.model_validate(given, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


_CHAIN_LOCK = threading.Lock()
"""Held while a new chain's id is chosen and its session created, so two tools never pick the same id."""


class SequentialThinkingTool:
    """The ``sequentialthinking`` tool over a manager's sessions.

    Built with ``session_id``, it writes to that session; without, to the manager's active
    session at the time of each call (so ``%%session ID`` and ``manager.activate(ID)`` scope it).
    A ``thoughtNumber`` of 1 arriving after the chain there completed starts the tool's own
    session ``<agent_id>-<n>`` (see :func:`next_chain_id`: 1, 2, ... in a fresh store, on after
    the chains already stored), and the tool goes on in it: a bound tool from then on, an unbound
    one for as long as the same session is active. The tool never changes the session the
    person has active.

    Example:
        >>> manager = SessionManager(persist=False)
        >>> tool = SequentialThinkingTool(manager)
        >>> step = {"thought": "Plan", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": False}
        >>> tool.call(step)["structuredContent"]["sessionId"]
        'default'
        >>> tool.call(step)["structuredContent"]["sessionId"]
        'agent-1'
        >>> manager.active_id
        'default'
    """

    name = TOOL_NAME
    description = TOOL_DESCRIPTION
    output_schema = OUTPUT_SCHEMA
    annotations = ANNOTATIONS
    starts_new_chains = True
    """False keeps a new chain in the tool's session, which re-opens (an experiment's run tool)."""

    def __init__(
        self,
        manager: SessionManager | None = None,
        agent_id: str = "agent",
        session_id: str | None = None,
        *,
        owns_agent_id: bool = False,
    ) -> None:
        self._manager = manager
        validate_id(f"{agent_id}-1", "agent")
        self.agent_id = agent_id
        self.owns_agent_id = owns_agent_id
        """True when no other tool or process makes ids ``<agent_id>-<n>`` (an id unique to this process,
        as an MCP connection's): after the first new chain has listed the store, the next ones are
        started without asking it (no store read waits for a commit on the caller's thread)."""
        self.session_id = session_id
        if session_id is not None:
            self.manager.session(session_id)  # validates the id early
        self._lock = threading.Lock()
        self._chains: dict[str, str] = {}  # unbound: active session id -> the chain the tool goes on in
        self._last_chain: tuple[SessionManager, str] | None = None  # (manager, the chain id it gave last)

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (derived from :class:`~jupyter_think.core.models.ThoughtInput`)."""
        return input_schema()

    @property
    def manager(self) -> SessionManager:
        """The manager given, else the process-wide one at the time of the call (``%config`` may replace it)."""
        return self._manager if self._manager is not None else get_manager()

    def __repr__(self) -> str:
        return f"<SequentialThinkingTool {self.name!r} agent {self.agent_id!r}>"

    # --- calls ----------------------------------------------------------------------------------

    def call(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Record one thought; return an MCP ``CallToolResult`` dict (never raises)."""
        try:
            data = parse_arguments(arguments)
        except ValueError as exc:
            return error_result(f"Invalid arguments: {exc}")
        except RecursionError:
            return error_result("Invalid arguments: nested too deeply; send a flat object of the fields")
        except Exception as exc:  # the tool never raises into an agent loop
            return error_result(f"Invalid arguments: {exc!r}")
        try:
            with self._lock:
                session, base = self._target()
                if (
                    self.starts_new_chains
                    and data.thought_number == 1
                    and len(session)
                    and session.status == "complete"
                ):
                    session = self._start_chain(data, base)
                    repeated = False
                else:
                    repeated = any(t.thought == data.thought for t in session.recent(REPEAT_WINDOW))
                    session.record(data)
                result = self._result(session, data, repeated)
        except ThinkError as exc:
            return error_result(tool_message(exc))
        except OSError as exc:  # the store refused a sync commit, or cannot be read: nothing recorded
            return error_result(f"Not recorded: {exc.strerror or exc}. Try the same call again later.")
        except Exception as exc:  # the tool never raises into an agent loop
            return error_result(f"Internal error: {exc!r}")
        return {
            # The same object as structuredContent, indented by two spaces like the reference server's
            # (pydantic-core writes exactly what json.dumps(indent=2, ensure_ascii=False) would, 5x faster).
            "content": [{"type": "text", "text": to_json(result, indent=2).decode()}],
            "structuredContent": result,
            "isError": False,
        }

    async def acall(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The async form of :meth:`call` (anyio; runs in a worker thread when persistence is sync)."""
        if self.manager.settings.persist and self.manager.settings.durability == "sync":
            return await anyio.to_thread.run_sync(self.call, arguments)
        return self.call(arguments)

    # --- tool definitions for model APIs ---------------------------------------------------------------

    def mcp_tool(self) -> dict[str, Any]:
        """The MCP tool definition (``tools/list`` entry)."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.annotations,
        }

    def openai_tool(self) -> dict[str, Any]:
        """The tool in OpenAI's Chat Completions ``tools`` format."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.input_schema},
        }

    def anthropic_tool(self) -> dict[str, Any]:
        """The tool in Anthropic's Messages API ``tools`` format."""
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}

    # --- internals --------------------------------------------------------------------------------------

    def _target(self) -> tuple[Session, str]:
        """The session the next thought goes to, and the active session id it was found from."""
        manager = self.manager
        if self.session_id is not None:
            return manager.session(self.session_id), self.session_id
        base = manager.active_id
        return manager.session(self._chains.get(base, base)), base

    def _start_chain(self, data: ThoughtInput, base: str) -> Session:
        """Record ``data`` as the first thought of the tool's next chain session, and go on there.

        The thought is tried on a detached session first: a refused one claims no id.
        """
        manager = self.manager
        settings = manager.settings
        with _CHAIN_LOCK:
            chain_id, known_new = self._next_chain_id(manager)
            trial = Session(
                chain_id, max_thought_chars=settings.max_thought_chars, max_thoughts=settings.max_thoughts
            )
            trial.record(data)
            chain = manager.session(chain_id, restore=not known_new)
            chain.record(data)
            self._last_chain = (
                manager,
                chain_id,
            )  # (only once it holds the thought: a refused one claims nothing)
        if self.session_id is not None:
            self.session_id = chain_id
        else:
            self._chains[base] = chain_id
        return chain

    def _next_chain_id(self, manager: SessionManager) -> tuple[str, bool]:
        """:func:`next_chain_id` over every session once; after that the next number, checked alone
        (a long run of chains must not list the whole store for each one), and not in the store
        when the tool owns its agent id. Also says whether the id is known not to be stored."""
        known = self._last_chain
        if known is not None and known[0] is manager:
            n = int(known[1].rsplit("-", 1)[1]) + 1
            candidate = f"{self.agent_id}-{n}"
            if not manager.is_loaded(candidate):
                if self.owns_agent_id:
                    return candidate, True
                store = manager.store
                if store is None or candidate not in store.heads([candidate]):
                    return candidate, False
        return next_chain_id(self.agent_id, manager.sessions()), False

    def _result(self, session: Session, data: ThoughtInput, repeated: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "thoughtNumber": data.thought_number,
            "totalThoughts": data.total_thoughts,
            "nextThoughtNeeded": data.next_thought_needed,
            "branches": list(session.branch_ids),
            "thoughtHistoryLength": session.history_length,  # retracted thoughts do not count
            "sessionId": session.id,
        }
        if repeated:
            result["repeated"] = True
            result["warning"] = (
                "This thought repeats a recent one word for word; make progress, revise, or conclude."
            )
        return result
