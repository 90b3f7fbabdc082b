"""The agent tool `sequentialthinking`: schema, reference-server semantics, coercion, errors, loop guard."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_think import SequentialThinkingTool, SessionManager, ThoughtInput
from jupyter_think.core.ids import is_valid_id

WIRE_FIELDS = {
    "thought",
    "nextThoughtNeeded",
    "thoughtNumber",
    "totalThoughts",
    "isRevision",
    "revisesThought",
    "branchFromThought",
    "branchId",
    "needsMoreThoughts",
}
REQUIRED = ["thought", "nextThoughtNeeded", "thoughtNumber", "totalThoughts"]


def args(
    number: int = 1, total: int = 3, more: bool = True, text: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Tool arguments under their wire names."""
    return {
        "thought": text if text is not None else f"step {number}",
        "thoughtNumber": number,
        "totalThoughts": total,
        "nextThoughtNeeded": more,
        **extra,
    }


@pytest.fixture
def manager() -> SessionManager:
    return SessionManager(persist=False)


@pytest.fixture
def tool(manager: SessionManager) -> SequentialThinkingTool:
    return SequentialThinkingTool(manager)


def ok(result: dict[str, Any]) -> dict[str, Any]:
    """The structured content of a successful result (fails the test on an error result)."""
    assert result["isError"] is False, result["content"][0]["text"]
    return result["structuredContent"]


def error_text(result: dict[str, Any]) -> str:
    assert result["isError"] is True
    assert "structuredContent" not in result
    [item] = result["content"]
    assert item["type"] == "text"
    return item["text"]


# --- definition -----------------------------------------------------------------------------------


def test_tool_is_named_like_the_reference_server(tool: SequentialThinkingTool) -> None:
    assert tool.name == "sequentialthinking"
    assert "revis" in tool.description and "branch" in tool.description


def test_input_schema_has_exactly_the_wire_names_and_the_required_four(tool: SequentialThinkingTool) -> None:
    schema = tool.input_schema
    assert schema["type"] == "object"
    assert set(schema["properties"]) == WIRE_FIELDS
    assert sorted(schema["required"]) == sorted(REQUIRED)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["thoughtNumber"]["type"] == "integer"
    assert schema["properties"]["nextThoughtNeeded"]["type"] == "boolean"


def test_input_schema_is_the_models_with_its_descriptions_and_limits(tool: SequentialThinkingTool) -> None:
    properties = tool.input_schema["properties"]
    for name, field in ThoughtInput.model_fields.items():
        wire = field.alias or name
        assert properties[wire]["description"] == field.description, wire
        assert "null" not in json.dumps(properties[wire])  # optional fields are left out, never null
    assert properties["thought"] == {
        "type": "string",
        "minLength": 1,
        "description": "Your current thinking step",
    }
    for wire in ("thoughtNumber", "totalThoughts", "revisesThought", "branchFromThought"):
        assert (properties[wire]["type"], properties[wire]["minimum"]) == ("integer", 1)
    assert properties["branchId"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


@given(st.text(max_size=140) | st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,130}", fullmatch=True))
def test_the_schemas_branch_id_pattern_accepts_exactly_the_valid_ids(candidate: str) -> None:
    pattern = SequentialThinkingTool(SessionManager(persist=False)).input_schema["properties"]["branchId"][
        "pattern"
    ]
    assert (re.search(pattern, candidate) is not None) == is_valid_id(candidate)


def test_output_schema_describes_the_result_fields(tool: SequentialThinkingTool) -> None:
    properties = tool.output_schema["properties"]
    for name in ["thoughtNumber", "totalThoughts", "nextThoughtNeeded", "branches", "thoughtHistoryLength"]:
        assert name in properties
        assert name in tool.output_schema["required"]
    assert properties["branches"] == {"type": "array", "items": {"type": "string"}}


def test_annotations_say_the_tool_changes_state(tool: SequentialThinkingTool) -> None:
    assert tool.annotations["readOnlyHint"] is False
    assert tool.annotations["idempotentHint"] is False
    assert tool.annotations["destructiveHint"] is False


def test_openai_tool_is_a_function_definition(tool: SequentialThinkingTool) -> None:
    definition = tool.openai_tool()
    assert definition["type"] == "function"
    assert definition["function"]["name"] == "sequentialthinking"
    assert definition["function"]["parameters"] == tool.input_schema
    assert definition["function"]["description"] == tool.description
    json.dumps(definition)  # plain JSON, sendable as is


def test_anthropic_tool_has_name_description_and_input_schema(tool: SequentialThinkingTool) -> None:
    definition = tool.anthropic_tool()
    assert set(definition) == {"name", "description", "input_schema"}
    assert definition["name"] == "sequentialthinking"
    assert definition["input_schema"] == tool.input_schema
    json.dumps(definition)


def test_mcp_tool_lists_both_schemas_and_annotations(tool: SequentialThinkingTool) -> None:
    definition = tool.mcp_tool()
    assert definition["inputSchema"] == tool.input_schema
    assert definition["outputSchema"] == tool.output_schema
    assert definition["annotations"]["readOnlyHint"] is False


# --- reference semantics --------------------------------------------------------------------------


def test_result_text_is_the_json_of_structured_content_indented_like_the_reference(
    tool: SequentialThinkingTool,
) -> None:
    result = tool.call(args(1, 3))
    assert result["isError"] is False
    [item] = result["content"]
    assert item["type"] == "text"
    assert json.loads(item["text"]) == result["structuredContent"]
    assert item["text"] == json.dumps(result["structuredContent"], indent=2)  # JSON.stringify(x, null, 2)
    assert item["text"].splitlines()[:2] == ["{", '  "thoughtNumber": 1,']
    assert result["structuredContent"] == {
        "thoughtNumber": 1,
        "totalThoughts": 3,
        "nextThoughtNeeded": True,
        "branches": [],
        "thoughtHistoryLength": 1,
        "sessionId": "default",
    }


def test_history_grows_by_one_per_call(tool: SequentialThinkingTool, manager: SessionManager) -> None:
    lengths = [ok(tool.call(args(n, 5, text=f"distinct {n}")))["thoughtHistoryLength"] for n in (1, 2, 3)]
    assert lengths == [1, 2, 3]
    assert [t.thought for t in manager.active.thoughts] == ["distinct 1", "distinct 2", "distinct 3"]


def test_identical_calls_are_each_recorded(tool: SequentialThinkingTool, manager: SessionManager) -> None:
    same = args(2, 3, text="same words")
    assert [ok(tool.call(same))["thoughtHistoryLength"] for _ in range(3)] == [1, 2, 3]
    assert len(manager.active) == 3
    assert len({t.id for t in manager.active.thoughts}) == 3


def test_total_thoughts_is_raised_to_thought_number(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    result = ok(tool.call(args(7, 3)))
    assert result["thoughtNumber"] == 7 and result["totalThoughts"] == 7
    assert manager.active.thoughts[-1].total_thoughts == 7


def test_lower_total_than_before_is_kept_as_given(tool: SequentialThinkingTool) -> None:
    ok(tool.call(args(1, 10)))
    assert ok(tool.call(args(2, 4)))["totalThoughts"] == 4


def test_thought_joins_a_branch_when_both_branch_fields_are_set(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1)))
    result = ok(tool.call(args(2, branchFromThought=1, branchId="alt")))
    assert result["branches"] == ["alt"]
    session = manager.active
    assert [t.thought for t in session.branches["alt"].thoughts] == ["step 2"]
    assert session.branches["alt"].from_thought == 1
    assert [t.thought for t in session.trunk] == ["step 1"]


def test_branch_id_alone_does_not_make_a_branch(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    result = ok(tool.call(args(1, branchId="lonely")))
    assert result["branches"] == []
    assert dict(manager.active.branches) == {}
    assert len(manager.active.trunk) == 1
    assert manager.active.thoughts[0].branch_id == "lonely"  # recorded as given


def test_branch_from_thought_alone_does_not_make_a_branch(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1)))
    result = ok(tool.call(args(2, branchFromThought=1)))
    assert result["branches"] == []
    assert len(manager.active.trunk) == 2


def test_branches_are_listed_in_creation_order(tool: SequentialThinkingTool) -> None:
    ok(tool.call(args(1)))
    for branch_id in ["zeta", "alpha", "mid"]:
        ok(tool.call(args(2, branchFromThought=1, branchId=branch_id)))
    result = ok(tool.call(args(3, branchFromThought=1, branchId="alpha")))
    assert result["branches"] == ["zeta", "alpha", "mid"]
    assert result["thoughtHistoryLength"] == 5


def test_references_to_unrecorded_thoughts_are_accepted(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    revision = ok(tool.call(args(1, isRevision=True, revisesThought=99)))
    branch = ok(tool.call(args(2, branchFromThought=42, branchId="far")))
    assert revision["thoughtHistoryLength"] == 1 and branch["branches"] == ["far"]
    first, _second = manager.active.thoughts
    assert first.revises_thought == 99 and first.is_revision is True
    assert manager.active.branches["far"].from_thought == 42


def test_revises_thought_alone_marks_a_revision(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1)))
    ok(tool.call(args(2, revisesThought=1)))
    assert manager.active.thoughts[-1].is_revision is True


def test_wire_values_are_stored_in_the_thought(tool: SequentialThinkingTool, manager: SessionManager) -> None:
    ok(tool.call(args(4, 6, more=False, text="Final: 42", needsMoreThoughts=True)))
    thought = manager.active.thoughts[-1]
    assert (thought.thought, thought.thought_number, thought.total_thoughts) == ("Final: 42", 4, 6)
    assert thought.next_thought_needed is False and thought.needs_more_thoughts is True
    assert manager.active.status == "complete"


calls = st.lists(
    st.fixed_dictionaries(
        {
            # any text the store keeps (no NUL: refused, see the bad inputs below)
            "thought": st.text(
                st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20
            ).filter(str.strip),
            "thoughtNumber": st.integers(1, 8),
            "totalThoughts": st.integers(1, 8),
            "nextThoughtNeeded": st.booleans(),
        },
        optional={
            "isRevision": st.booleans(),
            "revisesThought": st.integers(1, 8),
            "branchFromThought": st.integers(1, 8),
            "branchId": st.sampled_from(["a", "b", "c-1"]),
            "needsMoreThoughts": st.booleans(),
        },
    ),
    max_size=15,
)


@settings(max_examples=100, deadline=None)
@given(calls)
def test_results_match_the_reference_process_thought(arguments_list: list[dict[str, Any]]) -> None:
    """A model of the reference server's processThought, plus our one addition: a thoughtNumber of 1
    after a completed chain starts a fresh session (fresh history and branches)."""
    tool = SequentialThinkingTool(SessionManager(persist=False))
    history: list[dict[str, Any]] = []
    branches: dict[str, list[dict[str, Any]]] = {}
    session_id = "default"
    for arguments in arguments_list:
        if arguments["thoughtNumber"] == 1 and history and not history[-1]["nextThoughtNeeded"]:
            history, branches = [], {}
        data = {**arguments, "totalThoughts": max(arguments["totalThoughts"], arguments["thoughtNumber"])}
        history.append(data)
        if data.get("branchFromThought") and data.get("branchId"):
            branches.setdefault(data["branchId"], []).append(data)
        result = ok(tool.call(arguments))
        assert {key: result[key] for key in ["thoughtNumber", "totalThoughts", "nextThoughtNeeded"]} == {
            key: data[key] for key in ["thoughtNumber", "totalThoughts", "nextThoughtNeeded"]
        }
        assert result["branches"] == list(branches)
        assert result["thoughtHistoryLength"] == len(history)
        session_id = result["sessionId"]
    assert tool.manager.active_id == "default"
    session = tool.manager.session(session_id)
    assert [t.thought for t in session.thoughts] == [d["thought"] for d in history]
    assert {b: [t.thought for t in session.branches[b].thoughts] for b in session.branches} == {
        b: [d["thought"] for d in items] for b, items in branches.items()
    }


# --- coercion -------------------------------------------------------------------------------------


def test_numbers_and_booleans_given_as_strings_are_coerced(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    result = ok(
        tool.call(
            {
                "thought": "t",
                "thoughtNumber": "3",
                "totalThoughts": "2",
                "nextThoughtNeeded": "false",
                "isRevision": "true",
                "revisesThought": "1",
            }
        )
    )
    assert result["thoughtNumber"] == 3 and result["totalThoughts"] == 3
    assert result["nextThoughtNeeded"] is False
    thought = manager.active.thoughts[-1]
    assert thought.is_revision is True and thought.revises_thought == 1


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("TRUE", True), ("False", False)])
def test_boolean_strings_are_case_insensitive(
    tool: SequentialThinkingTool, text: str, expected: bool
) -> None:
    assert ok(tool.call(args(1, nextThoughtNeeded=text)))["nextThoughtNeeded"] is expected


def test_arguments_given_as_json_text_are_accepted(tool: SequentialThinkingTool) -> None:
    assert ok(tool.call(json.dumps(args(1, 2))))["thoughtHistoryLength"] == 1  # type: ignore[arg-type]


def test_null_optional_fields_are_ignored(tool: SequentialThinkingTool, manager: SessionManager) -> None:
    ok(tool.call(args(1, branchId=None, revisesThought=None)))
    assert manager.active.thoughts[0].branch_id is None


# --- bad input: isError naming the field, nothing recorded ----------------------------------------


BAD_INPUTS = [
    ({"thought": "t", "thoughtNumber": 1, "totalThoughts": 1}, "nextThoughtNeeded"),
    ({"thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": True}, "thought"),
    (args(0), "thoughtNumber"),
    (args(-1), "thoughtNumber"),
    (args("one"), "thoughtNumber"),  # type: ignore[arg-type]
    (args(2.5), "thoughtNumber"),  # type: ignore[arg-type]
    (args(True), "thoughtNumber"),  # type: ignore[arg-type]
    (args(1, 0), "totalThoughts"),
    (args(1, "many"), "totalThoughts"),  # type: ignore[arg-type]
    (args(1, more="maybe"), "nextThoughtNeeded"),  # type: ignore[arg-type]
    (args(1, more=1), "nextThoughtNeeded"),  # type: ignore[arg-type]
    (args(1, isRevision="perhaps"), "isRevision"),
    (args(1, revisesThought=0), "revisesThought"),
    (args(1, branchFromThought="x"), "branchFromThought"),
    (args(1, branchFromThought=1, branchId="../x"), "branchId"),
    (args(1, branchFromThought=1, branchId="a/b"), "branchId"),
    (args(1, branchFromThought=1, branchId=""), "branchId"),
    (args(1, branchFromThought=1, branchId="b" * 500), "branchId"),
    (args(1, branchId="_leading"), "branchId"),
    (args(1, text=""), "thought"),
    (args(1, text="  \n\t "), "thought"),
    (args(1, text=7), "thought"),  # type: ignore[arg-type]
    (args(1, mood="happy"), "mood"),
    (args(1, thought_number=1), "thought_number"),
    (args(2**63), "thoughtNumber"),
    (args(2**31), "thoughtNumber"),
    (args(-(2**63)), "thoughtNumber"),
    (args("9" * 5000), "thoughtNumber"),  # type: ignore[arg-type]
    (args(float("inf")), "thoughtNumber"),  # type: ignore[arg-type]
    (args(float("nan")), "thoughtNumber"),  # type: ignore[arg-type]
    (args(1, True), "totalThoughts"),  # type: ignore[arg-type]
    (args(1, 2**63), "totalThoughts"),
    (args(1, revisesThought=False), "revisesThought"),
    (args(1, revisesThought=2**63), "revisesThought"),
    (args(1, branchFromThought=True, branchId="b"), "branchFromThought"),
    (args(1, branchFromThought=2**31, branchId="b"), "branchFromThought"),
    (args(1, text="before\x00after"), "thought"),
    (args(1, text="\ud800"), "thought"),
    (args(1, text="x" * 1_000_001), "thought"),
    (args(1, text={"nested": ["junk", {"deeper": None}]}), "thought"),  # type: ignore[arg-type]
    (args([1, [2]]), "thoughtNumber"),  # type: ignore[arg-type]
    (args(1, **{"line\nbreak": 1}), "'line\\nbreak'"),
]


@pytest.mark.parametrize(
    ("arguments", "field"), BAD_INPUTS, ids=[f"{field}-{i}" for i, (_, field) in enumerate(BAD_INPUTS)]
)
def test_bad_input_is_an_error_naming_the_field_and_records_nothing(
    tool: SequentialThinkingTool, manager: SessionManager, arguments: dict[str, Any], field: str
) -> None:
    ok(tool.call(args(1, text="before")))
    events = []
    manager.subscribe(events.append)
    message = error_text(tool.call(arguments))
    assert f"{field}:" in message
    assert len(manager.active) == 1
    assert events == []


@pytest.mark.parametrize(
    "arguments", [None, 5, "not json", "[1, 2]", [args(1)], {1: "x", "thought": "t"}, object()]
)
def test_arguments_that_are_not_an_object_give_an_error_never_an_exception(
    tool: SequentialThinkingTool, manager: SessionManager, arguments: Any
) -> None:
    message = error_text(tool.call(arguments))
    assert message.startswith("Invalid arguments")
    assert len(manager.active) == 0


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (args(2**63), "thoughtNumber: must be a whole number from 1 to 2147483647 (got 9223372036854775808)"),
        (args(True), "thoughtNumber: must be a whole number from 1 to 2147483647, not a boolean (got True)"),
        (
            args(1, text="a\x00b"),
            "thought: holds a NUL character (U+0000), which the store does not keep; remove it",
        ),
        (
            args(1, text="\ud800"),
            "thought: holds a lone surrogate (U+D800 at character 1), which is not Unicode text",
        ),
    ],
    ids=["2**63", "a boolean", "NUL", "lone surrogate"],
)
def test_a_value_the_store_cannot_keep_is_one_line_naming_the_field(
    tool: SequentialThinkingTool, arguments: dict[str, Any], says: str
) -> None:
    message = error_text(tool.call(arguments))
    assert message.startswith(f"Invalid arguments: {says}") and "\n" not in message
    assert message.encode("utf-8")  # a lone surrogate is shown escaped: the result travels as UTF-8


def test_numbers_given_as_strings_are_still_coerced_up_to_the_largest(tool: SequentialThinkingTool) -> None:
    assert ok(tool.call(args("2147483647", " 3 ")))["thoughtNumber"] == 2**31 - 1  # type: ignore[arg-type]
    assert "thoughtNumber:" in error_text(tool.call(args("2147483648")))  # type: ignore[arg-type]


def test_several_bad_fields_are_all_named(tool: SequentialThinkingTool) -> None:
    message = error_text(
        tool.call({"thought": "t", "thoughtNumber": 0, "totalThoughts": "x", "nextThoughtNeeded": True})
    )
    assert "thoughtNumber:" in message and "totalThoughts:" in message


def test_too_long_thought_is_refused_and_not_recorded() -> None:
    manager = SessionManager(persist=False, max_thought_chars=50)
    tool = SequentialThinkingTool(manager)
    message = error_text(tool.call(args(1, text="x" * 51)))
    assert "thought" in message and "50" in message
    assert len(manager.active) == 0
    assert ok(tool.call(args(1, text="x" * 50)))["thoughtHistoryLength"] == 1


# --- loop guard -----------------------------------------------------------------------------------


def test_max_thoughts_refuses_further_thoughts_and_tells_the_agent_to_conclude() -> None:
    manager = SessionManager(persist=False, max_thoughts=3)
    tool = SequentialThinkingTool(manager)
    for n in (1, 2, 3):
        ok(tool.call(args(n, 10)))
    message = error_text(tool.call(args(4, 10)))
    assert "conclude" in message and "3" in message
    assert len(manager.active) == 3


def test_a_thought_repeating_a_recent_one_is_flagged(tool: SequentialThinkingTool) -> None:
    first = ok(tool.call(args(1, text="Check the base case")))
    ok(tool.call(args(2, text="Something else")))
    repeat = ok(tool.call(args(3, text="Check the base case")))
    assert "repeated" not in first
    assert repeat["repeated"] is True
    assert "repeats" in repeat["warning"]
    assert repeat["thoughtHistoryLength"] == 3  # still recorded, like the reference server


def test_a_repeat_older_than_the_window_is_not_flagged(tool: SequentialThinkingTool) -> None:
    ok(tool.call(args(1, text="old idea")))
    for n in range(2, 8):
        ok(tool.call(args(n, 10)))
    assert "repeated" not in ok(tool.call(args(8, 10, text="old idea")))


# --- session resolution ---------------------------------------------------------------------------


def test_unbound_tool_writes_to_the_active_session(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1)))
    with manager.activate("scoped"):
        assert ok(tool.call(args(1, text="inside")))["sessionId"] == "scoped"
    assert ok(tool.call(args(2)))["sessionId"] == "default"
    assert [t.thought for t in manager.session("scoped").thoughts] == ["inside"]
    assert len(manager.session("default")) == 2


def test_tool_bound_to_a_session_ignores_the_active_one(manager: SessionManager) -> None:
    tool = SequentialThinkingTool(manager, session_id="bound")
    with manager.activate("elsewhere"):
        assert ok(tool.call(args(1)))["sessionId"] == "bound"
    assert len(manager.session("bound")) == 1
    assert len(manager.session("elsewhere")) == 0


def test_tool_rejects_an_invalid_session_id_up_front(manager: SessionManager) -> None:
    with pytest.raises(ValueError, match="invalid session id"):
        SequentialThinkingTool(manager, session_id="../etc")


def test_first_thought_after_a_completed_chain_starts_agent_sessions(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1, 1, more=False, text="first chain")))
    assert ok(tool.call(args(1, 2, text="second chain")))["sessionId"] == "agent-1"
    assert ok(tool.call(args(2, 2, more=False)))["sessionId"] == "agent-1"
    assert ok(tool.call(args(1, 1, text="third chain")))["sessionId"] == "agent-2"
    assert [t.thought for t in manager.session("default").thoughts] == ["first chain"]
    assert [t.thought for t in manager.session("agent-1").thoughts] == ["second chain", "step 2"]


def test_a_new_chain_never_changes_the_persons_active_session(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1, 1, more=False, text="the person's chain")))
    ok(tool.call(args(1, 2, text="the agent's own chain")))
    assert manager.active_id == "default"
    manager.active.think("the person goes on")  # what %think does
    assert ok(tool.call(args(2, 2)))["sessionId"] == "agent-1"  # the agent goes on in its chain
    assert [t.thought for t in manager.session("default").thoughts] == [
        "the person's chain",
        "the person goes on",
    ]
    assert len(manager.session("agent-1")) == 2


def test_an_unbound_tool_keeps_its_chain_per_active_session(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1, 1, more=False)))
    assert ok(tool.call(args(1, 3)))["sessionId"] == "agent-1"
    with manager.activate("scoped"):
        assert ok(tool.call(args(1, 3, text="in the scoped session")))["sessionId"] == "scoped"
    assert ok(tool.call(args(2, 3)))["sessionId"] == "agent-1"  # back with default active: its chain


@pytest.mark.parametrize(
    ("stored", "first_chain"),
    [
        ([], "agent-1"),
        (["agent-openai", "design", "agent-x", "agents-7", "agent-2-notes", "agent-0"], "agent-1"),
        (["agent-1", "agent-4"], "agent-5"),
    ],
)
def test_chain_ids_count_on_from_the_agents_own_chains_only(stored: list[str], first_chain: str) -> None:
    manager = SessionManager(persist=False)
    for session_id in stored:
        manager.session(session_id).think("someone else's")
    tool = SequentialThinkingTool(manager)
    ok(tool.call(args(1, 1, more=False)))
    assert ok(tool.call(args(1, 1, more=False)))["sessionId"] == first_chain
    assert len(manager.session(first_chain)) == 1


def test_chain_ids_are_the_same_in_every_fresh_store() -> None:
    def run() -> list[str]:
        tool = SequentialThinkingTool(SessionManager(persist=False), agent_id="solver")
        return [ok(tool.call(args(1, 1, more=False)))["sessionId"] for _ in range(4)]

    assert run() == run() == ["default", "solver-1", "solver-2", "solver-3"]


def test_two_tools_with_one_agent_id_never_share_a_chain(manager: SessionManager) -> None:
    first, second = (
        SequentialThinkingTool(manager, session_id="a"),
        SequentialThinkingTool(manager, session_id="b"),
    )
    for tool in (first, second):
        ok(tool.call(args(1, 1, more=False)))
    chains = [ok(tool.call(args(1, 1, more=False)))["sessionId"] for tool in (first, second, first)]
    assert chains == ["agent-1", "agent-2", "agent-3"]


def test_a_later_number_after_completion_reopens_the_same_session(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    ok(tool.call(args(1, 1, more=False)))
    assert ok(tool.call(args(2, 2, needsMoreThoughts=True)))["sessionId"] == "default"
    assert manager.active.status == "open"


def test_agent_id_is_the_prefix_of_new_chain_sessions(manager: SessionManager) -> None:
    tool = SequentialThinkingTool(manager, agent_id="solver", session_id="run")
    ok(tool.call(args(1, 1, more=False)))
    assert ok(tool.call(args(1, 1)))["sessionId"] == "solver-1"
    assert tool.session_id == "solver-1"
    assert manager.active_id == "default"  # a bound tool does not switch the active session


def test_a_refused_first_thought_claims_no_chain_id() -> None:
    manager = SessionManager(persist=False, max_thought_chars=20)
    tool = SequentialThinkingTool(manager)
    ok(tool.call(args(1, 1, more=False)))
    error_text(tool.call(args(1, 1, text="y" * 21)))
    assert manager.sessions() == ["default"]  # no empty agent-1 left behind
    assert ok(tool.call(args(1, 1)))["sessionId"] == "agent-1"


def test_a_tool_that_owns_its_agent_id_stores_every_chain_and_asks_the_store_only_once(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MCP connection's ids are its own: its chains after the first new one start without a store
    read (which would wait for the persistence thread's commit), and every one is stored."""
    with SessionManager(store=store_location) as manager:
        tool = SequentialThinkingTool(manager, agent_id="mcp-x", session_id="mcp-x-1", owns_agent_id=True)
        ok(tool.call(args(1, 1, more=False, text="chain 1")))
        assert (
            ok(tool.call(args(1, 1, more=False, text="chain 2")))["sessionId"] == "mcp-x-2"
        )  # lists the store
        reads: list[str] = []
        for name in ("heads", "load", "sessions"):
            method = getattr(manager.store, name)
            monkeypatch.setattr(
                manager.store, name, lambda *a, _m=method, _n=name, **k: (reads.append(_n), _m(*a, **k))[1]
            )
        chains = [ok(tool.call(args(1, 1, more=False, text=f"chain {n}")))["sessionId"] for n in range(3, 7)]
        assert chains == ["mcp-x-3", "mcp-x-4", "mcp-x-5", "mcp-x-6"]
        assert reads == []
    with SessionManager(store=store_location) as reopened:
        for n in range(1, 7):
            assert [t.thought for t in reopened.session(f"mcp-x-{n}").thoughts] == [f"chain {n}"]


def test_a_shared_agent_id_skips_a_chain_id_another_writer_stored_meanwhile(store_location: str) -> None:
    with SessionManager(store=store_location) as manager, SessionManager(store=store_location) as other:
        tool = SequentialThinkingTool(manager, session_id="task")
        ok(tool.call(args(1, 1, more=False)))
        assert ok(tool.call(args(1, 1, more=False)))["sessionId"] == "agent-1"
        other.session("agent-2").think("another kernel's chain")
        other.flush(timeout=60)
        assert ok(tool.call(args(1, 1, more=False, text="mine")))["sessionId"] == "agent-3"
        manager.flush(timeout=60)
    with SessionManager(store=store_location) as reopened:
        assert [t.thought for t in reopened.session("agent-2").thoughts] == ["another kernel's chain"]
        assert [t.thought for t in reopened.session("agent-3").thoughts] == ["mine"]


def test_agent_id_must_make_valid_session_ids(manager: SessionManager) -> None:
    with pytest.raises(ValueError):
        SequentialThinkingTool(manager, agent_id="bad/agent")


# --- async ----------------------------------------------------------------------------------------


def test_acall_records_under_anyio_asyncio(tool: SequentialThinkingTool, manager: SessionManager) -> None:
    async def main() -> list[dict[str, Any]]:
        return [await tool.acall(args(n, 3)) for n in (1, 2)]

    results = anyio.run(main, backend="asyncio")
    assert [ok(r)["thoughtHistoryLength"] for r in results] == [1, 2]
    assert len(manager.active) == 2


def test_acall_with_sync_durability_records_in_a_worker_thread(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("JUPYTER_THINK_DIR", raising=False)
    with SessionManager(tmp_path / "store", durability="sync") as manager:
        tool = SequentialThinkingTool(manager)
        threads: list[int] = []
        manager.subscribe(lambda event: threads.append(threading.get_ident()))

        async def main() -> dict[str, Any]:
            return await tool.acall(args(1, 1, more=False))

        assert ok(anyio.run(main, backend="asyncio"))["thoughtHistoryLength"] == 1
        assert manager.active.status == "complete"
        assert threads and threading.get_ident() not in threads  # the event loop was not blocked


def test_acall_returns_errors_as_results(tool: SequentialThinkingTool) -> None:
    async def main() -> dict[str, Any]:
        return await tool.acall(args(0))

    assert "thoughtNumber" in error_text(anyio.run(main, backend="asyncio"))


def test_arguments_nested_too_deeply_are_an_error_result_not_an_exception() -> None:
    tool = SequentialThinkingTool(SessionManager(persist=False))
    for arguments in ("[" * 100_000 + "]" * 100_000, '{"thought": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        result = tool.call(arguments)  # type: ignore[arg-type]
        assert result["isError"] is True
    assert len(tool.manager.active) == 0


# --- in a real kernel, across a restart -------------------------------------------------------------

CALL = "tool.call({{'thought': {text!r}, 'thoughtNumber': {n}, 'totalThoughts': 2, 'nextThoughtNeeded': {more}}})"


def _call(kernel: Any, text: str, n: int, more: bool) -> dict[str, Any]:
    return kernel.value(CALL.format(text=text, n=n, more=more) + "['structuredContent']")


@pytest.mark.kernel
def test_chain_ids_go_on_after_a_kernel_restart_and_never_move_the_active_session(make_kernel: Any) -> None:
    kernel = make_kernel()
    setup = (
        "%load_ext jupyter_think\nimport jupyter_think\n"
        "%think -q -s agent-openai someone else's session\n%think -q -s agents-9 and another\n"
        "%session person --new\ntool = jupyter_think.SequentialThinkingTool()"
    )
    assert kernel.execute(setup).ok
    assert _call(kernel, "the person's chain, concluded", 1, False)["sessionId"] == "person"
    assert [_call(kernel, f"chain {k}", 1, False)["sessionId"] for k in (1, 2)] == ["agent-1", "agent-2"]
    assert kernel.execute("%think -q the person goes on\n%session --flush").ok
    assert kernel.value("jupyter_think.get_manager().active_id") == "person"
    assert kernel.value("[t.thought for t in jupyter_think.get_manager().session('person').thoughts]") == [
        "the person's chain, concluded",
        "the person goes on",
    ]

    kernel.kill()  # a crash: nothing runs at exit
    assert kernel.execute(setup.replace("%session person --new", "%session person")).ok
    assert _call(kernel, "concluding again", 3, False)["sessionId"] == "person"
    assert _call(kernel, "a chain after the restart", 1, True)["sessionId"] == "agent-3"
    assert kernel.value("jupyter_think.get_manager().active_id") == "person"
    assert kernel.value("[t.thought for t in jupyter_think.get_manager().session('agent-1').thoughts]") == [
        "chain 1"
    ]


def test_a_repeated_number_is_accepted_and_a_reference_to_it_means_its_latest_thought(
    tool: SequentialThinkingTool, manager: SessionManager
) -> None:
    from jupyter_think.views.layout import layout

    ok(tool.call(args(1, 3, text="first try")))
    ok(tool.call(args(1, 3, text="starting over")))  # lenient, like the reference server
    ok(tool.call(args(2, 3, text="revising", revisesThought=1)))
    ok(tool.call(args(2, 3, text="another way", branchFromThought=1, branchId="alt")))
    graph = layout(manager.active)
    index = {node.thought.thought: node.index for node in graph.nodes}
    assert graph.nodes[index["revising"]].revises == index["starting over"]
    assert next(lane for lane in graph.lanes if lane.branch_id == "alt").fork == index["starting over"]
