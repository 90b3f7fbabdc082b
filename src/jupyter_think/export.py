"""Exports of a session: Markdown, Mermaid, JSON and a standalone HTML page.

Pure functions of a session's thoughts; deterministic (no times or ids), so exports diff well.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Literal

from .display import thought_heading

if TYPE_CHECKING:
    from .session import Session

ExportFormat = Literal["markdown", "json", "mermaid", "html"]
FORMATS: dict[str, ExportFormat] = {
    "markdown": "markdown",
    "md": "markdown",
    "json": "json",
    "mermaid": "mermaid",
    "mmd": "mermaid",
    "html": "html",
}
SUFFIXES: dict[ExportFormat, str] = {"markdown": ".md", "json": ".json", "mermaid": ".mmd", "html": ".html"}


def export(session: Session, fmt: str) -> str:
    """The session in format ``fmt`` (markdown/md, json, mermaid/mmd, html).

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("x"); _ = s.think("only", done=True)
        >>> export(s, "md").splitlines()[0]
        '# Session x'
    """
    kind = FORMATS.get(fmt.lower())
    if kind is None:
        raise ValueError(f"unknown export format {fmt!r}: use one of markdown, json, mermaid, html")
    if kind == "json":
        return session.to_json(indent=2)
    return {"markdown": to_markdown, "mermaid": to_mermaid, "html": to_html}[kind](session)


def to_markdown(session: Session) -> str:
    """The trunk, then each branch, each thought under its heading; revisions and the end marked."""
    summary = session.summary()
    lines = [f"# Session {session.id}", "", f"Status: {summary.status} · {summary.thoughts} thought{'s' * (summary.thoughts != 1)}", ""]
    lines += ["## Trunk", ""]
    for thought in session.trunk:
        lines += [f"### {thought_heading(thought)}", "", thought.thought, ""]
    for branch in session.branches.values():
        lines += [f"## Branch {branch.id} (from thought {branch.from_thought})", ""]
        for thought in branch.thoughts:
            lines += [f"### {thought_heading(thought)}", "", thought.thought, ""]
    if summary.conclusion is not None:
        lines += ["## Conclusion", "", summary.conclusion, ""]
    return "\n".join(lines)


_MERMAID_ENTITIES = str.maketrans(
    {"#": "#35;", '"': "#quot;", "[": "#91;", "]": "#93;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}
)
"""Characters that would end or change a quoted Mermaid label, as Mermaid's own ``#name;`` codes.

Mermaid turns ``#quot;`` into ``&quot;`` before drawing; HTML entities written directly would be
mangled (``&#91;`` would show as ``&[``), and a literal ``#`` followed by a word and ``;`` would be
read as a code, so ``#`` itself is escaped too.
"""


def _mermaid_label(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters, safe inside ``["..."]``.

    Example:
        >>> _mermaid_label('Say "hi" [twice]  # then stop')
        'Say #quot;hi#quot; #91;twice#93; #35; then stop'
    """
    line = " ".join(text.split())
    if len(line) > width:
        line = line[: width - 1] + "…"
    return line.translate(_MERMAID_ENTITIES)


def to_mermaid(session: Session) -> str:
    """A Mermaid ``flowchart TD``: trunk in order, branches as subgraphs, revisions dotted.

    Node names are positions in the history (``t1``, ``t2``, ...), so output is deterministic.
    """
    thoughts = session.thoughts
    lines = ["flowchart TD"]
    node_of: dict[str, str] = {}
    last_number: dict[tuple[str | None, int], str] = {}
    for index, thought in enumerate(thoughts, start=1):
        node_of[thought.id] = f"t{index}"
    trunk_ids = {t.id for t in session.trunk}

    def declare(thought_list: tuple) -> None:
        for thought in thought_list:
            label = _mermaid_label(f"{thought.thought_number}. {thought.thought}")
            lines.append(f'    {node_of[thought.id]}["{label}"]')

    declare(session.trunk)
    for number, branch in enumerate(session.branches.values(), start=1):
        # Generated subgraph ids: a branch may be named like a keyword ("end") or a node ("t1").
        lines.append(f'    subgraph b{number}["{branch.id} (from {branch.from_thought})"]')
        declare(branch.thoughts)
        lines.append("    end")
    previous = None
    for thought in session.trunk:
        if previous is not None:
            lines.append(f"    {node_of[previous.id]} --> {node_of[thought.id]}")
        previous = thought
        last_number[(None, thought.thought_number)] = node_of[thought.id]
    for branch in session.branches.values():
        fork = last_number.get((None, branch.from_thought))
        previous_node = fork
        for thought in branch.thoughts:
            node = node_of[thought.id]
            if previous_node is not None:
                arrow = f'-->|"{branch.id}"|' if previous_node == fork else "-->"
                lines.append(f"    {previous_node} {arrow} {node}")
            previous_node = node
            last_number[(branch.id, thought.thought_number)] = node
    for thought in thoughts:
        if thought.revises_thought is None:
            continue
        lane = thought.branch_id if thought.id not in trunk_ids else None
        target = last_number.get((lane, thought.revises_thought)) or last_number.get((None, thought.revises_thought))
        if target is not None and target != node_of[thought.id]:
            lines.append(f"    {node_of[thought.id]} -. revises .-> {target}")
    if thoughts and session.status == "complete":
        lines.append(f"    style {node_of[thoughts[-1].id]} stroke-width:3px")
    return "\n".join(lines) + "\n"


def to_html(session: Session) -> str:
    """A standalone HTML page: the session's graph (inline SVG) and its thoughts in order."""
    from .render import render_svg

    summary = session.summary()
    items = "".join(
        f"<li><b>{html.escape(thought_heading(t))}</b><div style='white-space:pre-wrap'>{html.escape(t.thought)}</div></li>"
        for t in session.thoughts
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Session {html.escape(session.id)}</title></head><body style='font-family:sans-serif'>"
        f"<h1>Session {html.escape(session.id)}</h1><p>{summary.status} · {summary.thoughts} thought{'s' * (summary.thoughts != 1)}</p>"
        f"{render_svg(session)}<ol>{items}</ol></body></html>\n"
    )
