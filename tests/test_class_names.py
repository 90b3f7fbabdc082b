"""Users whose names used to collide each get a role and sessions of their own: two names that
differ only in non-ASCII letters, two long names sharing their first 120 characters, and two names
that differ only in punctuation. Each writes a session named ``homework``; each sees only hers, and
the teacher sees all of them, apart, with their owners.
"""

from __future__ import annotations

from typing import Any

import pytest
from classroom import Classroom, ok, run

from jupyter_think.store import open_store
from jupyter_think.store.postgres.roles import login_role

COMMON = "n" * 120
NAMES = ["学生一", "学生二", COMMON + "a" * 10, COMMON + "b" * 11, "ada@x.org", "ada.x.org"]

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def crowd(postgres_server: Any) -> Classroom:
    """The class of :data:`NAMES` and a teacher; each user has written ``homework``."""
    room = Classroom(postgres_server)
    room.set_up(NAMES, ["tea"])
    for index, name in enumerate(NAMES):
        room.think(name, "homework", f"Answer number {index} of the crowd")
    return room


def test_the_names_are_what_they_should_be() -> None:
    assert len(NAMES[2]) == 130 and len(NAMES[3]) == 131 and NAMES[2][:120] == NAMES[3][:120]


def test_colliding_names_get_distinct_login_roles(crowd: Classroom) -> None:
    rows = [line.split() for line in ok(crowd.cli("class", "list")).strip().splitlines()[1:]]
    roles = {user: role for user, role, *_ in rows}
    assert set(NAMES) <= set(roles)
    assert len({roles[name] for name in NAMES}) == len(NAMES)
    assert all(roles[name] == login_role(crowd.database, name) for name in NAMES)


@pytest.mark.parametrize("index", range(len(NAMES)))
def test_each_user_sees_only_her_own_homework(crowd: Classroom, index: int) -> None:
    url = crowd.url(NAMES[index])
    listing = ok(run("list", url=url)).strip().splitlines()
    assert [line.split()[:2] for line in listing[1:]] == [["homework", NAMES[index]]]
    shown = ok(run("show", "homework", url=url))
    assert f"Answer number {index} of the crowd" in shown
    assert shown.count("Answer number") == 1


def test_the_teacher_sees_every_homework_apart_with_its_owner(crowd: Classroom) -> None:
    listing = ok(run("list", url=crowd.url("tea"))).strip().splitlines()
    owners = {line.split()[0]: line.split()[1] for line in listing[1:]}
    assert owners == {f"{name}/homework": name for name in NAMES}
    with open_store(crowd.url("tea")) as store:
        rows = store.sessions()
        assert len({row.key for row in rows}) == len(NAMES)
        for index, name in enumerate(NAMES):
            loaded = store.load(f"{name}/homework")
            assert loaded is not None and loaded.row.owner == name
            assert [entry.thought for entry in loaded.entries] == [f"Answer number {index} of the crowd"]
