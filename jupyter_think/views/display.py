"""Deterministic displays: a thought card, a session summary, branch and session tables.

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
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from jupyter_think.core.models import Thought
from jupyter_think.views import registry as views
from jupyter_think.views.render import decision_words, escape_controls
from jupyter_think.views.richtext import markdown_html
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


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 thought``, ``2 thoughts``, ``1 branch``, ``0 branches``.

    Example:
        >>> plural(1, "revision"), plural(2, "branch", "branches")
        ('1 revision', '2 branches')
    """
    return f"{count} {word if count == 1 else many or word + 's'}"


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
            lines.append(f"  conclusion: {escape_controls(_first_line(self.conclusion))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.as_text()

    def __str__(self) -> str:
        return self.as_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.as_text())

    def _repr_html_(self) -> str:
        decided = any(b.outcome for b in self.branches)
        rows = "".join(
            f"<tr><td>{html.escape(b.branch_id)}</td><td>{b.from_thought}</td><td>{b.thoughts}</td>"
            + (f"<td>{html.escape(decision_words(b.outcome, b.note))}</td>" if decided else "")
            + "</tr>"
            for b in self.branches
        )
        table = (
            '<table style="margin:4px 0"><tr><th>branch</th><th>from</th><th>thoughts</th>'
            + ("<th>decision</th>" if decided else "")
            + f"</tr>{rows}</table>"
            if rows
            else ""
        )
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


def _first_line(text: str, width: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


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


views.register("summary", summarize)


def branch_table(session: Session | SessionSnapshot) -> Card:
    """The table ``%branch`` shows: the trunk and each branch, fork point, size (counted thoughts),
    which is active, and each branch's decision and merges.

    Example:
        >>> from jupyter_think import Session
        >>> s = Session("t"); _ = s.think("Guess"); _ = s.branch("proof", from_thought=1)
        >>> _ = s.think("A proof"); _ = s.decide("proof", "chosen", note="short"); _ = s.merge("proof")
        >>> print(branch_table(s))
        Branches of t (* active)
        * main   from   -  1 thought
          proof  from   1  1 thought  chosen: short · merged into main
    """
    snapshot = session.snapshot()
    active = snapshot.active_branch
    retracted = snapshot.retracted

    def size(thoughts: Sequence[Thought]) -> int:
        return len(thoughts) if not retracted else sum(1 for t in thoughts if t.id not in retracted)

    merged: dict[str, list[str]] = {}
    for merge in snapshot.merges:
        targets = merged.setdefault(merge.branch_id, [])
        if (merge.into or "main") not in targets:
            targets.append(merge.into or "main")
    rows = [("*" if active is None else " ", "main", "-", snapshot.trunk, "")]
    for b in snapshot.branches.values():
        notes = [decision_words(b.outcome, b.note)] if b.outcome else []
        notes += [f"merged into {', '.join(merged[b.id])}"] if b.id in merged else []
        rows.append(
            ("*" if active == b.id else " ", b.id, str(b.from_thought), b.thoughts, " · ".join(notes))
        )
    width = max(len(r[1]) for r in rows)
    plain = [f"Branches of {snapshot.id} (* active)"]
    cells = []
    for mark, name, fork, thoughts, notes in rows:
        counted = size(thoughts)
        withdrawn = f"{len(thoughts) - counted} retracted" if len(thoughts) != counted else ""
        shown = plural(counted, "thought") + (f", {withdrawn}" if withdrawn else "")
        plain.append(
            f"{mark} {name:<{width}}  from {fork:>3}  {shown}"
            + (f"  {escape_controls(notes)}" if notes else "")
        )
        cells.append((mark, name, fork, f"{counted} ({withdrawn})" if withdrawn else str(counted), notes))
    decided = any(r[4] for r in rows)
    body = "".join(
        f"<tr><td>{'●' if mark == '*' else ''}</td><td>{html.escape(name)}</td><td>{fork}</td><td>{count}</td>"
        + (f"<td>{html.escape(notes)}</td>" if decided else "")
        + "</tr>"
        for mark, name, fork, count, notes in cells
    )
    html_text = (
        f'<div class="jupyter-think-branches"><b>Branches of {html.escape(snapshot.id)}</b>'
        "<table><tr><th>active</th><th>branch</th><th>from</th><th>thoughts</th>"
        + ("<th>outcome</th>" if decided else "")
        + f"</tr>{body}</table></div>"
    )
    return Card("\n".join(plain), html_text)


def session_table(rows: Sequence[tuple[str, str, int, bool]]) -> Card:
    """The table ``%session --list`` shows; rows are (id, where: memory or store, thoughts, active).

    Another user's session (a teacher's view of the class, a session shared with you) shows as
    ``OWNER/ID``: its owner is in its name."""
    if not rows:
        return Card("No sessions yet.", "<div>No sessions yet.</div>")
    width = max(len(r[0]) for r in rows)
    plain = ["Sessions (* active)"]
    for session_id, where, count, active in rows:
        shown = plural(count, "thought")
        plain.append(f"{'*' if active else ' '} {escape_controls(session_id):<{width}}  {where:<6}  {shown}")
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
        lines.append(
            f"  {hit.session_id:<{width}}  {'#' + str(hit.thought_number):<{number_width}}  {snippet}"
        )
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
    return "".join(
        html.escape(part) if i % 2 == 0 else f"<mark>{html.escape(part)}</mark>"
        for i, part in enumerate(parts)
    )
