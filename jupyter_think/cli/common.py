"""What every ``jupyter-think`` command shares: the one store it works on (opened when first needed,
always closed when the command ends), session references checked before they name anything, and
output fit for a terminal (store text with its control characters shown escaped, no password ever
shown, ids in natural order).

Example:
    >>> sorted(["ten-10", "ten-2", "Ten-1"], key=natural_key)
    ['Ten-1', 'ten-2', 'ten-10']
    >>> shown("ada\\x1b]0;pwned\\x07")
    'ada\\\\x1b]0;pwned\\\\x07'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from itertools import chain
from typing import IO, TYPE_CHECKING, Any

from jupyter_think.core.ids import natural_key, split_ref, validate_ref
from jupyter_think.views.escape import escape_controls, has_controls

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session
    from jupyter_think.store import LoadedChanges, State, Store, StoredSession

USAGE_ERROR = 2
"""The exit status of a user mistake (a bad or unknown id, a bad option, the wrong kind of store)."""
REFUSED = 1
"""The exit status when the store refuses (unreachable, read-only, not permitted)."""
STATES: tuple[State, ...] = ("live", "trashed", "archived")
TRASHED: tuple[State, ...] = ("trashed",)
ARCHIVED: tuple[State, ...] = ("archived",)


class CommandError(Exception):
    """A user mistake: the message is printed as one line and the exit status is 2."""


class CommandStore:
    """The store one command works on: opened on first use, closed by :meth:`close` (which
    :func:`jupyter_think.cli.main` calls whatever happens), so no connection outlives its command."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._store: Store | None = None
        self._caught_up = False

    @property
    def is_postgres(self) -> bool:
        """True when the location is a ``postgresql://`` URL."""
        from jupyter_think.store import is_url

        return is_url(self.location)

    def store(self) -> Store:
        """The store (opened on the first call; the same one after)."""
        if self._store is None:
            from jupyter_think.store import open_store

            self._store = open_store(self.location)
        return self._store

    def writing(self) -> Store:
        """The store, after saving what an earlier process kept at exit (one line on stderr says so)."""
        store = self.store()
        if not self._caught_up:
            from jupyter_think.persistence.replay import caught_up_line, replay
            from jupyter_think.persistence.spill import Spill

            self._caught_up = True
            spill = Spill.for_store(store)
            if spill.exists():
                result = replay(store, spill, everything=False)
                if result.caught_up or result.refused:
                    self.say(f"jupyter-think: {caught_up_line(result, spill)}", file=sys.stderr)
        return store

    def close(self) -> None:
        """Close the store's connection (nothing is left for the garbage collector to close)."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    # --- sessions named by the user ---

    def load(self, ref: str, *, titled: bool = True) -> tuple[Session, StoredSession]:
        """The live session ``ref`` (an id, or ``OWNER/ID``) and its row; a session this role cannot
        read is unknown, exactly as one that does not exist.

        ``titled``: the session is titled as this role names it (``OWNER/ID`` for another user's:
        what ``show``, ``diff`` and the exports people read say); else it keeps its own id (a JSON
        export, which :meth:`Session.from_json` reads back: ids there follow the id rule).
        """
        loaded = self._loaded(valid_ref(ref))
        return session_of(loaded, titled=titled), loaded.row

    def _loaded(self, ref: str) -> LoadedChanges:
        store = self.store()
        loaded = store.load(ref)
        if loaded is None:
            raise CommandError(self.unknown(ref))
        return loaded

    def unknown(self, ref: str) -> str:
        """The message for a session ``ref`` that is not there (with a hint when it is in your trash)."""
        store = self.store()
        own = store.canonical(ref)
        trashed = split_ref(own)[0] is None and any(row.ref == own for row in store.sessions(TRASHED))
        hint = (
            f"; it is in the trash: jupyter-think trash restore {own}"
            if trashed
            else "; `jupyter-think list` shows the sessions"
        )
        return f"no session {ref!r} in {store.location}{hint}"

    # --- output ---

    def redact(self, text: str) -> str:
        """``text`` without the store's password (or ``$PGPASSWORD``'s), in any form."""
        from jupyter_think.store.redaction import redact

        return redact(text, self.location)

    def say(self, text: str, *, file: IO[str] | None = None) -> None:
        """Print one message line: passwords hidden, control characters shown escaped."""
        print(shown(self.redact(text)), file=file or sys.stdout)


def valid_ref(ref: str) -> str:
    """``ref`` when it names a session (an id, or another user's ``OWNER/ID``), else :class:`CommandError`."""
    try:
        return validate_ref(ref)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def session_of(loaded: LoadedChanges, *, titled: bool = True) -> Session:
    """The session a store loaded; ``titled``: named as this role names it (``OWNER/ID`` for another
    user's session, its title in a text tree, a diff or a Markdown export), else by its own id."""
    from jupyter_think.core.session.session import Session

    row = loaded.row
    name = row.ref if titled else row.id
    return Session.from_changes(name, loaded.parts, created_at=row.created_at, max_thoughts=10**9)


# --- text for a terminal ---------------------------------------------------------------------------------


def shown(text: str) -> str:
    """Store text for one line of a terminal: every control character (newlines too) shown escaped."""
    return escape_controls(text, keep="")


def session_order(row: StoredSession) -> tuple[Any, ...]:
    """Your own sessions first, then other users' by owner; ids in natural order (a stable sort keeps
    the store's newest-first order among rows of one id)."""
    theirs = split_ref(row.ref)[0] is not None
    return (theirs, natural_key(row.owner) if theirs else (), natural_key(row.id))


def write_out(text: str, *, terminal: bool) -> None:
    """Print ``text`` (with a final newline); for a terminal, control characters shown escaped."""
    if terminal:
        text = escape_controls(text)
    if not text.endswith("\n"):
        text += "\n"
    encoding = (
        sys.stdout.encoding or "utf-8"
    )  # what it cannot encode (a lone surrogate) is written as an escape
    sys.stdout.write(text.encode(encoding, errors="backslashreplace").decode(encoding))
    sys.stdout.flush()


def table(header: Sequence[str], cells: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns aligned under ``header`` (columns at indexes ``right`` right-aligned); every cell shown
    escaped, so store text cannot move the terminal's cursor.

    Example:
        >>> print(table(["USER", "TEACHER"], [["ada", "no"], ["tea\\x1b[2J", "yes"]]))
        USER        TEACHER
        ada         no
        tea\\x1b[2J  yes
    """
    if has_controls("".join(chain.from_iterable(cells))):  # (one scan; escaped only when there is something)
        rows = [[shown(value) for value in row] for row in cells]
    else:
        rows = [list(row) for row in cells]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    widths = [
        max(len(title), max(map(len, column), default=0))
        for title, column in zip(header, columns, strict=True)
    ]
    line = "  ".join(f"{{:{'>' if i in right else '<'}{width}}}" for i, width in enumerate(widths)).format
    return "\n".join([line(*header).rstrip(), *(line(*row).rstrip() for row in rows)])


def format_table(
    rows: Sequence[Any],
    *,
    with_state: bool = False,
    when: str = "last_activity",
    when_title: str = "LAST ACTIVITY",
) -> str:
    """The table of ``list``, ``trash`` and ``archive``: one stored session per line, named as this role
    names it (``OWNER/ID`` for another user's), in :func:`session_order`.

    Example:
        >>> from jupyter_think.store import StoredSession
        >>> at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        >>> print(format_table([StoredSession(1, "a", "ada", "live", at, at, at, 3, 1, "open", 4)]))
        ID  OWNER  THOUGHTS  BRANCHES  STATUS  LAST ACTIVITY
        a   ada           3         1  open    2026-01-02 03:04 UTC
    """
    header = ["ID", "OWNER", "THOUGHTS", "BRANCHES", "STATUS", when_title]
    if with_state:
        header.insert(1, "STATE")
    cells = []
    for row in sorted(rows, key=session_order):
        values = [
            row.ref,
            row.owner,
            str(row.thoughts),
            str(row.branches),
            row.status,
            when_text(getattr(row, when)),
        ]
        if with_state:
            values.insert(1, row.state)
        cells.append(values)
    return table(header, cells, right=(header.index("THOUGHTS"), header.index("BRANCHES")))


@lru_cache(maxsize=4096)
def _minute_text(minute: int) -> str:
    """Minute ``minute`` since the epoch as ``2026-01-02 03:04 UTC`` (a list's rows share minutes)."""
    return datetime.fromtimestamp(minute * 60, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def trash_table(rows: Sequence[Any]) -> str:
    """The table of ``trash``: each trashed copy with its ROW (what ``trash restore ID --row N`` takes),
    when and by whom it was trashed (a user, or ``retention``), newest first among copies of one id.

    Example:
        >>> from jupyter_think.store import StoredSession
        >>> at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        >>> print(trash_table([StoredSession(7, "notes", "ada", "trashed", at, at, at, 3, 0, "open", 4,
        ...                                  trashed_by="retention")]))
        ROW  ID     OWNER  THOUGHTS  TRASHED               BY
          7  notes  ada           3  2026-01-02 03:04 UTC  retention
    """
    header = ["ROW", "ID", "OWNER", "THOUGHTS", "TRASHED", "BY"]
    cells = [
        [
            str(row.key),
            row.ref,
            row.owner,
            str(row.thoughts),
            when_text(row.state_changed_at),
            row.trashed_by or "-",
        ]
        for row in sorted(rows, key=session_order)
    ]
    return table(header, cells, right=(0, 3))


def when_text(value: Any) -> str:
    """A time as ``2026-01-02 03:04 UTC`` (``-`` for none)."""
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return _minute_text(int(value.timestamp()) // 60)
    return str(value)
