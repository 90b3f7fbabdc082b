"""The teaching options of the magics in a real kernel: ``%think --amend N TEXT``, ``%think --retract N``,
``%branch ID --chosen|--abandoned [--note TEXT]`` and ``%branch TARGET --merge ID``; their cards and
tables, their one-line UsageErrors that change nothing, their help, and a restore after a kernel kill."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kernel_harness import ExecResult, Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def think(kernel: Kernel) -> Kernel:
    """The module's kernel with the extension loaded and ``x`` defined (to catch any $x expansion)."""
    result = kernel.execute("%load_ext jupyter_think\nfrom jupyter_think import get_manager\nx = 'EXPANDED'")
    assert result.ok, str(result)
    return kernel


@pytest.fixture
def lesson(think: Kernel, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh active session named after the test: trunk 1-2 (a typo in 1), branch alt from 2 with
    thoughts 3 and 4, branch other from 2 with thought 3; the trunk active."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:100]
    ok(
        think,
        f"%session {name} --new\n%think -q -t 4 2**7 - 1 = 217\n%think -q Guess\n"
        "%think -q -b alt --from 2 Alt step\n%think -q -b alt Alt result\n"
        "%think -q -b other --from 2 Other step\n%branch main",
    )
    yield name
    ok(think, "%session default")


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def state(kernel: Kernel) -> dict[str, Any]:
    """Everything a user error must leave unchanged: active session, its content, the session list."""
    return kernel.value(
        "{'active': get_manager().active_id, 'sessions': get_manager().sessions(),"
        " 'content': {s: get_manager().session(s).to_json() for s in get_manager().loaded()}}"
    )


def assert_usage_error(result: ExecResult) -> None:
    """Exactly a UsageError, shown as one line without a traceback."""
    assert result.ename == "UsageError", str(result)
    assert result.evalue and "\n" not in result.evalue
    assert result.stderr.strip().splitlines() == [f"UsageError: {result.evalue}"]
    assert result.errors == []


# --- %think --amend / --retract ------------------------------------------------------------------------


def test_amend_corrects_a_thought_and_shows_it_with_its_earlier_text(think: Kernel, lesson: str) -> None:
    shown = ok(think, "%think --amend 1 2**7 - 1 = 127 ($x stays {x})")
    assert shown.plain == "Thought 1/4 · amended\n  2**7 - 1 = 127 ($x stays {x})\n  was: 2**7 - 1 = 217"
    assert "amended" in shown.html
    assert think.value("[t.thought for t in get_manager().active.trunk]") == [
        "2**7 - 1 = 127 ($x stays {x})",
        "Guess",
    ]
    assert think.value("len(get_manager().active.thoughts)") == 5  # no new thought


def test_cell_amend_takes_the_cell_body_as_the_new_text(think: Kernel, lesson: str) -> None:
    ok(think, "%%think --amend 2 -q\n**Guess**: always prime\n")
    assert think.value("get_manager().active.trunk[1].thought") == "**Guess**: always prime"


def test_retract_marks_a_thought_and_it_stops_counting(think: Kernel, lesson: str) -> None:
    ok(think, "%branch alt")
    shown = ok(think, "%think --retract 4")
    assert shown.plain == "Thought 4/4 · branch alt (from 2) · retracted\n  Alt result"
    assert "line-through" in shown.html
    assert think.value("get_manager().active.history_length") == 4
    assert "4 thoughts (trunk 2, 2 branches, 0 revisions, 1 retracted)" in ok(think, "%session").plain


def test_amend_and_retract_can_target_another_session_without_switching(think: Kernel, lesson: str) -> None:
    ok(think, f"%session {lesson}-other --new\n%think -q Teh other\n%session {lesson}")
    ok(think, f"%think -q -s {lesson}-other --amend 1 The other")
    assert think.value(f"get_manager().session('{lesson}-other').thoughts[0].thought") == "The other"
    assert think.value("get_manager().active_id") == lesson


# --- %branch --chosen / --abandoned / --merge -----------------------------------------------------------------


def test_chosen_and_abandoned_are_shown_in_the_branch_table_with_their_notes(
    think: Kernel, lesson: str
) -> None:
    chosen = ok(think, "%branch alt --chosen --note it's #1: $x and {x} stay as typed")
    assert (
        chosen.plain.splitlines()[2]
        == "  alt    from   2  2 thoughts  chosen: it's #1: $x and {x} stay as typed"
    )
    abandoned = ok(think, "%branch other --abandoned")
    assert abandoned.plain.splitlines()[3] == "  other  from   2  1 thought  abandoned"
    decided = think.value("{b: [d.outcome, d.note] for b, d in get_manager().active.decisions.items()}")
    assert decided == {"alt": ["chosen", "it's #1: $x and {x} stay as typed"], "other": ["abandoned", None]}


def test_merge_makes_the_target_active_and_numbers_after_the_branch(think: Kernel, lesson: str) -> None:
    ok(think, "%branch alt")
    merged = ok(think, "%branch main --merge alt")
    assert merged.plain.splitlines()[1:3] == [
        "* main   from   -  2 thoughts",
        "  alt    from   2  2 thoughts  merged into main",
    ]
    assert ok(think, "%think Back on the trunk").plain == "Thought 5/5\n  Back on the trunk"


def test_merge_into_a_branch(think: Kernel, lesson: str) -> None:
    ok(think, "%branch other --merge alt")
    assert think.value("get_manager().active.active_branch") == "other"
    assert ok(think, "%think Other goes on").plain.startswith("Thought 5/5 · branch other (from 2)")


# --- refusals ----------------------------------------------------------------------------------------------

TEACHING_USAGE_ERRORS = [
    (
        "%think --amend 9 nothing there",
        "--amend 9: the trunk of session '{id}' has no thought 9 (its numbers: 1-2)",
    ),
    ("%think --retract 3", "--retract 3: the trunk of session '{id}' has no thought 3"),
    ("%think --amend 1", "--amend 1 needs the corrected text: %think --amend N TEXT"),
    ("%think --amend 1    ", "--amend 1 needs the corrected text"),
    ("%think --retract 1 because", "--retract N takes no text: %think --retract N"),
    ("%think --retract 1 --amend 2 x", "give --amend N TEXT or --retract N, not both"),
    ("%think -t 3 --amend 1 x", "--amend takes no -t/--total"),
    ("%think --amend 1 -b alt x", "--amend takes no -b/--branch"),
    ("%think --retract x", "--retract needs a whole number from 1 to 2147483647, got 'x'"),
    ("%think --amend 0 x", "--amend needs a whole number from 1 to 2147483647, got '0'"),
    ("%think --amend 2147483648 x", "--amend needs a whole number from 1 to 2147483647, got '2147483648'"),
    (
        "get_ipython().run_line_magic('think', '--amend 1 caf\\ud800')",
        "the text: holds a lone surrogate (U+D800 at character 4)",
    ),
    (
        "%branch alt --chosen --note " + "n" * 10_001,
        "--note: too long (10001 characters, at most 10000); shorten it",
    ),
    ("%%think --retract 1\nsome body", "--retract N takes no text"),
    ("%think -s brand-new --amend 1 x", "--amend 1: the trunk of session 'brand-new' has no thought 1"),
    ("%branch ghost --chosen", "unknown branch 'ghost' in session '{id}' (its branches: alt, other)"),
    ("%branch main --chosen", "'main' is the trunk; only a branch is --chosen or --abandoned"),
    ("%branch --chosen", "--chosen needs a branch id: %branch ID --chosen"),
    ("%branch alt --chosen --abandoned", "give --chosen or --abandoned, not both"),
    ("%branch alt --note why", "--note goes with --chosen or --abandoned"),
    ("%branch alt --chosen --note", "--note needs text after it"),
    ("%branch alt --from 1 --chosen", "give one of --from / --chosen at a time"),
    ("%branch alt --merge alt", "branch 'alt' cannot be merged into itself"),
    (
        "%branch alt --merge main",
        "'main' is the trunk and is merged into nothing; merge a branch into it: %branch main --merge ID",
    ),
    ("%branch main --merge ghost", "unknown branch 'ghost' in session '{id}'"),
    ("%branch ghost --merge alt", "unknown branch 'ghost' in session '{id}'"),
    ("%branch --merge alt", "--merge needs the target first: %branch main --merge alt"),
    ("%branch main --merge ../x", "invalid branch id '../x'"),
    ("%branch alt --chosen  # a comment", "%branch cannot carry a # comment"),
    ("%branch -s brand-new alt --chosen", "unknown branch 'alt' in session 'brand-new' (it has no branches)"),
]


@pytest.mark.parametrize(("code", "says"), TEACHING_USAGE_ERRORS, ids=[c for c, _ in TEACHING_USAGE_ERRORS])
def test_teaching_mistakes_are_one_line_usage_errors_that_change_nothing(
    think: Kernel, lesson: str, code: str, says: str
) -> None:
    before = state(think)
    result = think.execute(code)
    assert_usage_error(result)
    assert (result.evalue or "").startswith(says.format(id=lesson)), result.evalue
    assert state(think) == before
    assert "brand-new" not in think.value("get_manager().sessions()")


def test_a_retracted_thought_is_refused_a_second_retraction_and_an_amendment(
    think: Kernel, lesson: str
) -> None:
    ok(think, "%think -q --retract 2")
    before = state(think)
    for code, says in (
        ("%think --retract 2", "--retract 2: thought 2 is retracted already"),
        ("%think --amend 2 x", "--amend 2: thought 2 is retracted; a retracted thought is not amended"),
    ):
        result = think.execute(code)
        assert_usage_error(result)
        assert result.evalue == says
    assert state(think) == before


# --- help and restore --------------------------------------------------------------------------------------


def test_help_shows_the_teaching_options_with_examples(think: Kernel) -> None:
    think_help = ok(think, "%think?").pager
    assert "%think --amend 1 " in think_help and "%think --retract 3" in think_help
    branch_help = ok(think, "%branch?").pager
    for example in ("--chosen --note", "--abandoned --note", "%branch main --merge cache"):
        assert example in branch_help


def test_decisions_merges_and_retractions_come_back_after_the_kernel_is_killed(
    make_kernel: Callable[..., Kernel],
) -> None:
    kernel = make_kernel()
    ok(
        kernel,
        "%load_ext jupyter_think\n%session class --new\n%think -q -t 3 Teh start\n%think -q --amend 1 The start\n"
        "%think -q -b idea --from 1 An idea\n%think -q -b dead --from 1 A dead end\n%branch dead\n%think -q --retract 2\n"
        "%branch idea --chosen --note it works\n%branch dead --abandoned\n%branch main --merge idea\n"
        "%session --flush",
    )
    before = ok(kernel, "%session").plain
    kernel.kill()  # SIGKILL: nothing runs at exit
    ok(kernel, "%load_ext jupyter_think\n%session class")
    assert ok(kernel, "%session").plain == before
    assert ok(kernel, "%think Continue").plain == "Thought 3/3\n  Continue"
