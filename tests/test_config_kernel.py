"""`%config ThinkConfig` in a real kernel: settings reach the manager, also when changed after loading;
a bad value is a one-line UsageError; the environment wins, and says so."""

from __future__ import annotations

from pathlib import Path

from jupyter_think.store import open_store

MANAGER = "__import__('jupyter_think').get_manager()"


def stored_texts(location: str, session_id: str) -> list[str]:
    loaded = open_store(location).load(session_id)
    return (
        []
        if loaded is None
        else [change.thought.thought for change in loaded.changes if change.kind == "thought"]
    )


def test_sessions_dir_set_after_loading_moves_the_store(make_kernel, tmp_path: Path) -> None:
    """Without $JUPYTER_THINK_DIR, `%config ThinkConfig.sessions_dir` after `%load_ext` takes effect."""
    first, second = tmp_path / "first", tmp_path / "second"
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": ""})
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(first)!r}\n%load_ext jupyter_think").ok
    assert kernel.execute("%session notes\n%think kept in the first store\n%session --flush").ok
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(second)!r}").ok
    assert kernel.value(f"{MANAGER}.store_location") == str(second)
    # the active session follows into the new store, and new thoughts land there
    assert kernel.value(f"{MANAGER}.active_id") == "notes"
    assert kernel.execute("%think written to the second store\n%session --flush").ok
    assert stored_texts(str(first), "notes") == ["kept in the first store"]
    assert stored_texts(str(second), "notes") == ["written to the second store"]


def test_the_environment_wins_over_configured_sessions_dir_and_says_so(make_kernel, tmp_path: Path) -> None:
    """SPEC §6: $JUPYTER_THINK_STORE, ThinkConfig.store, $JUPYTER_THINK_DIR, ThinkConfig.sessions_dir."""
    from_env, configured = tmp_path / "env", tmp_path / "configured"
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": str(from_env)})
    assert kernel.execute(
        f"%config ThinkConfig.sessions_dir = {str(configured)!r}\n%load_ext jupyter_think"
    ).ok
    assert kernel.value(f"{MANAGER}.store_location") == str(from_env)
    said = kernel.execute(f"%config ThinkConfig.sessions_dir = {str(configured / 'later')!r}")
    assert said.ok
    assert "$JUPYTER_THINK_DIR overrides it" in said.stdout
    assert kernel.value(f"{MANAGER}.store_location") == str(from_env)


def test_a_store_url_in_the_config_reaches_postgresql(make_kernel, postgres_server) -> None:
    url = postgres_server.new_database()
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": ""})
    assert kernel.execute(f"%load_ext jupyter_think\n%config ThinkConfig.store = {url!r}").ok
    assert kernel.execute("%session shared\n%think kept in PostgreSQL\n%session --flush").ok
    assert stored_texts(url, "shared") == ["kept in PostgreSQL"]


def test_durability_change_after_loading_reaches_the_manager(make_kernel) -> None:
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think\n%config ThinkConfig.durability = 'sync'").ok
    assert kernel.value(f"{MANAGER}.settings.durability") == "sync"
    bad = kernel.execute("%config ThinkConfig.durability = 'sometimes'")  # traitlets' own check
    assert "durability" in bad.stderr and "'async', 'sync'" in bad.stderr
    assert kernel.value(f"{MANAGER}.settings.durability") == "sync"


def test_an_invalid_value_is_refused_in_one_line_and_keeps_the_working_manager(make_kernel) -> None:
    """%config reports every error of a configurable as one logged line (it never lets one escape)."""
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think\n%session kept\n%think before").ok
    store = kernel.value(f"{MANAGER}.store_location")
    for setting, value in (("retention_days", "-1"), ("max_thoughts", "0"), ("flush_interval", "0")):
        bad = kernel.execute(f"%config ThinkConfig.{setting} = {value}")
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and "http" not in lines[0], bad.stderr
        assert f"ThinkConfig.{setting} kept at " in lines[0]
        assert f"{setting} must be greater than" in lines[0]
    assert kernel.value(f"{MANAGER}.settings.max_thoughts") == 10_000
    assert kernel.execute("%config ThinkConfig.max_thoughts").plain == "10000"  # the trait was put back
    assert kernel.value(f"{MANAGER}.store_location") == store
    assert kernel.value(f"{MANAGER}.active_id") == "kept"
    assert kernel.value(f"len({MANAGER}.active)") == 1


def test_a_refused_value_does_not_stop_the_extension_from_reloading(make_kernel) -> None:
    """IPython also keeps a refused ``%config`` value in the shell's own config: a reload (and a
    value ipython_config.py sets badly) warns in one line and uses the default, keeping the magics."""
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think\n%session kept\n%think before").ok
    for refused in (
        "ThinkConfig.retention_days = -1",
        "ThinkConfig.max_thoughts = 'many'",
        "ThinkConfig.store = 'mysql://db/x'",
    ):
        assert kernel.execute(f"%config {refused}").stderr  # refused, one line (see the test above)
    reloaded = kernel.execute("%reload_ext jupyter_think")
    assert reloaded.ok, reloaded
    warned = [line for line in reloaded.stderr.splitlines() if "is refused" in line]
    assert len(warned) == 3, reloaded.stderr
    assert any(
        "ThinkConfig.retention_days = -1 is refused (retention_days must be greater than" in line
        for line in warned
    )
    assert any(
        "ThinkConfig.max_thoughts = 'many' is refused (" in line and "using 10000" in line for line in warned
    )
    assert any(
        "ThinkConfig.store = 'mysql://db/x' is refused (unknown store URL scheme" in line for line in warned
    )
    assert kernel.value(f"{MANAGER}.settings.retention_days") == 30
    assert kernel.value(f"{MANAGER}.active_id") == "kept"
    assert kernel.execute("%think after the reload").ok
    assert kernel.value(f"[t.thought for t in {MANAGER}.active.thoughts]") == ["before", "after the reload"]


def test_a_tool_built_before_a_config_change_writes_to_the_new_manager(make_kernel) -> None:
    kernel = make_kernel()
    setup = (
        "%load_ext jupyter_think\n%session agent-run\n"
        "from jupyter_think import SequentialThinkingTool\ntool = SequentialThinkingTool()"
    )
    assert kernel.execute(setup).ok
    assert kernel.execute("%config ThinkConfig.durability = 'sync'").ok
    call = (
        "tool.call({'thought': 'after', 'thoughtNumber': 1, 'totalThoughts': 1, 'nextThoughtNeeded': True})"
    )
    assert kernel.value(f"{call}['isError']") is False
    assert kernel.value(f"len({MANAGER}.session('agent-run'))") == 1


def test_on_a_class_store_each_students_notebook_session_is_her_own(
    make_kernel, postgres_server, tmp_path: Path
) -> None:
    """Two students' homework.ipynb on one class store: each kernel's session is ``homework``, each her own
    (names that fold into one id elsewhere: an e-mail address and its dotted twin)."""
    from classroom import Classroom

    klass = Classroom.ready(postgres_server, ["ada@x.org", "ada.x.org"])
    notebook = {"JPY_SESSION_NAME": str(tmp_path / "homework.ipynb")}
    kernels = {
        user: make_kernel(env={**notebook, "JUPYTERHUB_USER": user, "JUPYTER_THINK_STORE": url})
        for user, url in klass.urls.items()
    }
    alone = make_kernel(env={**notebook, "JUPYTERHUB_USER": "ada"})  # a personal SQLite store
    for user, kernel in (*kernels.items(), ("alone", alone)):
        assert kernel.execute(f"%load_ext jupyter_think\n%think mine, says {user}\n%session --flush").ok
        assert kernel.value(f"{MANAGER}.active_id") == "homework"
    for user, url in klass.urls.items():
        (row,) = open_store(url).sessions()
        assert (row.ref, row.owner) == ("homework", user)
        loaded = open_store(url).load("homework")
        assert loaded is not None and [t.thought for t in loaded.entries] == [f"mine, says {user}"]
