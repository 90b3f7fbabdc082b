"""The package in plain Python: `import jupyter_think` works without IPython or widget libraries."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCK_IPYTHON = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        # Behave as if IPython and the widget libraries were not installed.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"IPython", "ipywidgets", "anywidget", "ipykernel"}:
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def run_plain_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_IPYTHON + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"JUPYTER_THINK_DIR": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_import_and_think_without_ipython(tmp_path: Path) -> None:
    result = run_plain_python(
        """
        import jupyter_think
        manager = jupyter_think.get_manager()
        session = manager.session("plain")
        session.think("No IPython here", total=2)
        session.think("Still fine", done=True)
        tool = jupyter_think.SequentialThinkingTool(manager)
        reply = tool.call({"thought": "agent", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": False})
        manager.flush()
        print(session.summary().as_text().splitlines()[0])
        print(reply["isError"], "IPython" in sys.modules)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Session plain · complete · 2 thoughts (trunk 2, 0 branches, 0 revisions) · estimate 2",
        "False False",
    ]
    from jupyter_think.store import open_store

    assert [row.id for row in open_store(str(tmp_path / "store")).sessions()] == ["default", "plain"]


def test_exports_work_without_ipython(tmp_path: Path) -> None:
    result = run_plain_python(
        """
        import jupyter_think
        with jupyter_think.SessionManager(persist=False) as manager:
            session = manager.session("x")
            session.think("a <b> & c", done=True)
            assert "<svg" in session.to_html() and "a &lt;b&gt;" in session.to_html()
            print(session.to_mermaid().splitlines()[0])
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "flowchart TD"


def test_graph_without_widget_libraries_says_what_to_install(tmp_path: Path) -> None:
    result = run_plain_python(
        """
        import jupyter_think
        session = jupyter_think.SessionManager(persist=False).session("x")
        session.think("a")
        try:
            session.graph()
        except ImportError as exc:
            print("ImportError:", exc)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError" in result.stdout and "anywidget" in result.stdout


def test_import_loads_neither_ipython_nor_traitlets_nor_pydantic_nor_the_store(tmp_path: Path) -> None:
    """What keeps `import jupyter_think` cheap (its time is printed by benchmarks/bench_import.py)."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, jupyter_think; print(sorted(m for m in ('IPython', 'traitlets', "
            "'anyio', 'sqlite3', 'psycopg', 'jupyter_core', 'pydantic', 'jupyter_think.store', 'jupyter_think.persistence') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
