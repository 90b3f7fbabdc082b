"""Shared fixtures: real kernels (see ``kernel_harness.py``) with a private store and IPython directory,
and stores on both engines (``store_location``: a SQLite directory, or a database on a real PostgreSQL
server started for the run, see ``pg_server.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")  # silence jupyter_core's platformdirs warning

from kernel_harness import Kernel  # noqa: E402


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """One kernel per test module, with its own empty store (JUPYTER_THINK_DIR) and IPYTHONDIR."""
    root = tmp_path_factory.mktemp("kernel")
    env = {"JUPYTER_THINK_DIR": str(root / "store"), "IPYTHONDIR": str(root / "ipython")}
    with Kernel(env=env, cwd=str(root)) as running:
        yield running


@pytest.fixture
def make_kernel(tmp_path: Path) -> Iterator[Callable[..., Kernel]]:
    """A factory for kernels with their own env: ``make_kernel(env={...})``; all are shut down after.

    By default each kernel gets ``JUPYTER_THINK_DIR=<tmp>/store`` and an empty ``IPYTHONDIR``;
    ``env`` overrides them. ``start=False`` returns the kernel unstarted.
    """
    started: list[Kernel] = []

    def make(env: dict[str, str] | None = None, cwd: str | None = None, start: bool = True) -> Kernel:
        merged = {"JUPYTER_THINK_DIR": str(tmp_path / "store"), "IPYTHONDIR": str(tmp_path / "ipython")}
        merged.update(env or {})
        kernel = Kernel(env=merged, cwd=cwd or str(tmp_path))
        started.append(kernel)
        if start:
            kernel.start()
        return kernel

    yield make
    for kernel in started:
        kernel.shutdown()


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
    return request.param


@pytest.fixture
def store_location(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store on ``engine``: a directory (SQLite) or a new database (PostgreSQL)."""
    if engine == "postgres":
        return request.getfixturevalue("postgres_server").new_database()
    return str(tmp_path / "store")
