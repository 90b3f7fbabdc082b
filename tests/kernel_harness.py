"""A real IPython kernel for tests: start it with jupyter_client, run code, read what a notebook shows.

The kernel is this venv's Python (``sys.executable -m ipykernel_launcher``), described by a kernelspec
written to a private temporary directory, so no installed kernelspec or user profile leaks in.

Example::

    with Kernel(env={"JUPYTER_THINK_DIR": str(tmp_path)}) as kernel:
        result = kernel.execute("%load_ext jupyter_think\\n%think Restate the problem")
        assert result.ok, result.stderr
        assert "Restate the problem" in result.plain
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

KERNEL_NAME = "jupyter-think-test"
TIMEOUT = 60.0


@dataclass
class ExecResult:
    """What one ``execute`` produced: the reply status, the streams, the rich outputs, the error."""

    status: str
    stdout: str = ""
    stderr: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # iopub ``error`` messages (tracebacks shown)
    payload: list[dict[str, Any]] = field(default_factory=list)  # execute_reply payloads (``%magic?`` pages)

    @property
    def ok(self) -> bool:
        """True when the cell ran without error."""
        return self.status == "ok"

    @property
    def plain(self) -> str:
        """Every ``text/plain`` output (display_data and execute_result), joined by newlines."""
        return "\n".join(o["text/plain"] for o in self.outputs if "text/plain" in o)

    @property
    def pager(self) -> str:
        """The ``text/plain`` of pages the kernel sent to the pager (what ``%think?`` shows)."""
        return "\n".join(p["data"].get("text/plain", "") for p in self.payload if p.get("source") == "page")

    @property
    def html(self) -> str:
        """Every ``text/html`` output, joined by newlines."""
        return "\n".join(o["text/html"] for o in self.outputs if "text/html" in o)

    def __str__(self) -> str:
        parts = [f"status={self.status}"]
        if self.ename:
            parts.append(f"{self.ename}: {self.evalue}")
        if self.stdout:
            parts.append(f"stdout:\n{self.stdout}")
        if self.stderr:
            parts.append(f"stderr:\n{self.stderr}")
        if self.outputs:
            parts.append(f"plain:\n{self.plain}")
        return "\n".join(parts)


class Kernel:
    """One real kernel. A context manager: ``with Kernel(env) as kernel: kernel.execute(...)``.

    ``env`` is merged over ``os.environ``. Unless ``env`` sets ``IPYTHONDIR``, the kernel gets a fresh
    empty IPython directory (removed at shutdown), so no user profile or startup file leaks in.
    """

    def __init__(self, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self._own_dirs: list[str] = []
        spec_root = self._tempdir("think-kernelspec-")
        spec_dir = Path(spec_root) / KERNEL_NAME
        spec_dir.mkdir()
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "jupyter-think test kernel",
            "language": "python",
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        self.env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        self.env.update(env or {})
        if "IPYTHONDIR" not in (env or {}):
            self.env["IPYTHONDIR"] = self._tempdir("think-ipython-")
        self.cwd = cwd
        self.km = KernelManager(
            kernel_name=KERNEL_NAME,
            transport="ipc",  # local sockets: no TCP ports, no plain-text-over-TCP warning
            ip=str(Path(spec_root) / "kernel"),  # absolute socket path prefix, private to this kernel
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[spec_root], ensure_native_kernel=False),
        )
        # jupyter_client sends SIGTERM 2.5 s after a shutdown request, which skips the kernel's exit
        # flush; a loaded machine may need longer to end a kernel gracefully
        self.km.shutdown_wait_time = 60.0
        self.client: Any = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the kernel and wait until it answers."""
        kwargs: dict[str, Any] = {"env": dict(self.env)}
        if self.cwd is not None:
            kwargs["cwd"] = self.cwd
        self.km.start_kernel(**kwargs)
        try:
            self._connect()
        except BaseException:
            self.shutdown()
            raise

    def restart(self, now: bool = True) -> None:
        """Restart through jupyter_client; ``now=True`` kills the process (no atexit handlers run)."""
        self._disconnect()
        self.km.restart_kernel(now=now)
        self._connect()

    @property
    def pid(self) -> int:
        """The process id of the running kernel."""
        provisioner = self.km.provisioner
        assert provisioner is not None and provisioner.pid is not None, "kernel not started"
        return int(provisioner.pid)

    def kill(self, restart: bool = True) -> None:
        """SIGKILL the kernel process behind jupyter_client's back (a crash), then start a fresh one.

        With ``restart=False`` the kernel stays dead; call :meth:`start` to bring up a new one.
        """
        pid = self.pid
        self._disconnect()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT
        while self.km.is_alive():
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernel {pid} still alive after SIGKILL")
            time.sleep(0.05)
        self.km.cleanup_resources(restart=True)
        if restart:
            self.start()

    def shutdown(self) -> None:
        """Stop the kernel (gracefully, then by force) and remove the temporary directories."""
        self._disconnect()
        try:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=False)
        finally:
            for path in self._own_dirs:
                shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> Kernel:
        try:
            self.start()
        except BaseException:
            self.shutdown()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # --- running code ------------------------------------------------------------------------

    def execute(self, code: str, timeout: float = TIMEOUT) -> ExecResult:
        """Run ``code`` as one cell; collect its iopub messages until idle, then read the shell reply."""
        assert self.client is not None, "kernel not started"
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        deadline = time.monotonic() + timeout
        stdout: list[str] = []
        stderr: list[str] = []
        outputs: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no idle status within {timeout} s for:\n{code}")
            try:
                msg = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                (stdout if content["name"] == "stdout" else stderr).append(content["text"])
            elif kind in ("display_data", "execute_result", "update_display_data"):
                outputs.append(content["data"])
            elif kind == "error":
                errors.append(content)
        reply = self._shell_reply(msg_id, deadline)["content"]
        return ExecResult(
            status=reply["status"],
            stdout="".join(stdout),
            stderr="".join(stderr),
            outputs=outputs,
            ename=reply.get("ename"),
            evalue=reply.get("evalue"),
            traceback=list(reply.get("traceback") or []),
            errors=errors,
            payload=list(reply.get("payload") or []),
        )

    def value(self, expression: str, timeout: float = TIMEOUT) -> Any:
        """Evaluate a Python expression in the kernel and return it, carried over as JSON."""
        result = self.execute(f"import json as _json\nprint(_json.dumps({expression}))", timeout)
        if not result.ok:
            raise AssertionError(f"evaluating {expression!r} failed:\n{result}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    # --- internals ---------------------------------------------------------------------------

    def _shell_reply(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            remaining = max(deadline - time.monotonic(), 0.1)
            reply = self.client.get_shell_msg(timeout=remaining)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def _connect(self) -> None:
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=TIMEOUT)

    def _disconnect(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
            self.client = None

    def _tempdir(self, prefix: str) -> str:
        path = tempfile.mkdtemp(prefix=prefix)
        self._own_dirs.append(path)
        return path
