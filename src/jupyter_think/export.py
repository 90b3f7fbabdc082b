"""Exports of a session: Markdown, Mermaid, JSON, SVG and a standalone HTML page.

Pure functions of one snapshot of a session; deterministic (no times or ids), so exports diff well.
Markdown keeps each thought verbatim (it is Markdown already); the HTML page renders it (CommonMark,
raw HTML shown as text); Mermaid draws the same graph as the text tree and the SVG (one layout,
:mod:`jupyter_think.layout`), with every label escaped so no thought can change the diagram.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Literal

from . import views
from .display import plural, summarize, thought_heading
from .layout import layout
from .render import escape_controls, render_svg
from .richtext import markdown_html

if TYPE_CHECKING:
    from .session import Session, SessionSnapshot

ExportFormat = Literal["markdown", "json", "mermaid", "html", "svg"]
FORMATS: dict[str, ExportFormat] = {
    "markdown": "markdown",
    "md": "markdown",
    "json": "json",
    "mermaid": "mermaid",
    "mmd": "mermaid",
    "html": "html",
    "svg": "svg",
}
SUFFIXES: dict[ExportFormat, str] = {
    "markdown": ".md",
    "json": ".json",
    "mermaid": ".mmd",
    "html": ".html",
    "svg": ".svg",
}


def export(session: Session, fmt: str) -> str:
    """The session in format ``fmt`` (markdown/md, json, mermaid/mmd, html, svg).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("x"); _ = s.think("only", done=True)
        >>> export(s, "md").splitlines()[0]
        '# Session x'
    """
    kind = FORMATS.get(fmt.lower())
    if kind is None:
        raise ValueError(f"unknown export format {fmt!r}: use one of markdown, json, mermaid, html, svg")
    if kind == "json":
        return session.to_json(indent=2)
    return {"markdown": to_markdown, "mermaid": to_mermaid, "html": to_html, "svg": render_svg}[kind](session)


def to_markdown(session: Session | SessionSnapshot) -> str:
    """The trunk, then each branch, each thought under its heading; revisions and the end marked."""
    snapshot = session.snapshot()
    summary = summarize(snapshot)
    lines = [f"# Session {snapshot.id}", "", f"Status: {summary.status} · {plural(summary.thoughts, 'thought')}", ""]
    lines += ["## Trunk", ""]
    for thought in snapshot.trunk:
        lines += [f"### {thought_heading(thought)}", "", thought.thought, ""]
    for branch in snapshot.branches.values():
        lines += [f"## Branch {branch.id} (from thought {branch.from_thought})", ""]
        for thought in branch.thoughts:
            lines += [f"### {thought_heading(thought)}", "", thought.thought, ""]
    if summary.conclusion is not None:
        lines += ["## Conclusion", "", summary.conclusion, ""]
    return "\n".join(lines)


_MERMAID_PLAIN = re.compile(r"[^A-Za-z0-9 .,!?:/+'()_*=@-]")
"""ASCII characters a label may hold as they are; every other ASCII character is written as a code."""


def _mermaid_code(match: re.Match[str]) -> str:
    character = match[0]
    return character if ord(character) > 0x7F else f"#{ord(character)};"


def _mermaid_label(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters, safe inside ``["..."]``.

    Every ASCII character but letters, digits, space and ``.,!?:/+'()_*=@-`` becomes Mermaid's own
    ``#NN;`` code (Mermaid turns it back into the character when it draws): so no quote or bracket
    ends the label, no backtick starts a Markdown string, no ``%%`` is read as a comment or a
    ``%%{init}%%`` directive, no ``#name;`` in a thought is decoded. Control characters are shown
    as visible escapes first.

    Example:
        >>> _mermaid_label('Say "hi" [twice] %%{init} # then stop')
        'Say #34;hi#34; #91;twice#93; #37;#37;#123;init#125; #35; then stop'
    """
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1] + "…"
    return _MERMAID_PLAIN.sub(_mermaid_code, escape_controls(line))


def to_mermaid(session: Session | SessionSnapshot) -> str:
    """A Mermaid ``flowchart TD``: the trunk, each branch as a subgraph, revisions dotted.

    The graph is the layout the text tree and the SVG draw, so a branch forked from another branch
    hangs from the right thought. Node names are positions in the history (``t1``, ``t2``, ...) and
    subgraph names are lane numbers (``b1``...), so the output is deterministic and no branch id can
    clash with a keyword.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("m"); _ = s.think("Start", total=2); _ = s.think("End", done=True)
        >>> print(to_mermaid(s), end="")
        flowchart TD
            t1["1. Start"]
            t2["2. End"]
            t1 --> t2
            style t2 stroke-width:3px
    """
    snapshot = session.snapshot()
    graph = layout(snapshot)
    members: list[list[int]] = [[] for _ in graph.lanes]
    for node in graph.nodes:
        members[node.lane].append(node.index)
    lines = ["flowchart TD"]

    def declare(lane_index: int, indent: str) -> None:
        for index in members[lane_index]:
            node = graph.nodes[index]
            label = _mermaid_label(f"{node.number}. {node.thought.thought}")
            lines.append(f'{indent}t{index + 1}["{label}"]')

    declare(0, "    ")
    for lane in graph.lanes[1:]:
        title = _mermaid_label(f"{lane.name} (from {lane.from_thought})")
        lines.append(f'    subgraph b{lane.index}["{title}"]')
        declare(lane.index, "        ")
        lines.append("    end")
    order = sorted(
        graph.edges,
        key=lambda edge: (edge.kind == "revision", graph.nodes[edge.target].lane, edge.target, edge.source),
    )
    for edge in order:
        source, target = f"t{edge.source + 1}", f"t{edge.target + 1}"
        if edge.kind == "sequence":
            lines.append(f"    {source} --> {target}")
        elif edge.kind == "fork":
            name = graph.lanes[graph.nodes[edge.target].lane].name
            lines.append(f'    {source} -->|"{_mermaid_label(name)}"| {target}')
        else:
            lines.append(f"    {source} -. revises .-> {target}")
    if graph.final is not None:
        lines.append(f"    style t{graph.final + 1} stroke-width:3px")
    return "\n".join(lines) + "\n"


def to_html(session: Session | SessionSnapshot) -> str:
    """A standalone HTML page: the session's graph (inline SVG) and its thoughts, Markdown rendered."""
    snapshot = session.snapshot()
    summary = summarize(snapshot)
    items = "".join(
        f"<li><b>{html.escape(thought_heading(t))}</b>"
        f"<div class='thought'>{markdown_html(t.thought)}</div></li>"
        for t in snapshot.thoughts
    )
    title = html.escape(snapshot.id)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Session {title}</title></head><body style='font-family:sans-serif'>"
        f"<h1>Session {title}</h1><p>{summary.status} · {plural(summary.thoughts, 'thought')}</p>"
        f"{render_svg(snapshot)}<ol>{items}</ol></body></html>\n"
    )


views.register("markdown", to_markdown)
views.register("mermaid", to_mermaid)
views.register("html", to_html)
