"""Static rendering of a session's graph (placeholder until the layout/SVG renderer lands)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session


def render_svg(session: Session) -> str:
    """An inline SVG of the session (placeholder: one row per thought)."""
    rows = "".join(
        f'<text x="10" y="{20 * (i + 1)}">{html.escape(str(t.thought_number))}. {html.escape(t.thought[:60])}</text>'
        for i, t in enumerate(session.thoughts)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="{20 * (len(session) + 1)}">{rows}</svg>'
