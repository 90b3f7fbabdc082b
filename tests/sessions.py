"""Sessions that several test modules draw: one builder, so layout and rendering test the same shape."""

from __future__ import annotations

from jupyter_think import Session


def proof_session(session_id: str = "proof", into: Session | None = None) -> Session:
    """Trunk 1-2-3, branch induction from 2 (two thoughts), a revision of 2, branch geometry from 3,
    then the conclusion: 8 thoughts, 2 branches, 1 revision. Built in ``into`` when given."""
    s = into if into is not None else Session(session_id)
    s.think("Restate the problem", total=5)
    s.think("Small cases")
    s.think("Guess n squared")
    s.branch("induction", from_thought=2)
    s.think("Base case")
    s.think("Step")
    s.switch_branch("main")
    s.revise(2, "Small cases again")
    s.branch("geometry", from_thought=3)
    s.think("L-shapes")
    s.switch_branch("main")
    s.think("Conclude: the sum is n squared", done=True)
    return s
