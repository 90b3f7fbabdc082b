"""Where a store's spill file is: one per store and database role, in the user's Jupyter data directory.

``<jupyter data dir>/think/spill/<engine>-<digest>.db``: the digest is of what makes two stores the same
for their spill file (:func:`store_identity`): for a SQLite store its resolved directory and the OS user,
for PostgreSQL the host, port, database and user (never the password), kept readable inside the file.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from pathlib import Path

from jupyter_think.store import Store


def spill_path(store: Store) -> tuple[Path, str]:
    """(the spill file of ``store``, the identity it is named after)."""
    kind, identity = store_identity(store)
    digest = hashlib.sha256(identity.encode("utf-8", "backslashreplace")).hexdigest()[:24]
    return spill_directory() / f"{kind}-{digest}.db", identity


def spill_directory() -> Path:
    """``<jupyter data dir>/think/spill`` (``$JUPYTER_DATA_DIR`` moves it)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "think" / "spill"


def store_identity(store: Store) -> tuple[str, str]:
    """(engine, who and where): what makes two stores the same for their spill file.

    A SQLite store: its resolved directory and the OS user. PostgreSQL: host, port, database and
    user from the URL or libpq's environment (never the password).

    Example:
        >>> from jupyter_think.store.postgres.store import PostgresStore
        >>> store_identity(PostgresStore("postgresql://ada:secret@db.example:5433/class"))
        ('postgresql', 'postgresql host=db.example port=5433 dbname=class user=ada')
    """
    url = getattr(store, "url", None)
    if not isinstance(url, str):
        return "sqlite", f"sqlite directory={store.location} uid={_uid()}"
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except ProgrammingError:  # (a URL libpq cannot read: the store says so at its first call)
        return "postgresql", f"postgresql {store.location}"
    user = params.get("user") or os.environ.get("PGUSER") or _user_name()
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "(default socket)"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    database = params.get("dbname") or os.environ.get("PGDATABASE") or user
    return "postgresql", f"postgresql host={host} port={port} dbname={database} user={user}"


def _uid() -> str:
    return f"{os.getuid()} ({_user_name()})" if hasattr(os, "getuid") else _user_name()


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
