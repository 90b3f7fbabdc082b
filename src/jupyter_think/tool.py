"""The agent tool: ``sequentialthinking`` with the MCP sequential-thinking server's schema and semantics.

``call(arguments)`` returns an MCP ``CallToolResult`` as a dict and never raises: invalid
arguments give ``isError: true`` with a message naming the field. Semantics follow the reference
server's ``processThought``: the history grows by one per call, ``totalThoughts`` is raised to
``thoughtNumber``, and a thought joins ``branches[branchId]`` only when both ``branchFromThought``
and ``branchId`` are set. References to thoughts not recorded yet are accepted as given.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from pydantic import ValidationError

from .ids import validate_id
from .manager import SessionManager, get_manager
from .models import Thought, ThoughtInput
from .session import Session, ThinkError, describe_validation_error

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

_INT = {"type": "integer", "minimum": 1}
INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "minLength": 1, "description": "Your current thinking step"},
        "nextThoughtNeeded": {"type": "boolean", "description": "Whether another thought step is needed"},
        "thoughtNumber": {**_INT, "description": "Current thought number (1, 2, 3, ...)"},
        "totalThoughts": {**_INT, "description": "Estimated total thoughts needed (can change)"},
        "isRevision": {"type": "boolean", "description": "Whether this revises earlier thinking"},
        "revisesThought": {**_INT, "description": "Which thought number is being reconsidered"},
        "branchFromThought": {**_INT, "description": "Thought number this branch forks from"},
        "branchId": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
            "description": "Branch identifier",
        },
        "needsMoreThoughts": {"type": "boolean", "description": "More thoughts are needed past the estimate"},
    },
    "required": ["thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts"],
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
_FIELDS = frozenset(INPUT_SCHEMA["properties"])
_BOOLEANS = frozenset(name for name, spec in INPUT_SCHEMA["properties"].items() if spec["type"] == "boolean")
_INTEGERS = frozenset(name for name, spec in INPUT_SCHEMA["properties"].items() if spec["type"] == "integer")


def error_result(message: str) -> dict[str, Any]:
    """An MCP ``CallToolResult`` with ``isError`` set and one text item."""
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _coerce(name: str, value: object) -> object:
    """Coerce like the reference server: "true"/"false" (any case) to booleans; no booleans as numbers."""
    if name in _BOOLEANS:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            shown = f" (got {value!r})" if len(repr(value)) <= 40 else ""
            raise ValueError(f"{name}: must be a boolean, true or false{shown}")
    elif name in _INTEGERS and isinstance(value, bool):
        raise ValueError(f"{name}: must be an integer >= 1, not a boolean (got {value!r})")
    return value


def parse_arguments(arguments: object) -> Thought:
    """Validate tool arguments into a :class:`~jupyter_think.models.Thought` ready to record.

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
        raise ValueError(f"arguments: expected an object with {', '.join(INPUT_SCHEMA['required'])}")
    unknown = sorted((key for key in arguments if key not in _FIELDS), key=str)
    if unknown:
        names = ", ".join(INPUT_SCHEMA["properties"])
        raise ValueError(f"{unknown[0]}: unknown field; the fields are {names}")
    given = {key: _coerce(key, value) for key, value in arguments.items() if value is not None}
    try:
        return Thought.model_validate(given, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ValueError(describe_validation_error(exc)) from None


class SequentialThinkingTool:
    """The ``sequentialthinking`` tool over a manager's sessions.

    Without ``session_id`` it writes to the manager's active session; a ``thoughtNumber`` of 1
    arriving after a completed chain starts a new session ``<agent_id>-<n>`` and makes it active.

    Example:
        >>> tool = SequentialThinkingTool(SessionManager(persist=False))
        >>> result = tool.call({"thought": "Plan", "thoughtNumber": 1, "totalThoughts": 2,
        ...                     "nextThoughtNeeded": True})
        >>> result["structuredContent"]["thoughtHistoryLength"]
        1
    """

    name = TOOL_NAME
    description = TOOL_DESCRIPTION
    input_schema = INPUT_SCHEMA
    output_schema = OUTPUT_SCHEMA
    annotations = ANNOTATIONS

    def __init__(
        self,
        manager: SessionManager | None = None,
        agent_id: str = "agent",
        session_id: str | None = None,
    ) -> None:
        self._manager = manager
        validate_id(f"{agent_id}-1", "agent")
        self.agent_id = agent_id
        self.session_id = session_id
        if session_id is not None:
            self.manager.session(session_id)  # validates the id early
        self._lock = threading.Lock()
        self._chain_n = 1  # where the search for the next new-chain session id starts

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
                session, new_chain = self._target(data)
                repeated = any(t.thought == data.thought for t in session.recent(REPEAT_WINDOW))
                session.record(data)
                if new_chain:  # switch only once the first thought of the new chain is recorded
                    self._follow(session)
                result = self._result(session, data, repeated)
        except ThinkError as exc:
            return error_result(str(exc))
        except Exception as exc:  # the tool never raises into an agent loop
            return error_result(f"Internal error: {exc!r}")
        return {
            # Compact JSON (same object as structuredContent): fewer tokens for the agent to read.
            "content": [{"type": "text", "text": json.dumps(result, ensure_ascii=False)}],
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

    def _target(self, data: ThoughtInput) -> tuple[Session, bool]:
        """The session this thought goes to, and whether it starts a new chain there."""
        session = self.manager.session(self.session_id) if self.session_id else self.manager.active
        if data.thought_number == 1 and len(session) and session.status == "complete":
            return self.manager.session(self._new_chain_id()), True
        return session, False

    def _new_chain_id(self) -> str:
        """The first ``<agent_id>-<n>`` that names no session yet (or only an empty one loaded here).

        The search starts at the ``n`` found last time, so a long run of chains costs one check each.
        """
        n = self._chain_n
        while True:
            candidate = f"{self.agent_id}-{n}"
            if self.manager.is_loaded(candidate):
                if not len(self.manager.session(candidate)):
                    break
            elif not self._is_stored(candidate):
                break
            n += 1
        self._chain_n = n
        return candidate

    def _is_stored(self, session_id: str) -> bool:
        """True when the manager's store holds ``session_id`` as a live session."""
        store = self.manager.store
        return store is not None and session_id in store.heads([session_id])

    def _follow(self, session: Session) -> None:
        """Make the new chain's session this tool's target (and the manager's active one if unbound)."""
        if self.session_id is not None:
            self.session_id = session.id
        else:
            self.manager.activate(session.id)

    def _result(self, session: Session, data: ThoughtInput, repeated: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "thoughtNumber": data.thought_number,
            "totalThoughts": data.total_thoughts,
            "nextThoughtNeeded": data.next_thought_needed,
            "branches": list(session.branch_ids),
            "thoughtHistoryLength": len(session),
            "sessionId": session.id,
        }
        if repeated:
            result["repeated"] = True
            result["warning"] = (
                "This thought repeats a recent one word for word; make progress, revise, or conclude."
            )
        return result
