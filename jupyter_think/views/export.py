"""Exports of a session: Markdown, Mermaid, JSON, SVG and a standalone HTML page.

Pure functions of one snapshot of a session; deterministic (no times or ids), so exports diff well.
Markdown keeps each thought verbatim (it is Markdown already); the HTML page renders it (CommonMark,
raw HTML shown as text); Mermaid draws the same graph as the text tree and the SVG (one layout,
:mod:`jupyter_think.views.layout`), with every label escaped so no thought can change the diagram.

Every export shows the teaching state: amended thoughts with their earlier texts (JSON keeps them
all: the thoughts as recorded and each amendment), retracted thoughts marked (struck through in
HTML, dashed in Mermaid), each branch's decision and note, the merges, and the conclusion on the
chosen path.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Literal

from jupyter_think.core.models import Thought
from jupyter_think.views.display import decision_words, summarize, thought_heading
from jupyter_think.views.escape import escape_controls
from jupyter_think.views.layout import layout
from jupyter_think.views.render import render_svg
from jupyter_think.views.richtext import markdown_html
from jupyter_think.views.text import plural
from jupyter_think.views.theme import LINE_COLORS, STATES

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionSnapshot

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


def _heading(snapshot: SessionSnapshot, thought: Thought) -> str:
    return thought_heading(
        thought, amended=snapshot.is_amended(thought), retracted=snapshot.is_retracted(thought)
    )


def to_markdown(session: Session | SessionSnapshot) -> str:
    """The trunk, then each branch, each thought under its heading; revisions and the end marked.

    An amended thought shows its current text, then its earlier texts as quotes; a retracted one is
    marked in its heading; a decided branch says its decision and note; merges and the conclusion
    close the page.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("md"); _ = s.think("Teh guess"); _ = s.amend(1, "The guess")
        >>> print(to_markdown(s))
        # Session md
        <BLANKLINE>
        Status: open · 1 thought
        <BLANKLINE>
        ## Trunk
        <BLANKLINE>
        ### Thought 1/1 · amended
        <BLANKLINE>
        The guess
        <BLANKLINE>
        > Earlier text: Teh guess
        <BLANKLINE>
    """
    snapshot = session.snapshot()
    summary = summarize(snapshot)
    status = f"Status: {summary.status} · {plural(summary.thoughts, 'thought')}"
    if summary.retracted:
        status += f" · {summary.retracted} retracted"
    lines = [f"# Session {snapshot.id}", "", status, ""]

    def add(thought: Thought) -> None:
        nonlocal lines
        lines += [f"### {_heading(snapshot, thought)}", "", thought.thought, ""]
        for text in snapshot.earlier_texts(thought):
            lines += ["> Earlier text: " + " ".join(text.split()), ""]

    lines += ["## Trunk", ""]
    for thought in snapshot.trunk:
        add(thought)
    for branch in snapshot.branches.values():
        decided = decision_words(branch.outcome, branch.note)
        lines += [
            f"## Branch {branch.id} (from thought {branch.from_thought})"
            + (f" · {branch.outcome}" if decided else ""),
            "",
        ]
        if decided:
            lines += [f"*{decided[0].upper()}{decided[1:]}*", ""]
        for thought in branch.thoughts:
            add(thought)
    if snapshot.merges:
        lines += ["## Merges", ""]
        lines += [f"- {merge.as_text()}" for merge in summary.merges]
        lines.append("")
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
    clash with a keyword. The teaching state: a retracted thought is dashed and greyed (class
    ``retracted``), an amended one ends with the theme's mark, a decided branch names its decision in
    its title (an abandoned one is faded), merges are labelled edges, and the chosen path is thick.

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

    mark = STATES["amended"]["mark"]

    def declare(lane_index: int, indent: str) -> None:
        for index in members[lane_index]:
            node = graph.nodes[index]
            text = f"{node.number}. {node.thought.thought}"
            label = _mermaid_label(text) + (f" {_mermaid_label(mark)}" if node.amended else "")
            lines.append(f'{indent}t{index + 1}["{label}"]')

    declare(0, "    ")
    for lane in graph.lanes[1:]:
        decided = decision_words(lane.outcome, lane.note)
        title = _mermaid_label(
            f"{lane.name} (from {lane.from_thought})" + (f" · {decided}" if decided else "")
        )
        lines.append(f'    subgraph b{lane.index}["{title}"]')
        declare(lane.index, "        ")
        lines.append("    end")
    order = sorted(
        graph.edges,
        key=lambda edge: (edge.kind == "revision", graph.nodes[edge.target].lane, edge.target, edge.source),
    )
    bold: list[int] = []
    merges: list[int] = []
    for position, edge in enumerate(order):
        source, target = f"t{edge.source + 1}", f"t{edge.target + 1}"
        if edge.kind == "sequence":
            lines.append(f"    {source} --> {target}")
        elif edge.kind == "fork":
            name = graph.lanes[graph.nodes[edge.target].lane].name
            lines.append(f'    {source} -->|"{_mermaid_label(name)}"| {target}')
        elif edge.kind == "merge":
            lines.append(f"    {source} -->|merged| {target}")
            merges.append(position)
        else:
            lines.append(f"    {source} -. revises .-> {target}")
        if graph.on_path(edge):
            bold.append(position)
    if graph.final is not None:
        lines.append(f"    style t{graph.final + 1} stroke-width:3px")
    retracted = [f"t{node.index + 1}" for node in graph.nodes if node.retracted]
    if retracted:
        grey = STATES["retracted"]["color"]
        lines.append(f"    classDef retracted fill:#fff,color:{grey},stroke:{grey},stroke-dasharray:4 3")
        lines.append(f"    class {','.join(retracted)} retracted")
    for lane in graph.lanes[1:]:
        if lane.outcome == "abandoned":
            lines.append(
                f"    style b{lane.index} opacity:{STATES['abandoned']['opacity']},stroke-dasharray:4 3"
            )
    if merges:
        lines.append(f"    linkStyle {','.join(map(str, merges))} stroke:{LINE_COLORS['merge']}")
    if bold:
        chosen = STATES["chosen"]
        lines.append(f"    linkStyle {','.join(map(str, bold))} stroke-width:{chosen['width']}px")
    return "\n".join(lines) + "\n"


def _html_item(snapshot: SessionSnapshot, thought: Thought) -> str:
    body = markdown_html(thought.thought)
    if snapshot.is_retracted(thought):
        grey = STATES["retracted"]
        body = f"<div style='text-decoration:line-through;color:{grey['color']};opacity:{grey['opacity']}'>{body}</div>"
    earlier = "".join(
        f"<div class='earlier'><i>Earlier text:</i> {html.escape(' '.join(text.split()))}</div>"
        for text in snapshot.earlier_texts(thought)
    )
    return f"<li><b>{html.escape(_heading(snapshot, thought))}</b><div class='thought'>{body}</div>{earlier}</li>"


def to_html(session: Session | SessionSnapshot) -> str:
    """A standalone HTML page: the session's graph (inline SVG), the decisions and merges, and its
    thoughts, Markdown rendered (retracted ones struck through, amended ones with their earlier texts)."""
    snapshot = session.snapshot()
    summary = summarize(snapshot)
    items = "".join(_html_item(snapshot, t) for t in snapshot.thoughts)
    title = html.escape(snapshot.id)
    counts = f"{summary.status} · {plural(summary.thoughts, 'thought')}"
    if summary.retracted:
        counts += f" · {summary.retracted} retracted"
    decided = [
        f"<li>{html.escape(b.branch_id)}: {html.escape(decision_words(b.outcome, b.note))}</li>"
        for b in summary.branches
        if b.outcome
    ]
    decided += [f"<li>merged: {html.escape(m.as_text())}</li>" for m in summary.merges]
    outcome = f"<ul class='decisions'>{''.join(decided)}</ul>" if decided else ""
    conclusion = (
        f"<div class='conclusion'><b>Conclusion:</b>{markdown_html(summary.conclusion)}</div>"
        if summary.conclusion is not None
        else ""
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Session {title}</title></head><body style='font-family:sans-serif'>"
        f"<h1>Session {title}</h1><p>{counts}</p>"
        f"{render_svg(snapshot)}{outcome}{conclusion}<ol>{items}</ol></body></html>\n"
    )
