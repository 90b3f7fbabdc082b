"""A class on one PostgreSQL store, through the command line: the admin sets it up (``class init``,
``class add``, ``class url``), students and a teacher use their own login roles over TCP with scram
passwords, and row-level security decides what each sees; ``share``, ``unshare`` and ``shares`` grant
exactly what they say.

Every user here is a login role made by ``class add`` (never the superuser, who bypasses row-level
security), and every command runs as the installed console script (see ``classroom.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from classroom import Classroom, ok, refused, run

from jupyter_think.core.models import Thought, ThoughtAdded
from jupyter_think.store import SessionWrite, open_store
from jupyter_think.store.postgres.roles import group_roles, login_role

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def school(postgres_server: Any) -> Classroom:
    """Students ada, bob and cy, teacher tea; ada and bob have written their homework."""
    room = Classroom(postgres_server)
    room.set_up(["ada", "bob", "cy"], ["tea"])
    room.think("ada", "homework", "Ada's answer: the ratio is three quarters")
    room.think("ada", "ten-10", "Tenth try")
    room.think("ada", "ten-2", "Second try")
    room.think("bob", "homework", "Bob's answer: the wombat ratio is two thirds")
    return room


def session_ids(listing: str) -> list[str]:
    """The ID column of a ``list`` table."""
    return [line.split()[0] for line in listing.strip().splitlines()[1:]]


def trash_ids(listing: str) -> list[str]:
    """The ID column of a ``trash`` table (after its ROW)."""
    return [line.split()[1] for line in listing.strip().splitlines()[1:]]


def owners(listing: str) -> dict[str, str]:
    """ID -> OWNER of a ``list`` table."""
    return {line.split()[0]: line.split()[1] for line in listing.strip().splitlines()[1:]}


def thought(text: str, number: int) -> ThoughtAdded:
    return ThoughtAdded(
        thought=Thought(thought=text, thought_number=number, total_thoughts=number, next_thought_needed=True)
    )


# --- the admin's commands ----------------------------------------------------------------------------------


def test_class_init_makes_the_group_roles_and_can_run_again(postgres_server: Any) -> None:
    room = Classroom(postgres_server)
    students, teachers = group_roles(room.database)
    first = ok(room.cli("class", "init"))
    again = ok(room.cli("class", "init"))
    assert f"Made the students' group role {students}." in first
    assert f"Made the teachers' group role {teachers}." in first
    assert f"Kept the students' group role {students}." in again
    assert "class add" in first  # what to do next
    made = postgres_server.sql(
        f"SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('{students}', '{teachers}')"
    )
    assert sorted(made) == sorted([(students, False), (teachers, False)])


def test_class_list_shows_each_user_with_role_and_teacher_teachers_first(school: Classroom) -> None:
    header, *rows = ok(school.cli("class", "list")).strip().splitlines()
    assert header.split() == ["USER", "ROLE", "TEACHER", "REMOVED"]
    assert [row.split() for row in rows] == [
        ["tea", login_role(school.database, "tea"), "yes", "no"],
        ["ada", login_role(school.database, "ada"), "no", "no"],
        ["bob", login_role(school.database, "bob"), "no", "no"],
        ["cy", login_role(school.database, "cy"), "no", "no"],
    ]


def test_class_url_prints_the_url_that_logs_in_as_that_user(school: Classroom) -> None:
    url = ok(school.cli("class", "url", "ada")).strip()
    assert url == school.url("ada")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (login_role(school.database, "ada"),)


def test_class_url_with_a_base_gives_the_host_the_users_reach(school: Classroom) -> None:
    base = f"postgresql://db.example.org:6543/{school.database}?sslmode=require"
    url = ok(school.cli("class", "url", "ada", "--base", base)).strip()
    assert url.endswith(f"@db.example.org:6543/{school.database}?sslmode=require")
    assert url.split("@")[0] == school.url("ada").split("@")[0]  # the same role and password


def test_class_url_with_a_base_of_another_database_is_a_usage_error(school: Classroom) -> None:
    message = refused(school.cli("class", "url", "ada", "--base", "postgresql://db.example.org/geometry"))
    assert "geometry" in message and school.database in message


@pytest.mark.parametrize("option", ["sslpassword=admin-key-secret", "pass%77ord=admin-key-secret"])
def test_class_url_never_passes_on_a_password_option_of_the_base(school: Classroom, option: str) -> None:
    base = f"postgresql://db.example.org/{school.database}?{option}"
    message = refused(school.cli("class", "url", "ada", "--base", base))
    assert "--base" in message and "admin-key-secret" not in message


def test_class_url_of_a_user_not_in_the_class_is_a_usage_error(school: Classroom) -> None:
    assert "class add zed" in refused(school.cli("class", "url", "zed"))


def test_class_commands_without_the_secret_say_how_to_set_it(school: Classroom) -> None:
    for command in (["add", "dan"], ["url", "ada"]):
        message = refused(school.cli("class", *command, env={"JUPYTER_THINK_CLASS_SECRET": ""}))
        assert "JUPYTER_THINK_CLASS_SECRET" in message
    assert "dan" not in ok(school.cli("class", "list"))


def test_class_add_of_a_user_already_there_keeps_their_password(school: Classroom) -> None:
    said = ok(school.cli("class", "add", "bob"))
    assert "bob is a student already" in said
    with psycopg.connect(school.url("bob")) as conn:  # the derived password still logs in
        assert conn.execute("SELECT current_user").fetchone() == (login_role(school.database, "bob"),)


def test_class_commands_as_a_student_are_refused_in_one_line(school: Classroom) -> None:
    for command in (["init"], ["add", "mallory"], ["remove", "bob"]):
        message = refused(run("class", *command, url=school.url("ada")))
        assert "owner of database" in message and "CREATEROLE" in message
    assert "mallory" not in ok(school.cli("class", "list"))


def test_class_remove_drops_the_login_and_keeps_the_sessions(postgres_server: Any) -> None:
    room = Classroom(postgres_server)
    room.set_up(["dee"], ["tea"])
    room.think("dee", "essay", "Dee's essay")
    said = ok(room.cli("class", "remove", "dee"))
    assert "dee" in said and "class add dee" in said
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(room.url("dee")).close()
    assert "dee/essay" in session_ids(ok(run("list", url=room.url("tea"))))
    assert ok(room.cli("class", "list")).splitlines()[-1].split()[-1] == "yes"  # (dee: removed)


@pytest.mark.parametrize("command", [["init"], ["add", "ada"], ["remove", "ada"], ["list"], ["url", "ada"]])
def test_class_commands_on_a_sqlite_store_say_it_needs_postgresql(tmp_path: Path, command: list[str]) -> None:
    message = refused(run("--dir", str(tmp_path / "store"), "class", *command))
    assert "needs a PostgreSQL store" in message
    assert not (tmp_path / "store").exists()


# --- what a student sees ---------------------------------------------------------------------------------


def test_a_student_lists_only_her_own_sessions_in_natural_order(school: Classroom) -> None:
    listing = ok(run("list", url=school.url("ada")))
    assert session_ids(listing) == ["homework", "ten-2", "ten-10"]
    assert set(owners(listing).values()) == {"ada"}


def test_a_student_with_nothing_shared_sees_no_classmate(school: Classroom) -> None:
    assert not [ref for ref in session_ids(ok(run("list", url=school.url("cy")))) if "/" in ref]
    assert "0 matches" in ok(run("search", "answer", url=school.url("cy")))


def test_a_students_search_finds_only_her_own_thoughts(school: Classroom) -> None:
    found = ok(run("search", "ratio", url=school.url("ada")))
    assert "Ada's answer" in found and "wombat" not in found
    assert "1 match" in found
    assert "0 matches" in ok(run("search", "wombat", url=school.url("ada")))


def test_show_of_a_classmates_session_fails_as_if_it_did_not_exist(school: Classroom) -> None:
    theirs = refused(run("show", "bob/homework", url=school.url("ada")))
    nowhere = refused(run("show", "bob/no-such-session", url=school.url("ada")))
    assert "bob/homework" in theirs
    assert theirs.replace("bob/homework", "X") == nowhere.replace("bob/no-such-session", "X")
    assert "wombat" not in theirs


@pytest.mark.parametrize(
    "command",
    [
        ["export", "bob/homework", "--format", "md"],
        ["diff", "homework", "bob/homework"],
        ["search", "ratio", "-s", "bob/homework"],
    ],
)
def test_other_commands_read_nothing_of_a_classmates_session(school: Classroom, command: list[str]) -> None:
    done = run(*command, url=school.url("ada"))
    assert "wombat" not in done.stdout + done.stderr
    if command[0] == "search":
        assert ok(done).splitlines() == ['Search "ratio" · 0 matches']
    else:
        assert "no session 'bob/homework'" in refused(done)


def test_rm_of_a_classmates_session_fails_and_leaves_it(school: Classroom) -> None:
    assert "no session 'bob/homework'" in refused(run("rm", "bob/homework", url=school.url("ada")))
    assert "homework" in session_ids(ok(run("list", url=school.url("bob"))))


def test_trash_empty_and_gc_as_a_student_touch_only_her_own(postgres_server: Any) -> None:
    room = Classroom(postgres_server)
    room.set_up(["ada", "bob"])
    room.think("ada", "draft", "Ada's draft")
    room.think("ada", "homework", "Ada's homework")
    room.think("bob", "homework", "Bob's homework")
    room.think("bob", "old-draft", "Bob's old draft")
    ok(run("rm", "old-draft", url=room.url("bob")))
    ok(run("rm", "draft", url=room.url("ada")))
    emptied = ok(run("trash", "empty", url=room.url("ada")))
    cleaned = ok(run("gc", "--days", "0.000001", "--trash-days", "0.000001", url=room.url("ada")))
    assert emptied.splitlines() == [
        line for line in emptied.splitlines() if line.startswith("Deleted draft (1 thought")
    ]
    assert len(emptied.splitlines()) == 1
    assert cleaned.splitlines() == ["Moved homework to the trash (idle more than 1e-06 days)"]
    assert session_ids(ok(run("list", url=room.url("bob")))) == ["homework"]
    assert trash_ids(ok(run("trash", url=room.url("bob")))) == ["old-draft"]
    assert trash_ids(ok(run("trash", url=room.url("ada")))) == ["homework"]


# --- what a teacher sees -----------------------------------------------------------------------------------


def test_a_teacher_lists_the_whole_class_with_owners(school: Classroom) -> None:
    listing = owners(ok(run("list", url=school.url("tea"))))
    assert listing["ada/homework"] == "ada" and listing["bob/homework"] == "bob"
    assert [ref for ref in listing if ref.startswith("ada/")] == ["ada/homework", "ada/ten-2", "ada/ten-10"]


def test_a_teacher_reads_a_students_session_but_cannot_remove_it(school: Classroom) -> None:
    shown = ok(run("show", "bob/homework", url=school.url("tea")))
    assert shown.startswith("Session bob/homework ") and "wombat" in shown
    message = refused(run("rm", "bob/homework", url=school.url("tea")), status=1)
    assert message.endswith("bob/homework belongs to bob; only they can move it to the trash")
    assert "homework" in session_ids(ok(run("list", url=school.url("bob"))))


def test_a_teachers_export_to_a_directory_names_the_file_after_owner_and_id(
    school: Classroom, tmp_path: Path
) -> None:
    said = ok(run("export", "ada/homework", "--format", "md", "-o", str(tmp_path), url=school.url("tea")))
    target = tmp_path / "ada--homework.md"
    assert str(target) in said
    assert "three quarters" in target.read_text()
    assert target.read_text().startswith("# Session ada/homework")


def test_a_teachers_search_finds_the_whole_class_as_owner_and_id(school: Classroom) -> None:
    found = ok(run("search", "answer", url=school.url("tea")))
    assert "ada/homework" in found and "bob/homework" in found


# --- sharing ---------------------------------------------------------------------------------------------


def test_a_read_share_lets_a_classmate_read_but_not_write(school: Classroom) -> None:
    school.think("bob", "notes-read", "Bob's shared notes on quokkas")
    assert "with ada (read only)" in ok(run("share", "notes-read", "ada", url=school.url("bob")))
    assert "quokkas" in ok(run("show", "bob/notes-read", url=school.url("ada")))
    with open_store(school.url("ada")) as store:
        assert (
            store.writable("bob/notes-read")
            == "bob/notes-read belongs to bob; you can read it, not change it"
        )
        with pytest.raises(OSError):
            store.append([SessionWrite("bob/notes-read", [thought("Ada was here", 2)])])
    assert "Ada was here" not in ok(run("show", "notes-read", url=school.url("bob")))
    assert "no session" in refused(run("show", "bob/notes-read", url=school.url("cy")))  # (only ada)


def test_a_write_share_lets_a_classmate_append_through_the_store(school: Classroom) -> None:
    school.think("bob", "notes-write", "Bob starts the team notes")
    assert "with ada (read and write)" in ok(
        run("share", "notes-write", "ada", "--write", url=school.url("bob"))
    )
    with open_store(school.url("ada")) as store:
        assert store.writable("bob/notes-write") is None
        store.append([SessionWrite("bob/notes-write", [thought("Ada adds a step", 2)])])
    assert "Ada adds a step" in ok(run("show", "notes-write", url=school.url("bob")))
    assert "no session" in refused(run("rm", "bob/notes-write", url=school.url("cy")))
    message = refused(run("rm", "bob/notes-write", url=school.url("ada")), status=1)
    assert "belongs to bob" in message


def test_unshare_takes_the_share_back(school: Classroom) -> None:
    school.think("bob", "notes-back", "Bob's notes on numbats")
    ok(run("share", "notes-back", "ada", url=school.url("bob")))
    assert "numbats" in ok(run("show", "bob/notes-back", url=school.url("ada")))
    assert "no longer shared with ada" in ok(run("unshare", "notes-back", "ada", url=school.url("bob")))
    assert "no session 'bob/notes-back'" in refused(run("show", "bob/notes-back", url=school.url("ada")))
    assert "not shared with ada" in refused(run("unshare", "notes-back", "ada", url=school.url("bob")))


def test_a_share_with_the_class_reaches_every_student(school: Classroom) -> None:
    school.think("tea", "lesson-1", "Today: ratios with bilbies")
    assert "with the class" in ok(run("share", "lesson-1", "--class", url=school.url("tea")))
    for student in ("ada", "bob", "cy"):
        assert "bilbies" in ok(run("show", "tea/lesson-1", url=school.url(student)))
        assert "tea/lesson-1" in session_ids(ok(run("list", url=school.url(student))))
    ok(run("unshare", "lesson-1", "--class", url=school.url("tea")))
    assert "no session" in refused(run("show", "tea/lesson-1", url=school.url("cy")))


def test_shares_lists_what_i_share_and_what_is_shared_with_me(school: Classroom) -> None:
    school.think("bob", "notes-list", "Bob's notes on potoroos")
    ok(run("share", "notes-list", "ada", url=school.url("bob")))
    ok(run("share", "notes-list", "--class", "--write", url=school.url("bob")))
    mine = ok(run("shares", url=school.url("bob")))
    theirs = ok(run("shares", url=school.url("ada")))
    assert "You share:" in mine and "Shared with you:" not in mine
    assert [line.split() for line in mine.splitlines() if "notes-list" in line] == [
        ["notes-list", "ada", "read"],
        ["notes-list", "the", "class", "read", "and", "write"],
    ]
    assert "Shared with you:" in theirs
    assert [line.split() for line in theirs.splitlines() if "bob/notes-list" in line] == [
        ["bob/notes-list", "the", "class", "read", "and", "write"],
        ["bob/notes-list", "you", "read"],
    ]
    ok(run("unshare", "notes-list", "ada", url=school.url("bob")))
    ok(run("unshare", "notes-list", "--class", url=school.url("bob")))
    assert "bob/notes-list" not in ok(run("shares", url=school.url("ada")))


def test_sharing_a_classmates_session_is_refused(school: Classroom) -> None:
    assert "no session 'bob/homework'" in refused(run("share", "bob/homework", "cy", url=school.url("ada")))
    message = refused(run("share", "bob/homework", "cy", url=school.url("tea")), status=1)
    assert "belongs to bob" in message
    assert "no session" in refused(run("show", "bob/homework", url=school.url("cy")))


@pytest.mark.parametrize("grantees", [[], ["ada", "--class"]])
def test_share_needs_one_user_or_the_class(school: Classroom, grantees: list[str]) -> None:
    assert "--class" in refused(run("share", "homework", *grantees, url=school.url("bob")))


def test_sharing_with_someone_not_in_the_class_is_a_usage_error(school: Classroom) -> None:
    assert "no user 'zed'" in refused(run("share", "homework", "zed", url=school.url("bob")))


def test_sharing_on_a_sqlite_store_says_it_needs_postgresql(tmp_path: Path) -> None:
    assert "needs a PostgreSQL store" in refused(run("--dir", str(tmp_path), "share", "homework", "ada"))
    assert "needs a PostgreSQL store" in ok(run("--dir", str(tmp_path), "shares"))


# --- terminal safety and connections ---------------------------------------------------------------------------


def test_an_owner_name_with_an_escape_sequence_reaches_the_teachers_terminal_escaped(
    school: Classroom, postgres_server: Any
) -> None:
    from psycopg import sql

    hostile = "eve\x1b]0;pwned\x07\x1b[2J"
    with psycopg.connect(postgres_server.url(school.database), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'eve-password'").format(sql.Identifier(hostile)))
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(group_roles(school.database)[0]), sql.Identifier(hostile)
            )
        )
    url = postgres_server.tcp_url(school.database, hostile, "eve-password")
    with open_store(url) as store:
        store.append([SessionWrite("prank", [thought("A harmless thought", 1)])])
    for command in (["list"], ["search", "harmless"]):
        done = ok(run(*command, url=school.url("tea")))
        assert "\x1b" not in done and "\x07" not in done
        assert "eve\\x1b]0;pwned\\x07\\x1b[2J/prank" in done
    message = refused(run("rm", f"{hostile}/prank", url=school.url("tea")))  # (no such OWNER can be named)
    assert "\x1b" not in message and "eve\\x1b]0;pwned" in message


def test_no_command_leaves_a_connection_open(school: Classroom) -> None:
    # (run() fails the test when psycopg reports a connection deleted while still open; these cover
    # a success, a usage error and a refusal, as a student and as the admin)
    ok(run("list", url=school.url("ada")))
    refused(run("show", "bob/homework", url=school.url("ada")))
    refused(run("rm", "bob/homework", url=school.url("tea")), status=1)
    ok(school.cli("class", "list"))


def test_naming_your_own_session_as_owner_and_id_is_naming_it(school: Classroom) -> None:
    url = school.url("ada")
    assert ok(run("show", "ada/homework", url=url)) == ok(run("show", "homework", url=url))
    school.think("ada", "scrap", "Ada's scrap paper")
    assert "To restore it: jupyter-think trash restore scrap" in ok(run("rm", "ada/scrap", url=url))
    assert "no session 'ada/scrap' in your trash" in refused(
        run("trash", "restore", "ada/scrap", url=school.url("tea"))
    )
    assert "Restored session scrap (1 thought)." in ok(run("trash", "restore", "ada/scrap", url=url))
    assert "scrap" in session_ids(ok(run("list", url=url)))
    ok(run("rm", "scrap", url=url))
    ok(run("trash", "empty", url=url))
