"""Two sessions aligned step by step: where the runs agree, where they diverge, what each did after.

Each run is its thoughts in arrival order (trunk and branches, as the run went). Steps are aligned
by the *text* of the thoughts, not by their numbers: identical texts first (*same*: only the very
same text, character for character), with :class:`difflib.SequenceMatcher`; then, in the stretches
between, thoughts whose words are close (*near*: :data:`SIMILAR`, a word-level ``SequenceMatcher``
ratio, case and punctuation ignored), aligned so the total similarity is largest. A near step is
shown as near and is not counted as agreeing ("split into halves" and "split into pairs" are near,
not the same step). What is left is paired as *different* (both runs did something else at that
step) or stands alone (only one run has it).

:func:`diff` needs two :class:`~jupyter_think.core.session.session.Session` objects (or run results). The result
shows as a side-by-side HTML table in a notebook and as aligned text in a terminal; both are
deterministic (no times, no ids).

Example:
    >>> from jupyter_think import Session
    >>> a = Session("a"); b = Session("b")
    >>> for text in ["Restate the problem", "Try small cases", "Answer: 4"]:
    ...     _ = a.think(text)
    >>> for text in ["Restate the problem", "Try small cases first", "Answer: 5"]:
    ...     _ = b.think(text)
    >>> [step.kind for step in diff(a, b).steps]
    ['same', 'near', 'different']
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, Literal

from jupyter_think.experiments.compare import as_session
from jupyter_think.views.tables import Cell, Html, Row, html_table
from jupyter_think.views.text import shorten

if TYPE_CHECKING:
    from jupyter_think.core.models import Thought
    from jupyter_think.core.session.session import Session

StepKind = Literal["same", "near", "different", "only_a", "only_b"]
SIMILAR = 0.6
"""Word-level similarity (0-1) from which two different texts are near (shown side by side as ``~``)."""
FUZZY_LIMIT = 250_000
"""Largest (thoughts of a) x (thoughts of b) stretch aligned by similarity; larger ones pair by position."""
MARKS = {"same": "=", "near": "~", "different": "!", "only_a": "<", "only_b": ">"}
_WORD = re.compile(r"\w+")
_ROW_COLORS = {
    "same": "#e6f4ea",
    "near": "#f1f8e0",
    "different": "#fde8e8",
    "only_a": "#f3f3f3",
    "only_b": "#f3f3f3",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One aligned step: the thought of each run (``None`` where a run has none) and how they relate."""

    kind: StepKind
    a: Thought | None
    b: Thought | None
    similarity: float

    @property
    def agrees(self) -> bool:
        """True when both runs took this very step: the same text (a near one does not agree)."""
        return self.kind == "same"


def _words(text: str) -> tuple[str, ...]:
    words = tuple(_WORD.findall(text.lower()))
    return words or (" ".join(text.split()),)


def similarity(a: str, b: str) -> float:
    """How alike two thoughts are, from 0 to 1 (a word-level ratio; case and punctuation ignored).

    Example:
        >>> similarity("Try small cases", "try small cases!")
        1.0
        >>> round(similarity("Try small cases", "Try small cases first"), 2)
        0.86
    """
    return SequenceMatcher(None, _words(a), _words(b), autojunk=False).ratio()


def align(a: Sequence[Thought], b: Sequence[Thought], threshold: float = SIMILAR) -> list[Step]:
    """Align two thought sequences by text (see the module docstring); returns the steps in order."""
    words_a = [_words(t.thought) for t in a]
    words_b = [_words(t.thought) for t in b]
    keys_a = [t.thought for t in a]
    keys_b = [t.thought for t in b]
    steps: list[Step] = []
    matcher = SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            steps.extend(Step("same", a[i1 + k], b[j1 + k], 1.0) for k in range(i2 - i1))
        else:
            steps.extend(_fuzzy(a[i1:i2], b[j1:j2], words_a[i1:i2], words_b[j1:j2], threshold))
    return steps


def _fuzzy(
    a: Sequence[Thought],
    b: Sequence[Thought],
    words_a: Sequence[tuple[str, ...]],
    words_b: Sequence[tuple[str, ...]],
    threshold: float,
) -> list[Step]:
    """Align a stretch where no text is identical: similar pairs where the total similarity is largest."""
    n, m = len(a), len(b)
    pairs: list[tuple[int, int, float]] = []
    if n and m and n * m <= FUZZY_LIMIT:
        scores = _similarities(words_a, words_b, threshold)
        # best[i][j]: the largest total similarity aligning a[:i] with b[:j].
        best = [[0.0] * (m + 1) for _ in range(n + 1)]
        for i in range(1, n + 1):
            row, above = best[i], best[i - 1]
            for j in range(1, m + 1):
                value = max(above[j], row[j - 1])
                score = scores.get((i - 1, j - 1))
                if score is not None and above[j - 1] + score > value:
                    value = above[j - 1] + score
                row[j] = value
        i, j = n, m
        while i and j:
            score = scores.get((i - 1, j - 1))
            if score is not None and best[i][j] == best[i - 1][j - 1] + score:
                pairs.append((i - 1, j - 1, score))
                i, j = i - 1, j - 1
            elif best[i][j] == best[i - 1][j]:
                i -= 1
            else:
                j -= 1
        pairs.reverse()
    steps: list[Step] = []
    last_a = last_b = 0
    for i, j, score in [*pairs, (n, m, 0.0)]:
        left, right = a[last_a:i], b[last_b:j]
        for k in range(max(len(left), len(right))):
            if k < len(left) and k < len(right):
                steps.append(
                    Step("different", left[k], right[k], similarity(left[k].thought, right[k].thought))
                )
            elif k < len(left):
                steps.append(Step("only_a", left[k], None, 0.0))
            else:
                steps.append(Step("only_b", None, right[k], 0.0))
        if i < n and j < m:
            steps.append(Step("near", a[i], b[j], score))
        last_a, last_b = i + 1, j + 1
    return steps


def _similarities(
    words_a: Sequence[tuple[str, ...]], words_b: Sequence[tuple[str, ...]], threshold: float
) -> dict[tuple[int, int], float]:
    """(i, j) -> similarity for the pairs at or above ``threshold`` (cheap upper bounds first)."""
    found: dict[tuple[int, int], float] = {}
    matcher = SequenceMatcher(None, autojunk=False)
    for j, words in enumerate(words_b):
        matcher.set_seq2(words)  # the expensive index is built once per thought of b
        for i, other in enumerate(words_a):
            matcher.set_seq1(other)
            if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                continue
            score = matcher.ratio()
            if score >= threshold:
                found[(i, j)] = score
    return found


class SessionDiff:
    """What :func:`diff` returns: the aligned :attr:`steps` and what they say.

    ``agreed`` counts the steps both runs took; ``divergence`` is the index (in ``steps``) of the
    first step where they part, ``None`` when they never do; ``after_a`` / ``after_b`` are each
    run's thoughts from there on.
    """

    def __init__(self, a: Session, b: Session, steps: list[Step]) -> None:
        self.a_id = a.id
        self.b_id = b.id
        self.a_status = a.status
        self.b_status = b.status
        self.steps = tuple(steps)
        self.agreed = sum(1 for step in steps if step.agrees)
        self.near = sum(1 for step in steps if step.kind == "near")
        self.divergence = next((k for k, step in enumerate(steps) if not step.agrees), None)
        start = len(steps) if self.divergence is None else self.divergence
        self.after_a = tuple(step.a for step in steps[start:] if step.a is not None)
        self.after_b = tuple(step.b for step in steps[start:] if step.b is not None)

    @property
    def identical(self) -> bool:
        """True when every step has the same text in both runs."""
        return all(step.kind == "same" for step in self.steps)

    def headline(self) -> str:
        """One line: the two runs, how many steps, how many agree, where they diverge."""
        n = len(self.steps)
        parts = [f"Diff {self.a_id} vs {self.b_id}", f"{n} step{'s' * (n != 1)}", f"agree on {self.agreed}"]
        if self.near:
            parts.append(f"{self.near} near")
        if self.divergence is None:
            parts.append("no divergence" if n else "both empty")
        else:
            parts.append(f"diverge at step {self.divergence + 1}")
        return " · ".join(parts)

    def after(self) -> list[str]:
        """What each run did after the divergence, one line per run (empty when they never diverge)."""
        if self.divergence is None:
            return []
        lines = []
        for run_id, thoughts, status in (
            (self.a_id, self.after_a, self.a_status),
            (self.b_id, self.after_b, self.b_status),
        ):
            count = len(thoughts)
            did = f"{count} more thought{'s' * (count != 1)}"
            if status == "complete" and thoughts:
                did += f", concluded: {_line(thoughts[-1].thought, 80)}"
            elif status == "complete":
                did += ", already concluded"
            else:
                did += ", not concluded"
            lines.append(f"{run_id}: {did}")
        return lines

    def as_text(self, width: int = 44) -> str:
        """The side-by-side text form: one line per step, ``width`` characters per run."""
        lines = [self.headline()]
        if self.steps:
            lines.append(f"  step  {_pad(self.a_id, width)}  {self.b_id}")
            for index, step in enumerate(self.steps, start=1):
                left = _pad(_label(step.a, width), width)
                right = _label(step.b, width)
                lines.append(f"{MARKS[step.kind]} {index:>4}  {left}  {right}".rstrip())
        after = self.after()
        if after:
            lines.append(f"After step {self.divergence}:" if self.divergence else "From the first step:")
            lines += [f"  {line}" for line in after]
        lines.append("(= same  ~ near  ! different  < only in the first  > only in the second)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.as_text()

    def __str__(self) -> str:
        return self.as_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.as_text())

    def _repr_html_(self) -> str:
        rows = [
            Row(
                [
                    Cell(index, {"style": "text-align:right"}),
                    Cell(
                        Html(MARKS[step.kind]), {"title": step.kind}
                    ),  # (the mark as it always was: < and > raw)
                    _html_cell(step.a),
                    _html_cell(step.b),
                ],
                {"style": f"background:{_ROW_COLORS[step.kind]}", "data-kind": step.kind},
            )
            for index, step in enumerate(self.steps, start=1)
        ]
        table = html_table(
            ["step", "", self.a_id, self.b_id],
            rows,
            attributes={"style": "border-collapse:collapse;margin:4px 0;width:100%;table-layout:fixed"},
            widths=["3em", "1.5em", None, None],
        )
        after = "".join(f"<li>{html.escape(line)}</li>" for line in self.after())
        after_html = f"<div><b>After they part</b><ul>{after}</ul></div>" if after else ""
        return (
            '<div class="jupyter-think-diff" style="font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">'
            f"<div><b>{html.escape(self.headline())}</b></div>{table}{after_html}"
            '<div style="color:#666">= same · ~ near · ! different · &lt; only in the first · '
            "&gt; only in the second</div></div>"
        )


def diff(a: Any, b: Any, *, threshold: float = SIMILAR) -> SessionDiff:
    """Align two runs step by step (thought text similarity, not numbers); see :class:`SessionDiff`.

    ``a`` and ``b`` are :class:`Session` objects or run results. ``threshold`` (0-1) is the word
    similarity from which two different texts are shown as near.

    Example:
        >>> from jupyter_think import Session
        >>> a = Session("run-1"); _ = a.think("Restate", total=2); _ = a.think("Answer 4", done=True)
        >>> b = Session("run-2"); _ = b.think("Restate", total=2); _ = b.think("Answer 5", done=True)
        >>> print(diff(a, b).headline())
        Diff run-1 vs run-2 · 2 steps · agree on 1 · diverge at step 2
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be above 0 and at most 1, got {threshold!r}")
    first, second = as_session(a), as_session(b)
    thoughts_a = first.snapshot().thoughts
    thoughts_b = second.snapshot().thoughts
    return SessionDiff(first, second, align(thoughts_a, thoughts_b, threshold))


# --- text helpers ------------------------------------------------------------------------------------


def _visible(text: str) -> str:
    """One line with control characters shown escaped (safe to print to a terminal)."""
    line = " ".join(text.split())
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in line)


def _line(text: str, width: int) -> str:
    return shorten(_visible(text), width)


def _tags(thought: Thought) -> str:
    tags = ""
    if thought.branch_id is not None and thought.branch_from_thought is not None:
        tags += f" [{thought.branch_id}]"
    if thought.is_revision:
        tags += f" (revises {thought.revises_thought})" if thought.revises_thought else " (revision)"
    if not thought.next_thought_needed:
        tags += " (final)"
    return tags


def _label(thought: Thought | None, width: int) -> str:
    if thought is None:
        return ""
    return _line(f"{thought.thought_number}{_tags(thought)} {thought.thought}", width)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - len(text))


def _html_cell(thought: Thought | None) -> Cell | str:
    if thought is None:
        return ""
    return Cell(
        Html(
            f"<b>{thought.thought_number}{html.escape(_tags(thought))}</b> "
            f'<span style="white-space:pre-wrap">{html.escape(shorten(thought.thought, 400))}</span>'
        ),
        {"style": "vertical-align:top;padding:2px 6px"},
    )
