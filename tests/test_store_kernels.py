"""Two real kernels on one session see each other's thoughts live: on a shared PostgreSQL store (as on
a JupyterHub whose kernels run on many nodes, ``$JUPYTER_THINK_STORE``) and on one SQLite directory.

Kernel A writes with ``%think``; kernel B, which has the session loaded, sees the thought arrive
without doing anything (the persistence loop follows other writers: ``LISTEN/NOTIFY`` on
PostgreSQL, ``PRAGMA data_version`` on SQLite); then the other way round. The wait is bounded by a
generous timeout, never timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kernel_harness import ExecResult, Kernel

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

WAIT = 60.0  # seconds a thought may take to show up in the other kernel (only ever reached on failure)


def ok(kernel: Kernel, code: str) -> ExecResult:
    result = kernel.execute(code)
    assert result.ok, str(result)
    return result


def wait_for_thoughts(kernel: Kernel, count: int) -> list[str]:
    """Poll the kernel's active session (without touching it) until it holds ``count`` thoughts."""
    deadline = time.monotonic() + WAIT
    while True:
        seen = kernel.value("[t.thought for t in get_manager().active.thoughts]")
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_two_kernels_on_one_session_each_see_the_others_thoughts_live(
    make_kernel: Callable[..., Kernel], store_location: str, engine: str
) -> None:
    env = (
        {"JUPYTER_THINK_STORE": store_location}
        if engine == "postgres"
        else {"JUPYTER_THINK_DIR": store_location}
    )
    first, second = make_kernel(env=env), make_kernel(env=env)
    for kernel in (first, second):
        ok(kernel, "%load_ext jupyter_think\nfrom jupyter_think import get_manager")
        assert kernel.value("get_manager().store.location") in (store_location, store_location.split("?")[0])
        assert kernel.value("len(get_manager().active)") == 0  # loaded (nothing stored yet) and followed

    ok(first, "%think Written in kernel A")
    assert wait_for_thoughts(second, 1) == ["Written in kernel A"], "kernel B never saw kernel A's thought"

    ok(second, "%think Answered in kernel B")
    assert wait_for_thoughts(first, 2) == ["Written in kernel A", "Answered in kernel B"], (
        "kernel A never saw kernel B's thought"
    )
    assert wait_for_thoughts(second, 2) == ["Written in kernel A", "Answered in kernel B"]
    numbers = first.value("[t.thought_number for t in get_manager().active.thoughts]")
    assert numbers == [1, 2], "kernel B numbered its thought without counting kernel A's"
