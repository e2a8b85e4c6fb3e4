"""Trends across runs (per rig, DUT firmware and measurement) and the comparison of two runs.

Trends read the store's measurement rows joined with their runs (rig, firmware, start), oldest
first; a measurement recorded once per trial is summarised per run by its mean (``n`` says how many).
:func:`compare` judges two run documents: a test that stopped passing, a measurement whose verdict
became ``fail`` or that is no longer there, or a run verdict that went from pass to fail is *worse*.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from hubrig.harness.racks.database import Database, measurements, runs
from hubrig.harness.results.model import RunResults

_RANK = {"pass": 0, "n/a": 0, "info": 0, "unset": 2, "fail": 2}


@dataclass(frozen=True)
class TrendPoint:
    """One run's value of one measurement."""

    run_id: str
    started: str
    value: float
    n: int
    verdict: str


@dataclass
class Trend:
    """One measurement on one rig with one DUT firmware, across runs (oldest first)."""

    scenario: str
    name: str
    limit_set: str | None
    unit: str
    rig: str
    firmware: str
    points: list[TrendPoint] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.scenario}: {self.name}" + (f" [{self.limit_set}]" if self.limit_set else "")

    def as_json(self) -> dict[str, object]:
        return {**{k: v for k, v in asdict(self).items() if k != "points"}, "measurement": self.label,
                "points": [asdict(p) for p in self.points]}


def _number(text: str | None) -> float | None:
    if text is None or text in ("True", "False"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def trends(db: Database, *, rig: str | None = None, firmware: str | None = None,
           measurement: str | None = None) -> list[Trend]:
    """Numeric measurements across runs, grouped by (measurement, rig, firmware); filters match a
    rig exactly, and a firmware or measurement name by substring."""
    query = (sa.select(runs.c.run_id, runs.c.started, runs.c.rig, runs.c.firmware, measurements.c.scenario,
                       measurements.c.name, measurements.c.limit_set, measurements.c.unit, measurements.c.value,
                       measurements.c.verdict)
             .join(runs, runs.c.run_id == measurements.c.run_id)
             .order_by(runs.c.started, runs.c.run_id))
    if rig is not None:
        query = query.where(runs.c.rig == rig)
    if firmware is not None:
        query = query.where(runs.c.firmware.contains(firmware, autoescape=True))
    if measurement is not None:
        query = query.where(measurements.c.name.contains(measurement, autoescape=True))
    groups: dict[tuple[str, str, str | None, str, str], Trend] = {}
    per_run: dict[tuple[tuple[str, str, str | None, str, str], str], list[tuple[float, str, str]]] = {}
    with db.begin() as conn:
        for row in conn.execute(query):
            value = _number(row.value)
            if value is None:
                continue
            key = (row.scenario, row.name, row.limit_set, row.rig, row.firmware or "?")
            if key not in groups:
                groups[key] = Trend(row.scenario, row.name, row.limit_set, row.unit or "", row.rig,
                                    row.firmware or "?")
            per_run.setdefault((key, row.run_id), []).append((value, row.verdict, row.started))
    for (key, run_id), values in per_run.items():
        worst = max((v[1] for v in values), key=lambda v: _RANK.get(v, 0))
        mean = sum(v[0] for v in values) / len(values)
        groups[key].points.append(TrendPoint(run_id, values[0][2], mean, len(values), worst))
    for trend in groups.values():
        trend.points.sort(key=lambda p: (p.started, p.run_id))
    return sorted(groups.values(), key=lambda t: (t.scenario, t.name, t.limit_set or "", t.rig, t.firmware))


def plot(found: list[Trend], folder: Path) -> list[Path]:
    """One PNG per measurement: a line per (rig, firmware) over the runs, failed runs marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    by_measurement: dict[str, list[Trend]] = {}
    for trend in found:
        by_measurement.setdefault(trend.label, []).append(trend)
    paths = []
    for label, lines in by_measurement.items():
        fig, ax = plt.subplots(figsize=(8, 4))
        for trend in lines:
            xs = list(range(1, len(trend.points) + 1))
            ax.plot(xs, [p.value for p in trend.points], marker="o", label=f"{trend.rig} / fw {trend.firmware}")
            failed = [(x, p.value) for x, p in zip(xs, trend.points) if p.verdict == "fail"]
            if failed:
                ax.scatter(*zip(*failed), color="red", zorder=3, s=60, marker="x")
        ax.set_title(label)
        ax.set_xlabel("run (oldest first; x: failed)")
        ax.set_ylabel(lines[0].unit or "value")
        ax.legend(fontsize="small")
        fig.tight_layout()
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:120] + ".png"
        path = folder / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Change:
    """One difference between run A and run B."""

    kind: str  # "verdict", "test", "measurement", "record"
    key: str
    before: str
    after: str
    worse: bool


def _measurement_key(scenario: str, name: str, limit_set: str | None, trial: int | None) -> str:
    return f"{scenario}: {name}" + (f" [{limit_set}]" if limit_set else "") + (
        f" trial {trial}" if trial is not None else "")


def _shown(value: object, unit: str) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".rstrip()


def compare(a: RunResults, b: RunResults) -> list[Change]:
    """What changed from run ``a`` to run ``b`` (verdicts, tests, measurements, the plans' records)."""
    changes: list[Change] = []
    if a.verdict != b.verdict:
        changes.append(Change("verdict", "run", a.verdict, b.verdict, a.verdict == "pass"))
    tests_a = {t.nodeid.rsplit("::", 1)[-1] + f" ({t.plan})": t.outcome for t in a.tests}
    tests_b = {t.nodeid.rsplit("::", 1)[-1] + f" ({t.plan})": t.outcome for t in b.tests}
    for key in sorted(tests_a.keys() | tests_b.keys()):
        before, after = tests_a.get(key, "absent"), tests_b.get(key, "absent")
        if before != after:
            worse = before == "passed" and after != "passed" and after != "skipped"
            changes.append(Change("test", key, before, after, worse))
    ms_a = {_measurement_key(m.scenario, m.name, m.limit_set, m.trial): m for m in a.measurements}
    ms_b = {_measurement_key(m.scenario, m.name, m.limit_set, m.trial): m for m in b.measurements}
    for key in sorted(ms_a.keys() | ms_b.keys()):
        ma, mb = ms_a.get(key), ms_b.get(key)
        if ma is None or mb is None:
            have = ma or mb
            shown = f"{_shown(have.value, have.unit)} ({have.verdict.value})"
            changes.append(Change("measurement", key, shown if ma else "absent", shown if mb else "absent",
                                  mb is None and ma.verdict.value == "pass"))
            continue
        if ma.value == mb.value and ma.verdict == mb.verdict:
            continue
        worse = _RANK.get(mb.verdict.value, 0) > _RANK.get(ma.verdict.value, 0)
        changes.append(Change("measurement", key, f"{_shown(ma.value, ma.unit)} ({ma.verdict.value})",
                              f"{_shown(mb.value, mb.unit)} ({mb.verdict.value})", worse))
    changes += _record_changes(a, b)
    return changes


def _record_changes(a: RunResults, b: RunResults) -> list[Change]:
    """A plan's records (e.g. the power-outage trials) that appeared, went, or whose fields changed;
    informational: whether a change is worse is for the measurements judged from them to say."""
    recs_a = {f"{r.plan} {r.kind} {r.scenario} #{r.index}": r.data for r in a.records}
    recs_b = {f"{r.plan} {r.kind} {r.scenario} #{r.index}": r.data for r in b.records}
    changes = []
    for key in sorted(recs_a.keys() | recs_b.keys()):
        da, db_ = recs_a.get(key), recs_b.get(key)
        if da is None or db_ is None:
            changes.append(Change("record", key, "absent" if da is None else "present",
                                  "absent" if db_ is None else "present", False))
            continue
        for field_ in sorted(da.keys() | db_.keys()):
            if da.get(field_) != db_.get(field_):
                changes.append(Change("record", f"{key} {field_}", _shown(da.get(field_), ""),
                                      _shown(db_.get(field_), ""), False))
    return changes
