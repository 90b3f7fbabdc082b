"""Sessions survive a real kernel's restart and SIGKILL, with ``%load_ext`` or a profile's auto-load."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from disk_faults import fill, tmpfs
from kernel_harness import ExecResult, Kernel

pytestmark = pytest.mark.kernel

THINKING = """\
%think -t 4 Restate the problem
%think Try the direct route
%think -r 2 The direct route misses the empty case
%branch alt --from 1
%think Work backwards from the goal
%think -q Backwards works: the empty case falls out
"""


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def active_session(kernel: Kernel) -> dict[str, Any]:
    """The active session as its full JSON record (ids, times, branches, active branch)."""
    return kernel.value(
        "__import__('json').loads(__import__('jupyter_think').get_manager().active.to_json())"
    )


def think_a_little(kernel: Kernel) -> dict[str, Any]:
    ok(kernel, THINKING)
    recorded = active_session(kernel)
    assert recorded["id"] == "default"
    assert len(recorded["thoughts"]) == 5
    assert recorded["activeBranch"] == "alt"
    assert recorded["thoughts"][2]["revisesThought"] == 2
    return recorded


def test_a_restarted_kernel_gets_everything_back_with_load_ext(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel()
    ok(kernel, "%load_ext jupyter_think")
    before = think_a_little(kernel)
    kernel.restart(now=False)  # shutdown request straight after the last thought
    assert kernel.value("'jupyter_think' in __import__('sys').modules") is False
    ok(kernel, "%load_ext jupyter_think")
    assert active_session(kernel) == before
    ok(kernel, "%think Carry on after the restart")
    assert active_session(kernel)["thoughts"][-1]["branchId"] == "alt"


def test_a_killed_kernel_loses_nothing_flushed_before_the_kill(make_kernel: Callable[..., Kernel]) -> None:
    kernel = make_kernel()
    ok(kernel, "%load_ext jupyter_think")
    before = think_a_little(kernel)
    ok(kernel, "%session --flush")
    kernel.kill()  # SIGKILL: no atexit, no shutdown handler
    ok(kernel, "%load_ext jupyter_think")
    assert active_session(kernel) == before


def test_a_profile_auto_loads_the_extension_and_restores_the_session(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["jupyter_think"]\nc.ThinkConfig.durability = "sync"\n'
    )
    kernel = make_kernel(env={"IPYTHONDIR": str(tmp_path / "ipython")})
    assert kernel.value("__import__('jupyter_think').get_manager().settings.durability") == "sync"
    before = think_a_little(kernel)  # %think works without %load_ext
    kernel.kill()  # at once: in sync mode every thought was durable when %think returned
    assert active_session(kernel) == before  # restored by the auto-load, no %load_ext
    ok(kernel, "%think Still thinking after the crash")
    assert len(active_session(kernel)["thoughts"]) == 6


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs to hold the store (root only), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "1m") as mount_point:
        yield mount_point


WAIT_FOR_FAILURES = """\
import time
_status = __import__('jupyter_think').get_manager().persistence_status
_deadline = time.monotonic() + 60
while _status()['failed_attempts'] < {count} and time.monotonic() < _deadline:
    time.sleep(0.05)
"""
WAIT_FOR_THE_WARNING = """\
import threading, warnings
_shown, _show = threading.Event(), warnings.showwarning
def _showing(*args, **kwargs):
    _show(*args, **kwargs)
    _shown.set()
warnings.showwarning = _showing
"""  # the loop counts a failed attempt a moment before it warns: a cell waits for the warning itself
LONG = "x" * 5000  # more than the page a journal may have left free


def test_a_full_disk_warns_once_in_the_notebook_and_nothing_is_lost(
    make_kernel: Callable[..., Kernel], full_disk: Path
) -> None:
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": str(full_disk / "store")})
    ok(kernel, "%load_ext jupyter_think\n%think Saved before the disk filled up")
    ok(kernel, "%session --flush")
    ok(kernel, WAIT_FOR_THE_WARNING)
    filler = fill(full_disk)

    first = ok(kernel, f"%think Thought while full 1 {LONG}\nassert _shown.wait(60)")
    assert first.stderr.count("could not save") == 1
    assert "No space left on device" in first.stderr
    later = ok(kernel, f"%think Thought while full 2 {LONG}\n{WAIT_FOR_FAILURES.format(count=3)}")
    assert "could not save" not in later.stderr  # one warning, not one per retry
    refused = kernel.execute("%session --flush")
    assert refused.ename == "UsageError" and "No space left on device" in str(refused.evalue)

    filler.unlink()
    ok(kernel, "%session --flush")
    before = active_session(kernel)
    assert len(before["thoughts"]) == 3
    kernel.kill()
    ok(kernel, "%load_ext jupyter_think")
    assert active_session(kernel) == before


def test_sync_durability_on_a_full_disk_refuses_think_and_the_tool_and_records_nothing(
    make_kernel: Callable[..., Kernel], full_disk: Path
) -> None:
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": str(full_disk / "store")})
    ok(
        kernel,
        "%load_ext jupyter_think\n%config ThinkConfig.durability = 'sync'\n%think Saved before the disk filled up",
    )
    ok(kernel, "from jupyter_think import SequentialThinkingTool\ntool = SequentialThinkingTool()")
    filler = fill(full_disk)
    try:
        refused = kernel.execute(f"%think Refused while full {LONG}")
        assert refused.ename == "UsageError" and "\n" not in refused.evalue
        assert "No space left on device" in refused.evalue and "nothing was recorded" in refused.evalue
        call = (
            "tool.call({'thought': 'agent step "
            + LONG
            + "', 'thoughtNumber': 2, 'totalThoughts': 2, 'nextThoughtNeeded': True})"
        )
        result = kernel.value(call)
        assert result["isError"] is True
        assert (
            result["content"][0]["text"].startswith("Not recorded: ")
            and "No space left" in result["content"][0]["text"]
        )
        assert len(active_session(kernel)["thoughts"]) == 1
    finally:
        filler.unlink()
    ok(kernel, "%think Saved again once there is space")
    kernel.kill()
    ok(kernel, "%load_ext jupyter_think")
    assert [t["thought"] for t in active_session(kernel)["thoughts"]] == [
        "Saved before the disk filled up",
        "Saved again once there is space",
    ]
