"""Latency statistics in the DCC technical study's shape (the plans build their tables on these).

The study reports "the time by which X % of alerts were delivered", counting alerts that never
arrived as not delivered. :func:`delivered_by` computes exactly that (nearest rank over every
expected alert, missing ones last): when fewer than X % arrived at all there is no such time.
"""

from __future__ import annotations

import math

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


def fmt_duration(seconds: float | None) -> str:
    """The study's style: ``3m47s``; sub-minute values keep one decimal (``12.5s``)."""
    if seconds is None:
        return "not reached"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"
