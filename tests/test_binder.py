"""``binder/`` launches the repository on Binder with jupyter-think installed and loaded (SPEC §9).

repo2docker ignores ``pyproject.toml`` once ``binder/`` exists and defaults to an old Python, so
``binder/runtime.txt`` pins Python and ``binder/requirements.txt`` installs the repository itself
(``.[notebooks]``): ``pyproject.toml`` stays the one source of truth for dependencies. ``postBuild``
loads the extension in every kernel; here it runs for real against a private HOME, and a real kernel
started from that profile has the magics without ``%load_ext``.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import tomllib
from kernel_harness import Kernel
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_runtime_pins_a_python_that_the_package_supports() -> None:
    pinned = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", pinned)
    assert match, f"runtime.txt should read like python-3.11, not {pinned!r}"
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(f"{match[1]}.0")


def test_requirements_install_the_repository_itself_with_the_notebooks_extra() -> None:
    assert requirement_lines() == [".[notebooks]"]
    extras = PYPROJECT["optional-dependencies"]["notebooks"]
    assert {canonicalize_name(Requirement(spec).name) for spec in extras} >= {"jupyterlab", "ipykernel"}


def test_requirements_do_not_duplicate_or_contradict_pyproject() -> None:
    """Nothing but the repository: every dependency comes from pyproject.toml, none is pinned twice."""
    declared = {canonicalize_name(Requirement(spec).name) for spec in PYPROJECT["dependencies"]}
    declared |= {
        canonicalize_name(Requirement(spec).name) for spec in PYPROJECT["optional-dependencies"]["notebooks"]
    }
    for line in requirement_lines():
        if line.startswith("."):
            continue
        name = canonicalize_name(Requirement(line).name)
        assert name not in declared, f"binder/requirements.txt repeats {name}, which pyproject.toml declares"


def test_every_dependency_binder_installs_is_satisfiable() -> None:
    """The runtime and notebooks requirements of pyproject.toml hold in this environment (built from it)."""
    wanted = [
        Requirement(spec)
        for spec in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["notebooks"]
    ]
    unmet = []
    for requirement in wanted:
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            unmet.append(f"{requirement} (not installed)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{requirement} (installed {installed})")
    assert unmet == []


def test_postbuild_is_an_executable_script() -> None:
    post_build = BINDER / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR
    assert post_build.read_text().startswith("#!")


@pytest.mark.kernel
def test_postbuild_makes_every_kernel_load_the_extension(
    make_kernel: Callable[..., Kernel], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for name in ("IPYTHONDIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        env.pop(name, None)
    subprocess.run([str(BINDER / "postBuild")], cwd=ROOT, env=env, check=True, timeout=60)
    # the notebooks are trusted, so JupyterLab shows their saved graphs (inline SVG) before a run
    check = "import nbformat, sys; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))"
    trusted = subprocess.run(
        [sys.executable, "-c", check, str(ROOT / "notebooks" / "tour.ipynb")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert trusted.stdout.strip() == "True"
    kernel = make_kernel(env={"IPYTHONDIR": str(home / ".ipython")})
    result = kernel.execute("%think Loaded by the Binder profile, no %load_ext needed")
    assert result.ok, str(result)
    assert "Loaded by the Binder profile" in result.plain
