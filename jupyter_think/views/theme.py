"""The look of a branch graph in one place: the kinds of thoughts, their colours, the teaching states,
the labels and the geometry.

Everything is read from ``theme.json`` beside this module. The Python renderers (SVG, thought cards) use it
through this module; the widget sends the same document to its front end (``static/graph.js``) as
the ``theme`` trait, so the live graph and the static SVG cannot drift apart.

Example:
    >>> from jupyter_think.core.models import Thought
    >>> thought_kind(Thought(thought="x", thought_number=1, total_thoughts=1, next_thought_needed=False))
    'final'
    >>> KIND_COLORS["final"] == THEME["kinds"]["final"]["color"]
    True
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from jupyter_think.core.models import Thought

THEME_FILE = Path(__file__).parent / "theme.json"

NodeKind = Literal["thought", "revision", "branch", "final"]

THEME: dict[str, Any] = json.loads(THEME_FILE.read_text(encoding="utf-8"))
"""The parsed ``theme.json``: ``kinds`` (colour of each kind), ``lines`` (edge colours), ``states``
(retracted, amended, chosen, abandoned), ``labels`` (node labels and the room they need), ``geometry``,
``presenter`` (the presenter view's smallest type, ``label`` px, and its largest, ``maxLabel``)."""

KIND_COLORS = MappingProxyType({kind: spec["color"] for kind, spec in THEME["kinds"].items()})
"""Kind of thought -> fill colour of its node (also the accent of its card)."""

LINE_COLORS = MappingProxyType(dict(THEME["lines"]))
"""Edge kind (``sequence``, ``fork``, ``revision``, ``merge``) and the ``final`` ring -> stroke colour."""

STATES = MappingProxyType({state: MappingProxyType(spec) for state, spec in THEME["states"].items()})
"""How the teaching states are drawn: ``retracted`` (``color``, ``opacity``: greyed, struck through),
``amended`` (``mark`` beside the label), ``chosen`` (``width`` and ``color`` of the bold path),
``abandoned`` (``opacity`` of a faded lane). Each has a ``title`` (a legend or tooltip text)."""

LABELS = MappingProxyType(dict(THEME["labels"]))
"""Node labels: at most ``lines`` lines of ``chars`` characters in ``size`` px type, ``color``; with
labels a column is ``column`` px wide and a lane ``row`` px high (``geometry`` is the compact graph)."""

STATUS_COLORS = MappingProxyType(dict(THEME["statuses"]))
"""Status of an experiment's run (``pending``, ``running``, ``ok``, ``error``, ``timeout``, ``cancelled``) -> its colour."""

GEOMETRY = MappingProxyType(dict(THEME["geometry"]))
"""Pixel sizes shared by the SVG and the widget: column width, row height, node radius, gutter, top."""


def thought_kind(thought: Thought) -> NodeKind:
    """``final``, ``revision``, ``branch`` or ``thought``: how a thought is drawn.

    A thought that ends the thinking is ``final`` whatever else it is; then a revision; then a
    thought that joins a branch.
    """
    if not thought.next_thought_needed:
        return "final"
    if thought.is_revision:
        return "revision"
    if thought.branch_id is not None and thought.branch_from_thought is not None:
        return "branch"
    return "thought"
