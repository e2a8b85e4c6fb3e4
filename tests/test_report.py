"""The human report: the study-shaped table per limit set, failures explained, the plot."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from harness.limits import load_limits
from harness.measurements import info, judge_quantity
from harness.report import tables, write_report
from harness.results import DeviceIdentity, RigInfo, RunResults, Trial

SETS = load_limits().select(["sec-h3.14g", "sec-relaxed", "dno-ena-2019"])


def run_with(trials: list[Trial]) -> RunResults:
    ms = []
    for t in trials:
        ms += judge_quantity(SETS, "poa_latency_s", scenario=t.scenario, value=t.poa_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence[:1], trial=t.index,
                             missing="no POA arrived")
        ms += judge_quantity(SETS, "pra_latency_s", scenario=t.scenario, value=t.pra_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence[1:], trial=t.index)
    ms.append(info("three_minute_timer_s", 180.4, "s", scenario="boundary", note="<b>esc</b>"))
    return RunResults(run_id="rep-1", started=datetime(2026, 1, 1, tzinfo=timezone.utc),
                      rig=RigInfo(name="virtual", kind="virtual", seed=1, preset="north"),
                      dut=[DeviceIdentity(role="esme", eui="00DB1234567890A0", firmware="1.0.0")],
                      limit_sets=SETS, measurements=ms, trials=trials, limits_version="2026.1")


# Ten 200 s outages: POA at 190..280 s, PRA at 10..100 s; trial 9's POA never arrived.
TRIALS = [Trial(scenario="repeated", index=i, outage_seconds=200.0,
                poa_seconds=None if i == 9 else 190.0 + 10 * i, pra_seconds=10.0 + 10 * i,
                pra_alert_code="8F36", evidence=[100 + i, 200 + i], pra_before_poa=(i == 9))
          for i in range(10)]


def test_tables_give_percentiles_and_delivery_ratio_per_limit_set():
    by_name = {t.limit_set: t for t in tables(run_with(TRIALS))}
    sec, relaxed, dno = by_name["sec-h3.14g"], by_name["sec-relaxed"], by_name["dno-ena-2019"]
    assert sec.poa.percentiles == {50: 230.0, 80: 260.0, 95: None, 99: None}  # 9 of 10 arrived
    assert sec.pra.percentiles == {50: 50.0, 80: 80.0, 95: 100.0, 99: 100.0}
    assert (sec.poa.arrived, sec.poa.expected) == (9, 10)
    assert sec.poa.ratio_within_limit == 0.6  # 190..240
    assert relaxed.poa.ratio_within_limit == 0.9 and relaxed.pra.ratio_within_limit == 1.0
    assert sec.pra.ratio_within_limit == dno.pra.ratio_within_limit == 0.6
    assert (sec.poa.limit_s, relaxed.poa.limit_s, dno.pra.limit_s) == (240, 300, 60)


def test_short_outages_are_not_in_the_poa_population():
    short = [Trial(scenario="short", index=i, outage_seconds=60.0, poa_seconds=None, pra_seconds=5.0)
             for i in range(4)]
    [sec] = [t for t in tables(run_with(short)) if t.limit_set == "sec-h3.14g"]
    assert sec.poa.expected == 0 and sec.pra.expected == 4 and sec.pra.percentiles[99] == 5.0


def test_report_files_carry_the_table_failures_flags_and_plot(tmp_path: Path):
    files = write_report(run_with(TRIALS), tmp_path)
    md = files.markdown.read_text()
    assert "### sec-h3.14g: SEC H3.14(g)" in md and "### dno-ena-2019" in md
    assert "| 50 % delivered | 3m50s | 50.0s |" in md
    assert "| 95 % delivered | not reached | 1m40s |" in md
    assert "| delivery ratio within limit | 60.0 % | 60.0 % |" in md
    assert "[repeated] trial 9: poa_latency_s = none s vs sec-h3.14g" in md and "no POA arrived" in md
    assert "trial 9: PRA arrived before its POA" in md
    assert "Verdict: FAIL" in md and "![" in md
    page = files.html.read_text()
    assert "&lt;b&gt;esc&lt;/b&gt;" in page and "<b>esc</b>" not in page
    assert '<img src="latency.png"' in page
    assert files.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and files.plot.stat().st_size > 10_000


def test_a_passing_run_reports_no_failures(tmp_path: Path):
    good = [Trial(scenario="long", index=0, outage_seconds=200.0, poa_seconds=200.0, pra_seconds=20.0,
                  pra_alert_code="8F36")]
    md = write_report(run_with(good), tmp_path, plot=False).markdown.read_text()
    assert "Verdict: PASS" in md and "## Failures\n\n- none" in md and "Ordering flags" not in md
