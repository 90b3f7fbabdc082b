"""Sessions as tables: one row per session (``compare``), one record per thought (``to_records``).

:func:`compare` puts runs side by side — thoughts, branches, revisions, retractions, completed,
conclusion, duration — as a pandas ``DataFrame`` when pandas is installed, else as a
:class:`Comparison` (a list of dicts with a deterministic text and HTML table). Every count is read
through :func:`session_counts`, the one place that knows how a session is counted (the live
experiment grid uses the same :class:`Counts`).

Only :class:`~jupyter_think.core.session.session.Session` objects are needed (or things holding one: a run
result, an experiment); pandas is imported only when a DataFrame is built.

Example:
    >>> from jupyter_think import Session
    >>> a = Session("a"); _ = a.think("Plan", total=2); _ = a.think("Answer: 4", done=True)
    >>> b = Session("b"); _ = b.think("Guess")
    >>> rows = compare([a, b], dataframe=False)
    >>> [(r["session"], r["thoughts"], r["completed"], r["conclusion"]) for r in rows]
    [('a', 2, True, 'Answer: 4'), ('b', 1, False, None)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from jupyter_think.core.models import Thought
from jupyter_think.views.tables import html_table
from jupyter_think.views.text import one_line

if TYPE_CHECKING:
    import pandas

    from jupyter_think.core.session.session import Session

COLUMNS = (
    "session",
    "thoughts",
    "branches",
    "revisions",
    "retractions",
    "completed",
    "conclusion",
    "duration",
)
"""The columns of :func:`compare`, in order."""
PANDAS_HINT = "pandas is not installed: pip install 'jupyter-think[pandas]'"


@dataclass
class Counts:
    """What a session is counted by: thoughts, branches, revisions, retractions.

    Built from a whole session by :func:`session_counts`, or grown one thought at a time with
    :meth:`add` (the live grid does that, so an update costs the same at any session size).
    """

    thoughts: int = 0
    branches: int = 0
    revisions: int = 0
    retractions: int = 0

    def add(self, thought: Thought) -> None:
        """Count one more recorded thought (branches are counted from the session's branch ids)."""
        self.thoughts += 1
        if thought.is_revision:
            self.revisions += 1

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (JSON-ready)."""
        return asdict(self)


def session_counts(session: Session) -> Counts:
    """The counts of a session: the one helper every table and the grid read them through.

    A retracted thought counts only as a retraction (not as a thought, nor as a revision).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("c"); _ = s.think("One", total=2); _ = s.revise(1, "One, better")
        >>> session_counts(s)
        Counts(thoughts=2, branches=0, revisions=1, retractions=0)
        >>> _ = s.retract(2); session_counts(s)
        Counts(thoughts=1, branches=0, revisions=0, retractions=1)
    """
    snapshot = session.snapshot()
    counts = Counts(branches=len(snapshot.branches), retractions=len(snapshot.retracted))
    for thought in snapshot.thoughts:
        if thought.id not in snapshot.retracted:
            counts.add(thought)
    return counts


def _conclusion(session: Session) -> str | None:
    """The conclusion's text (the last counted thought on the chosen path, when it ends the thinking)."""
    conclusion = session.snapshot().conclusion
    return None if conclusion is None else conclusion.thought


def _duration(session: Session) -> float | None:
    """Seconds from the first thought to the last (``None`` for an empty session)."""
    thoughts = session.thoughts
    if not thoughts:
        return None
    return (thoughts[-1].created_at - thoughts[0].created_at).total_seconds()


def as_session(item: Any) -> Session:
    """A :class:`Session` from a session, or from anything holding one as ``.session`` (a run result).

    Raises ``TypeError`` saying how to get a session from an id.
    """
    from jupyter_think.core.session.session import Session

    if isinstance(item, Session):
        return item
    session = getattr(item, "session", None)
    if isinstance(session, Session):
        return session
    if isinstance(item, str):
        raise TypeError(
            f"expected a Session, got the id {item!r}: pass jupyter_think.get_manager().session({item!r})"
        )
    raise TypeError(f"expected a Session (or a run result), got {type(item).__name__}")


def _sessions(sessions: Iterable[Any]) -> list[Session]:
    if isinstance(sessions, str) or not isinstance(sessions, Iterable):
        raise TypeError("compare() takes a list of sessions, e.g. compare([s1, s2]) or compare(experiment)")
    return [as_session(item) for item in getattr(sessions, "sessions", sessions)]


def compare_rows(sessions: Iterable[Any]) -> list[dict[str, Any]]:
    """One dict per session with the :data:`COLUMNS` (what :func:`compare` tabulates)."""
    rows = []
    for session in _sessions(sessions):
        counts = session_counts(session)
        rows.append(
            {
                "session": session.id,
                **counts.as_dict(),
                "completed": session.status == "complete",
                "conclusion": _conclusion(session),
                "duration": _duration(session),
            }
        )
    return rows


def compare(sessions: Iterable[Any], *, dataframe: bool | None = None) -> Any:
    """One row per session: thoughts, branches, revisions, retractions, completed, conclusion, duration.

    ``sessions`` holds :class:`Session` objects, run results, or is an experiment. Returns a pandas
    ``DataFrame`` indexed by session id when pandas is installed (``dataframe=None``, the default;
    ``True`` requires it, ``False`` never uses it), else a :class:`Comparison`. ``duration`` is the
    seconds from the first thought to the last; ``conclusion`` is the last thought of a completed
    session.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("run-1"); _ = s.think("Only step", done=True)
        >>> print(compare([s], dataframe=False).as_text(duration=False))
        session  thoughts  branches  revisions  retractions  completed  conclusion
        run-1           1         0          0            0  yes        Only step
    """
    rows = compare_rows(sessions)
    if dataframe is False:
        return Comparison(rows)
    try:
        import pandas as pd
    except ImportError:
        if dataframe:
            raise ImportError(PANDAS_HINT) from None
        return Comparison(rows)
    return pd.DataFrame(rows, columns=list(COLUMNS)).set_index("session")


class Comparison(list):  # type: ignore[type-arg]
    """:func:`compare`'s rows as a list of dicts, displayed as a table (text and HTML).

    The display has no times unless asked: ``as_text(duration=True)`` adds the duration column.
    """

    def as_text(self, duration: bool = False) -> str:
        """The rows as an aligned text table (``duration`` adds that column, in seconds)."""
        columns = [c for c in COLUMNS if duration or c != "duration"]
        cells = [[_cell(row.get(c), c) for c in columns] for row in self]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        numeric = {"thoughts", "branches", "revisions", "retractions", "duration"}

        def line(values: list[str]) -> str:
            parts = [
                v.rjust(widths[i]) if columns[i] in numeric else v.ljust(widths[i])
                for i, v in enumerate(values)
            ]
            return "  ".join(parts).rstrip()

        return "\n".join([line(list(columns)), *(line(r) for r in cells)])

    def __repr__(self) -> str:
        return self.as_text() if self else "No sessions to compare."

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        columns = [c for c in COLUMNS if c != "duration"]
        rows = ([_cell(row.get(c), c) for c in columns] for row in self)
        return html_table(columns, rows, attributes={"class": "jupyter-think-compare"})

    def to_dataframe(self) -> pandas.DataFrame:
        """The same rows as a pandas ``DataFrame`` indexed by session id (needs pandas)."""
        pd = _pandas()
        return pd.DataFrame(list(self), columns=list(COLUMNS)).set_index("session")


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column == "duration":
        return f"{value:.2f} s"
    if column == "conclusion":
        return one_line(str(value), 60)
    return str(value)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(PANDAS_HINT) from None
    return pd


# --- one record per thought ----------------------------------------------------------------------------


def to_records(session: Session) -> list[dict[str, Any]]:
    """One dict per thought in arrival order: ``session_id``, ``position`` (1, 2, …) and its fields.

    The fields are the thought model's (``thought``, ``thought_number``, ``branch_id``, ``id``,
    ``created_at``, …), so fields added to thoughts later appear here by themselves.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("r"); _ = s.think("First", total=2)
        >>> record = to_records(s)[0]
        >>> record["session_id"], record["position"], record["thought"], record["thought_number"]
        ('r', 1, 'First', 1)
    """
    return [
        {"session_id": session.id, "position": position, **thought.model_dump()}
        for position, thought in enumerate(session.thoughts, start=1)
    ]


def to_dataframe(session: Session) -> pandas.DataFrame:
    """The session's :func:`to_records` as a pandas ``DataFrame`` (needs pandas)."""
    pd = _pandas()
    records = to_records(session)
    if records:
        return pd.DataFrame(records)
    columns = ["session_id", "position", *Thought.model_fields]
    return pd.DataFrame(columns=columns)
