"""Latency statistics in the DCC technical study's shape.

The study reports "the time by which X % of alerts were delivered", counting alerts that never
arrived as not delivered. :func:`delivered_by` computes exactly that (nearest rank over every
expected alert, missing ones last): when fewer than X % arrived at all there is no such time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hubrig.harness.rules.limits import LimitSet

PERCENTILES = (50, 80, 95, 99)


def delivered_by(latencies: list[float | None], percent: float) -> float | None:
    """The smallest latency by which ``percent`` % of the expected alerts had arrived.

    ``None`` entries are alerts that never arrived. Returns ``None`` when there are no expected
    alerts or fewer than ``percent`` % of them arrived.
    """
    if not latencies:
        return None
    need = max(1, math.ceil(percent / 100 * len(latencies) - 1e-9))
    arrived = sorted(v for v in latencies if v is not None)
    return arrived[need - 1] if need <= len(arrived) else None


@dataclass(frozen=True)
class Column:
    """One alert kind (POA or PRA) under one limit set."""

    expected: int
    arrived: int
    percentiles: dict[int, float | None]
    limit_s: float | None
    ratio_within_limit: float | None


@dataclass(frozen=True)
class LatencyTable:
    """The study-shaped table for one limit set: percentile rows, POA and PRA columns."""

    limit_set: str
    title: str
    poa: Column
    pra: Column


@dataclass(frozen=True)
class TrialTiming:
    """What the table needs of a trial: outage length and the two latencies (None = missing)."""

    outage_seconds: float
    poa_seconds: float | None
    pra_seconds: float | None


def _column(limit_set: LimitSet, quantity: str, trials: list[TrialTiming], attr: str) -> Column:
    # The population is the outages this set's latency limit applies to (e.g. POA: outages >= 180 s).
    chosen = [(t, limit_set.latency_limit(quantity, t.outage_seconds)) for t in trials]
    chosen = [(t, lim) for t, lim in chosen if lim is not None]
    values = [getattr(t, attr) for t, _ in chosen]
    limits = {lim.max for _, lim in chosen}
    limit_s = limits.pop() if len(limits) == 1 else None
    within = (sum(1 for (t, lim), v in zip(chosen, values) if v is not None and lim.passes(v)) / len(values)
              if values else None)
    return Column(expected=len(values), arrived=sum(v is not None for v in values),
                  percentiles={p: delivered_by(values, p) for p in PERCENTILES},
                  limit_s=limit_s, ratio_within_limit=within)


def latency_table(limit_set: LimitSet, trials: list[TrialTiming]) -> LatencyTable:
    """Percentiles and delivery ratios of POA and PRA latencies for the outages ``limit_set`` judges."""
    return LatencyTable(limit_set=limit_set.name, title=limit_set.title,
                        poa=_column(limit_set, "poa_latency_s", trials, "poa_seconds"),
                        pra=_column(limit_set, "pra_latency_s", trials, "pra_seconds"))


def fmt_duration(seconds: float | None) -> str:
    """The study's style: ``3m47s``; sub-minute values keep one decimal (``12.5s``)."""
    if seconds is None:
        return "not reached"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"
