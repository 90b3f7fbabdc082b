"""A real JupyterLab and a real Chromium for browser tests and benchmarks.

``Lab`` starts ``jupyter lab`` on 127.0.0.1 with a token and private root, settings, workspaces,
config, data and runtime directories (the news popup switched off); ``Browser`` drives Debian's
``/usr/bin/chromium`` through Playwright (never ``playwright install``). ``open_notebook`` opens a
notebook in a fresh workspace and waits until its kernel is idle; ``run_cell`` runs one cell.

Example::

    with Lab(env={"JUPYTER_THINK_DIR": str(tmp / "store")}) as lab, Browser() as browser:
        lab.write_notebook("demo.ipynb", ["1 + 1"])
        page = browser.open_notebook(lab, "demo.ipynb")
        run_cell(page, 0)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from typing_extensions import Self

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# How long (ms) a browser test waits for Markdown the kernel renders: the kernel's first rendering imports
# markdown-it-py, mdit-py-plugins, latex2mathml and nh3, which took over 10 s under double load.
RENDER_WAIT = 60_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """One JupyterLab server in a private temporary directory; a context manager."""

    def __init__(self, env: dict[str, str] | None = None, root: Path | None = None) -> None:
        self.base = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="jt-lab-"))
        self._own_base = root is None
        self.root_dir = self.base / "notebooks"
        self.port = _free_port()
        self.token = os.urandom(12).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.base / "lab.log"

    def start(self, timeout: float = 60) -> Self:
        for name in ("notebooks", "settings", "workspaces", "config", "data", "runtime"):
            (self.base / name).mkdir(parents=True, exist_ok=True)
        settings = self.base / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "JUPYTER_DATA_DIR": str(self.base / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(self.base / "ipython"),
            **self.extra_env,
        }
        command = [
            str(Path(sys.executable).with_name("jupyter-lab")),
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.user_settings_dir={self.base / 'settings'}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.api_url("/api/status"), timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"jupyter lab did not answer in {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def api_url(self, path: str) -> str:
        return f"{self.url}{path}?token={self.token}"

    def notebook_url(self, name: str) -> str:
        """The URL that opens ``name`` in a fresh workspace (``?reset``)."""
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Write a notebook (with a kernelspec, so no kernel picker appears) of code cells."""
        notebook = {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": f"cell-{i}",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
                for i, source in enumerate(cells)
            ],
            "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path = self.root_dir / name
        path.write_text(json.dumps(notebook, indent=1))
        return path

    def stop_kernels(self, name: str | None = None) -> None:
        """Shut down the kernel of notebook ``name`` (its path under the root), or every kernel."""
        request = urllib.request.Request(self.api_url("/api/sessions"))
        with urllib.request.urlopen(request, timeout=60) as response:
            sessions = json.load(response)
        for session in sessions:
            if name is not None and session.get("path") != name:
                continue
            delete = urllib.request.Request(self.api_url(f"/api/sessions/{session['id']}"), method="DELETE")
            urllib.request.urlopen(delete, timeout=30).close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if hasattr(self, "_log"):
            self._log.close()
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Browser:
    """Headless Chromium via Playwright's sync API; records console errors and page errors."""

    def __init__(self, width: int = 1280, height: int = 900, scale: float = 1) -> None:
        self.size = {"width": width, "height": height}
        self.scale = scale
        self.errors: list[str] = []

    def start(self) -> Self:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self.context = self.browser.new_context(viewport=self.size, device_scale_factor=self.scale)
        # Every wait a test does not bound itself: 60 s rather than Playwright's 30 (a loaded machine's
        # kernel and browser are slow, never hung; speed is for the benchmarks)
        self.context.set_default_timeout(60_000)
        return self

    def open_notebook(self, lab: Lab, name: str, timeout: float = 90) -> Any:
        """Open ``name`` in a new page and wait until its kernel is idle; returns the page."""
        page = self.context.new_page()
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.goto(lab.notebook_url(name), wait_until="domcontentloaded")
        page.wait_for_selector(NOTEBOOK, timeout=timeout * 1000)
        wait_idle(page, timeout)
        return page

    def stop(self) -> None:
        if hasattr(self, "browser"):
            self.browser.close()
            self._playwright.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_idle(page: Any, timeout: float = 90) -> None:
    """Wait until the status bar shows the notebook's kernel as idle (not just any idle indicator)."""
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.jp-StatusBar-Widget'))
              .some(w => /\\(ipykernel\\)\\s*\\|\\s*Idle/.test(w.textContent))""",
        timeout=timeout * 1000,
    )


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` of the visible notebook (as a user pressing Shift+Enter on it)."""
    page.evaluate(
        """async (index) => {
            const app = window.jupyterapp;
            const panel = app.shell.currentWidget;
            panel.content.activeCellIndex = index;
            await app.commands.execute('notebook:run-cell');
        }""",
        index,
    )


def wait_cell_done(page: Any, index: int, timeout: float = 60) -> None:
    """Wait until cell ``index`` shows an execution count (it has run)."""
    page.wait_for_function(
        """(index) => {
            const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell');
            const prompt = cells[index] && cells[index].querySelector('.jp-InputPrompt');
            return prompt && /\\[\\d+\\]/.test(prompt.textContent);
        }""",
        arg=index,
        timeout=timeout * 1000,
    )
