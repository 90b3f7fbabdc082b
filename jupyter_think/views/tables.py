"""HTML tables, written one way for every view: a header row, then one row per item, text escaped.

A cell is text (escaped here), a number, :class:`Html` (markup a view built and escaped itself, put
in as it is), or a :class:`Cell` carrying attributes (a colour, a title). A row is a sequence of
cells, or a :class:`Row` carrying its own attributes. The output is deterministic (nbval compares it).

Example:
    >>> print(html_table(["session", "thoughts"], [["a<b", 3], [Cell("ok", {"style": "color:green"}), 0]]))
    <table><thead><tr><th>session</th><th>thoughts</th></tr></thead><tbody><tr><td>a&lt;b</td><td>3</td></tr><tr><td style="color:green">ok</td><td>0</td></tr></tbody></table>
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


class Html(str):
    """Markup that is HTML already: a table puts it in a cell as it is (the view escaped its parts)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Cell:
    """A cell with attributes: ``Cell("ok", {"style": "color:green"})`` is ``<td style="color:green">ok</td>``."""

    content: str | int
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Row:
    """A row with attributes: ``Row(["a"], {"data-kind": "same"})``."""

    cells: Sequence[str | int | Cell]
    attributes: Mapping[str, str] = field(default_factory=dict)


def _attributes(attributes: Mapping[str, str] | None) -> str:
    return "".join(f' {name}="{html.escape(value)}"' for name, value in (attributes or {}).items())


def _content(content: str | int) -> str:
    return content if isinstance(content, Html) else html.escape(str(content))


def _cell(cell: str | int | Cell) -> str:
    if isinstance(cell, Cell):
        return f"<td{_attributes(cell.attributes)}>{_content(cell.content)}</td>"
    return f"<td>{_content(cell)}</td>"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str | int | Cell] | Row],
    *,
    attributes: Mapping[str, str] | None = None,
    widths: Sequence[str | None] = (),
    sections: bool = True,
) -> str:
    """A ``<table>`` with a header row (``header``: text, escaped) and one row per item of ``rows``.

    ``attributes`` go on the table; ``widths`` (CSS widths, ``None`` for a free column) make a
    ``<colgroup>``; ``sections=False`` leaves out ``<thead>`` and ``<tbody>`` (rows follow the header
    row directly).

    Example:
        >>> html_table(["step", ""], [Row([1, Html("&lt;")], {"data-kind": "only_a"})], widths=["3em", None], sections=False)
        '<table><colgroup><col style="width:3em"><col></colgroup><tr><th>step</th><th></th></tr><tr data-kind="only_a"><td>1</td><td>&lt;</td></tr></table>'
    """
    columns = "".join(f'<col style="width:{width}">' if width else "<col>" for width in widths)
    head = "<tr>" + "".join(f"<th>{html.escape(name)}</th>" for name in header) + "</tr>"
    body = "".join(
        f"<tr{_attributes(row.attributes)}>{''.join(map(_cell, row.cells))}</tr>"
        if isinstance(row, Row)
        else f"<tr>{''.join(map(_cell, row))}</tr>"
        for row in rows
    )
    if sections:
        head, body = f"<thead>{head}</thead>", f"<tbody>{body}</tbody>"
    colgroup = f"<colgroup>{columns}</colgroup>" if columns else ""
    return f"<table{_attributes(attributes)}>{colgroup}{head}{body}</table>"
