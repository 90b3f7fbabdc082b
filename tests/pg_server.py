"""A real PostgreSQL server for the tests: a private cluster in a temp dir, on a Unix socket and
(``tcp=True``) on a TCP port of 127.0.0.1.

Debian's ``postgresql`` package puts ``initdb`` and ``pg_ctl`` in ``/usr/lib/postgresql/<version>/bin``
(the newest version found is used). ``initdb`` refuses root, so as root the cluster belongs to the
``postgres`` user and the commands run through ``runuser -u postgres --``. Each test gets a fresh
database (:meth:`PostgresServer.new_database`); :meth:`PostgresServer.crash` is a real server crash
(``pg_ctl stop -m immediate``) and :meth:`PostgresServer.start` brings it back;
:meth:`PostgresServer.frozen` stops every server process (``SIGSTOP``) for a while, as a hung host
would.

The Unix socket trusts every local user. Over TCP the server asks for a password (``scram-sha-256``):
the superuser ``postgres`` has :data:`SUPERUSER_PASSWORD`, and :meth:`PostgresServer.tcp_url` gives a
URL for any role and password (roles for row-level security tests are made with :meth:`sql`).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

SUPERUSER_PASSWORD = "think-super"


def postgres_bin() -> Path:
    """The directory of the newest installed PostgreSQL server binaries (fails with the fix if none)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parts[-3].split(".")[0]),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "the tests need a PostgreSQL server: apt-get install -y postgresql (./dev test does it as root)"
    )


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A private PostgreSQL cluster started for a test run (``tcp``: also listening on 127.0.0.1)."""

    def __init__(self, *, tcp: bool = True) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="jupyter-think-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self.tcp = tcp
        self.port = free_port() if tcp else 5432  # (one port for the socket file and TCP)
        self._as_root = os.geteuid() == 0
        self.socket_dir.mkdir()
        if self._as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
            os.chmod(self.root, 0o755)
        self._run(
            "initdb", "-D", str(self.data), "--auth-local=trust", "--auth-host=scram-sha-256",
            "-U", "postgres", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.start()
        if tcp:
            self.sql(f"ALTER ROLE postgres PASSWORD '{SUPERUSER_PASSWORD}'")

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / program), *args]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        listen = "127.0.0.1" if self.tcp else "''"
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={listen} -c fsync=on -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )

    def crash(self) -> None:
        """Stop the server the hard way: every backend killed, nothing flushed beyond the WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` over the Unix socket, as the superuser (no password: trusted)."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(
        self, database: str = "postgres", user: str = "postgres", password: str = SUPERUSER_PASSWORD
    ) -> str:
        """The URL of ``database`` over TCP on 127.0.0.1, as ``user`` with ``password``."""
        if not self.tcp:
            raise RuntimeError("this server does not listen on TCP: PostgresServer(tcp=True)")
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
        )

    def new_database(self, *, tcp: bool = False) -> str:
        """A fresh, empty database; returns its URL (over TCP with the superuser's password when ``tcp``)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}")
        return self.tcp_url(name) if tcp else self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser; return its rows (none for a command)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    # --- a frozen server -------------------------------------------------------------------------------

    def processes(self) -> list[int]:
        """The postmaster's pid (first line of ``DATA/postmaster.pid``) and its children's (by ppid)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                text = Path(stat).read_text()
            except OSError:
                continue  # ended meanwhile
            fields = text.rsplit(")", 1)[1].split()  # (the command name may hold spaces and brackets)
            if int(fields[1]) == postmaster:
                children.append(int(Path(stat).parent.name))
        return [postmaster, *children]

    @contextmanager
    def frozen(self, at_most: float) -> Iterator[None]:
        """Every server process stopped (``SIGSTOP``) until the block ends, or ``at_most`` seconds pass:
        a watchdog timer always sends ``SIGCONT`` (a call that waits for the server never returns by itself)."""
        os.kill(int((self.data / "postmaster.pid").read_text().split("\n", 1)[0]), signal.SIGSTOP)
        stopped = self.processes()  # (the postmaster first: it forks no new child while we look)
        for pid in stopped[1:]:
            _signal(pid, signal.SIGSTOP)
        thawed = threading.Event()

        def thaw() -> None:
            if not thawed.is_set():
                thawed.set()
                for pid in reversed(stopped):
                    _signal(pid, signal.SIGCONT)

        timer = threading.Timer(at_most, thaw)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            thaw()

    def close(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _signal(pid: int, number: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, number)
