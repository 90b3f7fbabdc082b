"""diff(): two hand-built runs aligned step by step, with known answers; its text and HTML forms."""

from __future__ import annotations

import pytest

from jupyter_think import Session, diff
from jupyter_think.experiments.diff import similarity

RESTATE = "Restate: 9 coins, one is heavier; find it with a balance"


def run(session_id: str, texts: list[str], done: bool = True) -> Session:
    session = Session(session_id)
    for n, text in enumerate(texts, start=1):
        session.think(text, total=len(texts), done=done and n == len(texts))
    return session


def halves_and_thirds() -> tuple[Session, Session]:
    thirds = run(
        "thirds",
        [
            RESTATE,
            "Weigh half against half: 4 against 4",
            "A weighing has three outcomes, so use three groups",
            "Three groups of three: 3 against 3, then 1 against 1",
            "Two weighings are enough",
        ],
    )
    halves = run(
        "halves",
        [
            RESTATE,
            "Weigh half against half: 4 against 4 coins",
            "Keep halving the heavier side",
            "Three weighings in the worst case",
        ],
    )
    return thirds, halves


def test_runs_agree_then_diverge_and_each_goes_its_own_way() -> None:
    thirds, halves = halves_and_thirds()
    result = diff(thirds, halves)
    assert [step.kind for step in result.steps] == ["same", "near", "different", "different", "only_a"]
    assert result.agreed == 1 and result.near == 1 and result.divergence == 1
    assert [t.thought_number for t in result.after_a] == [2, 3, 4, 5]
    assert [t.thought_number for t in result.after_b] == [2, 3, 4]
    assert result.after() == [
        "thirds: 4 more thoughts, concluded: Two weighings are enough",
        "halves: 3 more thoughts, concluded: Three weighings in the worst case",
    ]
    assert result.headline() == "Diff thirds vs halves · 5 steps · agree on 1 · 1 near · diverge at step 2"


def test_text_form_shows_both_runs_side_by_side() -> None:
    thirds, halves = halves_and_thirds()
    assert diff(thirds, halves).as_text(width=30) == "\n".join(
        [
            "Diff thirds vs halves · 5 steps · agree on 1 · 1 near · diverge at step 2",
            "  step  thirds                          halves",
            "=    1  1 Restate: 9 coins, one is he…  1 Restate: 9 coins, one is he…",
            "~    2  2 Weigh half against half: 4 …  2 Weigh half against half: 4 …",
            "!    3  3 A weighing has three outcom…  3 Keep halving the heavier si…",
            "!    4  4 Three groups of three: 3 ag…  4 (final) Three weighings in …",
            "<    5  5 (final) Two weighings are e…",
            "After step 1:",
            "  thirds: 4 more thoughts, concluded: Two weighings are enough",
            "  halves: 3 more thoughts, concluded: Three weighings in the worst case",
            "(= same  ~ near  ! different  < only in the first  > only in the second)",
        ]
    )


def test_an_extra_step_in_one_run_is_aligned_around() -> None:
    a = run("a", ["Plan", "Compute the sum", "Check it", "Answer 42"])
    b = run("b", ["Plan", "Look up the formula", "Compute the sum", "Check it", "Answer 42"])
    result = diff(a, b)
    assert [step.kind for step in result.steps] == ["same", "only_b", "same", "same", "same"]
    assert result.agreed == 4 and result.divergence == 1
    assert [t.thought for t in result.after_b] == [
        "Look up the formula",
        "Compute the sum",
        "Check it",
        "Answer 42",
    ]


def test_steps_are_matched_by_text_not_by_number_or_lane() -> None:
    a = run("a", ["Plan the proof", "Try induction", "Conclude"])
    b = Session("b")
    b.think("Plan the proof", total=5, number=4)  # other numbers, and one step in a branch
    b.branch("idea", from_thought=4)
    b.think("Try induction!")
    b.switch_branch("main")
    b.think("Conclude", done=True)
    result = diff(a, b)
    assert [step.kind for step in result.steps] == ["same", "near", "same"]  # "!" makes another text
    assert not result.identical and result.divergence == 1
    assert result.headline() == "Diff a vs b · 3 steps · agree on 2 · 1 near · diverge at step 2"
    assert "[idea]" in result.as_text()  # the branch is shown, not hidden


def test_only_identical_text_is_the_same_step_and_near_wording_is_shown_as_near() -> None:
    a = run("a", ["Split the coins into halves", "Weigh them"], done=False)
    b = run("b", ["Split the coins into pairs", "Weigh them"], done=False)
    result = diff(a, b)
    assert [step.kind for step in result.steps] == ["near", "same"]
    assert result.agreed == 1 and not result.steps[0].agrees  # halves and pairs do not agree
    assert "~    1" in result.as_text() and 'data-kind="near"' in result._repr_html_()


def test_near_wording_keeps_its_similarity_and_a_strict_threshold_calls_it_different() -> None:
    a = run("a", ["Check the small cases one by one"], done=False)
    b = run("b", ["Check the small cases one at a time"], done=False)
    step = diff(a, b).steps[0]
    assert step.kind == "near" and not step.agrees
    assert step.similarity == pytest.approx(similarity(a.thoughts[0].thought, b.thoughts[0].thought))
    strict = diff(a, b, threshold=0.95).steps[0]
    assert strict.kind == "different" and not strict.agrees


def test_html_is_a_side_by_side_table_that_escapes_thought_text() -> None:
    a = run("a", ["Plan <script>alert(1)</script>", "Done"])
    b = run("b", ["Plan <script>alert(1)</script>", "Other & more"])
    page = diff(a, b)._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "Other &amp; more" in page
    assert page.count("<tr") == 3 and 'data-kind="same"' in page and 'data-kind="different"' in page
    assert "<th>a</th>" in page and "<th>b</th>" in page


def test_reprs_are_deterministic() -> None:
    first = diff(*halves_and_thirds())
    second = diff(*halves_and_thirds())  # other thought ids and times
    assert repr(first) == repr(second) and first._repr_html_() == second._repr_html_()


def test_control_characters_are_shown_escaped_in_the_text_form() -> None:
    a = run("a", ["red \x1b[31mALERT\x1b[0m here"], done=False)
    b = run("b", ["quiet"], done=False)
    text = diff(a, b).as_text()
    assert "\x1b" not in text and "\\x1b[31mALERT" in text


def test_empty_runs_and_one_empty_run() -> None:
    assert diff(Session("x"), Session("y")).headline() == "Diff x vs y · 0 steps · agree on 0 · both empty"
    one = diff(run("x", ["Only step"]), Session("y"))
    assert [step.kind for step in one.steps] == ["only_a"]
    assert one.after() == ["x: 1 more thought, concluded: Only step", "y: 0 more thoughts, not concluded"]


def test_long_runs_with_nothing_in_common_still_align() -> None:
    a = run("a", [f"alpha {n} " + "x" * (n % 7) for n in range(600)], done=False)
    b = run("b", [f"beta {n} " + "y" * (n % 5) for n in range(700)], done=False)
    result = diff(a, b)
    assert len(result.steps) == 700 and result.agreed == 0
    assert [s.kind for s in result.steps[-100:]] == ["only_b"] * 100


@pytest.mark.parametrize("threshold", [0, -1, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold must be above 0 and at most 1"):
        diff(Session("x"), Session("y"), threshold=threshold)


def test_ids_are_refused_with_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"pass jupyter_think.get_manager\(\).session\('run-1'\)"):
        diff("run-1", Session("y"))
