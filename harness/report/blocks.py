"""What a report section is made of: plain blocks that every report format renders.

A plan contributes its section as a list of blocks (see
:class:`hubrig.harness.results.plans.PlanResults`); the templates (one per format) render them, so a
plan writes no HTML or Markdown. A :class:`Figure` is drawn only when a report is written with
plots (its ``draw`` callable imports matplotlib then, never before).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 3


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class BulletList:
    items: list[str]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: frozenset[int] = field(default_factory=frozenset)
    """Columns to right-align."""


@dataclass(frozen=True)
class Figure:
    """A plot: ``draw()`` returns SVG text; ``name`` is its file name stem beside the Markdown."""

    name: str
    alt: str
    draw: Callable[[], str]


Block = Heading | Paragraph | BulletList | Table | Figure
