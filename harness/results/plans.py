"""What each plan adds to the results: its typed records, its key figures and its report section.

A plan registers a :class:`PlanResults` under the ``hubrig.plans`` entry-point group (name: the
plan's name, e.g. ``power-outage``), so the core stores, summarises and reports a plan's records
without knowing their fields, and an installed third-party plan contributes the same way::

    [project.entry-points."hubrig.plans"]
    power-outage = "hubrig.testplans.outage_results:PLAN_RESULTS"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Callable

from hubrig.harness.report.blocks import Block
from hubrig.harness.results.model import PlanRecordModel, RunResults

ENTRY_POINT_GROUP = "hubrig.plans"


@dataclass(frozen=True)
class PlanResults:
    """A plan's contribution to results and reports.

    ``section(results)`` returns the blocks of the plan's own part of its report section (drawn
    after the plan's tests and before its measurements); ``key_figures(results)`` the few figures
    CI shows for the run (JUnit test-suite properties), as name -> text.
    """

    name: str
    records: tuple[type[PlanRecordModel], ...] = ()
    section: Callable[[RunResults], list[Block]] | None = None
    key_figures: Callable[[RunResults], dict[str, str]] | None = None


class PlanRegistryError(RuntimeError):
    """A ``hubrig.plans`` entry point that does not load or is not a PlanResults."""


@cache
def registered() -> dict[str, PlanResults]:
    """Every installed plan's :class:`PlanResults`, by plan name."""
    found: dict[str, PlanResults] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if not isinstance(obj, PlanResults) or obj.name != ep.name:
            raise PlanRegistryError(f"entry point {ep.name} = {ep.value} in group {ENTRY_POINT_GROUP} is not "
                                    f"a PlanResults named {ep.name!r}")
        found[ep.name] = obj
    return found


def plan_results(name: str) -> PlanResults | None:
    """The registered contribution of plan ``name`` (None: the plan adds nothing of its own)."""
    return registered().get(name)
