"""Deterministic displays: a thought card, a session summary, branch and session tables.

Each display object gives ``text/plain`` (no times, ids or addresses, so nbval can compare it) and
a styled ``text/html``. A thought's text is Markdown: ``text/html`` shows it rendered (CommonMark,
raw HTML shown as text, see :mod:`jupyter_think.richtext`); ``text/plain`` shows it as typed, with
control characters made visible (``text/plain`` also reaches terminals: IPython, ``jupyter console``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from . import views
from .models import Thought
from .render import escape_controls
from .richtext import markdown_html
from .theme import KIND_COLORS, thought_kind

if TYPE_CHECKING:
    from .session import Session, SessionSnapshot

_CARD_STYLE = (
    "border-left:4px solid {color};padding:4px 10px;margin:2px 0;"
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
)
def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 thought``, ``2 thoughts``, ``1 branch``, ``0 branches``.

    Example:
        >>> plural(1, "revision"), plural(2, "branch", "branches")
        ('1 revision', '2 branches')
    """
    return f"{count} {word if count == 1 else many or word + 's'}"




def thought_heading(thought: Thought, session_id: str | None = None) -> str:
    """The one-line heading of a thought card: number, lane, revision and status marks.

    Example:
        >>> t = Thought(thought="x", thought_number=2, total_thoughts=4, next_thought_needed=True,
        ...             branch_id="alt", branch_from_thought=1)
        >>> thought_heading(t)
        'Thought 2/4 · branch alt (from 1)'
    """
    parts = [f"Thought {thought.thought_number}/{thought.total_thoughts}"]
    if session_id is not None:
        parts.append(f"session {session_id}")
    if thought.branch_id is not None and thought.branch_from_thought is not None:
        parts.append(f"branch {thought.branch_id} (from {thought.branch_from_thought})")
    elif thought.branch_id is not None:
        parts.append(f"branch {thought.branch_id}")
    if thought.is_revision:
        parts.append(f"revises {thought.revises_thought}" if thought.revises_thought else "revision")
    if thought.needs_more_thoughts:
        parts.append("needs more")
    if not thought.next_thought_needed:
        parts.append("done")
    return " · ".join(parts)


class Card:
    """A display object with fixed ``text/plain`` and ``text/html`` (what magics show)."""

    def __init__(self, plain: str, html_text: str) -> None:
        self.plain = plain
        self.html = html_text

    def __repr__(self) -> str:
        return self.plain

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.plain)

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.plain, "text/html": self.html}


def thought_card(thought: Thought, session_id: str | None = None) -> Card:
    """The card ``%think`` shows for a recorded thought: its Markdown rendered in ``text/html``.

    Example:
        >>> t = Thought(thought="Use **bold**", thought_number=1, total_thoughts=1, next_thought_needed=True)
        >>> print(thought_card(t))
        Thought 1/1
          Use **bold**
        >>> "<strong>bold</strong>" in thought_card(t).html
        True
    """
    heading = thought_heading(thought, session_id)
    text = escape_controls(thought.thought)
    body = "\n".join("  " + line for line in text.splitlines() or [""])
    color = KIND_COLORS[thought_kind(thought)]
    html_text = (
        f'<div class="jupyter-think-card" style="{_CARD_STYLE.format(color=color)}">'
        f'<div style="font-weight:600;color:{color}">{html.escape(heading)}</div>'
        f'<div class="jupyter-think-text">{markdown_html(thought.thought)}</div></div>'
    )
    return Card(f"{heading}\n{body}", html_text)


class BranchSummary(BaseModel):
    """One branch in a summary: fork point and size."""

    model_config = ConfigDict(frozen=True)

    branch_id: str
    from_thought: int
    thoughts: int


class SessionSummary(BaseModel):
    """What ``Session.summary()`` returns: counts, branches, revisions, status, conclusion."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    status: str
    thoughts: int
    trunk: int
    revisions: int
    total_estimate: int
    active_branch: str | None
    branches: list[BranchSummary]
    conclusion: str | None

    def as_text(self) -> str:
        """The deterministic ``text/plain`` form."""
        plural = "s" * (self.thoughts != 1)
        lines = [
            f"Session {self.session_id} · {self.status} · {self.thoughts} thought{plural} "
            f"(trunk {self.trunk}, {len(self.branches)} branch{'es' * (len(self.branches) != 1)}, "
            f"{self.revisions} revision{'s' * (self.revisions != 1)}) · estimate {self.total_estimate}"
        ]
        lines.append(f"  active: {self.active_branch or 'main'}")
        for branch in self.branches:
            lines.append(f"  branch {branch.branch_id}: from {branch.from_thought}, {branch.thoughts} thought{'s' * (branch.thoughts != 1)}")
        if self.conclusion is not None:
            lines.append(f"  conclusion: {escape_controls(_first_line(self.conclusion))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.as_text()

    def __str__(self) -> str:
        return self.as_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.as_text())

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(b.branch_id)}</td><td>{b.from_thought}</td><td>{b.thoughts}</td></tr>"
            for b in self.branches
        )
        table = (
            '<table style="margin:4px 0"><tr><th>branch</th><th>from</th><th>thoughts</th></tr>'
            f"{rows}</table>"
            if rows
            else ""
        )
        conclusion = (
            f'<div class="jupyter-think-conclusion"><b>Conclusion:</b>{markdown_html(self.conclusion)}</div>'
            if self.conclusion is not None
            else ""
        )
        return (
            f'<div class="jupyter-think-summary" style="{_CARD_STYLE.format(color=KIND_COLORS["thought"])}">'
            f"<div><b>Session {html.escape(self.session_id)}</b> · {self.status} · {plural(self.thoughts, 'thought')} "
            f"(trunk {self.trunk}, {plural(len(self.branches), 'branch', 'branches')}, "
            f"{plural(self.revisions, 'revision')}) · "
            f"estimate {self.total_estimate} · active: {html.escape(self.active_branch or 'main')}</div>"
            f"{table}{conclusion}</div>"
        )


def _first_line(text: str, width: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def summarize(session: Session | SessionSnapshot) -> SessionSummary:
    """Build the :class:`SessionSummary` of a session (``Session.summary()``), from one snapshot."""
    snapshot = session.snapshot()
    thoughts = snapshot.thoughts
    last = thoughts[-1] if thoughts else None
    return SessionSummary(
        session_id=snapshot.id,
        status=snapshot.status,
        thoughts=len(thoughts),
        trunk=len(snapshot.trunk),
        revisions=sum(1 for t in thoughts if t.is_revision),
        total_estimate=last.total_thoughts if last else 0,
        active_branch=snapshot.active_branch,
        branches=[
            BranchSummary(branch_id=b.id, from_thought=b.from_thought, thoughts=len(b.thoughts))
            for b in snapshot.branches.values()
        ],
        conclusion=last.thought if last is not None and snapshot.status == "complete" else None,
    )


views.register("summary", summarize)


def branch_table(session: Session | SessionSnapshot) -> Card:
    """The table ``%branch`` shows: the trunk and each branch, fork point, size, which is active."""
    session = session.snapshot()
    active = session.active_branch
    rows = [("*" if active is None else " ", "main", "-", len(session.trunk))]
    rows += [
        ("*" if active == b.id else " ", b.id, str(b.from_thought), len(b.thoughts))
        for b in session.branches.values()
    ]
    width = max(len(r[1]) for r in rows)
    plain = [f"Branches of {session.id} (* active)"]
    plain += [f"{mark} {name:<{width}}  from {fork:>3}  {count} thought{'s' * (count != 1)}" for mark, name, fork, count in rows]
    body = "".join(
        f"<tr><td>{'●' if mark == '*' else ''}</td><td>{html.escape(name)}</td><td>{fork}</td><td>{count}</td></tr>"
        for mark, name, fork, count in rows
    )
    html_text = (
        f'<div class="jupyter-think-branches"><b>Branches of {html.escape(session.id)}</b>'
        f"<table><tr><th>active</th><th>branch</th><th>from</th><th>thoughts</th></tr>{body}</table></div>"
    )
    return Card("\n".join(plain), html_text)


def session_table(rows: Sequence[tuple[str, str, int, bool]]) -> Card:
    """The table ``%session --list`` shows; rows are (id, where: memory or store, thoughts, active)."""
    if not rows:
        return Card("No sessions yet.", "<div>No sessions yet.</div>")
    width = max(len(r[0]) for r in rows)
    plain = ["Sessions (* active)"]
    for session_id, where, count, active in rows:
        shown = plural(count, "thought")
        plain.append(f"{'*' if active else ' '} {session_id:<{width}}  {where:<6}  {shown}")
    body = "".join(
        f"<tr><td>{'●' if active else ''}</td><td>{html.escape(sid)}</td><td>{where}</td>"
        f"<td>{count}</td></tr>"
        for sid, where, count, active in rows
    )
    html_text = (
        '<div class="jupyter-think-sessions"><table><tr><th>active</th><th>session</th><th>where</th>'
        f"<th>thoughts</th></tr>{body}</table></div>"
    )
    return Card("\n".join(plain), html_text)


def search_table(hits: Sequence[Any], words: str) -> Card:
    """The matches ``%session --search`` shows: session, thought number and snippet, best first.

    Matched words are in [brackets] in ``text/plain`` and highlighted in ``text/html``.

    Example:
        >>> from jupyter_think.store import SearchHit
        >>> print(search_table([SearchHit("design", 2, 2, "Measure the [cache]", 1.0)], "cache").plain)
        Search "cache" · 1 match
          design  #2  Measure the [cache]
    """
    head = f'Search "{words}" · {plural(len(hits), "match", "matches")}'
    if not hits:
        return Card(head, f"<div>{html.escape(head)}</div>")
    width = max(len(hit.session_id) for hit in hits)
    number_width = max(len(str(hit.thought_number)) for hit in hits) + 1
    lines = [head]
    for hit in hits:
        snippet = " ".join(escape_controls(hit.snippet).split())
        lines.append(f"  {hit.session_id:<{width}}  {'#' + str(hit.thought_number):<{number_width}}  {snippet}")
    rows = "".join(
        f"<tr><td>{html.escape(hit.session_id)}</td><td>{hit.thought_number}</td>"
        f"<td>{_marked(hit.snippet)}</td></tr>"
        for hit in hits
    )
    body = (
        f'<div class="jupyter-think-search"><div><b>{html.escape(head)}</b></div><table>'
        f"<tr><th>session</th><th>thought</th><th>where</th></tr>{rows}</table></div>"
    )
    return Card("\n".join(lines), body)


def _marked(snippet: str) -> str:
    """A snippet's [matches] as <mark> elements, everything else escaped."""
    parts = re.split(r"\[([^\[\]]*)\]", snippet)
    return "".join(html.escape(part) if i % 2 == 0 else f"<mark>{html.escape(part)}</mark>" for i, part in enumerate(parts))
