"""Deterministic displays: a thought card and a session summary (the tables are in listings.py).

Each display object gives ``text/plain`` (no times, ids or addresses, so nbval can compare it) and
a styled ``text/html``. A thought's text is Markdown: ``text/html`` shows it rendered (CommonMark,
raw HTML shown as text, see :mod:`jupyter_think.views.richtext`); ``text/plain`` shows it as typed, with
control characters made visible (``text/plain`` also reaches terminals: IPython, ``jupyter console``).

The teaching state shows everywhere: an amended thought is marked ``amended`` (its card lists the
earlier texts), a retracted one ``retracted`` (struck through and greyed in HTML) and left out of the
counts; branches show their decision and note, merges are listed, and the conclusion is the one on
the chosen path (see :mod:`jupyter_think.core.session.snapshot`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from jupyter_think.core.models import Thought
from jupyter_think.views.escape import escape_controls
from jupyter_think.views.render import decision_words
from jupyter_think.views.richtext import markdown_html
from jupyter_think.views.tables import html_table
from jupyter_think.views.text import first_line, plural
from jupyter_think.views.theme import KIND_COLORS, STATES, thought_kind

if TYPE_CHECKING:
    from jupyter_think.core.session.session import Session, SessionSnapshot

_CARD_STYLE = (
    "border-left:4px solid {color};padding:4px 10px;margin:2px 0;"
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
)
NO_TYPESETTER = "tex2jax_ignore mathjax_ignore"
"""Classes that keep JupyterLab's MathJax off a thought: its maths is MathML already, and a price
(``$5 and $10``) is not maths."""
_RETRACTED_STYLE = "text-decoration:line-through;color:{color};opacity:{opacity}"


def thought_heading(
    thought: Thought, session_id: str | None = None, *, amended: bool = False, retracted: bool = False
) -> str:
    """The one-line heading of a thought card: number, lane, revision, teaching and status marks.

    Example:
        >>> t = Thought(thought="x", thought_number=2, total_thoughts=4, next_thought_needed=True,
        ...             branch_id="alt", branch_from_thought=1)
        >>> thought_heading(t)
        'Thought 2/4 · branch alt (from 1)'
        >>> thought_heading(t, amended=True, retracted=True)
        'Thought 2/4 · branch alt (from 1) · amended · retracted'
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
    if amended:
        parts.append("amended")
    if retracted:
        parts.append("retracted")
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


def _indented(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in escape_controls(text).splitlines() or [""])


def thought_card(
    thought: Thought, session_id: str | None = None, *, earlier: Sequence[str] = (), retracted: bool = False
) -> Card:
    """The card ``%think`` shows for a recorded thought: its Markdown rendered in ``text/html``.

    ``earlier`` are the texts an amended thought had before (listed under its text, marked
    ``was:``); a ``retracted`` thought is marked so, and struck through and greyed in HTML.

    Example:
        >>> t = Thought(thought="Use **bold**", thought_number=1, total_thoughts=1, next_thought_needed=True)
        >>> print(thought_card(t))
        Thought 1/1
          Use **bold**
        >>> "<strong>bold</strong>" in thought_card(t).html
        True
        >>> print(thought_card(t, earlier=["Use *bold*"]))
        Thought 1/1 · amended
          Use **bold**
          was: Use *bold*
    """
    heading = thought_heading(thought, session_id, amended=bool(earlier), retracted=retracted)
    lines = [heading, _indented(thought.thought)]
    lines += [_indented(text, "  was: ") for text in earlier]
    color = STATES["retracted"]["color"] if retracted else KIND_COLORS[thought_kind(thought)]
    body = markdown_html(thought.thought)
    if retracted:
        style = _RETRACTED_STYLE.format(color=color, opacity=STATES["retracted"]["opacity"])
        body = f'<div class="jupyter-think-retracted" style="{style}">{body}</div>'
    was = "".join(
        f'<div class="jupyter-think-earlier" style="opacity:0.7"><i>was:</i> {html.escape(" ".join(text.split()))}</div>'
        for text in earlier
    )
    html_text = (
        f'<div class="jupyter-think-card" style="{_CARD_STYLE.format(color=color)}">'
        f'<div style="font-weight:600;color:{color}">{html.escape(heading)}</div>'
        f'<div class="jupyter-think-text {NO_TYPESETTER}">{body}</div>{was}</div>'
    )
    return Card("\n".join(lines), html_text)


def card_in(session: Session | SessionSnapshot, thought: Thought, session_id: str | None = None) -> Card:
    """The card of ``thought`` as it stands in ``session``: current text, earlier texts, retracted or not.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("c"); _ = s.think("Teh plan"); fixed = s.amend(1, "The plan")
        >>> print(card_in(s, fixed))
        Thought 1/1 · amended
          The plan
          was: Teh plan
    """
    snapshot = session.snapshot()
    return thought_card(
        thought, session_id, earlier=snapshot.earlier_texts(thought), retracted=snapshot.is_retracted(thought)
    )


class BranchSummary(BaseModel):
    """One branch in a summary: fork point, size (counted thoughts) and its decision."""

    model_config = ConfigDict(frozen=True)

    branch_id: str
    from_thought: int
    thoughts: int
    outcome: str | None = None
    note: str | None = None


class MergeSummary(BaseModel):
    """One merge in a summary: the branch, its target (``main`` for the trunk), the thought it ended at."""

    model_config = ConfigDict(frozen=True)

    branch_id: str
    into: str
    after: int

    def as_text(self) -> str:
        """``search into main after thought 6``."""
        return f"{self.branch_id} into {self.into} after thought {self.after}"


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
    amended: int = 0
    retracted: int = 0
    merges: list[MergeSummary] = []

    def _counts(self) -> str:
        parts = [
            f"trunk {self.trunk}",
            plural(len(self.branches), "branch", "branches"),
            plural(self.revisions, "revision"),
        ]
        if self.amended:
            parts.append(f"{self.amended} amended")
        if self.retracted:
            parts.append(f"{self.retracted} retracted")
        return ", ".join(parts)

    def as_text(self) -> str:
        """The deterministic ``text/plain`` form.

        Thoughts are counted without the retracted ones; a decided branch shows its decision and
        note; merges follow the branches, then the conclusion.
        """
        lines = [
            (
                f"Session {self.session_id} · {self.status} · {plural(self.thoughts, 'thought')} "
                f"({self._counts()}) · estimate {self.total_estimate}"
            )
        ]
        lines.append(f"  active: {self.active_branch or 'main'}")
        for branch in self.branches:
            decided = decision_words(branch.outcome, branch.note)
            lines.append(
                f"  branch {branch.branch_id}: from {branch.from_thought}, {plural(branch.thoughts, 'thought')}"
                + (f" · {escape_controls(decided)}" if decided else "")
            )
        for merge in self.merges:
            lines.append(f"  merged: {merge.as_text()}")
        if self.conclusion is not None:
            lines.append(f"  conclusion: {escape_controls(first_line(self.conclusion))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.as_text()

    def __str__(self) -> str:
        return self.as_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.as_text())

    def _repr_html_(self) -> str:
        decided = any(b.outcome for b in self.branches)
        rows: list[list[str | int]] = []
        for b in self.branches:
            rows.append([b.branch_id, b.from_thought, b.thoughts])
            if decided:
                rows[-1].append(decision_words(b.outcome, b.note))
        header = ["branch", "from", "thoughts"] + (["decision"] if decided else [])
        table = html_table(header, rows, attributes={"style": "margin:4px 0"}, sections=False) if rows else ""
        merges = "".join(
            f'<div class="jupyter-think-merge">merged: {html.escape(m.as_text())}</div>' for m in self.merges
        )
        conclusion = (
            f'<div class="jupyter-think-conclusion {NO_TYPESETTER}"><b>Conclusion:</b>'
            f"{markdown_html(self.conclusion)}</div>"
            if self.conclusion is not None
            else ""
        )
        return (
            f'<div class="jupyter-think-summary" style="{_CARD_STYLE.format(color=KIND_COLORS["thought"])}">'
            f"<div><b>Session {html.escape(self.session_id)}</b> · {self.status} · {plural(self.thoughts, 'thought')} "
            f"({self._counts()}) · "
            f"estimate {self.total_estimate} · active: {html.escape(self.active_branch or 'main')}</div>"
            f"{table}{merges}{conclusion}</div>"
        )


def summarize(session: Session | SessionSnapshot) -> SessionSummary:
    """Build the :class:`SessionSummary` of a session (``Session.summary()``), from one snapshot.

    Retracted thoughts are left out of every count and the estimate; the conclusion is the
    snapshot's (on the chosen path when a branch is chosen).
    """
    snapshot = session.snapshot()
    counted = snapshot.counted
    retracted = snapshot.retracted

    def size(thoughts: Sequence[Thought]) -> int:
        return len(thoughts) if not retracted else sum(1 for t in thoughts if t.id not in retracted)

    last = counted[-1] if counted else None
    conclusion = snapshot.conclusion
    return SessionSummary(
        session_id=snapshot.id,
        status="open" if conclusion is None else "complete",
        thoughts=len(counted),
        trunk=size(snapshot.trunk),
        revisions=sum(1 for t in counted if t.is_revision),
        total_estimate=last.total_thoughts if last else 0,
        active_branch=snapshot.active_branch,
        branches=[
            BranchSummary(
                branch_id=b.id,
                from_thought=b.from_thought,
                thoughts=size(b.thoughts),
                outcome=b.outcome,
                note=b.note,
            )
            for b in snapshot.branches.values()
        ],
        conclusion=conclusion.thought if conclusion is not None else None,
        amended=len(snapshot.amended),
        retracted=len(retracted),
        merges=[
            MergeSummary(branch_id=m.branch_id, into=m.into or "main", after=m.thought_number)
            for m in snapshot.merges
        ],
    )
