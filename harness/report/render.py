"""The human report of a run: Markdown and HTML with the same content, and a latency plot.

The centre of the report is the DCC technical study's table (rows: 50/80/95/99 % delivered;
columns: POA from outage start, PRA from restoration), one per limit set, followed by the delivery
ratio within that set's limits, every failure explained (scenario, limit set, limit, evidence),
the trials, and the informational figures the scenarios record (3-minute timer accuracy, alert
rate under a flapping supply, ...). The plot shows the POA and PRA latency distributions against
each limit set's limit.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hubrig.harness.results.measurements import Verdict
from hubrig.harness.results.store import RunResults, Trial
from hubrig.harness.results.stats import PERCENTILES, LatencyTable, TrialTiming, fmt_duration, latency_table

POA_THRESHOLD_S = 180.0
"""A POA stands for an outage of at least 3 minutes (the plot's population of expected POAs)."""


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    plot: Path | None


# A report is a list of blocks rendered twice: ("h", level, text), ("p", text), ("ul", [items]),
# ("table", headers, rows), ("img", path, alt), ("alert", "warn" | "fail", title, [items]).
Block = tuple


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f} %"


def tables(results: RunResults, trials: list[Trial] | None = None) -> list[LatencyTable]:
    """The study-shaped latency table for each limit set of the run (over ``trials``, default all)."""
    timings = [TrialTiming(t.outage_seconds, t.poa_seconds, t.pra_seconds)
               for t in (results.trials if trials is None else trials)]
    return [latency_table(ls, timings) for ls in results.limit_sets]


def _latency_block(table: LatencyTable) -> Block:
    rows = [[f"{p} % delivered", fmt_duration(table.poa.percentiles[p]), fmt_duration(table.pra.percentiles[p])]
            for p in PERCENTILES]
    rows.append(["alerts arrived / expected", f"{table.poa.arrived} / {table.poa.expected}",
                 f"{table.pra.arrived} / {table.pra.expected}"])
    rows.append(["limit", "-" if table.poa.limit_s is None else f"{table.poa.limit_s:g} s",
                 "-" if table.pra.limit_s is None else f"{table.pra.limit_s:g} s"])
    rows.append(["delivery ratio within limit", _pct(table.poa.ratio_within_limit),
                 _pct(table.pra.ratio_within_limit)])
    return ("table", ["", "POA (from outage start)", "PRA (from restoration)"], rows)


def _blocks(results: RunResults, plot: Path | None) -> list[Block]:
    r = results
    out: list[Block] = [("h", 1, f"hubrig run {r.run_id}")]
    out += _tsat_alert(r)
    out += _summary(r)
    out += _tsat_section(r)
    groups = _plan_groups(r)
    for plan in groups:
        out += _plan_section(r, plan, groups[plan], plot)
    if r.journal:
        out.append(("p", f"Journal of every frame: {r.journal} (`hubrig journal show`)."))
    return out


def _tsat_alert(r: RunResults) -> list[Block]:
    """A DUT outside its IVP, MVP or GBCS applicability, first thing in the report."""
    if r.tsat is None or not r.tsat.violations():
        return []
    if r.tsat.fails_run:
        title = (f"TSAT FAIL: the DUT breaks {r.tsat.table} on {r.tsat.date}; the rig file says "
                 "tsat.on_violation: fail, so this run fails")
    else:
        title = f"TSAT WARNING: the DUT breaks {r.tsat.table} on {r.tsat.date}"
    return [("alert", "fail" if r.tsat.fails_run else "warn", title, r.tsat.violations())]


def tsat_warning_lines(results: RunResults) -> list[str]:
    """For a terminal: a DUT that breaks the TSAT, one line per violation (none when it complies)."""
    t = results.tsat
    if t is None or not t.violations():
        return []
    head = (f"TSAT FAIL (the rig file says tsat.on_violation: fail): the DUT breaks {t.table} on {t.date}:"
            if t.fails_run else f"TSAT WARNING: the DUT breaks {t.table} on {t.date}:")
    return [head] + [f"  {v}" for v in t.violations()]


def _tsat_word(r: RunResults) -> str:
    t = r.tsat
    if t is None:
        return "not judged"
    if not t.violations():
        return f"within IVP, MVP and GBCS applicability on {t.date} ({t.table})"
    return (f"{'FAIL' if t.fails_run else 'WARNING'}: {len(t.violations())} violation(s) on {t.date} "
            f"({t.table})")


def _counts(c: dict[str, int]) -> str:
    return f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"


def _summary(r: RunResults) -> list[Block]:
    rig = r.rig
    rig_text = (f"{rig.name} ({rig.kind}" + (f", preset {rig.preset}" if rig.preset else "")
                + (f", seed {rig.seed}" if rig.seed is not None else "") + ")"
                + (f", file {rig.file}" if rig.file else "")
                + (f"; device clock tolerance {rig.clock_tolerance_s:g} s" if rig.clock_tolerance_s else ""))
    dut = "; ".join(f"{d.role} {d.eui or '?'} ({d.type or '?'} {d.spec_version or '?'}, GBCS "
                    f"{d.gbcs_version or '?'}, firmware {d.firmware or '?'})" for d in r.dut) or "-"
    failures = r.failures()
    rows = [["Verdict", f"{r.verdict.upper()} ({len(failures)} failed measurement(s), "
                        f"{r.counts()['failed']} failed test(s), {len(r.trials)} trial(s))"],
            ["Rig", rig_text], ["DUT", dut], ["TSAT", _tsat_word(r)],
            ["Started", r.started.isoformat(timespec="seconds")]]
    rows += [[f"Plan {p}", _counts(r.counts(p))] for p in r.plans]
    rows.append(["All tests", _counts(r.counts())])
    out: list[Block] = [("h", 2, "Summary"), ("table", ["", ""], rows)]
    if r.dut:
        out.append(("table", ["device", "EUI", "type", "spec", "GBCS", "firmware", "CSP region"],
                    [[d.role, d.eui or "", d.type or "", d.spec_version or "", d.gbcs_version or "",
                      d.firmware or "", d.csp_region or ""] for d in r.dut]))
    if r.instruments:
        out.append(("table", ["instrument", "resource", "identity"],
                    [[i.name, i.resource or "", i.identity or ""] for i in r.instruments]))
    return out


def _tsat_section(r: RunResults) -> list[Block]:
    t = r.tsat
    if t is None:
        return []
    yes = {True: "yes", False: "NO", None: "n/a (no GBCS)"}
    out: list[Block] = [("h", 2, f"TSAT verdict on {t.date}"),
                        ("p", f"Judged against {t.table}; on violation: {t.on_violation}.")]
    if t.devices:
        out.append(("table", ["device", "type", "spec", "GBCS", "installable (IVP)", "maintainable (MVP)",
                              "GBCS applicable", "row"],
                    [[d.role, d.device_type, d.spec, d.gbcs or "-", yes[d.installable], yes[d.maintainable],
                      yes[d.gbcs_applicable], d.row] for d in t.devices]))
    out.append(("ul", [f"{d.role}: {reason}" for d in t.devices for reason in d.reasons] + list(t.errors)))
    return out


def _plan_groups(r: RunResults) -> dict[str, set[str]]:
    """Plan -> its scenarios; measurements and trials of no known test go under ``""``."""
    groups: dict[str, set[str]] = {p: set() for p in r.plans}
    for t in r.tests:
        groups.setdefault(t.plan, set()).add(t.scenario)
    known = set().union(*groups.values()) if groups else set()
    if any(m.scenario not in known for m in r.measurements) or any(t.scenario not in known for t in r.trials):
        groups[""] = {m.scenario for m in r.measurements if m.scenario not in known} | {
            t.scenario for t in r.trials if t.scenario not in known}
    return groups


def _plan_section(r: RunResults, plan: str, scenarios: set[str], plot: Path | None) -> list[Block]:
    tests = [t for t in r.tests if t.plan == plan] if plan else []
    measurements = [m for m in r.measurements if m.scenario in scenarios]
    trials = [t for t in r.trials if t.scenario in scenarios]
    out: list[Block] = [("h", 2, f"Plan {plan}" if plan else "Other measurements")]
    if plan:
        out.append(("p", _counts(r.counts(plan)) + "." if tests else "No test of this plan ran."))
    if tests:
        out.append(("table", ["test", "outcome", "time", "detail"],
                    [[t.nodeid.split("::", 1)[-1], t.outcome.upper(), f"{t.duration_s:.2f} s", _first_line(t.message)]
                     for t in tests]))
    if trials:
        out += _latency_blocks(r, trials, plot)
    failures = [m for m in measurements if m.verdict is Verdict.FAIL]
    if measurements:
        out.append(("h", 3, "Failures"))
        out.append(("ul", [m.explain() for m in failures] or ["none"]))
    judged = [m for m in measurements if m.verdict is not Verdict.INFO]
    if judged:
        out.append(("h", 3, "Checks and measurements"))
        out.append(("table", ["scenario", "trial", "measurement", "value", "limit set", "limit or rule",
                              "verdict", "evidence"],
                    [[m.scenario, "" if m.trial is None else str(m.trial), m.name,
                      "" if m.value is None and not m.limit_set else _value(m.value, m.unit),
                      m.limit_set or "-", m.limit or "", m.verdict.value.upper(),
                      ", ".join(f"journal #{i}" for i in m.evidence)] for m in judged]))
    notes = [m for m in measurements if m.verdict is Verdict.INFO]
    if notes:
        out.append(("h", 3, "Figures"))
        out.append(("table", ["scenario", "figure", "value", "note"],
                    [[m.scenario, m.name, _value(m.value, m.unit), m.note] for m in notes]))
    return out


def _latency_blocks(r: RunResults, trials: list[Trial], plot: Path | None) -> list[Block]:
    out: list[Block] = [("h", 3, "Latency percentiles per limit set"),
                        ("p", "Times by which 50/80/95/99 % of the expected alerts had arrived (alerts that "
                              "never arrived count as not delivered, as in the DCC technical study); POA "
                              "from outage start, PRA from restoration. Limits file version "
                              f"{r.limits_version or '?'}.")]
    for ls, table in zip(r.limit_sets, tables(r, trials)):
        out.append(("h", 4, f"{ls.name}: {ls.title}"))
        out.append(("p", f"Source: {ls.citation}"))
        out.append(_latency_block(table))
    if plot is not None:
        out.append(("img", plot.name, "POA and PRA latency distributions against each limit set"))
    flagged = [t for t in trials if t.pra_before_poa]
    if flagged:
        out.append(("h", 3, "Ordering flags"))
        out.append(("ul", [f"[{t.scenario}] trial {t.index}: PRA arrived before its POA "
                           f"(evidence: {', '.join(f'journal #{i}' for i in t.evidence)})" for t in flagged]))
    out.append(("h", 3, "Trials"))
    han = any(t.han_down_seconds is not None or t.han_back_seconds is not None for t in trials)
    rows = [[t.scenario, str(t.index), f"{t.outage_seconds:.1f} s", _secs(t.poa_seconds),
             _secs(t.pra_seconds), t.pra_alert_code or "-",
             f"{_secs(t.interruption_error_s)} / {_secs(t.restoration_error_s)}"]
            + ([f"{_secs(t.han_down_seconds)} / {_secs(t.han_back_seconds)}"] if han else [])
            + [", ".join(f"#{i}" for i in t.evidence)] for t in trials]
    out.append(("table", ["scenario", "#", "outage", "POA", "PRA", "code", "clock error (int/rest)"]
                + (["HAN down / back"] if han else []) + ["evidence"], rows))
    return out


def _first_line(text: str, limit: int = 300) -> str:
    """A test's message as one table cell (measurement failures are listed in full below it)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f} s"


def _value(v: object, unit: str) -> str:
    if v is None:
        return "none"
    return f"{v:.3f} {unit}".rstrip() if isinstance(v, float) else f"{v} {unit}".rstrip()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if b[0] == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "ul":
            lines += [f"- {item}" for item in b[1]] + [""]
        elif b[0] == "table":
            lines.append("| " + " | ".join(_md_cell(h) for h in b[1]) + " |")
            lines.append("|" + "---|" * len(b[1]))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b[2]]
            lines.append("")
        elif b[0] == "img":
            lines += [f"![{b[2]}]({b[1]})", ""]
        elif b[0] == "alert":
            lines += [f"> **{_md_cell(b[2])}**", ">"] + [f"> - {_md_cell(i)}" for i in b[3]] + [""]
    return "\n".join(lines)


_CSS = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #999;padding:.2em .5em;text-align:left}img{max-width:100%}"
        ".alert{border:3px solid;padding:.5em 1em;margin:1em 0}.alert.warn{border-color:#c80;background:#fff4d6}"
        ".alert.fail{border-color:#c00;background:#fde2e2}")


def render_html(blocks: list[Block], title: str) -> str:
    e = html.escape
    body: list[str] = []
    for b in blocks:
        if b[0] == "h":
            body.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            body.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "ul":
            body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b[1]) + "</ul>")
        elif b[0] == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif b[0] == "img":
            body.append(f'<img src="{e(b[1])}" alt="{e(b[2])}">')
        elif b[0] == "alert":
            items = "".join(f"<li>{e(i)}</li>" for i in b[3])
            body.append(f'<div class="alert {e(b[1])}"><strong>{e(b[2])}</strong><ul>{items}</ul></div>')
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def _ecdf(ax, values: list[float | None], label: str) -> None:
    arrived = sorted(v for v in values if v is not None)
    if not values:
        ax.text(0.5, 0.5, "no alerts expected", ha="center", transform=ax.transAxes)
        return
    ys = [100 * (i + 1) / len(values) for i in range(len(arrived))]
    ax.step(arrived, ys, where="post", label=f"{label}: {len(arrived)} of {len(values)} arrived")


def write_plot(results: RunResults, path: Path) -> Path:
    """PNG of the POA and PRA latency distributions with each limit set's limit drawn on them."""
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    poa = [t.poa_seconds for t in results.trials if t.outage_seconds >= POA_THRESHOLD_S]
    pra = [t.pra_seconds for t in results.trials]
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
    fig.savefig(path, dpi=100)
    return path


def markdown(results: RunResults, plot: Path | None = None) -> str:
    """The report as Markdown (``plot``: the PNG to link, if any)."""
    return render_markdown(_blocks(results, plot))


def write_report(results: RunResults, out_dir: str | Path, *, plot: bool = True) -> ReportFiles:
    """Write ``report.md``, ``report.html`` and (when the run has outage trials) ``latency.png``
    into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = write_plot(results, out / "latency.png") if plot and results.trials else None
    blocks = _blocks(results, png)
    md = out / "report.md"
    md.write_text(render_markdown(blocks), encoding="utf-8")
    page = out / "report.html"
    page.write_text(render_html(blocks, f"hubrig run {results.run_id}"), encoding="utf-8")
    return ReportFiles(md, page, png)
