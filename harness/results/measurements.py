"""Making measurements that explain themselves (after OpenHTF): value, unit, bounds, verdict, evidence.

:func:`judge` applies a :class:`~hubrig.harness.rules.limits.Limit` of a limit set and records the
limit as structured :class:`~hubrig.harness.results.model.Bounds` with its scope and citation;
:func:`check` records a rule in words that the plan judged; :func:`info` a figure with no verdict;
:func:`unset` a measurement a test declared and never recorded.
"""

from __future__ import annotations

import re

from hubrig.harness.results.confidence import RatioVerdict, judge_ratio
from hubrig.harness.results.model import Bounds, Measurement, Verdict
from hubrig.harness.rules.limits import Limit, LimitSet

Value = bool | int | float | str | None


def limit_bounds(limit: Limit) -> Bounds:
    """A limit's min/max as bounds."""
    if limit.min is not None and limit.max is not None:
        return Bounds(comparison="between", lower=limit.min, upper=limit.max, unit=limit.unit)
    if limit.max is not None:
        return Bounds(comparison="<=", upper=limit.max, unit=limit.unit)
    return Bounds(comparison=">=", lower=limit.min, unit=limit.unit)


def judge(limit_set: LimitSet, limit: Limit, *, name: str, scenario: str, value: float | None,
          outage_s: float | None = None, evidence: list[int] | None = None, trial: int | None = None,
          missing: str = "no value measured") -> Measurement:
    """Judge ``value`` against ``limit`` of ``limit_set``.

    Not applicable when the limit does not cover this outage duration; a missing value (``None``)
    fails a ``required`` limit with ``missing`` as the note, and is not applicable otherwise.
    """
    bounds = limit_bounds(limit)
    verdict, note = Verdict.NOT_APPLICABLE, ""
    if limit.applies_to(outage_s):
        if value is None:
            verdict, note = (Verdict.FAIL, missing) if limit.required else (Verdict.NOT_APPLICABLE, missing)
        else:
            verdict = Verdict.PASS if bounds.passes(value) else Verdict.FAIL
    else:
        note = "outage duration outside this limit's scope"
    return Measurement(name=name, scenario=scenario, value=value, unit=limit.unit, verdict=verdict,
                       bounds=bounds, rule=limit.scope(), citation=limit.cite, limit_set=limit_set.name,
                       trial=trial, conditions={} if outage_s is None else {"outage_s": outage_s},
                       evidence=list(evidence or []), note=note)


def judge_ratio_limit(limit_set: LimitSet, limit: Limit, *, name: str, scenario: str, successes: int,
                      trials: int, evidence: list[int] | None = None) -> Measurement:
    """Judge a ratio (``successes`` of ``trials``) against a ratio limit by its one-sided 95 %
    Clopper-Pearson bounds: PASS when the lower bound clears ``limit.min``, FAIL when the upper bound
    is below it, INCONCLUSIVE otherwise (the note says how many failure-free trials would show it)."""
    bounds = limit_bounds(limit)
    if limit.min is None or not trials:
        return Measurement(name=name, scenario=scenario, value=successes / trials if trials else None,
                           unit=limit.unit, verdict=Verdict.NOT_APPLICABLE, bounds=bounds, rule=limit.scope(),
                           citation=limit.cite, limit_set=limit_set.name, evidence=list(evidence or []),
                           note="no trials" if not trials else "a ratio limit needs a minimum")
    judged = judge_ratio(successes, trials, limit.min)
    verdict = {RatioVerdict.PASS: Verdict.PASS, RatioVerdict.FAIL: Verdict.FAIL,
               RatioVerdict.INCONCLUSIVE: Verdict.INCONCLUSIVE}[judged.verdict]
    return Measurement(name=name, scenario=scenario, value=round(successes / trials, 6), unit=limit.unit,
                       verdict=verdict, bounds=bounds, rule=limit.scope(), citation=limit.cite,
                       limit_set=limit_set.name, conditions={"trials": float(trials)},
                       evidence=list(evidence or []), note=judged.explain())


def judge_quantity(limit_sets: list[LimitSet], quantity: str, *, scenario: str, value: float | None,
                   outage_s: float | None = None, evidence: list[int] | None = None,
                   trial: int | None = None, missing: str = "no value measured") -> list[Measurement]:
    """Judge one value against every limit on ``quantity`` in every selected set."""
    return [judge(ls, lim, name=quantity, scenario=scenario, value=value, outage_s=outage_s,
                  evidence=evidence, trial=trial, missing=missing)
            for ls in limit_sets for lim in ls.for_quantity(quantity)]


_CITED = re.compile(r"^(?P<rule>.*?)\s*\[(?P<cite>[^\[\]]+)\]\s*$", re.S)


def split_citation(rule: str) -> tuple[str, str]:
    """``"8F36 for an outage >= 180 s [GBCS ECS80]"`` -> the rule and its citation."""
    m = _CITED.match(rule)
    return (m["rule"], m["cite"]) if m else (rule, "")


def check(name: str, ok: bool, *, scenario: str, rule: str, value: Value = None, unit: str = "",
          evidence: list[int] | None = None, trial: int | None = None, outage_s: float | None = None,
          note: str = "", citation: str = "") -> Measurement:
    """A rule in words that the plan judged (e.g. "8F36 for an outage >= 180 s [GBCS ECS80]"): a
    trailing ``[...]`` is the rule's citation unless ``citation`` is given."""
    text, cited = split_citation(rule)
    return Measurement(name=name, scenario=scenario, value=value, unit=unit,
                       verdict=Verdict.PASS if ok else Verdict.FAIL, bounds=Bounds(comparison="holds"),
                       rule=text, citation=citation or cited, trial=trial,
                       conditions={} if outage_s is None else {"outage_s": outage_s},
                       evidence=list(evidence or []), note=note)


def info(name: str, value: Value, unit: str = "", *, scenario: str, evidence: list[int] | None = None,
         trial: int | None = None, note: str = "") -> Measurement:
    """A figure recorded for the report, with no verdict (e.g. the device's 3-minute timer)."""
    return Measurement(name=name, scenario=scenario, value=value, unit=unit, verdict=Verdict.INFO,
                       trial=trial, evidence=list(evidence or []), note=note)


def unset(name: str, *, scenario: str, test: str) -> Measurement:
    """A measurement ``test`` declared and never recorded."""
    return Measurement(name=name, scenario=scenario, value=None, verdict=Verdict.UNSET,
                       note=f"declared by {test} and never recorded")
