"""``%session ID --new`` in a real kernel: start a session empty (old content archived) and switch to it.

This is what makes a notebook re-runnable with the same output although sessions persist on disk
(docs/nbval.md): the notebook begins each session it builds with ``%session NAME --new``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kernel_harness import ExecResult, Kernel

from jupyter_think.store import open_store

pytestmark = pytest.mark.kernel

EMPTY_SUMMARY = (
    "Session {id} · open · 0 thoughts (trunk 0, 0 branches, 0 revisions) · estimate 0\n  active: main"
)


@pytest.fixture(scope="module")
def think(kernel: Kernel) -> Kernel:
    ok(kernel, "%load_ext jupyter_think\nfrom jupyter_think import get_manager")
    return kernel


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def texts(kernel: Kernel, session_id: str) -> list[str]:
    return kernel.value(f"[t.thought for t in get_manager().session({session_id!r}).thoughts]")


def state(kernel: Kernel) -> dict[str, Any]:
    return kernel.value(
        "{'active': get_manager().active_id,"
        " 'content': {s: get_manager().session(s).to_json() for s in get_manager().loaded()}}"
    )


def test_new_empties_the_session_switches_to_it_and_shows_its_summary(think: Kernel) -> None:
    ok(think, "%session lesson\n%think -q -t 3 old first\n%branch alt --from 1\n%think -q old on alt")
    ok(think, "%session elsewhere")
    result = ok(think, "%session lesson --new")
    assert result.plain == EMPTY_SUMMARY.format(id="lesson")
    assert think.value("get_manager().active_id") == "lesson"
    assert texts(think, "lesson") == []
    assert think.value("list(get_manager().active.branch_ids)") == []
    assert (
        ok(think, "%think -q -t 2 new first\n%think --done new second").plain
        == "Thought 2/2 · done\n  new second"
    )
    assert texts(think, "lesson") == ["new first", "new second"]


def test_new_on_a_session_that_does_not_exist_creates_it_empty(think: Kernel) -> None:
    result = ok(think, "%session never-seen --new")
    assert result.plain == EMPTY_SUMMARY.format(id="never-seen")
    assert think.value("get_manager().active_id") == "never-seen"


def test_rerunning_the_same_cells_gives_the_same_output(think: Kernel) -> None:
    cells = ["%session rerun --new", "%think -t 2 step one", "%think --done step two", "%session"]
    first = [ok(think, cell).plain for cell in cells]
    second = [ok(think, cell).plain for cell in cells]
    assert first == second
    assert first[-1].startswith("Session rerun · complete · 2 thoughts")


def test_new_leaves_other_sessions_untouched(think: Kernel) -> None:
    ok(think, "%session keeper --new\n%think -q kept thought")
    ok(think, "%session other --new\n%think -q other thought")
    ok(think, "%session other --new")
    assert texts(think, "keeper") == ["kept thought"]


@pytest.mark.parametrize(
    "code",
    [
        "%session --new",
        "%session lesson --new --list",
        "%session lesson --new --graph",
        "%session ../x --new",
    ],
)
def test_new_misused_is_a_one_line_usage_error_that_changes_nothing(think: Kernel, code: str) -> None:
    ok(think, "%session lesson --new\n%think -q survives the error")
    before = state(think)
    result = think.execute(code)
    assert result.ename == "UsageError", str(result)
    assert result.stderr.strip().splitlines() == [f"UsageError: {result.evalue}"]
    assert state(think) == before


def test_old_content_is_archived_on_disk_and_the_new_content_survives_a_restart(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    kernel = make_kernel()
    ok(kernel, "%load_ext jupyter_think\n%session notes --new\n%think -q ARCHIVED-MARKER first run")
    ok(kernel, "%session --flush")
    ok(kernel, "%session notes --new\n%think -q second run\n%session --flush")
    archived = open_store(str(store)).load("notes", state="archived")
    assert archived is not None and "ARCHIVED-MARKER" in archived.changes[0].thought.thought
    kernel.restart()
    ok(kernel, "%load_ext jupyter_think\nfrom jupyter_think import get_manager")
    assert texts(kernel, "notes") == ["second run"]


def test_top_level_await_in_a_session_cell_says_how_to_do_it_instead(kernel: Kernel) -> None:
    assert kernel.execute("%load_ext jupyter_think").ok  # harmless when loaded already
    result = kernel.execute("%%session awaiting\nimport asyncio\nawait asyncio.sleep(0)")
    assert result.ename == "UsageError" and "activate('awaiting')" in result.evalue
    assert "\n" not in result.evalue
    workaround = "import asyncio, jupyter_think\nwith jupyter_think.get_manager().activate('awaiting'):\n    await asyncio.sleep(0)\n    %think awaited"
    assert kernel.execute(workaround).ok
    assert kernel.value("len(__import__('jupyter_think').get_manager().session('awaiting'))") == 1
