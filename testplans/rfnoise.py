"""The RF noise plan's measurement and judgement (used by ``test_rf_noise.py``).

Per configured band (``rf_noise.bands`` in the rig file): a **reference** max-hold sweep with the
ESME's mains cut, then max-hold sweeps with the ESME **powered** in each operating state the rig
can drive (``idle``; ``active``: a read-only command, the ESME event-log read ECS35a, sent just
before each sweep). The **emission** is the powered trace minus the reference, as powers; every
point above the band's mask is a :class:`~hubrig.harness.rules.masks.Violation` (frequency,
level, limit, margin) and each band/state gets its worst margin. Every trace is written to the run
folder (``rf-noise/<band>-<state>.json``); the plan's records (:mod:`rfnoise_results`) carry the
verdicts and thinned traces into the results and the report.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from hubrig.drivers.analyser.analyser import Analyser, SweepSettings, Trace
from hubrig.harness.clock import Clock
from hubrig.harness.rig.mains import Mains
from hubrig.harness.rules.masks import (BandPlan, OperatingState, RfNoiseConfig, Violation, emission_dbm, judge,
                                        zigbee_channels)

if TYPE_CHECKING:
    from hubrig.testplans.rfnoise_results import BandTrace, BandVerdict

EVIDENCE_DIR = "rf-noise"
MAX_LISTED_VIOLATIONS = 200
"""Violations written per band and state (the worst first); the count is always complete."""


@dataclass
class Segment:
    """One mask segment's sweeps: the reference and the powered trace, and what was judged."""

    reference: Trace
    powered: Trace
    emission: NDArray[np.float64]
    violations: list[Violation]
    worst_margin_db: float
    worst_freq_hz: float


@dataclass
class BandResult:
    """A band in one operating state: its segments, violations and worst margin."""

    plan: BandPlan
    state: OperatingState
    segments: list[Segment] = field(default_factory=list)
    evidence: Path | None = None

    @property
    def violations(self) -> list[Violation]:
        return sorted((v for s in self.segments for v in s.violations), key=lambda v: v.margin_db)

    @property
    def worst(self) -> tuple[float, float]:
        """(margin dB, frequency Hz) of the point nearest to (or furthest over) the mask."""
        judged = [s for s in self.segments if not math.isnan(s.worst_margin_db)]
        if not judged:
            return math.nan, math.nan
        seg = min(judged, key=lambda s: s.worst_margin_db)
        return seg.worst_margin_db, seg.worst_freq_hz

    @property
    def passed(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        margin, freq = self.worst
        name = self.plan.band.name
        if self.passed:
            return f"band {name} ({self.state}): within mask {self.plan.mask.name}, worst margin {margin:.1f} dB at {freq / 1e6:.3f} MHz"
        worst = self.violations[0]
        return (f"band {name} ({self.state}): {len(self.violations)} points above mask {self.plan.mask.name}; "
                f"worst at {worst.freq_hz / 1e6:.3f} MHz: {worst.level_dbm:.1f} dBm vs limit {worst.limit_dbm:.1f} dBm, "
                f"margin {worst.margin_db:.1f} dB (traces: {self.evidence})")


class Activity(Protocol):
    """Drives the ESME into its ``active`` operating state (a command it must process)."""

    def __call__(self) -> None: ...


def settings_for(plan: BandPlan, cfg: RfNoiseConfig) -> list[SweepSettings]:
    return [SweepSettings(s.start_hz, s.stop_hz, s.rbw_hz, s.vbw_hz, s.detector, "max-hold", cfg.max_hold_sweeps,
                          cfg.points) for s in plan.sweeps]


def sweep_reference(analyser: Analyser, mains: Mains, clock: Clock, plans: list[BandPlan],
                    cfg: RfNoiseConfig) -> dict[str, list[Trace]]:
    """Every band's reference sweeps with the ESME's mains cut (restored however this ends)."""
    traces: dict[str, list[Trace]] = {}
    mains.cut()
    try:
        clock.sleep(cfg.settle_s)
        for plan in plans:
            traces[plan.band.name] = [analyser.measure(s) for s in settings_for(plan, cfg)]
    finally:
        mains.restore()
    return traces


def sweep_powered(analyser: Analyser, clock: Clock, plans: list[BandPlan], cfg: RfNoiseConfig,
                  state: OperatingState, activity: Activity | None) -> dict[str, list[Trace]]:
    """Every band's sweeps with the ESME powered in ``state`` (``active``: ``activity`` before each)."""
    clock.sleep(cfg.settle_s)
    traces: dict[str, list[Trace]] = {}
    for plan in plans:
        out = []
        for settings in settings_for(plan, cfg):
            if state == "active" and activity is not None:
                activity()
            out.append(analyser.measure(settings))
        traces[plan.band.name] = out
    return traces


def evaluate(plan: BandPlan, state: OperatingState, reference: list[Trace], powered: list[Trace]) -> BandResult:
    """Emission = powered - reference per segment, judged against the band's mask."""
    result = BandResult(plan, state)
    for ref, on in zip(reference, powered):
        if ref.freq_hz.shape != on.freq_hz.shape or not np.allclose(ref.freq_hz, on.freq_hz, rtol=0, atol=1.0):
            raise ValueError(f"band {plan.band.name}: reference and powered sweeps have different frequency axes")
        emission = emission_dbm(on.levels_dbm, ref.levels_dbm)
        violations, margin, freq = judge(on.freq_hz, emission, plan.mask)
        result.segments.append(Segment(ref, on, emission, violations, margin, freq))
    return result


def write_evidence(result: BandResult, folder: Path) -> Path:
    """The band's traces, limits and violations as JSON in ``folder``; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.plan.band.name}-{result.state}.json"
    margin, freq = result.worst
    record = {
        "band": result.plan.band.name, "state": result.state, "mask": result.plan.mask.cite(),
        "example_mask": result.plan.mask.example, "passed": result.passed,
        "worst_margin_db": None if math.isnan(margin) else round(margin, 3),
        "worst_freq_hz": None if math.isnan(freq) else freq,
        "violation_count": len(result.violations),
        "violations": [{"freq_hz": v.freq_hz, "level_dbm": round(v.level_dbm, 3), "limit_dbm": v.limit_dbm,
                        "margin_db": round(v.margin_db, 3)} for v in result.violations[:MAX_LISTED_VIOLATIONS]],
        "segments": [{
            "settings": vars(s.powered.settings), "encoding": s.powered.encoding,
            "reference_swept_ns": [s.reference.started_ns, s.reference.finished_ns],
            "powered_swept_ns": [s.powered.started_ns, s.powered.finished_ns],
            "freq_hz": s.powered.freq_hz.tolist(),
            "reference_dbm": np.round(s.reference.levels_dbm, 3).tolist(),
            "powered_dbm": np.round(s.powered.levels_dbm, 3).tolist(),
            "limit_dbm": [None if math.isnan(x) else x for x in result.plan.mask.limit_at(s.powered.freq_hz).tolist()],
        } for s in result.segments],
    }
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    result.evidence = path
    return path


def records(result: BandResult, scenario: str) -> tuple["BandVerdict", list["BandTrace"]]:
    """The plan's records of one band in one state (its verdict and its traces, thinned)."""
    from hubrig.testplans.rfnoise_results import BandTrace, BandVerdict, thin

    margin, freq = result.worst
    plan, bad = result.plan, result.violations
    verdict = BandVerdict(scenario=scenario, band=plan.band.name, title=plan.band.title, state=result.state,
                          mask=plan.mask.cite(), mask_file=plan.mask.path, example_mask=plan.mask.example,
                          passed=result.passed, worst_margin_db=None if math.isnan(margin) else round(margin, 3),
                          worst_freq_hz=None if math.isnan(freq) else freq, violation_count=len(bad),
                          worst_violations=[(v.freq_hz, round(v.level_dbm, 3), v.limit_dbm) for v in bad[:10]],
                          evidence=str(result.evidence))
    traces = []
    for i, seg in enumerate(result.segments):
        freq_mhz, ref, on = thin((seg.powered.freq_hz / 1e6).round(6).tolist(),
                                 seg.reference.levels_dbm.round(2).tolist(), seg.powered.levels_dbm.round(2).tolist())
        traces.append(BandTrace(scenario=scenario, index=i, band=plan.band.name, state=result.state,
                                rbw_hz=seg.powered.settings.rbw_hz, detector=seg.powered.settings.detector,
                                freq_mhz=freq_mhz, reference_dbm=ref, powered_dbm=on,
                                violations_mhz_dbm=[(v.freq_hz / 1e6, round(v.level_dbm, 2))
                                                    for v in seg.violations[:MAX_LISTED_VIOLATIONS]]))
    return verdict, traces


class EnergyReading(Protocol):
    """One channel's reading of a HAN stick's energy scan (:mod:`hubrig.drivers.han`)."""

    channel: int
    max_rssi_dbm: int
    journal_id: int | None
    """None only when the journal could not be written (the reading has no evidence then)."""


class EnergyScan(Protocol):
    energy: Sequence[EnergyReading]
    complete: bool


@runtime_checkable
class EnergyScanner(Protocol):
    """A HAN stick that scans channels for energy (the plan's second, independent sensor)."""

    def energy_scan(self, channels: Iterable[int], duration: int = 3) -> EnergyScan: ...


def energy_by_channel(scan: EnergyScan) -> tuple[dict[int, float], list[int]]:
    """The highest energy (dBm) per channel in a scan, and the journal ids of its readings."""
    out: dict[int, float] = {}
    for reading in scan.energy:
        out[reading.channel] = max(out.get(reading.channel, -200.0), float(reading.max_rssi_dbm))
    return out, [r.journal_id for r in scan.energy if r.journal_id is not None]


def han_energy_off_on(scanner: EnergyScanner, mains: Mains, clock: Clock,
                      settle_s: float) -> tuple[dict[int, float], dict[int, float], list[int]]:
    """The HAN stick's energy per ZigBee channel with the ESME's mains cut, then powered, and the
    journal ids of every reading (evidence)."""
    channels = list(zigbee_channels())
    mains.cut()
    try:
        clock.sleep(settle_s)
        off, off_ids = energy_by_channel(scanner.energy_scan(channels))
    finally:
        mains.restore()
    clock.sleep(settle_s)
    on, on_ids = energy_by_channel(scanner.energy_scan(channels))
    return off, on, off_ids + on_ids


def event_log_read(sender_read: Callable[..., object], clock: Clock) -> Activity:
    """The ``active`` state's command: read the ESME's event log for the last day (read-only, so
    no device configuration changes)."""

    def activity() -> None:
        now = clock.wall()
        sender_read(now - timedelta(days=1), now)

    return activity
