"""Static renderings of a session's branch graph: an inline SVG (the text tree is :mod:`.tree`).

Both are pure functions of a :class:`~jupyter_think.views.layout.Layout`; colours and sizes come from
:mod:`jupyter_think.views.theme` (shared with the widget's front end). They are what a notebook
shows without a widget front end (nbconvert, GitHub, nbval: ``text/html`` — the SVG as an
``<img>``, see :func:`svg_as_image` — and ``text/plain``) and what ``to_html()`` embeds. No ids or times appear, so the output is the same on every run.

Text meant for a terminal goes through :func:`escape_controls`: control characters in a thought
(ANSI escapes, bidi overrides, ...) are shown as visible escapes, never sent to the terminal raw.

Large graphs are drawn at a lower level of detail: above :data:`DETAIL_LIMIT` thoughts the SVG is
an overview (dots and lines, fixed width) and the text tree elides the middle of long lanes.

The detailed SVG stands alone (``session.to_svg()``, ``--export svg``: a file for slides): a white
background, each node labelled with the first words of its thought (the theme's ``labels`` size and
room), the chosen path bold, abandoned lanes faded, retracted thoughts greyed and struck through,
amended ones marked, merge edges drawn, the final thought ringed, and the decisions with their notes
written under the graph. The text tree marks the same states in words.
"""

from __future__ import annotations

import base64
import html
import re
from typing import TYPE_CHECKING

from jupyter_think.views.layout import Edge, Layout, Node, layout
from jupyter_think.views.text import one_line, plural
from jupyter_think.views.theme import GEOMETRY, KIND_COLORS, LABELS, LINE_COLORS, STATES

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionSnapshot

DETAIL_LIMIT = 300
"""Above this many thoughts (or columns) the SVG is an overview and the text tree is elided."""

COLUMN_WIDTH: int = LABELS["column"]  # the detailed SVG always shows labels
ROW_HEIGHT: int = LABELS["row"]
NODE_Y: int = GEOMETRY["row"] // 2  # a node's centre below the top of its lane; its label under it
GUTTER: int = GEOMETRY["gutter"]  # room for lane names on the left
TOP: int = GEOMETRY["top"]
RADIUS: int = GEOMETRY["radius"]
OVERVIEW_WIDTH = 1100
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml(text: str) -> str:
    """Text safe inside an XML/HTML element or attribute (escaped, no invalid characters)."""
    return html.escape(_INVALID_XML.sub("\ufffd", text), quote=True)


def decision_words(outcome: str | None, note: str | None) -> str:
    """``chosen``, ``abandoned: the note`` (one line), or empty for an undecided branch.

    Example:
        >>> decision_words("chosen", "a single\\ncounterexample settles it")
        'chosen: a single counterexample settles it'
    """
    if outcome is None:
        return ""
    return f"{outcome}: {' '.join(note.split())}" if note else outcome


def headline(graph: Layout, session_id: str) -> str:
    """The first line of both renderings: session, status and counts.

    Example:
        >>> from jupyter_think.views.layout import layout_thoughts
        >>> headline(layout_thoughts([]), "empty")
        'Session empty · open · 0 thoughts · 0 branches · 0 revisions'
    """
    status = "complete" if graph.final is not None else "open"
    counted = [n for n in graph.nodes if not n.retracted]
    revisions = sum(1 for n in counted if n.thought.is_revision)
    retracted = len(graph.nodes) - len(counted)
    return (
        f"Session {session_id} · {status} · {plural(len(counted), 'thought')} · "
        f"{plural(len(graph.lanes) - 1, 'branch', 'branches')} · {plural(revisions, 'revision')}"
        + (f" · {retracted} retracted" if retracted else "")
    )


# --- SVG ---------------------------------------------------------------------------------------------


def render_svg(session: Session | SessionSnapshot) -> str:
    """An inline SVG of the session's branch graph (what ``text/html`` and ``to_html()`` show).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("demo"); _ = s.think("Restate the problem", done=True)
        >>> render_svg(s).startswith("<svg")
        True
    """
    return svg_from_layout(layout(session), session.id)


def svg_from_layout(graph: Layout, session_id: str) -> str:
    """The SVG of a layout: full detail up to :data:`DETAIL_LIMIT` thoughts, else an overview."""
    if len(graph.nodes) > DETAIL_LIMIT or graph.columns > DETAIL_LIMIT:
        return _overview_svg(graph, session_id)
    return _detailed_svg(graph, session_id)


def svg_as_image(svg: str, label: str) -> str:
    """The SVG as an ``<img>`` with a data URI: the ``text/html`` a notebook output keeps.

    JupyterLab strips inline ``<svg>`` from the HTML of untrusted notebooks (any notebook opened
    from a clone or a download); an image survives, so a saved graph shows before anything runs.

    Example:
        >>> svg_as_image("<svg/>", "a graph")
        '<img class="jupyter-think-graph" alt="a graph" src="data:image/svg+xml;base64,PHN2Zy8+"/>'
    """
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="jupyter-think-graph" alt="{html.escape(label)}" src="data:image/svg+xml;base64,{data}"/>'


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="jupyter-think-graph" width="{width:g}" '
        f'height="{height:g}" viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{_xml(label)}" '
        'font-family="sans-serif" font-size="11">'
        f"<title>{_xml(label)}</title>"
    )


def _decision_lines(graph: Layout) -> list[str]:
    """One line per decided branch (``search: chosen: the note``) and per merge, for under the graph."""
    lines = [
        f"{lane.name}: {decision_words(lane.outcome, lane.note)}" for lane in graph.lanes if lane.outcome
    ]
    for edge in graph.edges:
        if edge.kind == "merge":
            source, target = graph.nodes[edge.source], graph.nodes[edge.target]
            lines.append(
                f"{graph.lanes[source.lane].name} merged into {graph.lanes[target.lane].name} after {source.number}"
            )
    return lines


TITLE_BOTTOM = 21
"""Where the title line (baseline 16, 11 px bold) ends: revision arcs of the first lane stay under it."""
LABEL_BOTTOM = RADIUS + 4 + LABELS["lines"] * (LABELS["size"] + 2) + 4
"""How far under its lane's node centre a node's label reaches."""


def _lift(x1: int, x2: int, lane: int) -> float:
    """How high a revision arc rises above its nodes (``lane``: the upper one): higher the longer it is,
    but never into the title (first lane) or into the labels of the lane above."""
    ceiling = TITLE_BOTTOM if lane == 0 else TOP + (lane - 1) * ROW_HEIGHT + NODE_Y + LABEL_BOTTOM
    room = TOP + lane * ROW_HEIGHT + NODE_Y - RADIUS - ceiling - 2
    # (a cubic whose control points are `lift` above its ends rises 3/4 of the way to them)
    return RADIUS + max(4, min(8 + abs(x2 - x1) / 6, room / 0.75))


def _between_lanes(x1: float, y1: float, x2: float, y2: float, *, stub: bool = False) -> str:
    """A fork or merge edge drawn as a line on a map: along its first lane, down (or up) through the gap
    between two columns of labels, then along its second lane, so it crosses no label. ``stub``: a merge
    waiting for its target's next thought ends at the gap."""
    gap = x2 - COLUMN_WIDTH / 2
    if y1 == y2:
        return f"M{x1:g} {y1:g} H{x2:g}"
    turn = min(8, abs(y2 - y1) / 2, COLUMN_WIDTH / 4)
    down = 1 if y2 > y1 else -1
    path = (
        f"M{x1:g} {y1:g} H{gap - turn:g} Q{gap:g} {y1:g} {gap:g} {y1 + down * turn:g} "
        f"V{y2 - down * turn:g} Q{gap:g} {y2:g} {gap + turn:g} {y2:g}"
    )
    return path if stub else f"{path} H{x2:g}"


def _detailed_svg(graph: Layout, session_id: str) -> str:
    label = headline(graph, session_id)
    notes = _decision_lines(graph)
    line_height = LABELS["size"] + 6
    width = GUTTER + max(graph.columns, 1) * COLUMN_WIDTH + 16
    graph_height = TOP + len(graph.lanes) * ROW_HEIGHT
    height = graph_height + (len(notes) * line_height + 8 if notes else 0)
    chosen, retracted, abandoned = STATES["chosen"], STATES["retracted"], STATES["abandoned"]
    faded = {lane.index for lane in graph.lanes if lane.outcome == "abandoned"}

    def xy(node: Node) -> tuple[int, int]:
        return (
            GUTTER + node.column * COLUMN_WIDTH + COLUMN_WIDTH // 2,
            TOP + node.lane * ROW_HEIGHT + NODE_Y,
        )

    def fade(lane: int) -> str:
        return f' opacity="{abandoned["opacity"]}"' if lane in faded else ""

    def stroke(edge: Edge, color: str, width: float) -> str:
        if graph.on_path(edge):
            return f'stroke="{chosen["color"]}" stroke-width="{chosen["width"]}"'
        return f'stroke="{color}" stroke-width="{width:g}"'

    parts = [_svg_open(width, height, label)]
    parts.append('<rect width="100%" height="100%" fill="#fff"/>')
    parts.append(f'<text x="8" y="16" font-weight="bold" fill="#555">{_xml(label)}</text>')
    for lane in graph.lanes:
        y = TOP + lane.index * ROW_HEIGHT + NODE_Y
        name = lane.name if lane.branch_id is None else f"{lane.name} (from {lane.from_thought})"
        bold = ' font-weight="bold"' if lane.index in graph.path else ""
        parts.append(
            f'<text x="8" y="{y + 4}" fill="#333"{bold}{fade(lane.index)}>{_xml(one_line(name, 16))}</text>'
        )
        if lane.outcome:
            parts.append(
                f'<text x="8" y="{y + 18}" fill="#555" font-style="italic"{fade(lane.index)}>{_xml(lane.outcome)}</text>'
            )
    nodes = graph.nodes
    for edge in graph.edges:
        (x1, y1), (x2, y2) = xy(nodes[edge.source]), xy(nodes[edge.target])
        row = nodes[edge.target].lane
        if edge.kind == "sequence":
            parts.append(
                f'<line class="sequence" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" '
                f"{stroke(edge, LINE_COLORS['sequence'], 2)}{fade(row)}/>"
            )
        elif edge.kind in ("fork", "merge"):
            parts.append(
                f'<path class="{edge.kind}" d="{_between_lanes(x1, y1, x2, y2)}" fill="none" '
                f"{stroke(edge, LINE_COLORS[edge.kind], 2)}"
                + (' stroke-dasharray="6 3"' if edge.kind == "merge" and not graph.on_path(edge) else "")
                + f"{fade(row if edge.kind == 'fork' else nodes[edge.source].lane)}/>"
            )
        else:
            lift = _lift(x1, x2, min(nodes[edge.source].lane, nodes[edge.target].lane))
            parts.append(
                f'<path class="revision" d="M{x1} {y1 - RADIUS} C{x1} {y1 - lift} {x2} {y2 - lift} {x2} {y2 - RADIUS}" '
                f'fill="none" stroke="{LINE_COLORS["revision"]}" stroke-width="1.5" stroke-dasharray="4 3"{fade(row)}/>'
            )
    for source, target_lane in graph.waiting:  # a merge whose target has no thought yet: a stub
        x1, y1 = xy(nodes[source])
        x2, y2 = x1 + COLUMN_WIDTH, TOP + target_lane * ROW_HEIGHT + NODE_Y
        parts.append(
            f'<path class="merge" d="{_between_lanes(x1, y1, x2, y2, stub=True)}" fill="none" '
            f'stroke="{LINE_COLORS["merge"]}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    mark = STATES["amended"]["mark"]
    for node in nodes:
        x, y = xy(node)
        thought = node.thought
        states = [name for name, on in (("amended", node.amended), ("retracted", node.retracted)) if on]
        tip = f"{thought.thought_number}/{thought.total_thoughts} {one_line(thought.thought, 200)}"
        tip += "".join(f" ({state})" for state in states)
        ring = (
            f'<circle cx="{x}" cy="{y}" r="{RADIUS + 4}" fill="none" stroke="{LINE_COLORS["final"]}" stroke-width="2"/>'
            if node.index == graph.final
            else ""
        )
        fill = retracted["color"] if node.retracted else KIND_COLORS[node.kind]
        outline = (
            f' stroke="{chosen["color"]}" stroke-width="2"' if graph.path and node.lane in graph.path else ""
        )
        opacity = f' opacity="{retracted["opacity"]}"' if node.retracted else ""
        strike = (
            f'<line x1="{x - RADIUS - 3}" y1="{y + RADIUS + 3}" x2="{x + RADIUS + 3}" y2="{y - RADIUS - 3}" '
            f'stroke="{retracted["color"]}" stroke-width="2"/>'
            if node.retracted
            else ""
        )
        words = list(node.label)
        if node.amended and words:
            words[0] = f"{mark} {words[0]}"
        label_attrs = (
            f'fill="{retracted["color"]}" text-decoration="line-through"'
            if node.retracted
            else f'fill="{LABELS["color"]}"'
        )
        label_attrs += ' stroke="#fff" stroke-width="3" paint-order="stroke"'  # a halo: readable over edges
        label_text = "".join(
            f'<text class="label" x="{x}" y="{y + RADIUS + 4 + (row + 1) * (LABELS["size"] + 2)}" text-anchor="middle" '
            f'font-size="{LABELS["size"]}" {label_attrs}>{_xml(words[row])}</text>'
            for row in range(len(words))
        )
        classes = " ".join(["node", *states])
        parts.append(
            f'<g class="{classes}" data-lane="{node.lane}"{fade(node.lane)}><title>{_xml(tip)}</title>{ring}'
            f'<circle cx="{x}" cy="{y}" r="{RADIUS}" fill="{fill}"{outline}{opacity}/>'
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" fill="#fff" font-size="10">{thought.thought_number}</text>'
            f"{strike}{label_text}</g>"
        )
    for row, note in enumerate(notes):
        parts.append(
            f'<text class="decision" x="8" y="{graph_height + (row + 1) * line_height}" fill="#333">{_xml(one_line(note, 160))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _overview_svg(graph: Layout, session_id: str) -> str:
    """Dots and lines at a fixed width: one path per node kind, one line per lane."""
    label = headline(graph, session_id) + " (overview)"
    columns = max(graph.columns, 1)
    row = 18 if len(graph.lanes) <= 40 else max(2, 720 // len(graph.lanes))
    scale = (OVERVIEW_WIDTH - GUTTER - 10) / columns
    height = TOP + len(graph.lanes) * row + 6

    def x_of(column: int) -> str:
        return f"{GUTTER + column * scale:.1f}"

    def y_of(lane: int) -> int:
        return TOP + lane * row + row // 2

    parts = [_svg_open(OVERVIEW_WIDTH, height, label)]
    parts.append(f'<text x="8" y="16" font-weight="bold" fill="#555">{_xml(label)}</text>')
    lane_paths = []
    if len(graph.lanes) <= 40:
        for lane in graph.lanes:
            parts.append(
                f'<text x="8" y="{y_of(lane.index) + 4}" fill="#333">{_xml(one_line(lane.name, 14))}</text>'
            )
    first: dict[int, Node] = {}
    last: dict[int, Node] = {}
    for node in graph.nodes:
        first.setdefault(node.lane, node)
        last[node.lane] = node
    for lane_index, start in first.items():
        end = last[lane_index]
        y = y_of(lane_index)
        lane_paths.append(f"M{x_of(start.column)} {y}H{x_of(end.column)}")
        fork = graph.lanes[lane_index].fork
        if fork is not None:
            origin = graph.nodes[fork]
            lane_paths.append(f"M{x_of(origin.column)} {y_of(origin.lane)}L{x_of(start.column)} {y}")
    parts.append(
        f'<path d="{"".join(lane_paths)}" fill="none" stroke="{LINE_COLORS["sequence"]}" stroke-width="1"/>'
    )
    colors = {**KIND_COLORS, "retracted": STATES["retracted"]["color"]}
    dots: dict[str, list[str]] = {kind: [] for kind in colors}
    for node in graph.nodes:
        dots["retracted" if node.retracted else node.kind].append(f"M{x_of(node.column)} {y_of(node.lane)}h0")
    dot = max(2.0, min(6.0, scale * 0.8, row * 0.6))
    for kind, path in dots.items():
        if path:
            parts.append(
                f'<path class="{kind}" d="{"".join(path)}" stroke="{colors[kind]}" '
                f'stroke-width="{dot:.1f}" stroke-linecap="round"/>'
            )
    if graph.final is not None:
        node = graph.nodes[graph.final]
        parts.append(
            f'<circle cx="{x_of(node.column)}" cy="{y_of(node.lane)}" r="{dot + 3:.1f}" fill="none" '
            f'stroke="{LINE_COLORS["final"]}" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
