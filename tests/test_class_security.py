"""Who may see what on a class store, tried for real the way a student (or a teacher) would.

One class per module (``classroom.Classroom.ready``): students ada, bob and cyd, teacher tea, each connecting over TCP
with her own scram password, as ``class_store_url`` gives it. Every attack is made with the attacker's
own URL — through the product (``SessionManager``, the store API, magics in a real kernel) and through
plain SQL (psycopg) — and asserts both the refusal and that nothing but the attacker's own rows is
different afterwards, read as the superuser (who bypasses row-level security, so the victim's rows are
seen whole; before each attack they are checked to be there, so that "nothing read" means something).
The legitimate actions work: the owner's own, the teacher's reading, what a share grants.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import classroom
import psycopg
import pytest
from classroom import SECRET
from kernel_harness import Kernel

from jupyter_think import SessionManager
from jupyter_think.core.errors import NoSuchSession, ReadOnlySession
from jupyter_think.core.models import BranchDecided, Thought, ThoughtAdded, ThoughtAmended, ThoughtRetracted
from jupyter_think.ipython.extension import notebook_session_id
from jupyter_think.store import SessionNotFound, SessionWrite, open_store
from jupyter_think.store.base import NotWritable
from jupyter_think.store.postgres.roles import (
    MAX_USER_CHARS,
    ClassError,
    add_members,
    group_roles,
    login_role,
)
from jupyter_think.store.postgres.store import CHANNEL, SCHEMA

STUDENTS = ["ada", "bob", "cyd"]
TEACHER = "tea"
WAIT = 60.0  # seconds something may take to show up (reached only when it never does)
REFUSED = "42501"  # insufficient_privilege: what PostgreSQL answers a role for a privilege or a policy


# --- the class and what it holds ----------------------------------------------------------------------


@dataclass
class Classroom:
    """The class, its users' sessions as the fixture made them, and the superuser's view of its rows."""

    store: classroom.Classroom
    keys: dict[str, int]
    """``OWNER/ID`` -> the row key of each session the fixture made (attacks by plain SQL guess keys)."""

    def url(self, user: str) -> str:
        return self.store.urls[user]

    def role(self, user: str) -> str:
        return login_role(self.store.database, user)

    def manager(self, user: str, **settings: Any) -> SessionManager:
        """A manager over ``user``'s own URL, committing before each call returns."""
        return SessionManager(store=self.url(user), durability=settings.pop("durability", "sync"), **settings)

    def superuser(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.store.superuser_url, autocommit=True)

    def rows(self, *, but: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the schema and its security (tables, policies, functions), as the superuser sees
        them; ``but``: without the rows of that user's own sessions and shares (hers to change)."""
        mine = self.role(but) if but else ""
        owned = f"JOIN {SCHEMA}.sessions s ON s.key = t.session_key WHERE s.owner <> %(mine)s"
        queries = {
            "sessions": f"SELECT * FROM {SCHEMA}.sessions WHERE owner <> %(mine)s ORDER BY key",
            "changes": f"SELECT t.* FROM {SCHEMA}.changes t {owned} ORDER BY 1, 2",
            "branches": f"SELECT t.* FROM {SCHEMA}.branches t {owned} ORDER BY 1, 2",
            "thought_text": f"SELECT t.* FROM {SCHEMA}.thought_text t {owned} ORDER BY 1, 2",
            "shares": f"SELECT * FROM {SCHEMA}.shares WHERE owner <> %(mine)s ORDER BY 1, 3",
            "members": f"SELECT * FROM {SCHEMA}.members ORDER BY role",
            "meta": f"SELECT * FROM {SCHEMA}.meta ORDER BY key",
            "tables": "SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relowner "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(schema)s ORDER BY 1",
            "policies": "SELECT tablename, policyname, cmd, roles, qual, with_check FROM pg_policies "
            "WHERE schemaname = %(schema)s ORDER BY 1, 2",
            "functions": "SELECT p.proname, p.prosrc, p.proconfig, p.prosecdef FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(schema)s ORDER BY 1",
            "grants": "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = %(schema)s ORDER BY 1, 2, 3",
        }
        with self.superuser() as conn:
            return {
                name: conn.execute(query, {"mine": mine, "schema": SCHEMA}).fetchall()  # type: ignore[arg-type]
                for name, query in queries.items()
            }

    def holdings(self, user: str) -> dict[str, int]:
        """How many rows of each session table hold ``user``'s sessions (as the superuser counts)."""
        role = self.role(user)
        with self.superuser() as conn:
            counts = {
                "sessions": conn.execute(
                    f"SELECT count(*) FROM {SCHEMA}.sessions WHERE owner = %s", (role,)
                ).fetchone()[0]
            }  # type: ignore[index]
            for table in ("changes", "branches", "thought_text"):
                counts[table] = conn.execute(
                    f"SELECT count(*) FROM {SCHEMA}.{table} t JOIN {SCHEMA}.sessions s ON s.key = t.session_key "
                    "WHERE s.owner = %s",
                    (role,),
                ).fetchone()[0]  # type: ignore[index]
        return counts

    @contextmanager
    def untouched(self, attacker: str, victims: tuple[str, ...]) -> Iterator[None]:
        """Check that each victim's sessions are stored (sessions, changes, branches, search text) and that
        nothing but the attacker's own rows differs after the block (counts and content)."""
        for victim in victims:
            held = self.holdings(victim)
            assert held["sessions"] and held["changes"] and held["thought_text"], (
                f"{victim}'s sessions are not there to attack: {held}"
            )
        before = self.rows(but=attacker)
        yield
        after = self.rows(but=attacker)
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"{attacker} changed {changed} of other users"


def texts_of(url: str, ref: str, state: str = "live") -> list[str] | None:
    """The thoughts' texts of session ``ref`` as the role of ``url`` reads them (``None``: it reads none)."""
    store = open_store(url)
    try:
        loaded = store.load(ref, state=state)  # type: ignore[arg-type]
    finally:
        store.close()
    return (
        None if loaded is None else [entry.thought for entry in loaded.entries if isinstance(entry, Thought)]
    )


def a_thought(text: str, number: int = 9) -> ThoughtAdded:
    return ThoughtAdded(
        thought=Thought(thought=text, thought_number=number, total_thoughts=number, next_thought_needed=True)
    )


def refusal(kernel: Kernel, code: str) -> str:
    """The one-line ``UsageError`` a cell gets (fails when the cell runs, or says more than one line)."""
    result = kernel.execute(code)
    assert result.status == "error" and result.ename == "UsageError", str(result)
    assert "\n" not in (result.evalue or "")
    return result.evalue or ""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private Jupyter data directory for the module (spill files of refused writes go there)."""
    path = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def room(postgres_server: Any, data_dir: Path) -> Classroom:
    """The class with the sessions the attacks aim at: ada's and bob's homework (bob's with a branch and
    an amendment), bob's notes shared with ada to read, bob's homework shared with cyd, bob's draft in
    his trash, the teacher's lesson."""
    store = classroom.Classroom.ready(postgres_server, STUDENTS, [TEACHER])
    room = Classroom(store, {})
    with room.manager("ada") as ada:
        ada.session("homework").think("Ada's answer: the invariant is fortytwo", total=2)
    with room.manager("bob") as bob:
        homework = bob.session("homework")
        homework.think("Bob's answer uses the pigeonhole principle", total=3)
        homework.think("Count the pigeons, then the holes")
        homework.amend(2, "Count the pigeons first, then the holes")
        homework.branch("alt", from_thought=1)
        homework.think("Bob's alternative: a pigeonhole by counting", branch="alt")
        bob.session("notes").think("Bob's notes on xylophones")
        bob.session("draft").think("Bob's discarded draft about zeppelins")
        bob.flush()
        bob.delete("draft")
        bob.store.share("notes", "ada")
        bob.store.share("homework", "cyd")
    with room.manager(TEACHER) as tea:
        tea.session("lesson").think("The lesson: induction on quokkas")
    with room.superuser() as conn:
        for role_key, session_id, key in conn.execute(
            f"SELECT m.user_name, s.id, s.key FROM {SCHEMA}.sessions s JOIN {SCHEMA}.members m ON m.role = s.owner"
        ).fetchall():
            room.keys[f"{role_key}/{session_id}"] = key
    return room


# --- through the product: a student and another's sessions ---------------------------------------------


def test_a_student_lists_her_own_sessions_and_those_shared_with_her_only(room: Classroom) -> None:
    with room.untouched("ada", ("bob", TEACHER)), room.manager("ada") as ada:
        others = {
            row.ref: row.owner
            for row in ada.stored_sessions(("live", "trashed", "archived"))
            if row.owner != "ada"
        }
    assert others == {"bob/notes": "bob"}


def test_a_student_cannot_open_another_students_or_the_teachers_session(room: Classroom) -> None:
    with room.untouched("ada", ("bob", TEACHER)), room.manager("ada") as ada:
        for ref in ("bob/homework", "bob/draft", "tea/lesson"):
            with pytest.raises(NoSuchSession) as refused:
                ada.session(ref)
            assert (
                str(refused.value)
                == f"no session {ref!r} that you can read: {ref.split('/')[0]} can share it with you (jupyter-think share ID USER)"
            )
        assert not any(ref.startswith(("bob/homework", "tea/")) for ref in ada.loaded())


def test_a_session_she_cannot_read_looks_exactly_like_one_that_does_not_exist(room: Classroom) -> None:
    with room.manager("ada") as ada:
        messages = []
        for ref in ("bob/homework", "bob/no-such-session"):
            with pytest.raises(NoSuchSession) as refused:
                ada.session(ref)
            messages.append(str(refused.value).replace(ref, "REF"))
    assert messages[0] == messages[1]


def test_a_student_reads_nothing_of_another_through_the_store_api(room: Classroom) -> None:
    key = room.keys["bob/homework"]
    store = open_store(room.url("ada"))
    try:
        with room.untouched("ada", ("bob",)):
            assert store.load("bob/homework") is None
            assert store.load("bob/draft", state="trashed") is None
            assert store.load("homework", key=key) is None
            assert store.heads(["bob/homework"]) == {}
            assert store.row(key) is None
            assert store.changes_since(key, 0) == []
    finally:
        store.close()


def test_a_students_search_finds_nothing_in_another_students_sessions(room: Classroom) -> None:
    with room.manager("bob") as bob:
        assert {hit.session_id for hit in bob.search("pigeonhole")} == {"homework"}  # (it is there to find)
    with room.untouched("ada", ("bob", TEACHER)), room.manager("ada") as ada:
        assert ada.search("pigeonhole") == []
        assert ada.search("quokkas") == []
        assert ada.search("zeppelins") == []
        assert ada.search("pigeonhole", sessions=["bob/homework"]) == []
        assert [hit.session_id for hit in ada.search("xylophones")] == ["bob/notes"]  # shared with her


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: a_thought("Ada writes into Bob's homework"), id="think"),
        pytest.param(
            lambda: ThoughtAmended(thought_id="0" * 32, thought_number=1, text="rewritten by Ada"), id="amend"
        ),
        pytest.param(lambda: ThoughtRetracted(thought_id="0" * 32, thought_number=1), id="retract"),
        pytest.param(lambda: BranchDecided(branch_id="alt", outcome="abandoned"), id="decide"),
    ],
)
@pytest.mark.parametrize("known_row", [False, True], ids=["by-name", "by-row-key"])
def test_a_student_cannot_write_into_another_students_session_through_the_store(
    room: Classroom, change: Callable[[], Any], known_row: bool
) -> None:
    key = room.keys["bob/homework"] if known_row else None
    store = open_store(room.url("ada"))
    try:
        with room.untouched("ada", ("bob",)), pytest.raises(NotWritable) as refused:
            store.append([SessionWrite("bob/homework", [change()], expected_key=key)])
    finally:
        store.close()
    assert refused.value.errno == errno.EACCES
    assert "bob/homework is not there for you to write to" in str(refused.value)


def test_a_student_cannot_delete_trash_or_restore_another_students_session(room: Classroom) -> None:
    with room.untouched("ada", ("bob",)), room.manager("ada") as ada:
        assert ada.delete("bob/homework") is False  # (no session of hers by that name: nothing moved)
        with pytest.raises(SessionNotFound):
            ada.store.trash("bob/homework")
        with pytest.raises(SessionNotFound):
            ada.store.restore("bob/draft")
        with pytest.raises(OSError) as refused:
            ada.delete("bob/notes")  # shared with her to read
    assert str(refused.value).endswith("bob/notes belongs to bob; only they can move it to the trash")


def test_a_students_gc_trashes_and_purges_her_own_sessions_only(room: Classroom) -> None:
    with room.manager("ada") as ada:
        ada.session("ada-idle").think("An idle session of Ada's")
        ada.session("ada-discarded").think("Discarded by Ada")
        ada.flush()
        ada.delete("ada-discarded")
    store = open_store(room.url("ada"))
    try:
        with room.untouched("ada", ("bob", TEACHER)):
            purged = store.purge_trash()
            trashed = store.trash_idle(timedelta(0))
        assert "ada-discarded" in {row.id for row in purged} and {row.owner for row in purged} == {"ada"}
        assert "ada-idle" in {row.id for row in trashed} and {row.owner for row in trashed} == {"ada"}
        for row in trashed:  # (the other tests' sessions of hers come back)
            store.restore(row.id)
    finally:
        store.close()
    assert texts_of(room.url("bob"), "draft", state="trashed") == ["Bob's discarded draft about zeppelins"]


def test_the_owner_of_a_new_session_is_the_role_whatever_jupyterhub_user_says(
    room: Classroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "bob")
    with room.untouched("ada", ("bob",)), room.manager("ada") as ada:
        ada.session("spoofed").think("Ada pretends to be Bob")
    with room.superuser() as conn:
        owners = conn.execute(f"SELECT owner FROM {SCHEMA}.sessions WHERE id = 'spoofed'").fetchall()
    assert owners == [(room.role("ada"),)]
    with room.manager("bob") as bob:
        assert "spoofed" not in bob.sessions()


def test_a_client_chosen_owner_is_refused_by_the_database(room: Classroom) -> None:
    with (
        room.untouched("ada", ("bob",)),
        psycopg.connect(room.url("ada"), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
    ):
        conn.execute(
            f"INSERT INTO {SCHEMA}.sessions (id, owner, state, created_at, last_activity, state_changed_at) "
            "VALUES ('planted', %s, 'live', now(), now(), now())",
            (room.role("bob"),),
        )


# --- through the product: the teacher -------------------------------------------------------------------


def test_the_teachers_list_shows_every_session_of_the_class_with_its_owner(room: Classroom) -> None:
    with room.manager(TEACHER) as tea:
        listed = {(row.ref, row.owner) for row in tea.stored_sessions()}
        ids = tea.sessions()
    assert {
        ("ada/homework", "ada"),
        ("bob/homework", "bob"),
        ("bob/notes", "bob"),
        ("lesson", TEACHER),
    } <= listed
    assert {"ada/homework", "bob/homework", "bob/notes", "lesson"} <= set(ids)


def test_the_teacher_searches_the_whole_class(room: Classroom) -> None:
    with room.manager(TEACHER) as tea:
        assert {hit.session_id for hit in tea.search("pigeonhole")} == {"bob/homework"}
        assert [hit.session_id for hit in tea.search("fortytwo")] == ["ada/homework"]
        assert [hit.session_id for hit in tea.search("quokkas")] == ["lesson"]


def test_the_teacher_opens_a_students_session_whole_and_read_only(room: Classroom) -> None:
    with room.manager(TEACHER) as tea:
        homework = tea.session("bob/homework")
        assert [t.thought for t in homework.snapshot().thoughts] == [
            "Bob's answer uses the pigeonhole principle",
            "Count the pigeons first, then the holes",
            "Bob's alternative: a pigeonhole by counting",
        ]
        assert list(homework.branches) == ["alt"]
        assert homework.read_only == "bob/homework belongs to bob; you can read it, not change it"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s.think("The teacher's correction"), id="think"),
        pytest.param(lambda s: s.amend(1, "The teacher rewrites it"), id="amend"),
        pytest.param(lambda s: s.retract(1), id="retract"),
        pytest.param(lambda s: s.branch("tea-idea", from_thought=1), id="branch"),
        pytest.param(lambda s: s.decide("alt", "abandoned"), id="decide"),
        pytest.param(lambda s: s.merge("alt"), id="merge"),
        pytest.param(lambda s: s.revise(1, "The teacher revises it"), id="revise"),
    ],
)
def test_the_teacher_changes_no_students_session_and_is_told_so_in_one_line(
    room: Classroom, change: Callable[[Any], Any]
) -> None:
    with room.untouched(TEACHER, ("bob",)), room.manager(TEACHER) as tea:
        homework = tea.session("bob/homework")
        before = len(homework)
        with pytest.raises(ReadOnlySession) as refused:
            change(homework)
        assert len(homework) == before
    assert str(refused.value) == "bob/homework belongs to bob; you can read it, not change it"


def test_the_teacher_cannot_write_into_a_students_session_through_the_store(room: Classroom) -> None:
    store = open_store(room.url(TEACHER))
    try:
        with room.untouched(TEACHER, ("bob",)), pytest.raises(NotWritable) as refused:
            store.append(
                [
                    SessionWrite(
                        "bob/homework", [a_thought("forged by the teacher")], room.keys["bob/homework"]
                    )
                ]
            )
    finally:
        store.close()
    assert refused.value.strerror == "bob/homework belongs to bob; you can read it, not change it"


def test_the_teacher_cannot_trash_restore_purge_or_share_a_students_session(room: Classroom) -> None:
    with room.untouched(TEACHER, ("bob",)), room.manager(TEACHER) as tea:
        with pytest.raises(OSError) as trashing:
            tea.delete("bob/homework")
        with pytest.raises(SessionNotFound):
            tea.store.restore("bob/draft")
        assert all(row.owner == TEACHER for row in tea.store.purge_trash())
        trashed = tea.store.trash_idle(timedelta(0))
        assert trashed and {row.owner for row in trashed} == {TEACHER}
        for row in trashed:  # (the teacher's own, for the other tests)
            tea.store.restore(row.id)
        with pytest.raises(OSError) as sharing:
            tea.store.share("bob/homework", "ada")
    assert str(trashing.value).endswith("bob/homework belongs to bob; only they can move it to the trash")
    assert str(sharing.value) == "[Errno 13] bob/homework belongs to bob; only they can share it"


# --- through the product: the owner's own actions ----------------------------------------------------------


def test_the_owner_does_everything_with_her_own_session(room: Classroom) -> None:
    with room.manager("ada") as ada:
        work = ada.session("ada-work")
        work.think("First idea about tangerines", total=3)
        work.think("Second step")
        work.amend(2, "Second step, corrected")
        work.think("A wrong turn")
        work.retract(3)
        work.branch("other", from_thought=1)
        work.think("Another way with tangerines", branch="other")
        work.decide("other", "chosen", note="shorter")
        work.merge("other")
        work.think("Concluded", done=True)
        assert [hit.session_id for hit in ada.search("tangerines")] == ["ada-work", "ada-work"]
        assert ada.delete("ada-work") is True
        assert "ada-work" not in ada.sessions()
        ada.store.restore("ada-work")
    with room.manager("ada") as ada:
        again = ada.session("ada-work")
        view = again.snapshot()
        assert [t.thought for t in view.thoughts] == [
            "First idea about tangerines",
            "Second step, corrected",
            "A wrong turn",
            "Another way with tangerines",
            "Concluded",
        ]
        assert [t.thought for t in view.thoughts if t.id in view.retracted] == ["A wrong turn"]
        assert again.read_only is None and again.status == "complete"
        assert (again.branches["other"].outcome, again.branches["other"].note) == ("chosen", "shorter")
        assert [m.branch_id for m in again.merges] == ["other"]


# --- plain SQL with a member's own URL ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    """One statement sent with the attacker's own URL, and how PostgreSQL turns it down: ``denied`` (an
    error, insufficient privilege), ``nothing`` (the rows are not hers to see: no row read or changed) or
    ``warned`` (a GRANT she has no right to give runs with a warning that nothing was granted)."""

    sql: str
    outcome: str


ROW_ATTACKS = {
    # reading (the teacher may; see test_the_teacher_reads_every_table_of_the_class_by_sql)
    "read-session": Attack("SELECT id, owner FROM {s}.sessions WHERE key = {key}", "nothing"),
    "read-payloads": Attack("SELECT payload FROM {s}.changes WHERE session_key = {key}", "nothing"),
    "read-branches": Attack("SELECT branch_id FROM {s}.branches WHERE session_key = {key}", "nothing"),
    "read-search-text": Attack("SELECT body FROM {s}.thought_text WHERE session_key = {key}", "nothing"),
    "read-shares": Attack(
        "SELECT * FROM {s}.shares WHERE owner = '{role}' AND session_key = {key}", "nothing"
    ),
    # rewriting
    "rewrite-payloads": Attack("UPDATE {s}.changes SET payload = '{{}}' WHERE session_key = {key}", "denied"),
    "rewrite-search-text": Attack(
        "UPDATE {s}.thought_text SET body = 'x' WHERE session_key = {key}", "denied"
    ),
    "rename-session": Attack("UPDATE {s}.sessions SET id = 'renamed' WHERE key = {key}", "denied"),
    "take-ownership": Attack("UPDATE {s}.sessions SET owner = current_user WHERE key = {key}", "denied"),
    "give-own-session-away": Attack(
        "UPDATE {s}.sessions SET owner = '{role}' WHERE owner = current_user", "denied"
    ),
    "trash-it": Attack("UPDATE {s}.sessions SET state = 'trashed' WHERE key = {key}", "nothing"),
    "zero-its-counts": Attack(
        "UPDATE {s}.sessions SET thoughts = 0, last_seq = 0 WHERE key = {key}", "nothing"
    ),
    "upgrade-a-share": Attack("UPDATE {s}.shares SET can_write = true WHERE session_key = {key}", "nothing"),
    # deleting
    "delete-session": Attack("DELETE FROM {s}.sessions WHERE key = {key}", "nothing"),
    "delete-changes": Attack("DELETE FROM {s}.changes WHERE session_key = {key}", "nothing"),
    "delete-branches": Attack("DELETE FROM {s}.branches WHERE session_key = {key}", "nothing"),
    "wipe-search-index": Attack("DELETE FROM {s}.thought_text WHERE session_key = {key}", "nothing"),
    "delete-shares": Attack("DELETE FROM {s}.shares WHERE session_key = {key}", "nothing"),
    # inserting
    "append-change": Attack(
        "INSERT INTO {s}.changes (session_key, seq, kind, payload, created_at) "
        "VALUES ({key}, 1000, 'thought', '{{}}', now())",
        "denied",
    ),
    "append-search-text": Attack(
        "INSERT INTO {s}.thought_text (session_key, seq, thought_number, body, words) "
        "VALUES ({key}, 1000, 1, 'planted', ARRAY['planted'])",
        "denied",
    ),
    "append-branch": Attack(
        "INSERT INTO {s}.branches (session_key, branch_id) VALUES ({key}, 'planted')", "denied"
    ),
    "plant-session-as-victim": Attack(
        "INSERT INTO {s}.sessions (id, owner, state, created_at, last_activity, state_changed_at) "
        "VALUES ('planted', '{role}', 'live', now(), now(), now())",
        "denied",
    ),
    "forge-share-to-self": Attack(
        "INSERT INTO {s}.shares (session_key, grantee, grantee_name, can_write) "
        "VALUES ({key}, (SELECT oid FROM pg_roles WHERE rolname = current_user), 'me', true)",
        "denied",
    ),
    "forge-share-as-owner": Attack(
        "INSERT INTO {s}.shares (session_key, owner, grantee, grantee_name, can_write) "
        "VALUES ({key}, '{role}', (SELECT oid FROM pg_roles WHERE rolname = current_user), 'me', true)",
        "denied",
    ),
}
"""Attacks on the rows of one victim (``{key}``: the key of her session, ``{role}``: her role)."""

SCHEMA_ATTACKS = {
    "join-members": Attack(
        "INSERT INTO {s}.members (role, user_name, teacher) VALUES (current_user, 'x', true)", "denied"
    ),
    "become-teacher-in-roster": Attack(
        "UPDATE {s}.members SET teacher = true WHERE role = current_user", "denied"
    ),
    "leave-roster": Attack("DELETE FROM {s}.members", "denied"),
    "repoint-teachers-role": Attack(
        "UPDATE {s}.meta SET value = current_user WHERE key = 'teachers_role'", "denied"
    ),
    "add-meta": Attack(
        "INSERT INTO {s}.meta (key, value) VALUES ('teachers_role_2', current_user)", "denied"
    ),
    "reset-schema-version": Attack("DELETE FROM {s}.meta WHERE key = 'schema_version'", "denied"),
    "drop-schema": Attack("DROP SCHEMA {s} CASCADE", "denied"),
    "drop-table": Attack("DROP TABLE {s}.changes", "denied"),
    "truncate": Attack("TRUNCATE {s}.sessions CASCADE", "denied"),
    "truncate-search-index": Attack("TRUNCATE {s}.thought_text", "denied"),
    "disable-row-security": Attack("ALTER TABLE {s}.sessions DISABLE ROW LEVEL SECURITY", "denied"),
    "unforce-row-security": Attack("ALTER TABLE {s}.changes NO FORCE ROW LEVEL SECURITY", "denied"),
    "drop-owner-default": Attack("ALTER TABLE {s}.sessions ALTER COLUMN owner DROP DEFAULT", "denied"),
    "take-table": Attack("ALTER TABLE {s}.sessions OWNER TO CURRENT_USER", "denied"),
    "create-policy": Attack("CREATE POLICY everything ON {s}.sessions FOR SELECT USING (true)", "denied"),
    "drop-policy": Attack("DROP POLICY readable ON {s}.sessions", "denied"),
    "create-table": Attack("CREATE TABLE {s}.mine (x int)", "denied"),
    "replace-policy-function": Attack(
        "CREATE OR REPLACE FUNCTION {s}.is_teacher() RETURNS boolean LANGUAGE sql AS 'SELECT true'", "denied"
    ),
    "grant-to-self": Attack("GRANT ALL ON ALL TABLES IN SCHEMA {s} TO CURRENT_USER", "warned"),
}
"""Attacks on the schema, the roster and the class's settings."""

VICTIMS = {"ada": ("bob/homework", "tea/lesson"), TEACHER: ("ada/homework", "bob/homework")}
"""Whom each attacker aims at: a student at a classmate and at the teacher; the teacher at students."""


def attempt(url: str, attack: Attack, **facts: Any) -> str:
    """Send ``attack`` with ``url``'s role; ``denied``, ``nothing``, or what it did (rows read or changed)."""
    statement = attack.sql.format(s=SCHEMA, **facts)
    with psycopg.connect(url, autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda notice: notices.append(f"{notice.severity}: {notice.message_primary}"))
        try:
            cursor = conn.execute(statement)
        except psycopg.Error as exc:  # the helper sorts outcomes: refused for privileges, or not
            assert exc.sqlstate == REFUSED, (  # noqa: PT017
                f"{statement}: refused, but not for privileges: {exc.sqlstate} {exc}"
            )
            return "denied"
        if cursor.description is not None:
            rows = cursor.fetchall()
            return "nothing" if not rows else f"read {rows}"
        if cursor.rowcount == -1:  # a command that changes no rows: it ran
            granted_nothing = notices and all(
                note.startswith("WARNING: no privileges were granted") for note in notices
            )
            return "warned" if granted_nothing else f"ran {statement!r} ({notices})"
        return "nothing" if cursor.rowcount == 0 else f"changed {cursor.rowcount} row(s)"


def facts_for(room: Classroom, ref: str) -> dict[str, Any]:
    """What an attack on session ``ref`` (``OWNER/ID``) names: its row key, its owner's role, the groups."""
    owner, session_id = ref.split("/")
    students, teachers = group_roles(room.store.database)
    if ref not in room.keys:
        with room.superuser() as conn:
            found = conn.execute(
                f"SELECT key FROM {SCHEMA}.sessions WHERE owner = %s AND id = %s AND state = 'live'",
                (room.role(owner), session_id),
            ).fetchone()
        assert found is not None, f"no live session {ref}"
        room.keys[ref] = int(found[0])
    return {"key": room.keys[ref], "role": room.role(owner), "students": students, "teachers": teachers}


@pytest.mark.parametrize("name", [name for name in ROW_ATTACKS if not name.startswith("read-")])
@pytest.mark.parametrize(("attacker", "victim"), [(a, v) for a, refs in VICTIMS.items() for v in refs])
def test_plain_sql_changes_no_row_of_another_user(
    room: Classroom, attacker: str, victim: str, name: str
) -> None:
    attack = ROW_ATTACKS[name]
    with room.untouched(attacker, (victim.split("/")[0],)):
        outcome = attempt(room.url(attacker), attack, **facts_for(room, victim))
    assert outcome == attack.outcome


@pytest.mark.parametrize("name", [name for name in ROW_ATTACKS if name.startswith("read-")])
@pytest.mark.parametrize("victim", VICTIMS["ada"])
def test_plain_sql_reads_no_row_of_another_student_or_the_teacher(
    room: Classroom, victim: str, name: str
) -> None:
    with room.untouched("ada", (victim.split("/")[0],)):
        outcome = attempt(room.url("ada"), ROW_ATTACKS[name], **facts_for(room, victim))
    assert outcome == "nothing"


@pytest.mark.parametrize("name", list(SCHEMA_ATTACKS))
@pytest.mark.parametrize("attacker", ["ada", TEACHER])
def test_plain_sql_changes_neither_schema_nor_roster_nor_settings(
    room: Classroom, attacker: str, name: str
) -> None:
    attack = SCHEMA_ATTACKS[name]
    with room.untouched(attacker, ("ada", "bob", TEACHER)):
        outcome = attempt(room.url(attacker), attack, **facts_for(room, "bob/homework"))
    assert outcome == attack.outcome


def test_the_teacher_reads_every_table_of_the_class_by_sql(room: Classroom) -> None:
    key = room.keys["ada/homework"]
    with psycopg.connect(room.url(TEACHER)) as conn:
        owners = {owner for (owner,) in conn.execute(f"SELECT owner FROM {SCHEMA}.sessions")}
        payloads = conn.execute(
            f"SELECT payload FROM {SCHEMA}.changes WHERE session_key = %s", (key,)
        ).fetchall()
        bodies = conn.execute(
            f"SELECT body FROM {SCHEMA}.thought_text WHERE session_key = %s", (key,)
        ).fetchall()
        branches = conn.execute(
            f"SELECT branch_id FROM {SCHEMA}.branches WHERE session_key = %s", (room.keys["bob/homework"],)
        ).fetchall()
    assert {room.role("ada"), room.role("bob"), room.role(TEACHER)} <= owners
    assert "fortytwo" in payloads[0][0] and bodies == [("Ada's answer: the invariant is fortytwo",)]
    assert branches == [("alt",)]


def test_a_temporary_table_named_like_a_catalog_gains_a_student_nothing(room: Classroom) -> None:
    """A temporary table is found before ``pg_catalog`` in a role's own search path: ``pg_roles`` of her
    own making, saying she is in the teachers' group, must not make the policies think so."""
    _, teachers = group_roles(room.store.database)
    with room.untouched("ada", ("bob", TEACHER)), psycopg.connect(room.url("ada"), autocommit=True) as conn:
        me = conn.execute("SELECT oid FROM pg_roles WHERE rolname = current_user").fetchone()[0]  # type: ignore[index]
        conn.execute("CREATE TEMPORARY TABLE pg_roles (oid oid, rolname name)")
        conn.execute("INSERT INTO pg_roles VALUES (%s, %s)", (me, teachers))
        seen = conn.execute(f"SELECT owner FROM {SCHEMA}.sessions WHERE owner <> current_user").fetchall()
        texts = conn.execute(
            f"SELECT payload FROM {SCHEMA}.changes WHERE payload LIKE '%%pigeonhole%%'"
        ).fetchall()
    assert seen == [(room.role("bob"),)]  # bob's notes, shared with her; nothing else
    assert texts == []


def test_a_function_of_hers_first_in_her_search_path_gains_a_student_nothing(room: Classroom) -> None:
    """Where students may create objects (``public`` was open to all before PostgreSQL 15), a
    ``pg_has_role`` of her own that always says yes, first in her search path, changes no policy."""
    with room.superuser() as admin:
        admin.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    try:
        with (
            room.untouched("ada", ("bob", TEACHER)),
            psycopg.connect(room.url("ada"), autocommit=True) as conn,
        ):
            conn.execute(
                "CREATE FUNCTION public.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'"
            )
            conn.execute("SET search_path = public, pg_catalog")
            seen = conn.execute(f"SELECT owner FROM {SCHEMA}.sessions WHERE owner <> current_user").fetchall()
            conn.execute("RESET search_path")
            conn.execute("DROP FUNCTION public.pg_has_role(name, oid, text)")
    finally:
        with room.superuser() as admin:
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    assert seen == [(room.role("bob"),)]


def test_the_students_group_role_gains_a_student_nothing(room: Classroom) -> None:
    students, teachers = group_roles(room.store.database)
    with room.untouched("ada", ("bob", TEACHER)), psycopg.connect(room.url("ada"), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'SET ROLE "{teachers}"')
        conn.execute(f'SET ROLE "{students}"')
        seen = conn.execute(f"SELECT id, owner FROM {SCHEMA}.sessions WHERE id <> 'lesson-shared'").fetchall()
        payloads = conn.execute(
            f"SELECT payload FROM {SCHEMA}.changes WHERE payload LIKE '%%pigeonhole%%'"
        ).fetchall()
        deleted = conn.execute(f"DELETE FROM {SCHEMA}.sessions").rowcount
    assert seen == [] and payloads == [] and deleted == 0


def test_the_teachers_group_role_changes_no_students_session(room: Classroom) -> None:
    _, teachers = group_roles(room.store.database)
    facts = facts_for(room, "ada/homework")
    with room.untouched(TEACHER, ("ada",)), psycopg.connect(room.url(TEACHER), autocommit=True) as conn:
        conn.execute(f'SET ROLE "{teachers}"')
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(ROW_ATTACKS["append-change"].sql.format(s=SCHEMA, **facts))
        assert conn.execute(ROW_ATTACKS["trash-it"].sql.format(s=SCHEMA, **facts)).rowcount == 0
        assert conn.execute(ROW_ATTACKS["wipe-search-index"].sql.format(s=SCHEMA, **facts)).rowcount == 0


# --- shares -------------------------------------------------------------------------------------------------


def test_a_read_share_lets_exactly_that_user_read_it(room: Classroom) -> None:
    with room.manager("ada") as ada:
        ada.session("for-bob").think("Ada shows Bob her proof")
        assert ada.store.share("for-bob", "bob") == "bob (read only)"
    with room.manager("bob") as bob:
        shared = bob.session("ada/for-bob")
        assert [t.thought for t in shared.thoughts] == ["Ada shows Bob her proof"]
        assert shared.read_only == "ada/for-bob belongs to ada; you can read it, not change it"
        with pytest.raises(ReadOnlySession):
            shared.think("Bob adds to it")
    with room.manager("cyd") as cyd, pytest.raises(NoSuchSession):
        cyd.session("ada/for-bob")
    assert texts_of(room.url("ada"), "for-bob") == ["Ada shows Bob her proof"]


def test_a_read_share_writes_nothing_through_the_store_or_plain_sql(room: Classroom) -> None:
    store = open_store(room.url("ada"))  # bob's notes are shared with ada to read
    try:
        with room.untouched("ada", ("bob",)):
            with pytest.raises(NotWritable, match="bob/notes belongs to bob; you can read it, not change it"):
                store.append([SessionWrite("bob/notes", [a_thought("Ada adds to Bob's notes")])])
            facts = facts_for(room, "bob/notes")
            for name in (
                "append-change",
                "append-search-text",
                "zero-its-counts",
                "trash-it",
                "upgrade-a-share",
                "delete-changes",
                "wipe-search-index",
                "delete-session",
            ):
                assert attempt(room.url("ada"), ROW_ATTACKS[name], **facts) == ROW_ATTACKS[name].outcome, name
    finally:
        store.close()


def test_a_write_share_lets_her_add_thoughts_that_the_owner_sees_live(room: Classroom) -> None:
    with room.manager("ada") as ada:
        together = ada.session("together")
        together.think("Ada starts", total=3)
        ada.store.share("together", "bob", write=True)
        with room.manager("bob") as bob:
            shared = bob.session("ada/together")
            assert shared.read_only is None
            shared.think("Bob goes on")
        deadline = time.monotonic() + WAIT
        while len(together) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [t.thought for t in together.thoughts] == ["Ada starts", "Bob goes on"]
        together.think("Ada concludes", done=True)
    assert texts_of(room.url("ada"), "together") == ["Ada starts", "Bob goes on", "Ada concludes"]


def test_a_write_share_never_lets_her_trash_restore_purge_or_reshare(room: Classroom) -> None:
    with room.manager("ada") as ada:
        ada.session("co-written").think("Ada's part")
        ada.session("co-trashed").think("Ada's other part")
        ada.store.share("co-written", "bob", write=True)
        ada.store.share("co-trashed", "bob", write=True)
        ada.flush()
        ada.delete("co-trashed")
    with room.untouched("bob", ("ada",)), room.manager("bob") as bob:
        with pytest.raises(
            OSError, match="ada/co-written belongs to ada; only they can move it to the trash"
        ):
            bob.delete("ada/co-written")
        with pytest.raises(SessionNotFound):
            bob.store.restore("ada/co-trashed")
        with pytest.raises(OSError, match="ada/co-written belongs to ada; only they can share it"):
            bob.store.share("ada/co-written", "cyd")
        with pytest.raises(OSError, match="only they can change who it is shared with"):
            bob.store.unshare("ada/co-written", "bob")
        assert all(row.owner == "bob" for row in bob.store.purge_trash())
        facts = facts_for(room, "ada/co-written")
        assert attempt(room.url("bob"), ROW_ATTACKS["trash-it"], **facts) == "denied"
        assert attempt(room.url("bob"), ROW_ATTACKS["delete-session"], **facts) == "nothing"
        assert attempt(room.url("bob"), ROW_ATTACKS["delete-changes"], **facts) == "nothing"
    assert texts_of(room.url("ada"), "co-trashed", state="trashed") == ["Ada's other part"]


def test_writing_into_a_write_shared_session_its_owner_trashed_does_not_restore_it(room: Classroom) -> None:
    with room.manager("ada") as ada:
        ada.session("left-behind").think("Ada's start")
        ada.store.share("left-behind", "bob", write=True)
    with room.manager("bob") as bob:
        shared = bob.session("ada/left-behind")
        with room.manager("ada") as ada:
            assert ada.delete("left-behind") is True
        with pytest.raises(PermissionError, match="its owner, ada, moved it to the trash"):
            shared.think("Bob writes on")
    assert texts_of(room.url("ada"), "left-behind") is None
    assert texts_of(room.url("ada"), "left-behind", state="trashed") == ["Ada's start"]


def test_a_class_share_reaches_every_student(room: Classroom) -> None:
    with room.manager(TEACHER) as tea:
        tea.session("lesson-shared").think("Today: proofs by induction")
        assert tea.store.share("lesson-shared", None) == "the class (read only)"
    for student in STUDENTS:
        with room.manager(student) as manager:
            assert "tea/lesson-shared" in manager.sessions()
            assert [t.thought for t in manager.session("tea/lesson-shared").thoughts] == [
                "Today: proofs by induction"
            ]
            assert ("tea/lesson-shared", "the class", False) in {
                (share.session, share.grantee, share.write)
                for share in manager.store.shares()
                if not share.mine
            }


def test_unshare_takes_a_share_back_at_once(room: Classroom) -> None:
    with room.manager("ada") as ada:
        ada.session("lent").think("Ada lends this")
        ada.store.share("lent", "bob")
        with room.manager("bob") as bob:
            assert bob.session("ada/lent").thoughts
        assert ada.store.unshare("lent", "bob") == "bob"
    with room.manager("bob") as bob:
        assert "ada/lent" not in bob.sessions()
        with pytest.raises(NoSuchSession):
            bob.session("ada/lent")
    assert texts_of(room.url("bob"), "ada/lent") is None


def test_a_class_unshare_takes_it_back_from_every_student(room: Classroom) -> None:
    with room.manager(TEACHER) as tea:
        tea.session("lesson-over").think("Yesterday's lesson")
        tea.store.share("lesson-over", None)
        tea.store.unshare("lesson-over", None)
    for student in STUDENTS:
        assert texts_of(room.url(student), "tea/lesson-over") is None


# --- LISTEN ---------------------------------------------------------------------------------------------------


def test_a_listening_student_hears_that_something_changed_and_nothing_else(room: Classroom) -> None:
    with psycopg.connect(room.url("ada"), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with room.manager("bob") as bob:
            bob.session("overheard").think("Bob's secret about marmalade")
        heard = list(listener.notifies(timeout=WAIT, stop_after=1))
        assert [(note.channel, note.payload) for note in heard] == [(CHANNEL, "")]
        seen = listener.execute(f"SELECT id FROM {SCHEMA}.sessions WHERE id = 'overheard'").fetchall()
        found = listener.execute(
            f"SELECT body FROM {SCHEMA}.thought_text WHERE body LIKE '%%marmalade%%'"
        ).fetchall()
    assert seen == [] and found == []
    with room.manager("ada") as ada:
        assert not any("overheard" in ref for ref in ada.sessions())
        assert ada.search("marmalade") == []


# --- a share taken back while the grantee's kernel writes into it ----------------------------------------


def bobs_kernel(room: Classroom, make_kernel: Any, tmp_path: Path, shared: str, *, sync: bool) -> Kernel:
    """Bob's kernel (his notebook ``mine.ipynb``, from the test's ``make_kernel``) with ada's session
    ``shared`` open to write, one thought of his saved in it."""
    with room.manager("ada") as ada:
        ada.session(shared).think("Ada's first line")
        ada.store.share(shared, "bob", write=True)
    env = {
        "JUPYTER_THINK_STORE": room.url("bob"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JPY_SESSION_NAME": str(tmp_path / "mine.ipynb"),
    }
    kernel = make_kernel(env=env, cwd=str(tmp_path))
    durability = "%config ThinkConfig.durability = 'sync'\n" if sync else ""
    opened = kernel.execute(
        f"{durability}%load_ext jupyter_think\n%think -s ada/{shared} Bob's line\n%session --flush"
    )
    assert opened.ok, str(opened)
    assert texts_of(room.url("ada"), shared) == ["Ada's first line", "Bob's line"]
    return kernel


@pytest.mark.kernel
def test_after_unshare_the_grantees_open_session_sets_her_thought_aside_and_saves_the_rest(
    room: Classroom, make_kernel: Any, tmp_path: Path
) -> None:
    """Bob's kernel has ada's session open to write when she takes the share back. His next thought there
    is shown in his kernel but never reaches her session: it is set aside (kept in his spill file;
    ``%session --flush`` names it until ``jupyter-think recover`` stores it, should she share again, or
    exports and discards it), and his own sessions keep saving."""
    kernel = bobs_kernel(room, make_kernel, tmp_path, "taken-back", sync=False)
    with room.manager("ada") as ada:
        ada.store.unshare("taken-back", "bob")
    after = kernel.execute("%think -s ada/taken-back Bob writes after the unshare\n%think Bob's own work")
    assert after.ok, str(after)
    flushed = refusal(kernel, "%session --flush")
    deadline = time.monotonic() + WAIT
    while texts_of(room.url("bob"), "mine") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    shown = kernel.value(
        "[t.thought for t in __import__('jupyter_think').get_manager().session('ada/taken-back').thoughts]"
    )
    kernel.shutdown()  # (its exit saves what it can: the set-aside thought must not reach her session then either)
    assert "set aside" in flushed and "'ada/taken-back'" in flushed
    assert (
        "ada/taken-back is not there for you to write to" in flushed
        and "no longer shares it with you" in flushed
    )
    assert shown == ["Ada's first line", "Bob's line", "Bob writes after the unshare"]
    assert texts_of(room.url("bob"), "mine") == ["Bob's own work"]
    assert texts_of(room.url("ada"), "taken-back") == ["Ada's first line", "Bob's line"]


@pytest.mark.kernel
def test_after_unshare_a_sync_grantees_thought_is_refused_in_one_line(
    room: Classroom, make_kernel: Any, tmp_path: Path
) -> None:
    kernel = bobs_kernel(room, make_kernel, tmp_path, "taken-back-sync", sync=True)
    with room.manager("ada") as ada:
        ada.store.unshare("taken-back-sync", "bob")
    refused = refusal(kernel, "%think -s ada/taken-back-sync Bob writes after the unshare")
    shown = kernel.value(
        "[t.thought for t in __import__('jupyter_think').get_manager().session('ada/taken-back-sync').thoughts]"
    )
    kernel.shutdown()
    assert (
        "ada/taken-back-sync is not there for you to write to" in refused
        and "nothing was recorded" in refused
    )
    assert shown == ["Ada's first line", "Bob's line"]
    assert texts_of(room.url("ada"), "taken-back-sync") == ["Ada's first line", "Bob's line"]


# --- magics in a student's real kernel --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ada_kernel(room: Classroom, module_kernels: Any, tmp_path_factory: pytest.TempPathFactory) -> Kernel:
    """Ada's kernel: her URL, and a hub that (wrongly, or by her hand) says she is bob."""
    root = tmp_path_factory.mktemp("ada-kernel")
    env = {
        "JUPYTER_THINK_STORE": room.url("ada"),
        "JUPYTERHUB_USER": "bob",
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JPY_SESSION_NAME": str(root / "homework.ipynb"),
    }
    kernel = module_kernels(env=env, cwd=str(root))
    assert kernel.execute("%load_ext jupyter_think").ok
    return kernel


@pytest.mark.kernel
def test_in_her_kernel_a_students_notebook_session_is_her_own_homework(
    room: Classroom, ada_kernel: Kernel
) -> None:
    with room.untouched("ada", ("bob",)):
        assert ada_kernel.execute("%think Ada, from her notebook\n%session --flush").ok
    assert ada_kernel.value("__import__('jupyter_think').get_manager().active_id") == "homework"
    assert texts_of(room.url("ada"), "homework")[-1] == "Ada, from her notebook"  # type: ignore[index]


@pytest.mark.kernel
def test_in_her_kernel_a_student_cannot_open_write_into_or_delete_another_students_session(
    room: Classroom, ada_kernel: Kernel
) -> None:
    with room.untouched("ada", ("bob",)):
        opened = refusal(ada_kernel, "%session bob/homework")
        written = refusal(ada_kernel, "%think -s bob/homework Ada's thought in Bob's homework")
        deleted = refusal(ada_kernel, "%session --delete bob/homework")
        shared = refusal(ada_kernel, "%session bob/homework --share ada")
    assert (
        opened
        == "no session 'bob/homework' that you can read: bob can share it with you (jupyter-think share ID USER)"
    )
    assert written == opened
    assert deleted == "no session 'bob/homework' to delete; see %session --list"
    assert shared == "no session 'bob/homework'"


@pytest.mark.kernel
def test_in_her_kernel_a_students_list_and_search_show_nothing_of_another_students(
    room: Classroom, ada_kernel: Kernel
) -> None:
    listed = ada_kernel.execute("%session --list")
    found = ada_kernel.execute("%session --search pigeonhole")
    assert listed.ok and found.ok
    names = [line[2:].split()[0] for line in listed.plain.splitlines()[1:]]
    assert "homework" in names and "bob/notes" in names
    assert not {"bob/homework", "bob/draft", "tea/lesson"} & set(names)
    assert found.plain == 'Search "pigeonhole" · 0 matches'


@pytest.mark.kernel
def test_in_her_kernel_a_read_share_is_followed_and_refuses_her_thoughts_in_one_line(
    room: Classroom, ada_kernel: Kernel
) -> None:
    assert ada_kernel.execute("%session bob/notes").ok
    refused = refusal(ada_kernel, "%think Ada scribbles in Bob's notes")
    assert refused == "bob/notes belongs to bob; you can read it, not change it"
    assert ada_kernel.execute("%session homework").ok
    assert texts_of(room.url("bob"), "notes") == ["Bob's notes on xylophones"]


# --- colliding names: each one's notebook session is her own --------------------------------------------------

LONG = "n" * 120
LONG_CHARS = min(130, MAX_USER_CHARS)
"""Two long names sharing their first 120 characters: 130 characters each, or the longest a class takes."""
PAIRS = {
    "cjk": (("学生一", "homework.ipynb"), ("学生二", "homework.ipynb")),
    "long": (
        (LONG.ljust(LONG_CHARS, "a"), "homework.ipynb"),
        (LONG.ljust(LONG_CHARS, "b"), "homework.ipynb"),
    ),
    "email": (("ada@x.org", "homework.ipynb"), ("ada.x.org", "homework.ipynb")),
    "hyphen": (("ada", "h-homework.ipynb"), ("ada-h", "homework.ipynb")),
}
"""Pairs of (user, notebook) whose sessions met when the user name was folded into the session id."""


@pytest.fixture(scope="module")
def namesakes(postgres_server: Any, data_dir: Path) -> classroom.Classroom:
    return classroom.Classroom.ready(postgres_server, [user for pair in PAIRS.values() for user, _ in pair])


class _Shell:
    """What ``notebook_session_id`` reads of a kernel: its user namespace (Jupyter's ``__session__``)."""

    def __init__(self, notebook: str) -> None:
        self.user_ns = {"__session__": notebook}


@pytest.mark.parametrize("pair", list(PAIRS))
def test_namesakes_each_get_their_own_notebook_session(
    namesakes: classroom.Classroom, pair: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    ids = {}
    for user, notebook in PAIRS[pair]:
        session_id = notebook_session_id(_Shell(str(tmp_path / notebook)))
        ids[user] = session_id
        with SessionManager(store=namesakes.urls[user], durability="sync") as manager:
            manager.session(session_id).think(f"mine, says {user}")
    for user, session_id in ids.items():
        with SessionManager(store=namesakes.urls[user]) as manager:
            assert manager.sessions() == [session_id]
            assert [t.thought for t in manager.session(session_id).thoughts] == [f"mine, says {user}"]
    with psycopg.connect(namesakes.superuser_url) as conn:
        rows = conn.execute(
            f"SELECT owner, id FROM {SCHEMA}.sessions WHERE owner = ANY(%s)",
            ([login_role(namesakes.database, user) for user in ids],),
        ).fetchall()
    assert sorted(rows) == sorted(
        (login_role(namesakes.database, user), session_id) for user, session_id in ids.items()
    )


def test_a_user_name_longer_than_a_class_takes_is_refused_in_one_line(namesakes: classroom.Classroom) -> None:
    store = open_store(namesakes.admin_url)
    try:
        with store.connection() as conn, pytest.raises(ClassError) as refused:  # type: ignore[attr-defined]
            add_members(conn, SCHEMA, ["n" * (MAX_USER_CHARS + 1)], teacher=False, secret=SECRET)
    finally:
        store.close()
    assert "\n" not in str(refused.value) and f"1-{MAX_USER_CHARS} characters" in str(refused.value)


@pytest.mark.kernel
def test_two_namesakes_kernels_on_notebooks_of_one_name_write_their_own_sessions(
    namesakes: classroom.Classroom, make_kernel: Any, tmp_path: Path
) -> None:
    kernels = []
    for user in ("学生一", "学生二"):
        env = {
            "JUPYTER_THINK_STORE": namesakes.urls[user],
            "JUPYTERHUB_USER": user,
            "JPY_SESSION_NAME": str(tmp_path / "kernel.ipynb"),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        }
        kernel = make_kernel(env=env, cwd=str(tmp_path))
        kernels.append(kernel)
        assert kernel.execute(f"%load_ext jupyter_think\n%think kernel of {user}\n%session --flush").ok
    for user, kernel in zip(("学生一", "学生二"), kernels, strict=False):
        assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "kernel"
        assert texts_of(namesakes.urls[user], "kernel") == [f"kernel of {user}"]


@pytest.mark.kernel
def test_in_her_kernel_a_student_shares_her_session_with_one_user_the_class_and_takes_it_back(
    room: Classroom, ada_kernel: Kernel
) -> None:
    """``%session ID --share USER [--write]``, ``--share --class`` and ``--unshare``: each grants exactly
    what it says, and the one-line card says so."""
    assert ada_kernel.execute("%session poster --new\n%think Ada's poster, step one\n%session --flush").ok
    with (
        room.manager("bob") as bob,
        pytest.raises(ValueError, match="no session 'ada/poster' that you can read"),
    ):
        bob.session("ada/poster")
    shared = ada_kernel.execute("%session poster --share bob")
    assert shared.ok and "Session poster is shared with bob (read only)." in shared.plain
    with room.manager("bob") as bob:
        poster = bob.session("ada/poster")
        assert [t.thought for t in poster.thoughts] == ["Ada's poster, step one"]
        assert poster.read_only == "ada/poster belongs to ada; you can read it, not change it"
    with room.manager("cyd") as cyd, pytest.raises(ValueError, match="no session 'ada/poster'"):
        cyd.session("ada/poster")
    assert ada_kernel.execute("%session poster --share --class").ok
    with room.manager("cyd") as cyd:
        assert [t.thought for t in cyd.session("ada/poster").thoughts] == ["Ada's poster, step one"]
    assert ada_kernel.execute("%session poster --share bob --write").ok
    with room.manager("bob", durability="sync") as bob:
        bob.session("ada/poster").think("Bob adds a line")
    assert texts_of(room.url("ada"), "poster") == ["Ada's poster, step one", "Bob adds a line"]
    unshared = ada_kernel.execute("%session poster --unshare bob\n%session poster --unshare --class")
    assert unshared.ok and "Session poster is no longer shared with bob." in unshared.plain
    for user in ("bob", "cyd"):
        with room.manager(user) as other, pytest.raises(ValueError, match="no session 'ada/poster'"):
            other.session("ada/poster")
    assert refusal(ada_kernel, "%session poster --share") == (
        "name one user or --class: %session [ID] --share USER, or --share --class"
    )
    assert refusal(ada_kernel, "%session poster --unshare bob --write") == (
        "--write goes with --share; --unshare takes the whole share back"
    )
