"""The human report of a run: one Jinja2 template per format (HTML, Markdown), one section per plan.

Order: the verdict (coloured) with its counts, a DUT outside its TSAT periods, a table of contents,
then every failure with its rule, value, limit, margin and evidence (the decoded frames it cites,
linked to the Evidence section at the end), then the summary, the TSAT verdict, and a section per
plan: its tests, what the plan contributes itself (:class:`~hubrig.harness.results.plans.PlanResults`,
e.g. the power-outage plan's latency tables and plot), and its measurements grouped by scenario
with each rule and its citation written once. Plots are SVG: inline in the HTML (one file carries
everything), beside the Markdown as files. matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from hubrig.harness.report.blocks import Block, Figure
from hubrig.harness.results.files import write_atomic
from hubrig.harness.results.model import Measurement, RunResults, TestOutcome, Verdict
from hubrig.harness.results.plans import plan_results

MAX_EVIDENCE_FRAMES = 200
"""Frames decoded into the report's Evidence section at most (failures' evidence first)."""


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    figures: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------- formatting

_SYMBOL_UNITS = {"s", "ms", "ns", "V", "A", "W", "Hz", "kHz", "MHz", "GHz", "dB", "dBm", "dBuV", "%", "ratio"}


def plural(unit: str, n: float) -> str:
    """A count noun agreeing with ``n`` (``1 alert``, ``2 alerts``, ``1 entry``, ``0 entries``,
    whichever number the unit was written in); symbols (s, V, dBm) and rates stay as they are."""
    if not unit.isalpha() or unit in _SYMBOL_UNITS or len(unit) < 3:
        return unit
    one = unit[:-3] + "y" if unit.endswith("ies") else unit[:-1] if unit.endswith("s") and not unit.endswith(
        "ss") else unit
    if n == 1:
        return one
    return one[:-1] + "ies" if one.endswith("y") and one[-2:-1] not in "aeiou" else one + "s"


def number(v: float) -> str:
    """Up to 3 decimals, without trailing zeros: ``75.5``, ``60``, ``0.125``."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def value_text(value: object, unit: str) -> str:
    """A value with its unit: ``1 alert``, ``2 alerts``, ``75.5 s``, ``60 %`` (ratios), ``yes``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if unit == "ratio":
            return f"{number(100 * value)} %"
        return f"{number(value)} {plural(unit, value)}".rstrip()
    return f"{value} {unit}".rstrip()


def margin_text(m: Measurement) -> str:
    """How far inside or outside its bounds a value is (``15.5 s over``), or empty."""
    margin = m.margin()
    if margin is None:
        return ""
    unit = m.bounds.unit if m.bounds is not None else m.unit
    if margin < 0:
        return f"{number(-margin)} {unit} outside".replace("  ", " ")
    return f"{number(margin)} {unit} inside".replace("  ", " ")


def counts_text(c: dict[str, int]) -> str:
    parts = [f"{c['passed']} passed", f"{c['failed']} failed", f"{c['skipped']} skipped"]
    if c.get("not run"):
        parts.append(f"{c['not run']} not run")
    return ", ".join(parts)


# ------------------------------------------------------------------------------- view model

@dataclass
class Breach:
    """One limit or rule a value broke."""

    limit: str
    limit_set: str
    citation: str
    margin: str


@dataclass
class Failure:
    """One failed (or unset) value, with every limit it broke (one per limit set)."""

    anchor: str
    title: str
    value: str
    breaches: list[Breach]
    note: str
    evidence: list[int]


@dataclass
class RuleRow:
    """One measurement row; the rule's cells are empty when the row above states the same rule."""

    first: bool
    name: str
    limit: str
    citation: str
    trial: str
    value: str
    margin: str
    verdict: str
    note: str
    evidence: list[int]


@dataclass
class ScenarioView:
    name: str
    rules: list[RuleRow]
    figures: list[RuleRow]


@dataclass
class PlanView:
    name: str
    anchor: str
    counts: str
    tests: list[TestOutcome]
    blocks: list[Block]
    scenarios: list[ScenarioView]


@dataclass
class EvidenceFrame:
    id: int
    when: str
    source: str
    summary: str
    decoded: str


def _failures(failed: list[Measurement]) -> list[Failure]:
    """Failed measurements, those of one value (same scenario, trial, name, value) merged."""
    out: dict[tuple, Failure] = {}
    for m in failed:
        key = (m.scenario, m.trial, m.name, repr(m.value), m.verdict, m.note, tuple(m.evidence))
        if key not in out:
            title = f"{m.scenario}" + (f" trial {m.trial}" if m.trial is not None else "") + f": {m.name}"
            value = "not recorded" if m.verdict is Verdict.UNSET else value_text(m.value, m.unit)
            out[key] = Failure(f"failure-{len(out) + 1}", title, value, [], m.note, list(m.evidence))
        limit = "declared by the test" if m.verdict is Verdict.UNSET else m.limit_text()
        out[key].breaches.append(Breach(limit, m.limit_set or "", m.citation, margin_text(m)))
    return list(out.values())


def _rows(measurements: list[Measurement]) -> list[RuleRow]:
    rows, previous = [], None
    for m in measurements:
        rule = (m.name, m.limit_set, m.limit_text(), m.citation)
        rows.append(RuleRow(first=rule != previous, name=m.name + (f" [{m.limit_set}]" if m.limit_set else ""),
                            limit=m.limit_text(), citation=m.citation,
                            trial="" if m.trial is None else str(m.trial),
                            value="" if m.verdict is Verdict.UNSET or (m.value is None and not m.limit_set)
                            else value_text(m.value, m.unit),
                            margin=margin_text(m), verdict=m.verdict.value.upper(), note=m.note,
                            evidence=list(m.evidence)))
        previous = rule
    return rows


def _plan_views(r: RunResults) -> list[PlanView]:
    """Plan -> its tests, its contribution and its measurements by scenario; measurements of no
    known test go under a last section without a plan."""
    scenarios_of: dict[str, list[str]] = {p: [] for p in r.plans}
    for t in r.tests:
        names = scenarios_of.setdefault(t.plan, [])
        if t.scenario not in names:
            names.append(t.scenario)
    known = {s for names in scenarios_of.values() for s in names}
    orphans = list(dict.fromkeys(m.scenario for m in r.measurements if m.scenario not in known))
    if orphans:
        scenarios_of[""] = orphans
    views = []
    for plan, names in scenarios_of.items():
        contribution = plan_results(plan) if plan else None
        blocks = contribution.section(r) if contribution is not None and contribution.section is not None else []
        scenarios = []
        for s in names:
            ms = [m for m in r.measurements if m.scenario == s]
            judged = sorted((m for m in ms if m.verdict is not Verdict.INFO),
                            key=lambda m: (m.name, m.limit_set or "", m.limit_text(), m.trial or 0))
            notes = [m for m in ms if m.verdict is Verdict.INFO]
            if judged or notes:
                scenarios.append(ScenarioView(s, _rows(judged), _rows(notes)))
        views.append(PlanView(plan or "other measurements", f"plan-{plan or 'other'}",
                              counts_text(r.counts(plan)) if plan else "",
                              [t for t in r.tests if t.plan == plan] if plan else [], blocks, scenarios))
    return views


def _evidence(r: RunResults, ids: list[int]) -> list[EvidenceFrame]:
    """The cited frames, decoded, from the run's journal (none when it is not readable here)."""
    if not ids or not r.journal or not Path(r.journal).is_file():
        return []
    from hubrig.harness.capture.journal import Journal, JournalError

    wanted = sorted(set(ids))[:MAX_EVIDENCE_FRAMES]
    try:
        journal = Journal.open_existing(r.journal)
    except JournalError:
        return []
    try:
        frames = {f.id: f for f in journal.frames(since_id=wanted[0] - 1) if f.id in set(wanted)}
    finally:
        journal.close()
    from datetime import datetime, timezone

    out = []
    for i in wanted:
        f = frames.get(i)
        if f is None:
            continue
        rec = f.record or {}
        summary = str(rec.get("alert_name") or rec.get("use_case") or rec.get("notification")
                      or f.error or f.kind)
        decoded = json.dumps(rec, indent=1, default=str) if f.record is not None else (f.error or "not decoded")
        when = datetime.fromtimestamp(f.wall_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        out.append(EvidenceFrame(i, when, f"{f.direction} {f.source}", summary, decoded))
    return out


@dataclass
class ReportView:
    results: RunResults
    verdict: str
    headline: str
    failures: list[Failure]
    failed_tests: list[TestOutcome]
    plans: list[PlanView]
    evidence: list[EvidenceFrame]
    summary: list[list[str]]
    figures: dict[str, str]
    """Figure name -> SVG text (drawn) for the HTML, or -> file name for the Markdown."""


def view(results: RunResults, *, plots: bool = True) -> ReportView:
    """Everything the templates show, computed once."""
    r = results
    failures = _failures(r.failures())
    explained = {m.scenario for m in r.failures()}
    failed_tests = [t for t in r.tests if t.outcome in ("failed", "error") and t.scenario not in explained]
    c = r.counts()
    inconclusive = sum(m.verdict is Verdict.INCONCLUSIVE for m in r.measurements)
    headline = (f"{len(r.failures())} failed measurement(s), {c['failed']} failed test(s) of {len(r.tests)}"
                + (f", {c['not run']} not run" if c["not run"] else "")
                + (f", {inconclusive} inconclusive (too few trials to show a ratio)" if inconclusive else "") + f"; {len(r.measurements)} measurement(s), "
                + f"{len(r.records)} plan record(s)")
    rig = r.rig
    rig_text = (f"{rig.name} ({rig.kind}" + (f", preset {rig.preset}" if rig.preset else "")
                + (f", seed {rig.seed}" if rig.seed is not None else "") + ")"
                + (f", file {rig.file}" if rig.file else "")
                + (f"; device clock tolerance {rig.clock_tolerance_s:g} s" if rig.clock_tolerance_s else ""))
    dut = "; ".join(f"{d.role} {d.eui or '?'} ({d.type or '?'} {d.spec_version or '?'}, GBCS "
                    f"{d.gbcs_version or '?'}, firmware {d.firmware or '?'})" for d in r.dut) or "-"
    summary = [["Verdict", r.verdict.upper()], ["Rig", rig_text], ["DUT", dut], ["TSAT", _tsat_word(r)],
               ["Started", r.started.isoformat(timespec="seconds")]]
    summary += [[f"Plan {p}", counts_text(r.counts(p))] for p in r.plans]
    summary.append(["All tests", counts_text(c)])
    plans = _plan_views(r)
    cited = [i for f in failures for i in f.evidence]
    evidence = _evidence(r, cited)
    figures = {}
    if plots:
        figures = {b.name: b.draw() for p in plans for b in p.blocks if isinstance(b, Figure)}
    return ReportView(r, r.verdict, headline, failures, failed_tests, plans, evidence, summary, figures)


def _tsat_word(r: RunResults) -> str:
    t = r.tsat
    if t is None:
        return "not judged"
    if not t.violations():
        return f"within IVP, MVP and GBCS applicability on {t.date} ({t.table})"
    return (f"{'FAIL' if t.fails_run else 'WARNING'}: {len(t.violations())} violation(s) on {t.date} "
            f"({t.table})")


# ------------------------------------------------------------------------------- templates

def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


@cache  # templates compile once per process
def _env(autoescape: bool) -> Environment:
    env = Environment(loader=PackageLoader("hubrig.harness.report", "templates"), autoescape=autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["mdcell"] = _md_cell
    env.filters["journal_refs"] = lambda ids: ", ".join(f"journal #{i}" for i in ids)
    env.globals["block_kind"] = lambda b: type(b).__name__
    return env


def render_html(v: ReportView) -> str:
    return _env(True).get_template("report.html.j2").render(v=v, r=v.results)


def render_markdown(v: ReportView) -> str:
    return _env(False).get_template("report.md.j2").render(v=v, r=v.results)


def markdown(results: RunResults) -> str:
    """The report as Markdown, without plots (``hubrig results show``)."""
    return render_markdown(view(results, plots=False))


def write_report(results: RunResults, out_dir: str | Path, *, plot: bool = True) -> ReportFiles:
    """Write ``report.html`` (plots inline), ``report.md`` and its plots as ``<name>.svg`` into
    ``out_dir``, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v = view(results, plots=plot)
    page = write_atomic(out / "report.html", render_html(v).encode("utf-8"))
    figures = [write_atomic(out / f"{name}.svg", svg.encode("utf-8")) for name, svg in v.figures.items()]
    v.figures = {name: f"{name}.svg" for name in v.figures}
    md = write_atomic(out / "report.md", render_markdown(v).encode("utf-8"))
    return ReportFiles(md, page, figures)
