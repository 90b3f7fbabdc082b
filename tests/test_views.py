"""The shape of the views: functions of a session snapshot, in their own modules, one theme.

The session module imports none of its views when it is imported (each of its view methods imports
its function when called), nothing outside the session takes its private lock (a view reads one
``snapshot()``), and the colours of the kinds of thoughts live in ``views/theme.json`` only.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from import_graph import imports_at_import_time

from jupyter_think import Session
from jupyter_think.views.layout import layout
from jupyter_think.views.render import render_svg
from jupyter_think.views.theme import GEOMETRY, KIND_COLORS, LINE_COLORS, THEME_FILE

PACKAGE = Path(__file__).resolve().parent.parent / "jupyter_think"
VIEW_MODULES = [
    "views.display",
    "views.export",
    "views.layout",
    "views.listings",
    "views.render",
    "views.richtext",
    "views.shapes",
    "views.tables",
    "views.text",
    "views.theme",
    "widgets.graph",
]


def test_the_session_module_imports_no_view_when_it_is_imported() -> None:
    imports = imports_at_import_time(PACKAGE / "core" / "session" / "session.py")
    reaching = {name for name in imports if name.startswith(("jupyter_think.views", "jupyter_think.widgets"))}
    assert reaching == set(), reaching
    assert "jupyter_think.core.session.state" in imports  # (the check reads the module's imports)


def test_thinking_loads_no_view_until_one_is_asked_for() -> None:
    script = (
        "import sys, jupyter_think\n"
        "s = jupyter_think.Session('x'); s.think('a', done=True)\n"
        f"views = {['jupyter_think.' + name for name in VIEW_MODULES]!r}\n"
        "print(sorted(m for m in views if m in sys.modules))\n"
        "s.summary()\n"
        "print(sorted(m for m in views if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = done.stdout.splitlines()
    assert before == "[]"
    assert "jupyter_think.views.display" in after and "jupyter_think.widgets.graph" not in after


def test_no_module_but_the_session_takes_its_lock() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "session.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "_lock":
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id == "self"):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_the_public_views_of_a_session_still_work() -> None:
    session = Session("api")
    session.think("Restate", total=2)
    session.think("Conclude", done=True)
    assert session.summary().status == "complete"
    assert session.to_markdown().startswith("# Session api")
    assert session.to_mermaid().startswith("flowchart TD")
    assert session.to_html().startswith("<!DOCTYPE html>")
    assert session.to_svg().startswith("<svg")
    assert "Session api" in session._repr_html_()
    graph = session.graph()
    assert graph.session_id == "api"
    graph.close()


def test_a_snapshot_is_one_consistent_moment_while_others_think() -> None:
    session = Session("busy", max_thoughts=10_000)
    session.think("start", total=2)
    session.branch("alt", from_thought=1)
    session.switch_branch("main")

    def think() -> None:
        for turn in range(4_000):
            session.think("side", branch="alt" if turn % 2 else None)

    worker = threading.Thread(target=think)
    worker.start()
    seen = 0
    try:
        while worker.is_alive() or seen < 3:
            snapshot = session.snapshot()
            in_branches = sum(len(b.thoughts) for b in snapshot.branches.values())
            assert len(snapshot.trunk) + in_branches == len(snapshot.thoughts)
            assert len(layout(snapshot).nodes) == len(snapshot.thoughts)
            seen += 1
    finally:
        worker.join()


def test_a_snapshot_cannot_be_changed() -> None:
    session = Session("frozen")
    session.think("one")
    snapshot = session.snapshot()
    with pytest.raises(AttributeError):
        snapshot.thoughts = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.branches["x"] = None  # type: ignore[index]
    session.think("two")
    assert len(snapshot.thoughts) == 1


# --- one theme --------------------------------------------------------------------------------------


def test_theme_colours_are_written_nowhere_but_theme_json() -> None:
    theme = json.loads(THEME_FILE.read_text(encoding="utf-8"))
    colours = {spec["color"].lower() for spec in theme["kinds"].values()} | {
        c.lower() for c in theme["lines"].values()
    }
    colours |= {spec["color"].lower() for spec in theme["states"].values() if "color" in spec}
    colours.add(theme["labels"]["color"].lower())
    paths = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("static/*.js"), *PACKAGE.rglob("static/*.css")]
    assert len(paths) > 50 and any(path.suffix == ".js" for path in paths)  # (the whole package is read)
    for path in paths:
        written = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", path.read_text(encoding="utf-8"))}
        assert not written & colours, f"{path.name} repeats {sorted(written & colours)}"


def test_the_front_end_keeps_no_geometry_of_its_own() -> None:
    script = (PACKAGE / "widgets" / "static" / "graph.js").read_text(encoding="utf-8")
    for name in ("COL_W", "ROW_H", "GUTTER", "TOP", "R"):
        assert not re.search(rf"\bconst {name}\s*=\s*\d", script), name


def test_the_svg_is_drawn_in_the_theme() -> None:
    session = Session("colours")
    session.think("one", total=3)
    session.revise(1, "again")
    session.think("end", done=True)
    svg = render_svg(session)
    for kind in ("thought", "revision", "final"):
        assert f'fill="{KIND_COLORS[kind]}"' in svg
    assert f'stroke="{LINE_COLORS["revision"]}"' in svg
    assert f'r="{GEOMETRY["radius"]}"' in svg
