"""Measurements that explain themselves (after OpenHTF): value, unit, limit, verdict, evidence.

A :class:`Measurement` is one measured quantity judged against one limit of one limit set, or
recorded for information (``verdict="info"``), with the journal frame ids that prove the value.
:func:`judge` applies a :class:`~hubrig.harness.rules.limits.Limit` and explains a failure in one line that
names the scenario, the limit set, the limit and the evidence.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from hubrig.harness.rules.limits import Limit, LimitSet


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"
    INFO = "info"


class Measurement(BaseModel):
    """One measured quantity with everything needed to re-judge or audit it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    scenario: str
    value: float | int | str | None
    unit: str
    verdict: Verdict
    limit_set: str | None = None
    limit: str | None = Field(default=None, description="the limit in words, with its citation")
    trial: int | None = None
    outage_seconds: float | None = None
    evidence: list[int] = Field(default_factory=list, description="journal frame ids")
    note: str = ""

    def explain(self) -> str:
        """One line: scenario, limit set, limit, value and evidence."""
        value = "none" if self.value is None else (f"{self.value:.3f}" if isinstance(self.value, float)
                                                   else str(self.value))
        parts = [f"[{self.scenario}]"]
        if self.trial is not None:
            parts.append(f"trial {self.trial}:")
        parts.append(f"{self.name} = {value} {self.unit}".rstrip())
        if self.limit_set:
            parts.append(f"vs {self.limit_set}: {self.limit}")
        elif self.limit:
            parts.append(f"vs {self.limit}")
        parts.append(f"-> {self.verdict.value.upper()}")
        if self.note:
            parts.append(f"({self.note})")
        parts.append("evidence: " + (", ".join(f"journal #{i}" for i in self.evidence) or "none"))
        return " ".join(parts)


def judge(limit_set: LimitSet, limit: Limit, *, name: str, scenario: str, value: float | None,
          outage_s: float | None = None, evidence: list[int] | None = None, trial: int | None = None,
          missing: str = "no value measured") -> Measurement:
    """Judge ``value`` against ``limit`` of ``limit_set``.

    Not applicable when the limit does not cover this outage duration; a missing value (``None``)
    fails a ``required`` limit with ``missing`` as the note, and is not applicable otherwise.
    """
    verdict, note = Verdict.NOT_APPLICABLE, ""
    if limit.applies_to(outage_s):
        if value is None:
            verdict, note = (Verdict.FAIL, missing) if limit.required else (Verdict.NOT_APPLICABLE, missing)
        else:
            verdict = Verdict.PASS if limit.passes(value) else Verdict.FAIL
    else:
        note = "outage duration outside this limit's scope"
    return Measurement(name=name, scenario=scenario, value=value, unit=limit.unit, verdict=verdict,
                       limit_set=limit_set.name, limit=f"{limit.describe()} [{limit.cite}]", trial=trial,
                       outage_seconds=outage_s, evidence=list(evidence or []), note=note)


def judge_quantity(limit_sets: list[LimitSet], quantity: str, *, scenario: str, value: float | None,
                   outage_s: float | None = None, evidence: list[int] | None = None,
                   trial: int | None = None, missing: str = "no value measured") -> list[Measurement]:
    """Judge one value against every limit on ``quantity`` in every selected set."""
    return [judge(ls, lim, name=quantity, scenario=scenario, value=value, outage_s=outage_s,
                  evidence=evidence, trial=trial, missing=missing)
            for ls in limit_sets for lim in ls.for_quantity(quantity)]


def check(name: str, ok: bool, *, scenario: str, rule: str, value: float | int | str | None = None,
          unit: str = "", evidence: list[int] | None = None, trial: int | None = None,
          outage_s: float | None = None, note: str = "") -> Measurement:
    """A conformance check that is not a limit-set timing (e.g. 8F36 due, times within tolerance)."""
    return Measurement(name=name, scenario=scenario, value=value, unit=unit,
                       verdict=Verdict.PASS if ok else Verdict.FAIL, limit=rule, trial=trial,
                       outage_seconds=outage_s, evidence=list(evidence or []), note=note)


def info(name: str, value: float | int | str | None, unit: str = "", *, scenario: str,
         evidence: list[int] | None = None, trial: int | None = None, note: str = "") -> Measurement:
    """A figure recorded for the report, with no verdict (e.g. the device's 3-minute timer)."""
    return Measurement(name=name, scenario=scenario, value=value, unit=unit, verdict=Verdict.INFO,
                       trial=trial, evidence=list(evidence or []), note=note)
