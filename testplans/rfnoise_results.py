"""The RF noise plan's own results: its records, its pictures and its report section.

Registered as the ``rf-noise`` entry of the ``hubrig.plans`` entry-point group. Records:
:class:`BandVerdict` (one band in one operating state: mask, worst margin and frequency,
violations, the traces file) and :class:`BandTrace` (the reference and powered traces of one mask
segment, thinned for the report), :class:`HanEnergy` (the HAN stick's energy per channel, ESME off
and on). The section is a table of every band and state, a picture per band (reference and powered
traces, the mask, the violations marked) and the HAN energy bars.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from hubrig.harness.report.blocks import Block, Figure, Heading, Paragraph, Table
from hubrig.harness.results.model import PlanRecordModel, RunResults
from hubrig.harness.results.plans import PlanResults
from hubrig.harness.rules.masks import load_mask, zigbee_channels

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

PLAN = "rf-noise"
REPORT_POINTS = 1001
"""Traces in the results are thinned to at most this many points (max-preserving), so a
100,001-point sweep keeps every peak without bloating results.json."""


class BandVerdict(PlanRecordModel):
    """One band in one operating state, judged against its mask."""

    plan: ClassVar[str] = PLAN
    kind: ClassVar[str] = "band"
    band: str
    title: str
    state: str
    mask: str = Field(description="the mask's name, version and citation")
    mask_file: str
    example_mask: bool
    passed: bool
    worst_margin_db: float | None
    worst_freq_hz: float | None
    violation_count: int
    worst_violations: list[tuple[float, float, float]] = Field(
        default_factory=list, description="up to 10 (frequency Hz, level dBm, limit dBm), worst first")
    evidence: str = Field(description="the traces file in the run folder")


class BandTrace(PlanRecordModel):
    """The traces of one mask segment of a band: reference (mains cut) and powered in one state."""

    plan: ClassVar[str] = PLAN
    kind: ClassVar[str] = "trace"
    band: str
    state: str
    rbw_hz: float
    detector: str
    freq_mhz: list[float]
    reference_dbm: list[float]
    powered_dbm: list[float]
    violations_mhz_dbm: list[tuple[float, float]] = Field(default_factory=list)


class HanEnergy(PlanRecordModel):
    """The HAN stick's energy scan per ZigBee channel (dBm), ESME mains cut and powered."""

    plan: ClassVar[str] = PLAN
    kind: ClassVar[str] = "han-energy"
    off_dbm: dict[int, float]
    on_dbm: dict[int, float]
    evidence: list[int] = Field(default_factory=list, description="journal ids of the scan readings")


def thin(freq: list[float], *series: list[float], points: int = REPORT_POINTS) -> tuple[list[float], ...]:
    """At most ``points`` points: each bucket keeps its first frequency and every series' maximum."""
    if len(freq) <= points:
        return (freq, *series)
    step = -(-len(freq) // points)
    return (freq[::step], *([max(s[i:i + step]) for i in range(0, len(s), step)] for s in series))


def band_figure(traces: list[BandTrace], verdicts: list[BandVerdict]) -> "MplFigure":
    """Reference and powered traces of one band (every state), its mask, the violations in red."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(9, 4.2))
    ax = fig.subplots()
    colours = {"idle": "tab:blue", "active": "tab:orange"}
    labelled: set[str] = set()

    def label(text: str) -> str | None:
        if text in labelled:
            return None
        labelled.add(text)
        return text

    for t in traces:
        ax.plot(t.freq_mhz, t.reference_dbm, color="0.6", lw=0.7, label=label("reference (ESME mains cut)"))
        ax.plot(t.freq_mhz, t.powered_dbm, color=colours.get(t.state, "tab:green"), lw=0.7,
                label=label(f"powered, {t.state}"))
        if t.violations_mhz_dbm:
            ax.scatter(*zip(*t.violations_mhz_dbm), color="red", s=10, zorder=5, label=label("above the mask"))
    verdict = verdicts[0]
    mask = load_mask(verdict.mask_file)
    lo_band, hi_band = min(t.freq_mhz[0] for t in traces), max(t.freq_mhz[-1] for t in traces)
    for seg in mask.segments:
        lo, hi = max(seg.start_mhz, lo_band), min(seg.stop_mhz, hi_band)
        if lo < hi:
            ax.plot([lo, hi], [seg.limit_dbm] * 2, color="black", lw=1.4, ls="--", label=label(f"mask {mask.name}"))
    if lo_band <= 2405.0 and hi_band >= 2480.0:
        for centre in zigbee_channels().values():
            ax.axvline(centre, color="0.88", lw=0.5, zorder=0)
    ax.set_xlabel("frequency (MHz)")
    ax.set_ylabel("level (dBm)")
    ax.set_title(verdict.title, fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def han_figure(energy: HanEnergy) -> "MplFigure":
    """Bars of the HAN stick's energy per channel, ESME off and on."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(8, 3.4))
    ax = fig.subplots()
    channels = sorted(set(energy.off_dbm) | set(energy.on_dbm))
    xs = range(len(channels))
    ax.bar([x - 0.2 for x in xs], [energy.off_dbm.get(c, float("nan")) for c in channels], 0.4, label="ESME mains cut")
    ax.bar([x + 0.2 for x in xs], [energy.on_dbm.get(c, float("nan")) for c in channels], 0.4, label="ESME powered")
    ax.set_xticks(list(xs), [str(c) for c in channels])
    ax.set_xlabel("ZigBee channel")
    ax.set_ylabel("energy (dBm)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def svg(fig: "MplFigure") -> str:
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _margin(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} dB"


def section(results: RunResults) -> list[Block]:
    """Every band and state with its worst margin; a picture per band; the HAN energy bars."""
    verdicts = BandVerdict.all_in(results.records)
    traces = BandTrace.all_in(results.records)
    energy = HanEnergy.all_in(results.records)
    if not verdicts and not energy:
        return []
    out: list[Block] = []
    if verdicts:
        examples = sorted({v.mask for v in verdicts if v.example_mask})
        out += [Heading("Emissions against the masks"),
                Paragraph("Emission = the powered trace minus the reference trace (ESME mains cut), as powers, "
                          "max hold over the configured sweeps; margin = limit - emission (negative: above the "
                          "mask). SEC H14.46: RF Noise Testing against the ICHIS and its test specification.")]
        if examples:
            out.append(Paragraph("Judged against EXAMPLE masks, not ICHIS values: " + "; ".join(examples)))
        out.append(Table(["band", "state", "verdict", "worst margin", "at", "points above", "mask", "traces"],
                         [[v.band, v.state, "pass" if v.passed else "FAIL", _margin(v.worst_margin_db),
                           "-" if v.worst_freq_hz is None else f"{v.worst_freq_hz / 1e6:.3f} MHz",
                           str(v.violation_count), v.mask.split(":")[0], v.evidence] for v in verdicts],
                         numeric=frozenset({3, 4, 5})))
        for band in dict.fromkeys(v.band for v in verdicts):
            band_traces = [t for t in traces if t.band == band]
            band_verdicts = [v for v in verdicts if v.band == band]
            if band_traces:
                out.append(Figure(f"rf-noise-{band}", f"{band}: reference and powered traces, mask and violations",
                                  lambda bt=band_traces, bv=band_verdicts: svg(band_figure(bt, bv))))
    for e in energy:
        out += [Heading("HAN stick energy scan, ESME off vs on"),
                Figure("rf-noise-han-energy", "HAN energy per ZigBee channel, ESME mains cut and powered",
                       lambda e=e: svg(han_figure(e)))]
    return out


def key_figures(results: RunResults) -> dict[str, str]:
    """Per band: the worst margin over its operating states."""
    out: dict[str, str] = {}
    for v in BandVerdict.all_in(results.records):
        key = f"rf-noise.{v.band}.worst_margin_db"
        if v.worst_margin_db is not None and (key not in out or v.worst_margin_db < float(out[key])):
            out[key] = f"{v.worst_margin_db:.1f}"
    return out


PLAN_RESULTS = PlanResults(name=PLAN, records=(BandVerdict, BandTrace, HanEnergy), section=section,
                           key_figures=key_figures)
