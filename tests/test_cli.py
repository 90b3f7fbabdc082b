"""The ``jupyter-think`` command line, run as the installed console script over real stores
(SQLite directories; the ``--store`` tests also on a real PostgreSQL server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jupyter_think import Session, SessionManager, Thought
from jupyter_think.core.models import ThoughtAdded
from jupyter_think.store import SessionWrite, open_store

BIN = Path(sys.executable).parent
SCRIPT = BIN / "jupyter-think"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    merged = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_THINK_DIR", "JUPYTER_THINK_STORE")}
    merged["PATH"] = f"{BIN}{os.pathsep}{merged.get('PATH', '')}"
    merged["JUPYTERHUB_USER"] = "ada"
    merged.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=60, env=merged
    )


def populate(store: Path | str) -> None:
    """Two sessions: ``design`` (trunk, a branch, a revision, concluded) and ``scratch`` (one open thought)."""
    os.environ["JUPYTERHUB_USER"] = "ada"
    with SessionManager(store=str(store)) as manager:
        design = manager.session("design")
        design.think("Restate the problem", total=3)
        design.think("Sketch two designs")
        design.revise(1, "Restate the problem, with the latency budget")
        design.think("Try the queue instead", branch="queue", branch_from=2)
        design.switch_branch(None)
        design.think("Pick the journal design", done=True)
        manager.session("scratch").think("A loose idea")
        manager.flush(timeout=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated store the read-only tests share."""
    root = tmp_path_factory.mktemp("cli") / "store"
    populate(root)
    return root


@pytest.fixture
def own_store(tmp_path: Path) -> Path:
    """A populated store a test may change."""
    root = tmp_path / "store"
    populate(root)
    return root


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# --- list ---------------------------------------------------------------------------------------------


def test_list_shows_a_table_of_the_sessions_with_their_owner(store: Path) -> None:
    done = run("--dir", str(store), "list")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.strip().splitlines()
    assert header.split() == ["ID", "OWNER", "THOUGHTS", "BRANCHES", "STATUS", "LAST", "ACTIVITY"]
    by_id = {row.split()[0]: row.split() for row in rows}
    assert set(by_id) == {"design", "scratch"}
    assert by_id["design"][1:5] == ["ada", "5", "1", "complete"]
    assert by_id["scratch"][1:5] == ["ada", "1", "0", "open"]
    assert "UTC" in by_id["design"]


def test_list_of_an_empty_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = run("--dir", str(tmp_path / "nothing-here"), "list")
    assert done.returncode == 0
    assert done.stdout.startswith("No sessions in ")
    assert not (tmp_path / "nothing-here").exists()


def test_the_store_comes_from_the_environment_and_dir_overrides_it(store: Path, tmp_path: Path) -> None:
    from_env = run("list", env={"JUPYTER_THINK_DIR": str(store)})
    overridden = run("--dir", str(tmp_path / "empty"), "list", env={"JUPYTER_THINK_DIR": str(store)})
    after_command = run("list", "--dir", str(store), env={"JUPYTER_THINK_DIR": str(tmp_path / "empty")})
    as_url = run("--store", f"sqlite:///{store}", "list", env={"JUPYTER_THINK_DIR": str(tmp_path / "empty")})
    assert "design" in from_env.stdout
    assert overridden.stdout.startswith("No sessions in ")
    assert "design" in after_command.stdout
    assert "design" in as_url.stdout


def test_a_postgresql_store_is_reached_by_url_and_by_the_environment(postgres_server: object) -> None:
    url = postgres_server.new_database()  # type: ignore[attr-defined]
    populate(url)
    by_option = run("--store", url, "list")
    by_environment = run("show", "design", env={"JUPYTER_THINK_STORE": url})
    assert by_option.returncode == 0, by_option.stderr
    assert "design" in by_option.stdout and "scratch" in by_option.stdout
    assert "Pick the journal design" in by_environment.stdout


def test_an_unknown_store_url_is_a_usage_error(tmp_path: Path) -> None:
    message = one_line_error(run("--store", "mysql://db/think", "list"))
    assert "mysql" in message and "postgresql://" in message


def test_a_damaged_database_is_moved_aside_and_the_store_starts_fresh(own_store: Path) -> None:
    (own_store / "sessions.db").write_bytes(b"\x00\xffnot a database{{{" * 100)
    done = run("--dir", str(own_store), "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No sessions in ")
    assert "damaged" in done.stderr and ".quarantine" in done.stderr
    kept = list((own_store / ".quarantine").glob("sessions-*.db"))
    assert kept and kept[0].read_bytes().startswith(b"\x00\xffnot a database"), "the damaged file is kept"


# --- show and export ----------------------------------------------------------------------------------


def test_show_prints_the_session_as_a_text_tree(store: Path) -> None:
    done = run("--dir", str(store), "show", "design")
    assert done.returncode == 0, done.stderr
    for text in (
        "Restate the problem",
        "Sketch two designs",
        "Try the queue instead",
        "Pick the journal design",
    ):
        assert text in done.stdout
    assert "queue" in done.stdout


def test_export_markdown_to_stdout(store: Path) -> None:
    done = run("--dir", str(store), "export", "design", "--format", "md")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Session design")
    assert "## Branch queue" in done.stdout


@pytest.mark.parametrize(("fmt", "start"), [("mermaid", "flowchart TD"), ("html", "<!DOCTYPE html>")])
def test_export_mermaid_and_html(store: Path, fmt: str, start: str) -> None:
    done = run("--dir", str(store), "export", "design", "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(start)


def test_export_json_to_a_file_round_trips(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "design.json"
    done = run("--dir", str(store), "export", "design", "--format", "json", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert str(target) in done.stdout
    session = Session.from_json(target.read_text(encoding="utf-8"))
    assert session.id == "design" and len(session) == 5
    assert json.loads(target.read_text(encoding="utf-8"))["id"] == "design"


def test_export_with_an_unknown_format_is_a_usage_error(store: Path) -> None:
    message = one_line_error(run("--dir", str(store), "export", "design", "--format", "pdf"))
    assert "pdf" in message and "md" in message


# --- bad ids --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "options"),
    [(["show"], []), (["export"], ["--format", "md"]), (["rm"], []), (["trash", "restore"], [])],
)
def test_an_invalid_id_is_a_usage_error(store: Path, command: list[str], options: list[str]) -> None:
    before = sorted(p.name for p in store.parent.iterdir())
    message = one_line_error(run("--dir", str(store), *command, "../design", *options))
    assert "invalid session id" in message
    assert sorted(p.name for p in store.parent.iterdir()) == before


@pytest.mark.parametrize("command", [["show"], ["export", "--format", "md"], ["rm"]])
def test_an_unknown_id_is_a_usage_error(store: Path, command: list[str]) -> None:
    name, *options = command
    message = one_line_error(run("--dir", str(store), name, "no-such-session", *options))
    assert "no session 'no-such-session'" in message


def test_no_command_prints_usage_and_fails() -> None:
    done = run()
    assert done.returncode == 2
    assert "usage: jupyter-think" in done.stderr


# --- rm, trash, archive, gc -------------------------------------------------------------------------


def test_rm_moves_the_session_to_the_trash_and_trash_restore_brings_it_back(own_store: Path) -> None:
    done = run("--dir", str(own_store), "rm", "scratch")
    assert done.returncode == 0, done.stderr
    assert "trash" in done.stdout and "jupyter-think trash restore scratch" in done.stdout
    listed = run("--dir", str(own_store), "list")
    assert "scratch" not in listed.stdout and "design" in listed.stdout
    trash = run("--dir", str(own_store), "trash")
    assert trash.stdout.splitlines()[0].split()[-2:] == ["TRASHED", "BY"]
    assert "scratch" in trash.stdout
    restored = run("--dir", str(own_store), "trash", "restore", "scratch")
    assert restored.returncode == 0, restored.stderr
    assert "Restored session scratch (1 thought)" in restored.stdout
    assert "scratch" in run("--dir", str(own_store), "list").stdout
    assert run("--dir", str(own_store), "trash").stdout.strip() == "The trash is empty."


def test_rm_of_a_trashed_session_says_where_it_is(own_store: Path) -> None:
    run("--dir", str(own_store), "rm", "scratch")
    message = one_line_error(run("--dir", str(own_store), "rm", "scratch"))
    assert "in the trash: jupyter-think trash restore scratch" in message


def test_trash_restore_refuses_while_a_live_session_has_the_id(own_store: Path) -> None:
    run("--dir", str(own_store), "rm", "scratch")
    with SessionManager(store=str(own_store)) as manager:
        manager.session("scratch").think("A new scratch")
    message = one_line_error(run("--dir", str(own_store), "trash", "restore", "scratch"))
    assert "move it to the trash first" in message
    assert "A new scratch" in run("--dir", str(own_store), "show", "scratch").stdout


def test_trash_empty_deletes_only_what_is_old_enough(own_store: Path) -> None:
    run("--dir", str(own_store), "rm", "scratch")
    kept = run("--dir", str(own_store), "trash", "empty", "--older-than", "1")
    assert kept.stdout.strip() == "The trash holds nothing to delete."
    emptied = run("--dir", str(own_store), "trash", "empty")
    assert emptied.returncode == 0, emptied.stderr
    assert emptied.stdout.startswith("Deleted scratch (1 thought")
    assert open_store(str(own_store)).sessions(("trashed",)) == []


def test_list_all_shows_trashed_and_archived_sessions_with_their_state(own_store: Path) -> None:
    run("--dir", str(own_store), "rm", "scratch")
    with SessionManager(store=str(own_store)) as manager:
        manager.session("design")
        manager.new_session("design").think("Start over")
    done = run("--dir", str(own_store), "list", "--all")
    states = {(row.split()[0], row.split()[1]) for row in done.stdout.strip().splitlines()[1:]}
    assert states == {("design", "live"), ("design", "archived"), ("scratch", "trashed")}
    archived = run("--dir", str(own_store), "archive")
    assert "design" in archived.stdout and archived.stdout.splitlines()[0].split()[-1] == "ARCHIVED"
    back = run("--dir", str(own_store), "archive", "restore", "design")
    assert back.returncode == 0, back.stderr
    assert "Pick the journal design" in run("--dir", str(own_store), "show", "design").stdout


@pytest.mark.parametrize("days", ["-1", "nan", "inf", "1e12"])
def test_gc_with_an_impossible_retention_is_a_usage_error(own_store: Path, days: str) -> None:
    done = run("--dir", str(own_store), "gc", "--days", days)
    assert "--days" in one_line_error(done)
    assert len(open_store(str(own_store)).sessions()) == 2


def test_gc_keeps_recent_sessions(own_store: Path) -> None:
    done = run("--dir", str(own_store), "gc", "--days", "30")
    assert done.returncode == 0, done.stderr
    assert "No session idle" in done.stdout
    assert len(open_store(str(own_store)).sessions()) == 2


def test_gc_moves_sessions_idle_past_the_retention_to_the_trash(own_store: Path) -> None:
    long_ago = datetime(2001, 9, 9, 1, 46, 40, tzinfo=timezone.utc)
    old = Thought(
        thought="Written long ago",
        thought_number=1,
        total_thoughts=1,
        next_thought_needed=False,
        created_at=long_ago,
    )
    open_store(str(own_store)).append([SessionWrite("old", [ThoughtAdded(thought=old)], created_at=long_ago)])
    done = run("--dir", str(own_store), "gc", "--days", "30")
    assert done.returncode == 0, done.stderr
    assert "Moved old to the trash" in done.stdout
    store = open_store(str(own_store))
    assert [row.id for row in store.sessions(("trashed",))] == ["old"]
    assert [row.id for row in store.sessions()] == ["design", "scratch"]


# --- jupyter think --------------------------------------------------------------------------------------


def test_jupyter_think_reaches_the_same_command(store: Path) -> None:
    merged = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_THINK_DIR", "JUPYTER_THINK_STORE")}
    merged["PATH"] = f"{BIN}{os.pathsep}{merged.get('PATH', '')}"
    done = subprocess.run(
        [str(BIN / "jupyter"), "think", "--dir", str(store), "list"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=merged,
    )
    assert done.returncode == 0, done.stderr
    assert "design" in done.stdout and "scratch" in done.stdout


# --- control characters in thought text ---------------------------------------------------------------

HOSTILE = "Red \x1b[31mred\x1b[0m, clear \x1b[2J, title \x1b]0;x\x07, \u202eevil\u202c, C1 \x9b31m, DEL \x7f"
SHOWN = "Red \\x1b[31mred\\x1b[0m, clear \\x1b[2J, title \\x1b]0;x\\x07, \\u202eevil\\u202c, C1 \\x9b31m, DEL \\x7f"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-hostile") / "store"
    with SessionManager(root) as manager:
        session = manager.session("hostile")
        session.think("Short", total=2)
        session.think(HOSTILE, done=True)
        session.think("\n".join(["multi", "line \x1b[1mbold", "end \u2066isolate\u2069"]))
        manager.flush(timeout=30)
    return root


def run_in_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with its stdout a real pseudo-terminal, as a person at a terminal would."""
    import pty

    merged = {k: v for k, v in os.environ.items() if k != "JUPYTER_THINK_DIR"}
    merged.update(env or {})
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [str(SCRIPT), *args], stdout=terminal, stderr=subprocess.PIPE, env=merged
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(controller)
    return process.returncode, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_show_prints_control_characters_escaped(hostile_store: Path) -> None:
    done = run("--dir", str(hostile_store), "show", "hostile")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"├── 2 {SHOWN}  [done]" in lines
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout and "\x9b" not in done.stdout
    assert "└── 3 multi line \\x1b[1mbold end \\u2066isolate\\u2069" in lines


def test_export_to_a_terminal_shows_control_characters_escaped(hostile_store: Path) -> None:
    status, output = run_in_terminal("--dir", str(hostile_store), "export", "hostile", "--format", "md")
    assert status == 0
    assert SHOWN in output.splitlines()
    assert "\x1b" not in output and "\u202e" not in output and "\u2066" not in output
    assert "line \\x1b[1mbold\nend \\u2066isolate\\u2069" in output  # newlines stay


def test_export_to_a_pipe_or_a_file_keeps_the_text_exactly(hostile_store: Path, tmp_path: Path) -> None:
    piped = run("--dir", str(hostile_store), "export", "hostile", "--format", "md")
    assert piped.returncode == 0 and HOSTILE in piped.stdout.splitlines()
    target = tmp_path / "hostile.json"
    assert (
        run(
            "--dir", str(hostile_store), "export", "hostile", "--format", "json", "-o", str(target)
        ).returncode
        == 0
    )
    assert Session.from_json(target.read_text(encoding="utf-8")).thoughts[1].thought == HOSTILE


def test_export_svg(store: Path) -> None:
    done = run("--dir", str(store), "export", "design", "--format", "svg")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
