"""The tables the magics list: ``%branch`` (branches), ``%session --list`` (sessions), ``--search`` (matches).

Each is a :class:`~jupyter_think.views.display.Card`: a deterministic ``text/plain`` (no times, ids or
addresses; control characters made visible) and an HTML table (every text escaped). Counts leave
retracted thoughts out, and a branch shows its decision and where it was merged.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_think.views.display import Card
from jupyter_think.views.escape import escape_controls
from jupyter_think.views.render import decision_words
from jupyter_think.views.tables import Html, html_table
from jupyter_think.views.text import plural

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.core.session.session import Session, SessionSnapshot


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
        said = [decision_words(b.outcome, b.note)] if b.outcome else []
        said += [f"merged into {', '.join(merged[b.id])}"] if b.id in merged else []
        rows.append(("*" if active == b.id else " ", b.id, str(b.from_thought), b.thoughts, " · ".join(said)))
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
    table = html_table(
        ["active", "branch", "from", "thoughts"] + (["outcome"] if decided else []),
        (
            ["●" if mark == "*" else "", name, fork, count] + ([notes] if decided else [])
            for mark, name, fork, count, notes in cells
        ),
        sections=False,
    )
    html_text = (
        f'<div class="jupyter-think-branches"><b>Branches of {html.escape(snapshot.id)}</b>{table}</div>'
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
    table = html_table(
        ["active", "session", "where", "thoughts"],
        (["●" if active else "", sid, where, count] for sid, where, count, active in rows),
        sections=False,
    )
    html_text = f'<div class="jupyter-think-sessions">{table}</div>'
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
    table = html_table(
        ["session", "thought", "where"],
        ([hit.session_id, hit.thought_number, _marked(hit.snippet)] for hit in hits),
        sections=False,
    )
    body = f'<div class="jupyter-think-search"><div><b>{html.escape(head)}</b></div>{table}</div>'
    return Card("\n".join(lines), body)


def _marked(snippet: str) -> Html:
    """A snippet's [matches] as <mark> elements, everything else escaped."""
    parts = re.split(r"\[([^\[\]]*)\]", snippet)
    return Html(
        "".join(
            html.escape(part) if i % 2 == 0 else f"<mark>{html.escape(part)}</mark>"
            for i, part in enumerate(parts)
        )
    )
