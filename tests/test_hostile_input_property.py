"""Hostile input, generated: arbitrary values through the Python API, the agent tool and a real
``jupyter-think mcp``, on both engines, in async and in sync durability.

A stateful machine (hypothesis) mixes people's calls (``think``, ``revise``, ``branch``, ``amend``,
``retract``, ``decide``, ``merge``) and agents' calls (``SequentialThinkingTool.call``, and lines to one
MCP server per engine and durability) with values nobody should send: numbers past 2**31 - 1 or below 1,
booleans and strings for numbers, NUL, lone surrogates, texts of 1 MB, nested junk, missing and unknown
fields, lines with a byte order mark or bytes that are not UTF-8. A value outside the rules is always
refused, with a one-line error, and leaves no trace; after ``close()`` and a fresh open of the store,
every acknowledged change is there exactly (numbers, texts, branches, amendments, retractions,
decisions), and the store still takes writes.

The expected outcome of each call is worked out here, from the rules (1 to 2**31 - 1, no boolean; text
not blank, no NUL, no lone surrogate, at most ``max_thought_chars``), not from the code under test.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from mcp_raw import RawServer

from jupyter_think import SequentialThinkingTool, SessionManager, Thought

LARGEST = 2**31 - 1
LIMIT = 120_000
"""``max_thought_chars`` of the in-process managers (the ceiling); the MCP server keeps the default."""
MCP_LIMIT = 100_000
SURROGATE = re.compile("[\ud800-\udfff]")
FIELDS = (
    "thought",
    "thought_number",
    "total_thoughts",
    "next_thought_needed",
    "is_revision",
    "revises_thought",
    "branch_from_thought",
    "branch_id",
    "needs_more_thoughts",
)

SETTINGS = settings(
    max_examples=10,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    # No shrinking: a failing run of 30 steps with 1 MB texts shrinks for minutes per engine, past the
    # suite's budget; it is reported as it ran (derandomize: the same steps every run).
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _worst_case_text(length: int) -> str:
    """The text whose PostgreSQL search index is largest per character (distinct 4-byte letters in
    hyphenated pairs: three lexemes per four characters), ``length`` characters long."""
    letters = (chr(c) for c in range(0x20000, 0x323B0) if unicodedata.category(chr(c)).startswith("L"))
    pairs = (f"{a}-{b}" for a, b in zip(letters, letters, strict=False))
    return " ".join(itertools.islice(pairs, length // 4 + 1))[:length]


WORST_CASE = _worst_case_text(LIMIT)
ONE_MEGABYTE = "x" * 2**20


def number_ok(value: object) -> bool:
    return type(value) is int and 1 <= value <= LARGEST


def text_ok(value: object, limit: int = LIMIT) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= limit
        and not value.isspace()
        and "\x00" not in value
        and SURROGATE.search(value) is None
    )


def id_ok(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}", value) is not None


# --- values ---------------------------------------------------------------------------------------


def mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], rare: Any = None
) -> st.SearchStrategy[Any]:
    """``good`` 19 times in 25, else ``bad``; ``rare`` (when given) once in 25 instead of ``bad``.

    Hypothesis draws the ends of a range more often than the middle: 0 is ``rare`` or ``bad``, 24 ``good``.
    """
    return st.integers(0, 24).flatmap(
        lambda n: good if n >= 6 else st.just(rare) if rare is not None and n == 0 else bad
    )


SMALL = st.integers(1, 6)
GOOD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30).filter(
    lambda text: not text.isspace()
)
BAD_TEXTS = ["a\x00b", "\x00", "x\ud800y", "\udfff", "", "  \n\t", ONE_MEGABYTE, WORST_CASE + "x"]
TEXTS = mostly(GOOD_TEXT, st.sampled_from(BAD_TEXTS), rare=WORST_CASE)
BAD_NUMBERS = [
    0,
    -1,
    -(2**63),
    LARGEST + 1,
    2**63,
    10**30,
    True,
    False,
    2.5,
    float("inf"),
    float("nan"),
    "x",
    "9" * 50,
]
API_NUMBERS = mostly(SMALL, st.sampled_from([*BAD_NUMBERS, 2.0, "3"]), rare=LARGEST)
MAYBE_NUMBER = st.none() | API_NUMBERS
BRANCHES = mostly(
    st.sampled_from(["alt", "beta", "main"]), st.sampled_from(["../x", "", "a\x00b", "x" * 200])
)
NOTES = mostly(
    st.none() | GOOD_TEXT, st.sampled_from(["", "   ", "why\x00", "\ud800", "n" * 10_000, "n" * 10_001, 5])
)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@dataclass(frozen=True)
class Call:
    """Arguments for the tool, and the thought they must record (``None``: they must be refused)."""

    arguments: Any
    expected: dict[str, Any] | None

    def accepted(self, limit: int) -> bool:
        return self.expected is not None and len(self.expected["thought"]) <= limit


def _number_form(number: int) -> st.SearchStrategy[object]:
    return st.sampled_from([number, str(number), f" {number} "])  # the tool coerces numeric strings


def _bool_form(value: bool) -> st.SearchStrategy[object]:
    return st.sampled_from([value, str(value).lower(), str(value).upper(), f" {value} "])


HOSTILE = {
    "thought": [*BAD_TEXTS, 5, ["a"], {"t": "a"}],
    "number": [*BAD_NUMBERS, [1], {"n": 1}, ""],
    "boolean": ["maybe", 1, 0, [], "yes"],
    "branchId": ["../x", "", "a b", "x" * 200, "a\x00"],
}
KIND = {
    "thought": "thought",
    "thoughtNumber": "number",
    "totalThoughts": "number",
    "revisesThought": "number",
    "branchFromThought": "number",
    "nextThoughtNeeded": "boolean",
    "isRevision": "boolean",
    "needsMoreThoughts": "boolean",
    "branchId": "branchId",
}


@st.composite
def calls(draw: st.DrawFn) -> Call:
    """A tool call: well-formed in any of the accepted forms, or damaged in one to three ways."""
    number, total, more = draw(SMALL), draw(SMALL), draw(st.booleans())
    text = draw(mostly(GOOD_TEXT, st.just(WORST_CASE[:MCP_LIMIT]), rare=WORST_CASE))
    arguments: dict[str, Any] = {
        "thought": text,
        "thoughtNumber": draw(_number_form(number)),
        "totalThoughts": draw(_number_form(total)),
        "nextThoughtNeeded": draw(_bool_form(more)),
    }
    expected = dict.fromkeys(FIELDS)
    expected.update(
        thought=text, thought_number=number, total_thoughts=max(total, number), next_thought_needed=more
    )
    if draw(st.booleans()):
        revises = draw(SMALL)
        arguments["revisesThought"] = draw(_number_form(revises))
        expected.update(revises_thought=revises, is_revision=True)
    if draw(st.booleans()):
        flag = draw(st.booleans())
        arguments["isRevision"] = draw(_bool_form(flag))
        expected["is_revision"] = expected["is_revision"] or flag
    if draw(st.booleans()):
        fork = draw(SMALL)
        arguments["branchFromThought"] = draw(_number_form(fork))
        expected["branch_from_thought"] = fork
    if draw(st.booleans()):
        arguments["branchId"] = expected["branch_id"] = draw(st.sampled_from(["a", "b-1", "x" * 128]))
    if draw(st.booleans()):
        flag = draw(st.booleans())
        arguments["needsMoreThoughts"] = draw(_bool_form(flag))
        expected["needs_more_thoughts"] = flag
    if draw(st.booleans()):
        arguments[draw(st.sampled_from(["branchId", "isRevision", "revisesThought"]))] = (
            None  # null: left out
        )
        expected.update(_left_out(arguments))
    if draw(st.integers(0, 9)) >= 4:  # 0, which hypothesis favours, damages
        return Call(arguments, expected)
    for _ in range(draw(st.integers(1, 3))):
        arguments = _damage(draw, arguments)
    return Call(arguments, None)


def _left_out(arguments: dict[str, Any]) -> dict[str, Any]:
    """What a null optional field leaves expected (as if it was not sent)."""
    changes: dict[str, Any] = {}
    if arguments.get("branchId", "") is None:
        changes["branch_id"] = None
    if arguments.get("revisesThought", "") is None:
        changes["revises_thought"] = None
        flag = arguments.get("isRevision")
        changes["is_revision"] = None if flag is None else str(flag).strip().lower() == "true"
    if arguments.get("isRevision", "") is None:
        changes["is_revision"] = True if arguments.get("revisesThought") is not None else None
    return changes


def _damage(draw: st.DrawFn, arguments: Any) -> Any:
    """``arguments`` made surely invalid: a hostile value, a missing or unknown field, or junk instead."""
    if not isinstance(arguments, dict):
        return arguments
    how = draw(st.sampled_from(["value", "value", "missing", "unknown", "junk"]))
    if how == "value":
        field = draw(st.sampled_from(sorted(KIND)))
        return {**arguments, field: draw(st.sampled_from(HOSTILE[KIND[field]]))}
    if how == "missing":
        field = draw(st.sampled_from(["thought", "thoughtNumber", "totalThoughts", "nextThoughtNeeded"]))
        return {key: value for key, value in arguments.items() if key != field}
    if how == "unknown":
        return {
            **arguments,
            draw(st.sampled_from(["mood", "thought_number", "id", "line\nbreak"])): draw(JUNK),
        }
    return draw(
        st.one_of(st.lists(JUNK, max_size=3), st.text(max_size=5), st.integers(), st.just([arguments]))
    )


# --- the machine --------------------------------------------------------------------------------------

_examples = itertools.count(1)


@dataclass
class Place:
    """One engine and durability: the store of the in-process calls, and the MCP server (with its own
    store) and every thought it acknowledged, by session."""

    store: str
    durability: str
    server: RawServer
    mcp_store: str
    mcp_acknowledged: dict[str, list[dict[str, Any]]]
    line_ids: itertools.count[int]


class HostileInput(RuleBasedStateMachine):
    """Each example: a fresh manager over the place's store, one session for people and one tool."""

    place: Place

    @initialize()
    def open(self) -> None:
        number = next(_examples)
        self.session_id = f"api-{number}"
        self.manager = SessionManager(
            store=self.place.store, durability=self.place.durability, max_thought_chars=LIMIT
        )
        self.api = self.manager.session(self.session_id)
        self.tool = SequentialThinkingTool(
            self.manager, agent_id=f"tool-{number}", session_id=f"tool-{number}"
        )
        self.thoughts: dict[str, Thought] = {}  # acknowledged by the API, in order (id -> as returned)
        self.texts: dict[str, str] = {}  # thought id -> its current text
        self.retracted: set[str] = set()
        self.decisions: dict[str, tuple[str, str | None]] = {}
        self.tool_acknowledged: dict[str, list[dict[str, Any]]] = {}
        self.caught = warnings.catch_warnings(record=True)
        self.warned = self.caught.__enter__()
        warnings.simplefilter("always")
        for text in ("a first thought", "a second one"):
            self._acknowledge(self.api.think(text, total=3), text)

    # --- people: the Python API ---

    def _api(self, call: Any, must_refuse: bool) -> Any:
        before = (self.api.to_json(), self.api.change_count)
        try:
            result = call()
        except ValueError as exc:  # a ThinkError, or an invalid id: refused, one line, no trace
            assert str(exc) and "\n" not in str(exc), repr(exc)  # noqa: PT017
            assert (self.api.to_json(), self.api.change_count) == before, "a refused call changed the session"
            return None
        assert not must_refuse, "a value outside the rules was accepted"
        return result

    def _acknowledge(self, thought: Thought | None, text: str) -> None:
        if thought is not None:
            assert thought.thought == text
            self.thoughts[thought.id] = thought
            self.texts[thought.id] = text

    @rule(text=TEXTS, total=MAYBE_NUMBER, number=MAYBE_NUMBER, done=st.booleans())
    def think(self, text: object, total: object, number: object, done: bool) -> None:
        bad = not text_ok(text) or any(v is not None and not number_ok(v) for v in (total, number))
        thought = self._api(lambda: self.api.think(text, total=total, number=number, done=done), bad)
        self._acknowledge(thought, text)  # type: ignore[arg-type]
        assert thought is None or number is None or thought.thought_number == number

    @rule(number=API_NUMBERS, text=TEXTS)
    def revise(self, number: object, text: object) -> None:
        thought = self._api(lambda: self.api.revise(number, text), not number_ok(number) or not text_ok(text))
        self._acknowledge(thought, text)  # type: ignore[arg-type]

    @rule(text=TEXTS, branch=BRANCHES, fork=API_NUMBERS)
    def think_in_a_branch(self, text: object, branch: object, fork: object) -> None:
        bad = not text_ok(text) or not number_ok(fork) or not id_ok(branch)
        thought = self._api(lambda: self.api.think(text, branch=branch, branch_from=fork), bad)
        self._acknowledge(thought, text)  # type: ignore[arg-type]

    @rule(branch=BRANCHES, fork=API_NUMBERS)
    def branch(self, branch: object, fork: object) -> None:
        self._api(lambda: self.api.branch(branch, fork), not number_ok(fork) or not id_ok(branch))

    @rule(branch=BRANCHES)
    def switch(self, branch: object) -> None:
        self._api(lambda: self.api.switch_branch(branch), not id_ok(branch))

    @rule(number=API_NUMBERS, text=TEXTS)
    def amend(self, number: object, text: object) -> None:
        thought = self._api(lambda: self.api.amend(number, text), not number_ok(number) or not text_ok(text))
        if thought is not None:
            assert thought.thought == text
            self.texts[thought.id] = text  # type: ignore[assignment]

    @rule(number=API_NUMBERS)
    def retract(self, number: object) -> None:
        thought = self._api(lambda: self.api.retract(number), not number_ok(number))
        if thought is not None:
            self.retracted.add(thought.id)

    @rule(branch=BRANCHES, outcome=st.sampled_from(["chosen", "abandoned", "won", True]), note=NOTES)
    def decide(self, branch: object, outcome: object, note: object) -> None:
        blank = isinstance(note, str) and (not note or note.isspace())
        good_note = note is None or blank or text_ok(note, 10_000)
        decision = self._api(
            lambda: self.api.decide(branch, outcome, note=note), not good_note or not id_ok(branch)
        )
        if decision is not None:
            self.decisions[decision.branch_id] = (decision.outcome, None if blank else note)  # type: ignore[assignment]
            assert decision.note == self.decisions[decision.branch_id][1]

    @rule(branch=BRANCHES, into=BRANCHES)
    def merge(self, branch: object, into: object) -> None:
        self._api(lambda: self.api.merge(branch, into=into), not id_ok(branch) or not id_ok(into))

    # --- agents: the tool in this process, and the MCP server ---

    @rule(call=calls(), via=st.sampled_from(["tool", "tool, as JSON text", "mcp"]))
    def agent_call(self, call: Call, via: str) -> None:
        if via == "mcp":
            request_id = f"call-{next(self.place.line_ids)}"
            self._mcp(request_id, json.dumps(_request(request_id, call.arguments)).encode(), call)
            return
        target = self.manager.session(self.tool.session_id)  # type: ignore[arg-type]
        before = (target.id, len(target))
        result = self.tool.call(json.dumps(call.arguments) if via != "tool" else call.arguments)
        if result["isError"]:
            assert not call.accepted(LIMIT), result
            [item] = result["content"]
            assert item["text"] and "\n" not in item["text"] and item["text"].encode("utf-8")
            assert (self.tool.session_id, len(self.manager.session(self.tool.session_id))) == before  # type: ignore[arg-type]
            return
        assert call.accepted(LIMIT), f"accepted: {call.arguments!r}"[:300]
        self.tool_acknowledged.setdefault(result["structuredContent"]["sessionId"], []).append(call.expected)  # type: ignore[arg-type]

    @rule(call=calls(), damage=st.sampled_from(["bom", "bad utf-8", "number too long", "cut short"]))
    def mcp_bad_line(self, call: Call, damage: str) -> None:
        request_id = f"bad-{next(self.place.line_ids)}"
        line = json.dumps(_request(request_id, call.arguments)).encode()
        if damage == "bom":
            line = b"\xef\xbb\xbf" + line
        elif damage == "bad utf-8":
            line = line.replace(b'"tools/call"', b'"tools/call\xff"')
        elif damage == "number too long":
            line = line.replace(b'"method"', b'"big": ' + b"9" * 5000 + b', "method"')
        else:
            line = line[: max(len(line) // 2, 60)]
        self._mcp(request_id, line, None)

    def _mcp(self, request_id: str, line: bytes, call: Call | None) -> None:
        self.place.server.send_line(line)
        reply = self.place.server.reply()
        assert reply["id"] == request_id, reply
        if "error" in reply or reply["result"]["isError"]:
            assert call is None or not call.accepted(MCP_LIMIT), reply
            return
        assert call is not None and call.accepted(MCP_LIMIT), f"accepted: {line[:300]!r}"
        session_id = reply["result"]["structuredContent"]["sessionId"]
        self.place.mcp_acknowledged.setdefault(session_id, []).append(call.expected)  # type: ignore[arg-type]

    # --- after close() and a fresh open ---

    def teardown(self) -> None:
        try:
            written = {
                sid: self.manager.session(sid).to_json() for sid in [self.session_id, *self.tool_acknowledged]
            }
            self.manager.close()
            with SessionManager(store=self.place.store, max_thought_chars=LIMIT) as fresh:
                self._check_api(fresh, written[self.session_id])
                for session_id, expected in self.tool_acknowledged.items():
                    session = fresh.session(session_id)
                    assert session.to_json() == written[session_id]
                    assert [{f: getattr(t, f) for f in FIELDS} for t in session.thoughts] == expected
                fresh.session(f"{self.session_id}-after").think("the store still takes writes")
            with SessionManager(store=self.place.store) as again:
                assert [t.thought for t in again.session(f"{self.session_id}-after").thoughts] == [
                    "the store still takes writes"
                ]
        finally:
            self.caught.__exit__(None, None, None)
        unsaved = [str(w.message) for w in self.warned if "jupyter-think" in str(w.message)]
        assert not unsaved, unsaved

    def _check_api(self, fresh: SessionManager, written: str) -> None:
        session = fresh.session(self.session_id)
        assert session.to_json() == written
        assert [(t.id, t.thought, t.thought_number, t.branch_id) for t in session.thoughts] == [
            (t.id, self.texts[t.id], t.thought_number, t.branch_id) for t in self.thoughts.values()
        ]
        assert session.retracted == self.retracted
        assert {b: (d.outcome, d.note) for b, d in session.decisions.items()} == self.decisions


def _request(request_id: str, arguments: Any) -> dict[str, Any]:
    params = {"name": "sequentialthinking", "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _location(engine: str, tmp_path: Path, name: str, request: pytest.FixtureRequest) -> str:
    if engine == "postgres":
        return request.getfixturevalue("postgres_server").new_database()
    return str(tmp_path / name)


@pytest.mark.parametrize("durability", ["async", "sync"])
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_hostile_input_is_refused_and_every_acknowledged_change_is_stored(
    engine: str, durability: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    mcp_store = _location(engine, tmp_path, "mcp", request)
    server = RawServer(mcp_store, "--session", "hostile", "--durability", durability)
    try:
        server.handshake()
        place = Place(
            _location(engine, tmp_path, "store", request),
            durability,
            server,
            mcp_store,
            {},
            itertools.count(1),
        )
        machine = type("HostileInputHere", (HostileInput,), {"place": place})
        run_state_machine_as_test(machine, settings=SETTINGS)
        assert server.close() == 0
        assert not [line for line in server.stderr_lines() if "Traceback" in line or "not saved" in line]
    finally:
        server.kill()
    with SessionManager(store=mcp_store) as fresh:
        assert set(fresh.sessions()) == set(place.mcp_acknowledged)
        for session_id, expected in place.mcp_acknowledged.items():
            assert [
                {f: getattr(t, f) for f in FIELDS} for t in fresh.session(session_id).thoughts
            ] == expected
        fresh.session("after-mcp").think("the store still takes writes")
    with SessionManager(store=mcp_store) as again:
        assert [t.thought for t in again.session("after-mcp").thoughts] == ["the store still takes writes"]


def test_the_longest_thought_with_the_largest_search_index_is_stored_on_both_engines(
    store_location: str,
) -> None:
    """The ceiling of max_thought_chars holds on PostgreSQL's search index: 120 000 characters that make
    the most lexemes per character are stored, as a thought and as an amended text; one more is refused."""
    with SessionManager(store=store_location, max_thought_chars=LIMIT, durability="sync") as manager:
        session = manager.session("longest")
        session.think(WORST_CASE)
        session.think("short")
        session.amend(2, WORST_CASE[::-1].strip())
        with pytest.raises(ValueError, match="too long"):
            session.think(WORST_CASE + "x")
    with SessionManager(store=store_location) as fresh:
        assert [t.thought for t in fresh.session("longest").thoughts] == [
            WORST_CASE,
            WORST_CASE[::-1].strip(),
        ]
