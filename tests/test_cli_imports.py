"""The command line loads only what a command needs (issue 24): ``--help`` and ``list`` answer without
pydantic, the session models or the renderers, so they start at once.

Each command runs in a fresh interpreter, as ``jupyter-think`` does, and reports the modules it loaded;
what it prints is checked too (a light path that printed less would be no fix).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_think import SessionManager

RUN = """
import json, sys
from jupyter_think.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
HEAVY = ("pydantic", "jupyter_think.core.models", "jupyter_think.core.session", "jupyter_think.views.render")
"""Modules a command that only lists or explains must not load."""


def run_cli(*args: str) -> tuple[int, str, list[str]]:
    """(exit status, stdout, modules loaded) of ``jupyter-think ARGS`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], capture_output=True, text=True, timeout=120, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["status"], done.stdout, report["modules"]


def heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if name.startswith(HEAVY)]


def test_help_lists_the_commands_without_loading_pydantic_or_the_views() -> None:
    status, shown, modules = run_cli("--help")
    assert status == 0
    assert "list" in shown and "export" in shown and "class" in shown
    assert heavy(modules) == []


def test_list_shows_every_session_without_loading_pydantic_or_the_views(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        manager.session("ten-10").think("Tenth")
        manager.session("ten-2").think("Second", done=True)
    status, shown, modules = run_cli("--dir", str(tmp_path), "list")
    assert status == 0
    lines = shown.splitlines()
    assert lines[0].split() == ["ID", "OWNER", "THOUGHTS", "BRANCHES", "STATUS", "LAST", "ACTIVITY"]
    assert [line.split()[0] for line in lines[1:]] == ["ten-2", "ten-10"]
    assert lines[1].split()[4] == "complete"
    assert heavy(modules) == []


def test_show_still_loads_the_session_it_prints(tmp_path: Path) -> None:
    with SessionManager(tmp_path) as manager:
        manager.session("notes").think("Restate the problem")
    status, shown, _ = run_cli("--dir", str(tmp_path), "show", "notes")
    assert status == 0 and "Restate the problem" in shown
