"""Deterministic tables of runs: how an experiment displays, and the rows ``compare`` returns without pandas.

:func:`results_text` and :func:`results_html` show an experiment's runs (no times, no ids beyond the
sessions'). :class:`Table` is a list of dict rows that displays as an aligned text table and an HTML
table, leaving out the columns that hold times (``duration``, ``seconds``) unless asked, so a
notebook shows the same every time.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_think.experiments.counts import session_counts
from jupyter_think.experiments.results import RunResult, first_line
from jupyter_think.views.tables import Cell, html_table
from jupyter_think.views.theme import STATUS_COLORS

if TYPE_CHECKING:
    import pandas

TIMED = frozenset({"duration", "seconds", "model_seconds"})
"""Columns that hold times: left out of a table's display (they change from run to run)."""
PANDAS_HINT = "pandas is not installed: pip install 'jupyter-think[pandas]'"


def pandas_module() -> Any:
    """pandas, or ``ImportError`` with the install hint."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(PANDAS_HINT) from None
    return pd


# --- an experiment's runs ---------------------------------------------------------------------------------


def results_headline(name: str, results: Sequence[RunResult], started: bool = True) -> str:
    """``Experiment NAME · N runs · 3 ok · 1 error`` (or ``not started``)."""
    n = len(results)
    parts = [f"Experiment {name}", f"{n} run{'s' * (n != 1)}"]
    if not started:
        parts.append("not started")
        return " · ".join(parts)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    for status in ("ok", "error", "timeout", "cancelled", "running", "pending"):
        if counts.get(status):
            word = (
                {"error": "errors", "timeout": "timeouts"}.get(status, status)
                if counts[status] > 1
                else status
            )
            parts.append(f"{counts[status]} {word}")
    return " · ".join(parts)


def _plain(results: Sequence[RunResult]) -> bool:
    """True for runs of a list of configs run once each (run k is variant k): no variant columns needed."""
    return all(r.repeat == 1 and r.variant == str(r.run) and r.fork is None for r in results)


def result_columns(results: Sequence[RunResult]) -> list[str]:
    """The columns an experiment's table shows: variant and repeat, score and tokens only where they say something."""
    columns = ["run"]
    if not _plain(results):
        columns += ["variant", "repeat"]
    columns += ["session", "status"]
    if any(r.score is not None or r.score_error for r in results):
        columns.append("score")
    columns += ["thoughts", "branches", "revisions"]
    if any(r.usage.model_calls for r in results):
        columns.append("tokens")
    return [*columns, "result"]


def _result_cells(result: RunResult, columns: Sequence[str]) -> list[str]:
    counts = session_counts(result.session) if result.session is not None else None
    values = {
        "run": str(result.run),
        "variant": result.variant,
        "repeat": str(result.repeat),
        "session": result.session_id,
        "status": result.status,
        "score": "error" if result.score_error else format_value(result.score, "score"),
        "thoughts": str(counts.thoughts) if counts else "-",
        "branches": str(counts.branches) if counts else "-",
        "revisions": str(counts.revisions) if counts else "-",
        "tokens": str(result.usage.tokens),
        "result": _outcome(result),
    }
    return [values[column] for column in columns]


def _outcome(result: RunResult) -> str:
    if result.status == "ok":
        return first_line(repr(result.value), 60)
    if result.status == "error":
        return first_line(result.message or "", 60)
    return "-"


def results_text(headline: str, results: Sequence[RunResult]) -> str:
    """The runs as a deterministic text table under ``headline``."""
    columns = result_columns(results)
    return "\n".join(
        [headline, *("  " + line for line in _aligned(columns, [_result_cells(r, columns) for r in results]))]
    )


def results_html(headline: str, results: Sequence[RunResult]) -> str:
    """The runs as a deterministic HTML table under ``headline`` (every text escaped)."""
    columns = result_columns(results)
    status = columns.index("status")
    rows = (
        [
            Cell(cell, {"style": f"color:{STATUS_COLORS.get(cell, 'inherit')};font-weight:600"})
            if i == status
            else cell
            for i, cell in enumerate(_result_cells(result, columns))
        ]
        for result in results
    )
    return f'<div class="jupyter-think-experiment"><b>{html.escape(headline)}</b>{html_table(columns, rows)}</div>'


def _aligned(columns: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if is_numeric(columns[i]) else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    return [line(list(columns)), *(line(r) for r in cells)]


# --- rows of compare() ----------------------------------------------------------------------------------------


class Table(list[dict[str, Any]]):
    """Rows (dicts with the same keys) shown as a table; ``compare`` returns one when pandas is missing.

    The display leaves out the columns of :data:`TIMED` unless asked (``as_text(times=True)``), so a
    notebook shows the same every run. :meth:`to_dataframe` gives the same rows as a DataFrame.
    """

    def __init__(
        self,
        rows: Sequence[dict[str, Any]] = (),
        columns: Sequence[str] = (),
        index: str | None = None,
        empty: str = "No runs to compare.",
    ) -> None:
        super().__init__(rows)
        self.columns = list(columns) or (list(rows[0]) if rows else [])
        self.index_column = index
        self.empty = empty

    def as_text(self, times: bool = False, *, duration: bool | None = None) -> str:
        """The rows as an aligned text table (``times`` adds the columns that hold times)."""
        times = times if duration is None else duration
        columns = [c for c in self.columns if times or c not in TIMED]
        return "\n".join(_aligned(columns, [[format_value(row.get(c), c) for c in columns] for row in self]))

    def __repr__(self) -> str:
        return self.as_text() if self else self.empty

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        columns = [c for c in self.columns if c not in TIMED]
        rows = ([format_value(row.get(c), c) for c in columns] for row in self)
        return html_table(columns, rows, attributes={"class": "jupyter-think-compare"})

    def to_dataframe(self) -> pandas.DataFrame:
        """The same rows as a pandas ``DataFrame`` (indexed by :attr:`index_column` when it has one)."""
        frame = pandas_module().DataFrame(list(self), columns=self.columns)
        return frame.set_index(self.index_column) if self.index_column else frame


NUMBERS = frozenset(
    {
        *("run", "repeat", "runs", "errors", "score", "thoughts", "branches", "revisions", "retractions"),
        *("input_tokens", "output_tokens", "tokens", "cost", "duration", "seconds", "model_seconds"),
        *("branch_rate", "revision_rate"),
    }
)


def is_numeric(column: str) -> bool:
    """True for a column of numbers (right-aligned): the counts, rates, pass@k and the differences."""
    return (
        column in NUMBERS
        or column.startswith(("pass", "score_"))
        or column.endswith(("_diff", "_low", "_high"))
    )


def format_value(value: Any, column: str = "") -> str:
    """A cell: ``-`` for none, ``yes``/``no``, whole numbers as they are, others to 3 significant places.

    Example:
        >>> format_value(None), format_value(True), format_value(0.123456), format_value(2.0), format_value(12)
        ('-', 'yes', '0.123', '2', '12')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        if column == "score":
            return "pass" if value else "fail"
        return "yes" if value else "no"
    if column in ("duration", "seconds", "model_seconds") and isinstance(value, (int, float)):
        return f"{value:.2f} s"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, str):
        return first_line(value, 60)
    return str(value)
