"""A teacher's kernel follows a student's session live on a class store, with only his own credentials.

Two real kernels on one class (``Classroom.ready``): ada's, with her own URL in ``$JUPYTER_THINK_STORE`` (as
the hub's ``pre_spawn_hook`` sets it), thinking in her notebook ``homework.ipynb``; the teacher's, with
his. The teacher opens ``%session ada/homework``: ada's thoughts arrive in his session and its graph as
she makes them, without opening it again (the wait is a poll with a generous deadline, never a sleep
that assumes speed), and anything he tries to add to it is refused in one line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from classroom import SECRET, Classroom
from kernel_harness import Kernel

from jupyter_think.store import open_store
from jupyter_think.store.postgres.roles import derive_password

pytestmark = pytest.mark.kernel

WAIT = 60.0  # seconds a thought may take to reach the teacher's kernel (reached only when it never does)
MANAGER = "__import__('jupyter_think').get_manager()"
FOLLOWED = f"{MANAGER}.session('ada/homework')"


@dataclass
class Lesson:
    """The two kernels on one class store, and ada's password (to check where it is not)."""

    ada: Kernel
    teacher: Kernel
    ada_url: str
    ada_password: str


@pytest.fixture(scope="module")
def lesson(postgres_server: Any, module_kernels: Any, tmp_path_factory: pytest.TempPathFactory) -> Lesson:
    root = tmp_path_factory.mktemp("follow")
    klass = Classroom.ready(postgres_server, ["ada"], ["tea"])

    def kernel_of(user: str, notebook: str) -> Kernel:
        """A kernel as the hub starts it for ``user``: her own URL, her notebook."""
        env = {
            "JUPYTER_THINK_STORE": klass.urls[user],
            "JUPYTERHUB_USER": user,
            "JPY_SESSION_NAME": str(root / user / notebook),
            "JUPYTER_DATA_DIR": str(root / "data"),
        }
        return module_kernels(env=env, cwd=str(root))

    ada, teacher = kernel_of("ada", "homework.ipynb"), kernel_of("tea", "lesson.ipynb")
    started = ada.execute("%load_ext jupyter_think\n%think -t 3 Restate the problem\n%session --flush")
    assert started.ok, str(started)
    opened = teacher.execute(f"%load_ext jupyter_think\n%session ada/homework\ngraph = {FOLLOWED}.graph()")
    assert opened.ok, str(opened)
    return Lesson(ada, teacher, klass.urls["ada"], derive_password(SECRET, klass.database, "ada"))


def followed_thoughts(kernel: Kernel, count: int) -> list[str]:
    """The thoughts of ``ada/homework`` in ``kernel`` once it holds ``count`` (or at the deadline)."""
    deadline = time.monotonic() + WAIT
    while True:
        seen = kernel.value(f"[t.thought for t in {FOLLOWED}.thoughts]")
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def stored(url: str, session_id: str) -> list[str]:
    store = open_store(url)
    try:
        loaded = store.load(session_id)
    finally:
        store.close()
    assert loaded is not None
    return [change.thought.thought for change in loaded.changes if change.kind == "thought"]


def test_the_teachers_kernel_holds_no_password_but_his_own(lesson: Lesson) -> None:
    environment = lesson.teacher.value("list(__import__('os').environ.values())")
    assert not [value for value in environment if lesson.ada_password in value]
    assert lesson.teacher.value(f"{MANAGER}.active_id") == "ada/homework"


def test_the_teachers_session_and_graph_follow_the_students_thoughts_live(lesson: Lesson) -> None:
    assert followed_thoughts(lesson.teacher, 1) == ["Restate the problem"]
    assert lesson.ada.execute("%think Try the smallest case").ok
    assert followed_thoughts(lesson.teacher, 2) == ["Restate the problem", "Try the smallest case"]
    assert lesson.ada.execute("%think --done It holds for every n").ok
    assert followed_thoughts(lesson.teacher, 3) == [
        "Restate the problem",
        "Try the smallest case",
        "It holds for every n",
    ]
    assert lesson.teacher.value(f"len({FOLLOWED})") == 3
    assert lesson.teacher.value("'It holds for every n' in graph.text()")
    assert lesson.teacher.value(f"{FOLLOWED}.status") == "complete"


def test_the_teachers_thought_in_the_students_session_is_refused_in_one_line(lesson: Lesson) -> None:
    before = stored(lesson.ada_url, "homework")
    for cell in ("%think -s ada/homework A hint from the teacher", "%think A hint from the teacher"):
        refused = lesson.teacher.execute(cell)
        assert refused.status == "error" and refused.ename == "UsageError", str(refused)
        assert refused.evalue == "ada/homework belongs to ada; you can read it, not change it"
    assert "A hint from the teacher" not in lesson.teacher.value(f"[t.thought for t in {FOLLOWED}.thoughts]")
    assert lesson.teacher.execute("%session --flush").ok
    assert stored(lesson.ada_url, "homework") == before
