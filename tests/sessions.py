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


def lesson_session(session_id: str = "lesson", into: Session | None = None) -> Session:
    """A worked problem with every teaching change: thought 3 amended (a typo), branch ``proof`` from 4
    with a dead end (its thought 6) retracted and then abandoned with a note, branch ``search`` from 4
    chosen with a note and merged into the trunk, where a revision of 4 and the conclusion follow.
    11 thoughts recorded, 1 retracted; built in ``into`` when given."""
    s = into if into is not None else Session(session_id)
    s.think("Restate: is 2**n - 1 prime for every prime n?", total=6)
    s.think("Compute small cases")
    s.think("2, 3, 5, 7 give 3, 7, 31, 217: all prime")
    s.think("Guess: always prime")
    s.amend(3, "2, 3, 5, 7 give 3, 7, 31, 127: all prime")
    s.branch("proof", from_thought=4)
    s.think("Look for a factor of 2**n - 1")
    s.think("Induction on n: from one prime to the next")
    s.retract(6)
    s.think("If n = a*b then 2**a - 1 divides 2**n - 1")
    s.branch("search", from_thought=4)
    s.think("Search the next primes, 11 and 13")
    s.think("2**11 - 1 = 2047 = 23 * 89: a counterexample")
    s.decide("search", "chosen", note="one counterexample settles it")
    s.decide("proof", "abandoned", note="it proves the converse, not the guess")
    s.merge("search")
    s.revise(4, "The guess is false: n = 11")
    s.think("Conclusion: a prime n is needed, not enough", done=True)
    return s
