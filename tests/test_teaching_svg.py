"""The static SVG of a lesson (a slide, the notebook's saved graph): its revision arcs stay under the
title and out of the lane above, and its fork and merge edges cross no node's label."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from jupyter_think import Session
from jupyter_think.views.theme import LABELS

SVG = "{http://www.w3.org/2000/svg}"
CHAR_WIDTH = {10: 5.6, 11: 6.6}  # generous average widths of sans-serif type at 10 and 11 px (bold title)


def lesson() -> Session:
    """The teaching notebook's lesson, with a second revision whose arc runs under the whole title."""
    s = Session("mersenne-lesson-with-a-long-title")
    s.think("Restate the question: for every prime $n$, is $2^n - 1$ a prime number?", total=6)
    s.think("Start with examples: compute $2^n - 1$ for the smallest primes $n$")
    s.think("2, 3, 5, 7 give 3, 7, 31, 127: all prime")
    s.think("Guess: $2^n - 1$ is prime for every prime $n$")
    s.branch("proof", from_thought=4)
    s.think("Try to prove it: look for a factor of $2^n - 1$")
    s.think("Induction on $n$: if $2^p - 1$ is prime, show it for the next prime $q$")
    s.retract(6)
    s.think("If $n = ab$, then $2^a - 1$ divides $2^n - 1$")
    s.think("A revision inside the proof branch", revises=5)
    s.branch("search", from_thought=4)
    s.think("Search for a counterexample among the next primes, 11 and 13")
    s.think("$n = 11$ is prime, but $2^{11} - 1 = 2047 = 23 \\times 89$: a counterexample")
    s.decide("search", "chosen", note="a single counterexample settles the question")
    s.decide("proof", "abandoned", note="it proves the converse, not the guess")
    s.merge("search", into="main")
    s.think("The guess is false: $n = 11$ is prime and $2^{11} - 1$ is not", revises=4)
    s.think("Restated better, after all that", revises=1)
    s.think("Conclusion: a prime $n$ is necessary, not enough", done=True)
    return s


def boxes(
    root: ET.Element,
) -> tuple[tuple[float, float, float, float], list[tuple[float, float, float, float]]]:
    """The title's box and every node label's box (left, top, right, bottom)."""
    title = next(t for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold" and t.get("y") == "16")
    title_box = (8.0, 5.0, 8 + len(title.text or "") * CHAR_WIDTH[11], 21.0)
    labels = []
    for text in root.iter(f"{SVG}text"):
        if text.get("class") != "label":
            continue
        x, y, size = float(text.get("x")), float(text.get("y")), LABELS["size"]
        half = len(text.text or "") * CHAR_WIDTH[size] / 2
        labels.append((x - half, y - size, x + half, y + 2))
    return title_box, labels


def points(d: str, steps: int = 24) -> list[tuple[float, float]]:
    """Points along an SVG path of M, L, H, V, Q and C commands (absolute)."""
    found: list[tuple[float, float]] = []
    x = y = 0.0
    for command, args in re.findall(r"([MLHVQC])([^MLHVQC]*)", d):
        values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command in "ML":
            x, y = values
        elif command == "H":
            x = values[0]
        elif command == "V":
            y = values[0]
        else:
            controls = [(x, y)] + [tuple(values[k : k + 2]) for k in range(0, len(values), 2)]
            for k in range(1, steps + 1):
                t = k / steps
                if command == "Q":
                    (ax, ay), (bx, by), (cx, cy) = controls
                    px = (1 - t) ** 2 * ax + 2 * (1 - t) * t * bx + t * t * cx
                    py = (1 - t) ** 2 * ay + 2 * (1 - t) * t * by + t * t * cy
                else:
                    (ax, ay), (bx, by), (cx, cy), (ex, ey) = controls
                    px = (1 - t) ** 3 * ax + 3 * (1 - t) ** 2 * t * bx + 3 * (1 - t) * t * t * cx + t**3 * ex
                    py = (1 - t) ** 3 * ay + 3 * (1 - t) ** 2 * t * by + 3 * (1 - t) * t * t * cy + t**3 * ey
                found.append((px, py))
            x, y = controls[-1]
            continue
        found.append((x, y))
    return found


def straight(a: tuple[float, float], b: tuple[float, float], steps: int = 40) -> list[tuple[float, float]]:
    return [(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps) for k in range(steps + 1)]


def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] < point[0] < box[2] and box[1] < point[1] < box[3]


@pytest.fixture(scope="module")
def drawn() -> ET.Element:
    return ET.fromstring(lesson().to_svg())


def test_revision_arcs_stay_under_the_title_and_out_of_the_lane_above(drawn: ET.Element) -> None:
    title, labels = boxes(drawn)
    arcs = [path for path in drawn.iter(f"{SVG}path") if path.get("class") == "revision"]
    assert len(arcs) == 3
    for arc in arcs:
        for point in points(arc.get("d", "")):
            assert not inside(point, title), (arc.get("d"), point)
            assert not any(inside(point, label) for label in labels), (arc.get("d"), point)


def test_fork_and_merge_edges_cross_no_label(drawn: ET.Element) -> None:
    _, labels = boxes(drawn)
    edges = [path for path in drawn.iter(f"{SVG}path") if path.get("class") in ("fork", "merge")]
    assert {edge.get("class") for edge in edges} == {"fork", "merge"}
    for edge in edges:
        for point in points(edge.get("d", "")):
            assert not any(inside(point, label) for label in labels), (
                edge.get("class"),
                edge.get("d"),
                point,
            )
    for line in drawn.iter(f"{SVG}line"):  # the lanes' own lines run above their labels
        if line.get("class") != "sequence":
            continue
        ends = (float(line.get("x1")), float(line.get("y1"))), (float(line.get("x2")), float(line.get("y2")))
        assert not any(inside(point, label) for point in straight(*ends) for label in labels)
