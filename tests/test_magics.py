"""The magics in a real kernel: %think, %%think, %branch, %session, %%session, loading the extension."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from disk_faults import fill, tmpfs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_harness import ExecResult, Kernel

pytestmark = pytest.mark.kernel

QUOTED = """Don't drop the user's "quoted" data"""


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def think(kernel: Kernel) -> Kernel:
    """The module's kernel with the extension loaded, ``get_manager`` imported and ``x``, ``n``,
    ``HOME`` defined (so any ``$x`` / ``{x}`` expansion would show in the recorded text)."""
    setup = "%load_ext jupyter_think\nfrom jupyter_think import get_manager\nx = n = HOME = 'EXPANDED'"
    result = kernel.execute(setup)
    assert result.ok, str(result)
    return kernel


@pytest.fixture
def session_id(think: Kernel, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh session named after the test, made active (each test thinks in its own session)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:100]
    ok(think, f"%session {name}")
    assert think.value("get_manager().active_id") == name
    yield name
    ok(think, "%session default")


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def thoughts(kernel: Kernel, session: str | None = None) -> list[dict[str, Any]]:
    """The recorded thoughts of ``session`` (default: the active one), as wire-name dicts."""
    target = f"get_manager().session({session!r})" if session else "get_manager().active"
    return kernel.value(
        f"[t.model_dump(mode='json', by_alias=True, exclude_none=True) for t in {target}.thoughts]"
    )


def texts(kernel: Kernel, session: str | None = None) -> list[str]:
    return [t["thought"] for t in thoughts(kernel, session)]


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
    assert result.errors == []  # no traceback was displayed


# --- %think ---------------------------------------------------------------------------------------

LITERAL_TEXTS = [
    QUOTED,
    "Price is $x, not {x} or {{y}} or ${HOME}",
    r"Windows path C:\temp\new and a regex \d+\s*",
    "# not a comment; nor is this # one",
    "unicode: é ü 中文 ✓ 🙂 and an em — dash",
    "'single' \"double\" `back` '''triple'''",
    "Is this really the cause?",
    "Two  spaces\tand a tab stay",
    "ends with a backslash \\",
]


@pytest.mark.parametrize("text", LITERAL_TEXTS)
def test_think_records_the_text_exactly_as_typed(think: Kernel, session_id: str, text: str) -> None:
    result = ok(think, f"%think {text}")
    assert texts(think) == [text]
    assert result.plain == "Thought 1/1\n  " + text


def test_think_in_a_loop_keeps_braces_literal(think: Kernel, session_id: str) -> None:
    ok(think, "for i in range(2):\n    %think -q step {i} of $n?")
    assert texts(think) == ["step {i} of $n?", "step {i} of $n?"]


def test_options_before_the_text_are_read(think: Kernel, session_id: str) -> None:
    ok(think, f"%think -t 4 {QUOTED}")
    ok(think, f"%think --more -q {QUOTED} -- second")
    ok(think, f"%think -n 5 --done {QUOTED}")
    recorded = thoughts(think)
    assert [(t["thoughtNumber"], t["totalThoughts"], t["nextThoughtNeeded"]) for t in recorded] == [
        (1, 4, True),
        (2, 4, True),
        (5, 5, False),
    ]
    assert [t["thought"] for t in recorded] == [QUOTED, f"{QUOTED} -- second", QUOTED]
    assert recorded[1]["needsMoreThoughts"] is True


def test_option_looking_words_after_the_text_are_recorded_as_text(think: Kernel, session_id: str) -> None:
    ok(think, "%think Set the timeout with -t 30")
    ok(think, "%think Count lines with grep -n 5")
    recorded = thoughts(think)
    assert [(t["thought"], t["thoughtNumber"], t["totalThoughts"]) for t in recorded] == [
        ("Set the timeout with -t 30", 1, 1),
        ("Count lines with grep -n 5", 2, 2),
    ]


def test_a_comment_after_think_is_part_of_the_thought(think: Kernel, session_id: str) -> None:
    ok(think, "%think -t 2 Try the cache   # only a guess")
    assert texts(think) == ["Try the cache   # only a guess"]


def test_help_says_options_come_first_and_a_magic_line_takes_no_comment(think: Kernel) -> None:
    page = " ".join(ok(think, "%think?").pager.split())
    assert "Options stand before the text" in page
    assert "%think Set the timeout with -t 30 records the whole line" in page.replace("``", "")
    assert "A magic line cannot carry a # comment" in page.replace("``", "")


def test_double_dash_records_option_looking_text(think: Kernel, session_id: str) -> None:
    ok(think, "%think -- -t is literal, -1 too")
    assert texts(think) == ["-t is literal, -1 too"]


def test_cell_think_records_the_markdown_body(think: Kernel, session_id: str) -> None:
    body = "## Plan\n\n- keep `$HOME` and {x}\n  - nested # item\n\n```python\nprint('hi')\n```"
    result = ok(think, f"%%think -t 3\n\n{body}\n\n")
    assert texts(think) == [body]
    assert result.plain.splitlines()[0] == "Thought 1/3"
    assert "<h2>Plan</h2>" in result.html and "<code>$HOME</code>" in result.html  # Markdown rendered
    assert "## Plan" in result.plain  # text/plain: as typed


def test_quiet_records_without_showing_a_card(think: Kernel, session_id: str) -> None:
    result = ok(think, "%think -q silent thought")
    assert result.outputs == [] and result.stdout == ""
    assert texts(think) == ["silent thought"]


def test_revise_marks_the_revised_thought(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q Assume the input is sorted")
    result = ok(think, "%think -r 1 The input can arrive unsorted")
    revision = thoughts(think)[-1]
    assert (revision["thoughtNumber"], revision["isRevision"], revision["revisesThought"]) == (2, True, 1)
    assert result.plain == "Thought 2/2 · revises 1\n  The input can arrive unsorted"


def test_session_option_targets_a_session_without_switching(think: Kernel, session_id: str) -> None:
    result = ok(think, f"%think -s {session_id}-side noted elsewhere")
    assert think.value("get_manager().active_id") == session_id
    assert texts(think) == []
    assert texts(think, f"{session_id}-side") == ["noted elsewhere"]
    assert result.plain.splitlines()[0] == f"Thought 1/1 · session {session_id}-side"


# --- %branch ---------------------------------------------------------------------------------------


def test_branch_create_switch_and_return_to_main(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q -t 3 Restate the problem\n%think -q Try the obvious fix")
    created = ok(think, "%branch cache --from 1")
    ok(think, "%think -q What if we cache the parsed file?")
    ok(think, "%branch main")
    ok(think, "%think -q Back on the trunk")
    ok(think, "%branch cache")
    ok(think, "%think -q Cache invalidation")
    lanes = [(t.get("branchId"), t["thoughtNumber"], t["thought"]) for t in thoughts(think)]
    assert lanes == [
        (None, 1, "Restate the problem"),
        (None, 2, "Try the obvious fix"),
        ("cache", 2, "What if we cache the parsed file?"),
        (None, 3, "Back on the trunk"),
        ("cache", 3, "Cache invalidation"),
    ]
    assert created.plain == (
        f"Branches of {session_id} (* active)\n  main   from   -  2 thoughts\n* cache  from   1  0 thoughts"
    )
    assert ok(think, "%branch").plain == (
        f"Branches of {session_id} (* active)\n  main   from   -  3 thoughts\n* cache  from   1  2 thoughts"
    )


def test_think_with_branch_and_from_creates_the_branch(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q first")
    result = ok(think, "%think -b alt --from 1 another angle")
    assert result.plain == "Thought 2/2 · branch alt (from 1)\n  another angle"
    assert think.value("get_manager().active.branch_ids") == ["alt"]


def test_branch_option_targets_another_session(think: Kernel, session_id: str) -> None:
    other = f"{session_id}-other"
    ok(think, f"%think -q -s {other} first")
    ok(think, f"%branch -s {other} alt --from 1")
    assert think.value(f"get_manager().session({other!r}).active_branch") == "alt"
    assert think.value("get_manager().active.branch_ids") == []


# --- %session and %%session ---------------------------------------------------------------------


def test_session_switches_and_shows_a_summary(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q -t 2 one\n%think -q --done two")
    result = ok(think, f"%session {session_id}-b")
    assert think.value("get_manager().active_id") == f"{session_id}-b"
    assert result.plain.startswith(f"Session {session_id}-b · open · 0 thoughts")
    summary = ok(think, f"%session {session_id}").plain
    assert summary == (
        f"Session {session_id} · complete · 2 thoughts (trunk 2, 0 branches, 0 revisions) · estimate 2\n"
        "  active: main\n"
        "  conclusion: two"
    )


def test_cell_session_scopes_thoughts_and_tool_calls(think: Kernel, session_id: str) -> None:
    scoped = f"{session_id}-scoped"
    code = (
        f"%%session {scoped} --quiet\n"
        "%think inside the cell\n"
        "from jupyter_think import SequentialThinkingTool\n"
        "SequentialThinkingTool().call({'thought': 'from the agent', 'thoughtNumber': 2,"
        " 'totalThoughts': 2, 'nextThoughtNeeded': False})\n"
        "get_manager().active.think('from the API')\n"
        "get_manager().active_id"
    )
    result = ok(think, code)
    assert texts(think, scoped) == ["inside the cell", "from the agent", "from the API"]
    assert think.value("get_manager().active_id") == session_id
    assert texts(think) == []
    assert result.plain.splitlines()[-1] == repr(scoped)  # the last expression's value


def test_cell_session_restores_the_previous_session_when_the_cell_raises(
    think: Kernel, session_id: str
) -> None:
    scoped = f"{session_id}-failing"
    result = think.execute(f"%%session {scoped}\n%think before the error\n1/0\n%think never")
    assert result.ename == "ZeroDivisionError"
    assert len(result.errors) == 1  # one traceback, not two
    assert think.value("get_manager().active_id") == session_id
    assert texts(think, scoped) == ["before the error"]


def test_a_usage_error_inside_a_cell_session_also_restores_the_previous_session(
    think: Kernel, session_id: str
) -> None:
    result = think.execute(
        f"%%session {session_id}-inner\n%think -q recorded\n%think --bogus\n%think -q never"
    )
    assert_usage_error(result)
    assert think.value("get_manager().active_id") == session_id
    assert texts(think, f"{session_id}-inner") == ["recorded"]


WIDGET = "application/vnd.jupyter.widget-view+json"


def test_cell_session_shows_the_graph_unless_quiet(think: Kernel, session_id: str) -> None:
    quiet = ok(think, f"%%session {session_id}-g --quiet\n%think -q a")
    shown = ok(think, f"%%session {session_id}-g\n%think -q b")
    assert quiet.outputs == []
    [graph] = shown.outputs
    assert WIDGET in graph
    heading = graph["text/plain"].splitlines()[0]
    assert heading.startswith(f"Session {session_id}-g ") and "2 thoughts" in heading


def test_session_graph_shows_the_active_or_named_session(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q -t 2 first\n%think -q -b alt --from 1 second")
    [active] = ok(think, "%session --graph").outputs
    [named] = ok(think, f"%session --graph {session_id}").outputs
    assert WIDGET in active and WIDGET in named
    assert active["text/plain"] == named["text/plain"]
    assert "branch alt (from 1)" in active["text/plain"]
    assert think.value("get_manager().active_id") == session_id


def test_cell_session_new_starts_empty(think: Kernel, session_id: str) -> None:
    scoped = f"{session_id}-fresh"
    ok(think, f"%think -q -s {scoped} old content")
    ok(think, f"%%session {scoped} --new --quiet\n%think -q new content")
    assert texts(think, scoped) == ["new content"]
    assert think.value("get_manager().active_id") == session_id


def test_session_list_marks_the_active_session(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q listed")
    lines = ok(think, "%session --list").plain.splitlines()
    assert lines[0] == "Sessions (* active)"
    mine = [line for line in lines if line[2:].startswith(session_id + " ")]
    assert len(mine) == 1 and mine[0].startswith("* ") and re.search(r" 1 thoughts?$", mine[0])


def test_session_export_shows_or_writes_the_export(think: Kernel, session_id: str, tmp_path: Path) -> None:
    ok(think, f"%think -q -t 2 {QUOTED}\n%think -q --done concluded")
    shown = ok(think, "%session --export markdown")
    assert shown.stdout.startswith(f"# Session {session_id}\n")
    assert QUOTED in shown.stdout
    target = tmp_path / "review.json"
    written = ok(think, f"%session --export json {target}")
    assert written.plain == f"Exported session {session_id} as json to {target}."
    assert [t["thought"] for t in json.loads(target.read_text())["thoughts"]] == [QUOTED, "concluded"]
    slide = tmp_path / "slide.svg"  # a standalone SVG file for slides
    assert (
        ok(think, f"%session --export svg {slide}").plain
        == f"Exported session {session_id} as svg to {slide}."
    )
    drawn = ET.fromstring(slide.read_text())
    assert drawn.tag == "{http://www.w3.org/2000/svg}svg" and "concluded" in "".join(drawn.itertext())


def test_session_delete_moves_a_session_with_unsaved_thoughts_to_the_trash(
    think: Kernel, session_id: str
) -> None:
    doomed = f"{session_id}-doomed"
    ok(think, f"%think -q -s {doomed} soon gone")  # deleted at once: saved first, then moved
    result = ok(think, f"%session --delete {doomed}")
    assert result.plain == f"Deleted session {doomed} (moved to the store's trash)."
    assert doomed not in think.value("get_manager().sessions()")


def test_session_delete_of_a_session_never_saved_says_nothing_went_to_the_trash(
    think: Kernel, session_id: str
) -> None:
    empty = f"{session_id}-empty"
    ok(think, f"%session {empty}\n%session {session_id}")
    result = ok(think, f"%session --delete {empty}")
    assert (
        result.plain
        == f"Deleted session {empty} from memory (it was never saved: nothing went to the trash)."
    )
    assert "trash" in result.html and empty not in think.value("get_manager().sessions()")


def test_session_list_counts_thoughts_in_words_also_for_sessions_only_in_the_store(
    think: Kernel, session_id: str
) -> None:
    ok(think, "%think -q only one")
    ok(
        think,
        "import jupyter_think\n"
        f"with jupyter_think.SessionManager() as elsewhere:\n"
        f"    elsewhere.session('{session_id}-on-disk').think('written by another manager')",
    )
    result = ok(think, "%session --list")
    rows = {line[2:].split()[0]: line for line in result.plain.splitlines()[1:]}
    assert rows[session_id].endswith(" memory  1 thought")
    assert rows[f"{session_id}-on-disk"].endswith(" store   1 thought")
    assert "<td>store</td><td>1</td>" in result.html


def test_summaries_count_in_the_singular_when_there_is_one(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q -t 3 first\n%think -q -r 1 revised\n%branch alt --from 1\n%think -q on alt")
    result = ok(think, "%session")
    assert "3 thoughts (trunk 2, 1 branch, 1 revision)" in result.plain
    assert "3 thoughts (trunk 2, 1 branch, 1 revision)" in result.html
    ok(think, f"%session {session_id}-single\n%think -q alone")
    single = ok(think, "%session")
    assert "1 thought (trunk 1, 0 branches, 0 revisions)" in single.plain
    assert "1 thought (trunk 1, 0 branches, 0 revisions)" in single.html


# --- numbers, and the session's errors worded as magics -----------------------------------------------


def test_a_number_already_used_on_the_branch_is_refused_naming_the_free_numbers(
    think: Kernel, session_id: str
) -> None:
    ok(think, "%think -q -t 3 one\n%think -q two\n%think -q -n 5 five")
    result = think.execute("%think -n 1 one again")
    assert_usage_error(result)
    assert result.evalue == (
        f"-n 1: thought 1 is already on the trunk of session '{session_id}'; "
        "free numbers: 3-4, 6 and above (or leave out -n)"
    )
    ok(think, "%think -q -n 3 three")
    assert [t["thoughtNumber"] for t in thoughts(think)] == [1, 2, 5, 3]
    assert ok(think, "%think next").plain.startswith("Thought 6/")


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("%think -b nope text", "unknown branch 'nope' in session '{id}'; create it with -b nope --from N"),
        ("%branch nope", "unknown branch 'nope' in session '{id}'; create it with %branch nope --from N"),
        ("%think -r 9 text", "-r 9: session '{id}' has no thought 9 (its numbers: 1-2)"),
        ("%branch other --from 9", "--from 9: session '{id}' has no thought 9 (its numbers: 1-2)"),
        ("%think --from 1 text", "--from needs a branch: give -b/--branch ID as well"),
        ("%think -b alt --from 2 text", "branch 'alt' already forks at thought 1, not 2; drop --from"),
        ("%branch alt --from 2", "branch 'alt' already forks at thought 1; switch to it with %branch alt"),
        ("%think -b main --from 1 text", "'main' is the trunk; it has no fork point, drop --from"),
        ("%think -t three text", "-t needs a whole number from 1 to 2147483647, got 'three'"),
        ("%think -t 0 text", "-t needs a whole number from 1 to 2147483647, got '0'"),
        ("%branch other --from 0", "--from needs a whole number from 1 to 2147483647, got '0'"),
        ("%think -n 2147483648 text", "-n needs a whole number from 1 to 2147483647, got '2147483648'"),
        (
            "get_ipython().run_line_magic('think', 'bad \\x00 text')",
            "the text: holds a NUL character (U+0000), which the store does not keep; remove it",
        ),
        (
            "%branch alt --from 1   # back to alt",
            "%branch cannot carry a # comment; put the comment on a line of its own",
        ),
    ],
)
def test_the_sessions_errors_are_worded_in_magic_syntax(
    think: Kernel, session_id: str, code: str, says: str
) -> None:
    ok(think, "%think -q -t 3 first\n%think -q second\n%branch alt --from 1\n%branch main")
    result = think.execute(code)
    assert_usage_error(result)
    assert (result.evalue or "").startswith(says.format(id=session_id))


def test_a_refused_think_in_a_new_session_leaves_no_session_behind(think: Kernel, session_id: str) -> None:
    fresh = f"{session_id}-fresh"
    before = state(think)
    for code in (f"%think -s {fresh} -r 5 revising nothing", f"%branch -s {fresh} alt --from 1"):
        assert_usage_error(think.execute(code))
    ok(think, "%session --flush")
    assert state(think) == before
    assert fresh not in think.value("get_manager().sessions()")  # neither loaded nor stored
    ok(think, f"%think -q -s {fresh} accepted")
    assert texts(think, fresh) == ["accepted"]


def test_session_flush_confirms(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q keep me")
    assert ok(think, "%session --flush").plain == "Flushed: every change is saved in the store."


# --- every user error: one-line UsageError, nothing changed ----------------------------------------

USAGE_ERRORS = [
    "%think --foo text",
    "%think -x text",
    "%think -t three text",
    "%think -t 0 text",
    "%think -t 2 -t 3 text",
    "%think",
    "%think -t 3 --done",
    "%%think\n\n  \n",
    "%%think -t 2 inline text\nbody",
    "%think -r 99 revising nothing",
    "%think -b newbranch no fork point given",
    "%think -b other --from 99 forking at nothing",
    "%think --from 1 from without a branch",
    "%think -b ../x --from 1 bad branch id",
    "%think -b main --from 1 the trunk has no fork",
    "%think -b alt --from 2 alt forks at 1",
    "%think -s ../x bad session id",
    "%think -n 1 one again",
    "%think -b alt -n 2 alt has a 2",
    "%think -b alt -n 1 alt forks at 1",
    "%think -s brand-new -r 5 revising in a new session",
    "%think -s brand-new -b x a new session has no branch",
    "%branch -s brand-new alt --from 1",
    "%branch -s brand-new alt",
    "%branch alt --from 1   # a comment",
    "%session --list   # a comment",
    "%branch unknown",
    "%branch ../x",
    "%branch other --from 99",
    "%branch other --from x",
    "%branch alt --from 2",
    "%branch main --from 1",
    "%branch --from 1",
    "%branch --bogus",
    "%branch a b",
    "%branch 'unbalanced",
    "%session ../x",
    "%session %2e%2e",
    "%session --export pdf",
    "%session --export md a.md extra",
    "%session --export md /nonexistent-dir/x.md",
    "%session --delete ../x",
    "%session --delete never-existed",
    "%session --list --flush",
    "%session x --list",
    "%session --new",
    "%session --bogus",
    "%%session\nerror_marker = 1",
    "%%session ../x\nerror_marker = 1",
    "%%session ok-id --graph\nerror_marker = 1",
]


@pytest.mark.parametrize("code", USAGE_ERRORS)
def test_user_errors_are_one_line_usage_errors_that_change_nothing(
    think: Kernel, session_id: str, code: str
) -> None:
    ok(think, "%think -q -t 3 first\n%think -q second\n%branch alt --from 1\n%think -q on alt\n%branch main")
    before = state(think)
    result = think.execute(code)
    assert_usage_error(result)
    assert state(think) == before
    assert think.value("'error_marker' in globals()") is False


# --- loading the extension ---------------------------------------------------------------------------


def test_help_shows_the_docstring_with_examples(think: Kernel) -> None:
    page = ok(think, "%think?").pager
    assert "Examples:" in page and "%think -- -1 is the sentinel" in page
    assert "Examples:" in ok(think, "%session?").pager
    assert "Examples:" in ok(think, "%branch?").pager


def test_config_shows_the_traits(think: Kernel) -> None:
    shown = ok(think, "%config ThinkConfig").stdout
    for trait in (
        "sessions_dir",
        "persist",
        "flush_interval",
        "durability",
        "max_thoughts",
        "retention_days",
    ):
        assert f"ThinkConfig.{trait}=" in shown


def test_loading_twice_is_harmless(think: Kernel, session_id: str) -> None:
    ok(think, "%think -q before reloading")
    again = ok(
        think,
        "%load_ext jupyter_think\nimport jupyter_think\njupyter_think.load_ipython_extension(get_ipython())",
    )
    assert "already loaded" in again.stdout
    counts = think.value(
        "[sum(type(c).__name__ == 'ThinkConfig' for c in get_ipython().configurables),"
        " sum(getattr(t, '__name__', '') == 'keep_question_marks' for t in get_ipython().input_transformers_cleanup)]"
    )
    assert counts == [1, 1]
    assert think.value("get_manager().active_id") == session_id
    assert ok(think, "%think once").plain == "Thought 2/2\n  once"


def test_reload_ext_keeps_the_active_session_and_branch(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel()
    ok(kernel, "%load_ext jupyter_think\n%session chosen\n%think -q first\n%branch alt --from 1")
    ok(kernel, "%reload_ext jupyter_think")
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "chosen"
    assert (
        ok(kernel, "%think after the reload").plain == "Thought 2/2 · branch alt (from 1)\n  after the reload"
    )


def test_profile_autoloads_with_its_config_and_the_session_follows_jpy_session_name(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c.InteractiveShellApp.extensions = ['jupyter_think']\nc.ThinkConfig.max_thought_chars = 20\n"
    )
    kernel = make_kernel(env={"JPY_SESSION_NAME": "/some/dir/Design Review.ipynb"})
    ok(kernel, "%think first")
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "Design-Review"
    assert "Current: 20" in ok(kernel, "%config ThinkConfig").stdout
    assert kernel.value("__import__('jupyter_think').get_manager().settings.max_thought_chars") == 20
    too_long = kernel.execute("%think " + "x" * 21)
    assert_usage_error(too_long)
    assert "at most 20" in (too_long.evalue or "")


def test_default_session_follows_the_notebook_variables_and_unload_leaves_the_magics_inert(
    make_kernel: Callable[..., Kernel],
) -> None:
    kernel = make_kernel(env={"JPY_SESSION_NAME": ""})
    ok(kernel, "__session__ = '/home/me/notes/Sprint 12 retro.ipynb'\n%load_ext jupyter_think")
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "Sprint-12-retro"
    ok(kernel, "%think -q kept before unloading")
    ok(kernel, "%unload_ext jupyter_think")
    for magic in (
        "%think after unload",
        "%%think\nafter unload",
        "%branch",
        "%session --list",
        "%%session x\n1",
    ):
        gone = kernel.execute(magic)
        assert gone.ename == "UsageError", magic
        assert "jupyter-think is unloaded: run %load_ext jupyter_think" in (gone.evalue or ""), magic
    assert (
        kernel.value("__import__('jupyter_think.manager').manager._manager is None") is True
    )  # none restarted
    assert kernel.value("'ThinkConfig' in [type(c).__name__ for c in get_ipython().configurables]") is False
    ok(
        kernel,
        "del __session__\n__vsc_ipynb_file__ = 'c:\\\\work\\\\API plan.ipynb'\n%load_ext jupyter_think",
    )
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "API-plan"
    assert ok(kernel, "%think back again").plain == "Thought 1/1\n  back again"
    assert ok(kernel, "%think -q -s Sprint-12-retro again\n%session Sprint-12-retro").plain.startswith(
        "Session Sprint-12-retro · open · 2 thoughts"
    )


# --- displays ---------------------------------------------------------------------------------------


def test_displays_are_deterministic_and_escaped(think: Kernel, session_id: str) -> None:
    first = ok(think, '%think -t 2 <b>bold?</b> & "quotes"')
    second = ok(think, f'%%session {session_id}-twin --quiet\n%think -t 2 <b>bold?</b> & "quotes"')
    assert first.plain == second.plain == 'Thought 1/2\n  <b>bold?</b> & "quotes"'
    assert first.html == second.html
    assert '&lt;b&gt;bold?&lt;/b&gt; &amp; "quotes"' in first.html  # (quotes need no escape in text)
    for shown in (first, ok(think, "%session"), ok(think, "%branch"), ok(think, "%session --list")):
        assert not re.search(r"0x[0-9a-f]{6,}|\d{4}-\d\d-\d\dT", shown.plain + shown.html)


# --- property: any single-line text goes through the kernel byte for byte -----------------------------

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
single_line_text = (
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS + "\x00"), min_size=1
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=single_line_text)
def test_any_single_line_text_is_recorded_byte_for_byte(think: Kernel, text: str) -> None:
    ok(think, f"%think -q -s prop -- {text}")
    assert think.value("get_manager().session('prop').thoughts[-1].thought") == text


def test_flush_on_a_refusing_disk_is_a_usage_error_naming_the_cause(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        kernel = make_kernel(env={"JUPYTER_THINK_DIR": str(disk / "store")})
        ok(kernel, "%load_ext jupyter_think\n%session locked\n%think -q saved\n%session --flush")
        filler = fill(disk)  # a real full disk: the store refuses every commit
        try:
            ok(kernel, "%think -q refused by the disk " + "x" * 5000)
            result = kernel.execute("%session --flush")
        finally:
            filler.unlink()
        assert result.ename == "UsageError"
        assert result.evalue and "\n" not in result.evalue
        assert "could not save" in result.evalue and "No space left on device" in result.evalue
        assert result.evalue.endswith("then %session --flush")
        assert ok(kernel, "%session --flush").plain == "Flushed: every change is saved in the store."
        kernel.shutdown()
