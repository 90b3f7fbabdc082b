"""A class follows the presenter (SPEC §7): a graph with ``follow_presenter=True`` in another kernel moves to
the step the presenter shows, through the store — one SQLite store shared by two kernels, and a
PostgreSQL class store where only the lesson's owner moves the class.

The waits are polls with a generous deadline (never a sleep that assumes speed); how fast a follower
moves is measured in ``benchmarks/bench_presenter.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from classroom import Classroom
from kernel_harness import Kernel

from jupyter_think.store.presenter import Position, open_presenter

pytestmark = pytest.mark.kernel

WAIT = 60.0
MANAGER = "__import__('jupyter_think').get_manager()"
LESSON = f"""s = {MANAGER}.session("lesson")
for n in range(1, 6):
    s.think(f"Step {{n}} of the lesson", total=5, done=n == 5)
{MANAGER}.flush()
graph = s.graph()"""


def reaches(kernel: Kernel, expression: str, expected: Any) -> None:
    """Poll ``expression`` in ``kernel`` until it equals ``expected`` (fail after WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while (value := kernel.value(expression)) != expected:
        assert time.monotonic() < deadline, f"{expression} stayed {value!r}, never {expected!r}"
        time.sleep(0.05)


def test_a_second_kernel_follows_the_presenter_on_one_sqlite_store(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    teacher, student = make_kernel(), make_kernel()  # (the same store: <tmp>/store)
    assert teacher.execute(LESSON).ok
    follow = student.execute(f"follower = {MANAGER}.session('lesson').graph(follow_presenter=True)")
    assert follow.ok, str(follow)
    assert student.value("follower.presenter") == {}  # nobody presents yet
    assert teacher.value("graph.present(1)") is True  # the presenter view's first step
    reaches(student, "follower.presenter", {"step": 1, "steps": 5})
    assert teacher.value("graph.present(4)") is True
    reaches(student, "follower.presenter", {"step": 4, "steps": 5})
    # the student steps away (stops following), the teacher moves on, the student comes back
    assert student.execute("follower.follow_presenter = False").ok
    assert teacher.value("graph.present(5)") is True
    assert student.value("follower.presenter") == {"step": 4, "steps": 5}
    assert student.execute("follower.follow_presenter = True").ok
    reaches(student, "follower.presenter", {"step": 5, "steps": 5})
    table = open_presenter(str(tmp_path / "store"))
    assert table.positions(["lesson"]) == {"lesson": Position(5, 5)}  # one small row, in the store
    table.close()


def test_a_store_named_by_a_sqlite_url_keeps_its_presenter_in_its_own_file(tmp_path: Path) -> None:
    """``sqlite:///PATH`` is the directory PATH for the presenter as for the sessions (it was read as a path
    relative to the working directory, so presenter and followers met in another file, or nowhere)."""
    from jupyter_think import SessionManager
    from jupyter_think.manager import set_manager

    directory = tmp_path / "store"
    url = "sqlite:///" + str(directory).lstrip("/")  # sqlite:///tmp/... names /tmp/...
    with SessionManager(store=url) as manager:
        before = set_manager(manager)  # (the process-wide manager: the one whose sessions are presented)
        try:
            manager.session("lesson").think("A step", total=1)
            manager.flush(timeout=60)  # (a session is presented once it is saved in the store)
            graph = manager.session("lesson").graph()
            assert graph.present(1) is True, graph.presenter_note
            graph.close()
        finally:
            set_manager(before)
    for location in (str(directory), url):
        table = open_presenter(location)
        assert table.positions(["lesson"]) == {"lesson": Position(1, 1)}, location
        table.close()


def test_on_a_class_store_only_the_lessons_owner_moves_the_class(
    postgres_server: Any, tmp_path: Path
) -> None:
    klass = Classroom.ready(postgres_server, ["ada", "bob"], ["tea"])

    def kernel_of(user: str) -> Kernel:
        env = {"JUPYTER_THINK_STORE": klass.urls[user], "JUPYTERHUB_USER": user}
        return Kernel(env=env, cwd=str(tmp_path))

    with kernel_of("tea") as teacher, kernel_of("ada") as ada, kernel_of("bob") as bob:
        assert teacher.execute(LESSON).ok
        assert teacher.execute(f"{MANAGER}.store.share('lesson', None)").ok  # share --class
        for student in (ada, bob):
            follow = student.execute(
                f"follower = {MANAGER}.session('tea/lesson').graph(follow_presenter=True)"
            )
            assert follow.ok, str(follow)
        assert teacher.value("graph.present(2)") is True
        reaches(ada, "follower.presenter", {"step": 2, "steps": 5})
        reaches(bob, "follower.presenter", {"step": 2, "steps": 5})
        # ada presents the teacher's lesson in her own kernel: nobody moves, and she is told why
        assert ada.execute(f"mine = {MANAGER}.session('tea/lesson').graph()").ok
        assert ada.value("mine.present(5)") is False
        assert "only the session's owner" in ada.value("mine.presenter_note")
        assert teacher.value("graph.present(3)") is True
        reaches(bob, "follower.presenter", {"step": 3, "steps": 5})  # the teacher's step, not ada's
        # and under row-level security, plain SQL with ada's own credentials cannot move the class either
        import psycopg

        with psycopg.connect(klass.urls["ada"], autocommit=True) as conn:
            assert conn.execute("UPDATE jupyter_think.presenter SET step = 0").rowcount == 0  # (not hers)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor a row of her own for it
                conn.execute(
                    "INSERT INTO jupyter_think.presenter (session_key, step, steps) "
                    "SELECT key, 0, 5 FROM jupyter_think.sessions ON CONFLICT (session_key) DO NOTHING"
                )
            assert conn.execute("SELECT step FROM jupyter_think.presenter").fetchall() == [(3,)]
