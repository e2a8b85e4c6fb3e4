"""The power-outage plan's own results: its trial record, its latency tables, its report section.

Registered as the ``power-outage`` entry of the ``hubrig.plans`` entry-point group, so the core
results store keeps :class:`Trial` records and the report draws this plan's section without
knowing either. The section is the DCC technical study's table (rows: 50/80/95/99 % delivered;
columns: POA from outage start, PRA from restoration) per limit set, the latency plot, ordering
flags and the trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from hubrig.harness.report.blocks import Block, BulletList, Figure, Heading, Paragraph, Table
from hubrig.harness.results.model import PlanRecordModel, RunResults
from hubrig.harness.results.plans import PlanResults
from hubrig.harness.results.stats import PERCENTILES, delivered_by, fmt_duration
from hubrig.harness.rules.limits import LimitSet

PLAN = "power-outage"
POA_THRESHOLD_S = 180.0
"""A POA stands for an outage of at least 3 minutes (the plot's population of expected POAs)."""


class Trial(PlanRecordModel):
    """One outage: what was cut, what arrived, and the frames that prove it."""

    plan: ClassVar[str] = PLAN
    kind: ClassVar[str] = "trial"
    outage_seconds: float
    poa_seconds: float | None = Field(description="POA arrival minus outage start; null when none arrived")
    pra_seconds: float | None = Field(description="PRA arrival minus restoration; null when none arrived")
    pra_alert_code: str | None = Field(default=None, pattern="^[0-9A-F]{4}$")
    poa_count: int = 0
    pra_before_poa: bool = False
    interruption_error_s: float | None = Field(
        default=None, description="interruption time inside the PRA minus the measured cut")
    restoration_error_s: float | None = Field(
        default=None, description="restoration time inside the PRA minus the measured restore")
    han_down_seconds: float | None = Field(
        default=None, description="the CH's PAN gone (HAN stick), from the cut; null when held or no stick")
    han_back_seconds: float | None = Field(
        default=None, description="the CH's PAN heard again (HAN stick), from the restore")
    evidence: list[int] = Field(default_factory=list, description="journal frame ids (POA, PRA)")


@dataclass(frozen=True)
class TrialTiming:
    """What the table needs of a trial: outage length and the two latencies (None = missing)."""

    outage_seconds: float
    poa_seconds: float | None
    pra_seconds: float | None


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


def _column(limit_set: LimitSet, quantity: str, values_of: list[tuple[float, float | None]]) -> Column:
    # The population is the outages this set's latency limit applies to (e.g. POA: outages >= 180 s).
    chosen = [(limit_set.latency_limit(quantity, outage), value) for outage, value in values_of]
    chosen = [(lim, v) for lim, v in chosen if lim is not None]
    values = [v for _, v in chosen]
    limits = {lim.max for lim, _ in chosen}
    limit_s = limits.pop() if len(limits) == 1 else None
    within = (sum(1 for lim, v in chosen if v is not None and lim.passes(v)) / len(values) if values else None)
    return Column(expected=len(values), arrived=sum(v is not None for v in values),
                  percentiles={p: delivered_by(values, p) for p in PERCENTILES},
                  limit_s=limit_s, ratio_within_limit=within)


def latency_table(limit_set: LimitSet, trials: list[TrialTiming]) -> LatencyTable:
    """Percentiles and delivery ratios of POA and PRA latencies for the outages ``limit_set`` judges."""
    return LatencyTable(limit_set=limit_set.name, title=limit_set.title,
                        poa=_column(limit_set, "poa_latency_s", [(t.outage_seconds, t.poa_seconds) for t in trials]),
                        pra=_column(limit_set, "pra_latency_s", [(t.outage_seconds, t.pra_seconds) for t in trials]))


def tables(results: RunResults, trials: list[Trial] | None = None) -> list[LatencyTable]:
    """The study-shaped latency table for each limit set of the run (over ``trials``, default all)."""
    chosen = Trial.all_in(results.records) if trials is None else trials
    timings = [TrialTiming(t.outage_seconds, t.poa_seconds, t.pra_seconds) for t in chosen]
    return [latency_table(ls, timings) for ls in results.limit_sets]


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f} %"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f} s"


def _latency_block(table: LatencyTable, pra_from_interruption: dict[int, float | None]) -> Table:
    rows = [[f"{p} % delivered", fmt_duration(table.poa.percentiles[p]), fmt_duration(table.pra.percentiles[p]),
             fmt_duration(pra_from_interruption[p])] for p in PERCENTILES]
    rows.append(["alerts arrived / expected", f"{table.poa.arrived} / {table.poa.expected}",
                 f"{table.pra.arrived} / {table.pra.expected}", ""])
    rows.append(["limit", "-" if table.poa.limit_s is None else f"{table.poa.limit_s:g} s",
                 "-" if table.pra.limit_s is None else f"{table.pra.limit_s:g} s", ""])
    rows.append(["delivery ratio within limit", _pct(table.poa.ratio_within_limit),
                 _pct(table.pra.ratio_within_limit), ""])
    return Table(["", "POA (from outage start)", "PRA (from restoration)", "PRA (from power interruption)"],
                 rows, numeric=frozenset({1, 2, 3}))


DEVICE_SIDE = ("Bench figures are the devices' share (ESME and Comms Hub): from the confirmed switch of "
               "mains to the alert on the Wired ITCH's port. A Wired ITCH has no WAN and no DCC behind it, "
               "so the network's share of each limit below is not on this bench; the budget left is what a "
               "limit leaves the network after the devices' 95 % figure.")


def _budget_block(results: RunResults, limit_sets: list[LimitSet], tables_: list[LatencyTable]) -> Table:
    allowance = results.rig.network_allowance_s
    rows = []
    for ls, table in zip(limit_sets, tables_):
        for alert, column in (("POA", table.poa), ("PRA", table.pra)):
            p95 = column.percentiles[95]
            if column.limit_s is None or not column.expected:
                continue
            left = None if p95 is None else column.limit_s - p95
            row = [ls.name, alert, f"{column.limit_s:g} s", fmt_duration(p95),
                   "-" if left is None else f"{left:.1f} s"]
            if allowance is not None:
                row.append("-" if left is None else f"{left - allowance:.1f} s")
            rows.append(row)
    header = ["limit set", "alert", "limit (end to end)", "devices' 95 %", "budget left for the network"]
    if allowance is not None:
        header.append(f"end-to-end margin with the rig's {allowance:g} s network allowance")
    return Table(header, rows, numeric=frozenset(range(2, len(header))))


def section(results: RunResults) -> list[Block]:
    """Latency tables per limit set, the plot, ordering flags and the trials."""
    trials = Trial.all_in(results.records)
    if not trials:
        return []
    out: list[Block] = [Heading("Latency percentiles per limit set"),
                        Paragraph("Times by which 50/80/95/99 % of the expected alerts had arrived (alerts that "
                                  "never arrived count as not delivered, as in the DCC technical study); POA "
                                  "from outage start, PRA from restoration and, as the study reports it, from "
                                  "the power interruption. Limits file version "
                                  f"{results.limits_version or '?'}.")]
    from_interruption = [t.outage_seconds + t.pra_seconds if t.pra_seconds is not None else None for t in trials]
    pra_from_interruption = {p: delivered_by(from_interruption, p) for p in PERCENTILES}
    all_tables = tables(results, trials)
    for ls, table in zip(results.limit_sets, all_tables):
        out += [Heading(f"{ls.name}: {ls.title}", 4), Paragraph(f"Source: {ls.citation}"),
                _latency_block(table, pra_from_interruption)]
    out += [Heading("Device share and the network's budget"), Paragraph(DEVICE_SIDE)]
    out += [Paragraph(f"{ls.name} runs {ls.span}.") for ls in results.limit_sets if ls.span]
    out.append(_budget_block(results, results.limit_sets, all_tables))
    out.append(Figure("latency", "POA and PRA latency distributions against each limit set",
                      lambda: latency_svg(results, trials)))
    flagged = [t for t in trials if t.pra_before_poa]
    if flagged:
        out += [Heading("Ordering flags"),
                BulletList([f"[{t.scenario}] trial {t.index}: PRA arrived before its POA "
                            f"(evidence: {', '.join(f'journal #{i}' for i in t.evidence)})" for t in flagged])]
    han = any(t.han_down_seconds is not None or t.han_back_seconds is not None for t in trials)
    out += [Heading("Trials"),
            Table(["scenario", "#", "outage", "POA", "PRA", "PRA from interruption", "code",
                   "clock error (int/rest)"] + (["HAN down / back"] if han else []) + ["evidence"],
                  [[t.scenario, str(t.index), f"{t.outage_seconds:.1f} s", _secs(t.poa_seconds),
                    _secs(t.pra_seconds),
                    _secs(None if t.pra_seconds is None else t.outage_seconds + t.pra_seconds),
                    t.pra_alert_code or "-",
                    f"{_secs(t.interruption_error_s)} / {_secs(t.restoration_error_s)}"]
                   + ([f"{_secs(t.han_down_seconds)} / {_secs(t.han_back_seconds)}"] if han else [])
                   + [", ".join(f"#{i}" for i in t.evidence)] for t in trials], numeric=frozenset({1, 2, 3, 4, 5}))]
    return out


def key_figures(results: RunResults) -> dict[str, str]:
    """Per limit set: the 95 % POA and PRA delivery times and delivery ratios (JUnit properties)."""
    out: dict[str, str] = {}
    trials = Trial.all_in(results.records)
    if not trials:
        return out
    out["power-outage.trials"] = str(len(trials))
    for t in tables(results, trials):
        for alert, col in (("poa", t.poa), ("pra", t.pra)):
            if col.expected:
                out[f"power-outage.{t.limit_set}.{alert}_95pct"] = fmt_duration(col.percentiles[95])
                out[f"power-outage.{t.limit_set}.{alert}_within_limit"] = _pct(col.ratio_within_limit)
    return out


def _ecdf(ax, values: list[float | None], label: str) -> None:
    arrived = sorted(v for v in values if v is not None)
    if not values:
        ax.text(0.5, 0.5, "no alerts expected", ha="center", transform=ax.transAxes)
        return
    ys = [100 * (i + 1) / len(values) for i in range(len(arrived))]
    ax.step(arrived, ys, where="post", label=f"{label}: {len(arrived)} of {len(values)} arrived")


def latency_svg(results: RunResults, trials: list[Trial]) -> str:
    """SVG of the POA and PRA latency distributions with each limit set's limit drawn on them."""
    import io

    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(11, 4.2))
    FigureCanvasSVG(fig)
    axes = fig.subplots(1, 2)
    poa = [t.poa_seconds for t in trials if t.outage_seconds >= POA_THRESHOLD_S]
    pra = [t.pra_seconds for t in trials]
    for ax, values, quantity, title in ((axes[0], poa, "poa_latency_s", "POA latency from outage start"),
                                        (axes[1], pra, "pra_latency_s", "PRA latency from restoration")):
        _ecdf(ax, values, "delivered")
        seen: set[float] = set()
        for i, ls in enumerate(results.limit_sets):
            for lim in ls.for_quantity(quantity):
                if lim.max is None:
                    continue
                ax.axvline(lim.max, linestyle=("--", ":", "-.")[i % 3], color=f"C{i + 1}",
                           label=f"{ls.name}: {lim.max:g} s" + (" (same)" if lim.max in seen else ""))
                seen.add(lim.max)
        ax.set_title(title)
        ax.set_xlabel("seconds")
        ax.set_ylabel("% of expected alerts delivered")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


PLAN_RESULTS = PlanResults(name=PLAN, records=(Trial,), section=section, key_figures=key_figures)
