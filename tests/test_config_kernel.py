"""`%config ThinkConfig` in a real kernel: settings reach the manager, also when changed after loading."""

from __future__ import annotations

from pathlib import Path


def test_sessions_dir_set_after_loading_moves_the_store(make_kernel, tmp_path: Path) -> None:
    """Without $JUPYTER_THINK_DIR, `%config ThinkConfig.sessions_dir` after `%load_ext` takes effect."""
    first, second = tmp_path / "first", tmp_path / "second"
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": ""})
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(first)!r}\n%load_ext jupyter_think").ok
    assert kernel.execute("%session notes\n%think kept in the first store\n%session --flush").ok
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(second)!r}").ok
    assert kernel.value("__import__('jupyter_think').get_manager().store_dir.as_posix()") == second.as_posix()
    # the active session follows into the new store, and new thoughts land there
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "notes"
    assert kernel.execute("%think written to the second store\n%session --flush").ok
    assert (first / "notes").is_dir() and (second / "notes").is_dir()
    assert kernel.value("len(__import__('jupyter_think').get_manager().active)") == 1


def test_environment_wins_over_configured_sessions_dir(make_kernel, tmp_path: Path) -> None:
    """SPEC §6: $JUPYTER_THINK_DIR, else ThinkConfig.sessions_dir, else the Jupyter data dir."""
    from_env, configured = tmp_path / "env", tmp_path / "configured"
    kernel = make_kernel(env={"JUPYTER_THINK_DIR": str(from_env)})
    assert kernel.execute(f"%config ThinkConfig.sessions_dir = {str(configured)!r}\n%load_ext jupyter_think").ok
    assert kernel.value("__import__('jupyter_think').get_manager().store_dir.as_posix()") == from_env.as_posix()


def test_durability_change_after_loading_reaches_the_manager(make_kernel) -> None:
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think\n%config ThinkConfig.durability = 'sync'").ok
    assert kernel.value("__import__('jupyter_think').get_manager().settings.durability") == "sync"
    bad = kernel.execute("%config ThinkConfig.durability = 'sometimes'")  # %config reports, never raises
    assert "durability" in bad.stderr and "'async', 'sync'" in bad.stderr
    assert kernel.value("__import__('jupyter_think').get_manager().settings.durability") == "sync"


def test_invalid_value_after_loading_keeps_the_working_manager(make_kernel, tmp_path: Path) -> None:
    kernel = make_kernel()
    assert kernel.execute("%load_ext jupyter_think\n%session kept\n%think before").ok
    store = kernel.value("__import__('jupyter_think').get_manager().store_dir.as_posix()")
    bad = kernel.execute("%config ThinkConfig.max_thoughts = 0")
    assert "max_thoughts" in bad.stderr
    assert kernel.value("__import__('jupyter_think').get_manager().settings.max_thoughts") == 10_000
    assert kernel.execute("%config ThinkConfig.max_thoughts").plain == "10000"  # the trait was put back
    assert kernel.value("__import__('jupyter_think').get_manager().store_dir.as_posix()") == store
    assert kernel.value("__import__('jupyter_think').get_manager().active_id") == "kept"
    assert kernel.value("len(__import__('jupyter_think').get_manager().active)") == 1


def test_a_tool_built_before_a_config_change_writes_to_the_new_manager(make_kernel) -> None:
    kernel = make_kernel()
    setup = (
        "%load_ext jupyter_think\n%session agent-run\n"
        "from jupyter_think import SequentialThinkingTool\ntool = SequentialThinkingTool()"
    )
    assert kernel.execute(setup).ok
    assert kernel.execute("%config ThinkConfig.durability = 'sync'").ok
    call = "tool.call({'thought': 'after', 'thoughtNumber': 1, 'totalThoughts': 1, 'nextThoughtNeeded': True})"
    assert kernel.value(f"{call}['isError']") is False
    assert kernel.value("len(__import__('jupyter_think').get_manager().session('agent-run'))") == 1
