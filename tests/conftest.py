"""Shared fixtures, defined once: real kernels (``kernel_harness.py``), stores on both engines
(``store_location``: a SQLite directory, or a database on a real PostgreSQL server started for the run,
``pg_server.py``), and a real JupyterLab with Chromium for the browser tests (``lab_harness.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # silence jupyter_core's platformdirs warning

from kernel_harness import Kernel
from lab_harness import Browser, Lab

# No per-example deadline: a loaded CI machine stalls any example now and then (speed is benchmarks' job)
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

# --- real kernels ---------------------------------------------------------------------------------------


class Kernels:
    """Kernels started under ``root``, each with its own env; :meth:`shutdown` stops them all.

    By default a kernel gets ``JUPYTER_THINK_DIR=<root>/store`` and ``IPYTHONDIR=<root>/ipython``;
    ``env`` overrides them (a ``JUPYTER_THINK_STORE`` URL wins over the directory, as in the product).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Kernel] = []

    def __call__(
        self, env: dict[str, str] | None = None, cwd: str | None = None, start: bool = True
    ) -> Kernel:
        merged = {"JUPYTER_THINK_DIR": str(self.root / "store"), "IPYTHONDIR": str(self.root / "ipython")}
        merged.update(env or {})
        kernel = Kernel(env=merged, cwd=cwd or str(self.root))
        self.started.append(kernel)
        if start:
            kernel.start()
        return kernel

    def shutdown(self) -> None:
        for kernel in self.started:
            kernel.shutdown()


@pytest.fixture(scope="module")
def kernel(module_kernels: Kernels) -> Kernel:
    """One kernel per test module, with its own empty store (JUPYTER_THINK_DIR) and IPYTHONDIR."""
    return module_kernels()


@pytest.fixture(scope="module")
def module_kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernels]:
    """A factory of kernels that live as long as the test module: ``module_kernels(env={...})``."""
    kernels = Kernels(tmp_path_factory.mktemp("kernel"))
    yield kernels
    kernels.shutdown()


@pytest.fixture
def make_kernel(tmp_path: Path) -> Iterator[Callable[..., Kernel]]:
    """A factory of kernels for one test: ``make_kernel(env={...})``; all are shut down after it.
    ``start=False`` returns the kernel unstarted."""
    kernels = Kernels(tmp_path)
    yield kernels
    kernels.shutdown()


# --- stores on real engines ---------------------------------------------------------------------------

ENGINES = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One private PostgreSQL server for the whole run (started on first use, about 2 s)."""
    from pg_server import PostgresServer

    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine a conformance test runs on: each test runs once per engine."""
    return str(request.param)


@pytest.fixture
def store_location(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store on ``engine``: a directory (SQLite) or a new database (PostgreSQL)."""
    if engine == "postgres":
        return str(request.getfixturevalue("postgres_server").new_database())
    return str(tmp_path / "store")


# --- a real browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One JupyterLab per test module, with its own empty store; a module overrides this fixture (taking
    it as its argument) to add settings or notebooks."""
    root = tmp_path_factory.mktemp("lab")
    with Lab(env={"JUPYTER_THINK_DIR": str(root / "store")}, root=root) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (Debian's, through Playwright)."""
    with Browser() as running:
        yield running


@pytest.fixture
def no_console_errors(browser: Browser) -> Iterator[None]:
    """Fails the test on a browser console error of its own: a front end that throws leaves an empty
    output and no error box. Browser test modules use it for every test
    (``pytest.mark.usefixtures("no_console_errors")``)."""
    browser.errors.clear()
    yield
    assert browser.errors == []
