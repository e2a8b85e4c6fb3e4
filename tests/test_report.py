"""The human report: the study-shaped table per limit set, failures explained, the plot."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hubrig.harness.rules.limits import load_limits
from hubrig.harness.results.measurements import check, info, judge_quantity
from hubrig.harness.report.render import tables, write_report
from hubrig.harness.results.store import DeviceIdentity, DeviceTsat, RigInfo, RunResults, TestOutcome, Trial, TsatRecord

SETS = load_limits().select(["sec-h3.14g", "sec-relaxed", "dno-ena-2019"])


def run_with(trials: list[Trial], **extra) -> RunResults:
    ms = []
    for t in trials:
        ms += judge_quantity(SETS, "poa_latency_s", scenario=t.scenario, value=t.poa_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence[:1], trial=t.index,
                             missing="no POA arrived")
        ms += judge_quantity(SETS, "pra_latency_s", scenario=t.scenario, value=t.pra_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence[1:], trial=t.index)
    ms.append(info("three_minute_timer_s", 180.4, "s", scenario="repeated", note="<b>esc</b>"))
    tests = [TestOutcome(nodeid=f"testplans/test_power_outage.py::test_{s.replace('-', '_')}", outcome="passed",
                         plan="power-outage", scenario=s) for s in dict.fromkeys(t.scenario for t in trials)]
    fields = dict(plans=["power-outage"], tests=tests, measurements=ms, trials=trials)
    fields.update(extra)
    return RunResults(run_id="rep-1", started=datetime(2026, 1, 1, tzinfo=timezone.utc),
                      rig=RigInfo(name="virtual", kind="virtual", seed=1, preset="north"),
                      dut=[DeviceIdentity(role="esme", eui="00DB1234567890A0", firmware="1.0.0")],
                      limit_sets=SETS, limits_version="2026.1", **fields)


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
    assert "#### sec-h3.14g: SEC H3.14(g)" in md and "#### dno-ena-2019" in md
    assert "| 50 % delivered | 3m50s | 50.0s |" in md
    assert "| 95 % delivered | not reached | 1m40s |" in md
    assert "| delivery ratio within limit | 60.0 % | 60.0 % |" in md
    assert "[repeated] trial 9: poa_latency_s = none s vs sec-h3.14g" in md and "no POA arrived" in md
    assert "trial 9: PRA arrived before its POA" in md
    assert "| Verdict | FAIL" in md and "![" in md
    page = files.html.read_text()
    assert "&lt;b&gt;esc&lt;/b&gt;" in page and "<b>esc</b>" not in page
    assert '<img src="latency.png"' in page
    assert files.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and files.plot.stat().st_size > 10_000


def test_a_passing_run_reports_no_failures(tmp_path: Path):
    good = [Trial(scenario="long", index=0, outage_seconds=200.0, poa_seconds=200.0, pra_seconds=20.0,
                  pra_alert_code="8F36")]
    md = write_report(run_with(good), tmp_path, plot=False).markdown.read_text()
    assert "| Verdict | PASS" in md and "### Failures\n\n- none" in md and "Ordering flags" not in md


SKIP_RULE = ("GBCS feature alert_0x81C6 needs GBCS >= 3.2: IRP511 'Set Clock Alerts Refs in Alert Tables "
             "Incorrect' introduced the Set Clock alert 0x81C6")


def three_plan_run(tsat: TsatRecord | None) -> RunResults:
    """The outage trials, two device-log checks with evidence, and a skipped clock-alert plan."""
    runs = run_with(TRIALS[:2], tsat=tsat, plans=["power-outage", "device-log", "clock-alert"])
    runs.tests += [
        TestOutcome(nodeid="testplans/test_device_log.py::test_sr8_9", outcome="passed", plan="device-log",
                    scenario="sr8-9"),
        TestOutcome(nodeid="testplans/test_device_log.py::test_historic", outcome="failed", plan="device-log",
                    scenario="historic", message="AssertionError: historic log holds 16 entries\nsecond line"),
        TestOutcome(nodeid="testplans/test_clock_alert.py::test_within", outcome="skipped", plan="clock-alert",
                    scenario="within", message=SKIP_RULE)]
    runs.measurements += [
        check("ccs06_drops_removed_esme", True, scenario="sr8-9", rule="SR8.9: CCS06 no longer lists it",
              evidence=[11, 12]),
        check("historic_log_keeps_newest_15", False, scenario="historic", value=16, unit="entries",
              rule="CRP535: at most 15 <entries>", evidence=[40])]
    return runs


def sections(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("## ")]


def test_report_opens_with_a_summary_then_one_section_per_plan(tmp_path: Path):
    tsat = TsatRecord(date=datetime(2026, 1, 1).date(), table="Schedule 11 v9.0 + MP139", devices=[
        DeviceTsat(role="esme", device_type="ESMETS", spec="4.2", gbcs="3.2", installable=True, maintainable=True,
                   gbcs_applicable=True, reasons=["installable: ESMETS 4.2 ..."], row="row 4")])
    md = write_report(three_plan_run(tsat), tmp_path).markdown.read_text()
    assert sections(md) == ["## Summary", "## TSAT verdict on 2026-01-01", "## Plan power-outage",
                            "## Plan device-log", "## Plan clock-alert"]
    summary = md.split("## TSAT verdict")[0]
    assert "| Rig | virtual (virtual, preset north, seed 1)" in summary
    assert "| DUT | esme 00DB1234567890A0 (" in summary
    assert "| TSAT | within IVP, MVP and GBCS applicability on 2026-01-01 (Schedule 11 v9.0 + MP139) |" in summary
    assert "| Plan device-log | 1 passed, 1 failed, 0 skipped |" in summary
    assert "| Plan clock-alert | 0 passed, 0 failed, 1 skipped |" in summary
    assert "| All tests | 2 passed, 1 failed, 1 skipped |" in summary
    assert "TSAT WARNING" not in md and "TSAT FAIL" not in md
    device_log = md.split("## Plan device-log")[1].split("## Plan clock-alert")[0]
    assert "| sr8-9 |  | ccs06_drops_removed_esme |  | - | SR8.9: CCS06 no longer lists it | PASS | " \
           "journal #11, journal #12 |" in device_log
    assert "[historic] historic_log_keeps_newest_15 = 16 entries vs CRP535: at most 15 <entries> -> FAIL " \
           "evidence: journal #40" in device_log
    assert "| test_historic | FAILED | 0.00 s | AssertionError: historic log holds 16 entries |" in device_log
    assert "Latency percentiles" not in device_log  # outage tables belong to the outage plan only
    clock_alert = md.split("## Plan clock-alert")[1]
    assert f"| test_within | SKIPPED | 0.00 s | {SKIP_RULE} |" in clock_alert


def test_a_dut_outside_its_tsat_periods_is_the_first_thing_in_the_report(tmp_path: Path):
    reason = ("not installable: ESMETS 3.1 / GBCS 2.1 IVP 2018-11-08 to 2021-04-27 excludes 2026-01-01 "
              "[<row 3>]")
    for on_violation, title in (("warn", "TSAT WARNING"), ("fail", "TSAT FAIL")):
        tsat = TsatRecord(date=datetime(2026, 1, 1).date(), table="Schedule 11 v9.0 + MP139",
                          on_violation=on_violation, devices=[
                              DeviceTsat(role="esme", device_type="ESMETS", spec="3.1", gbcs="2.1",
                                         installable=False, maintainable=True, gbcs_applicable=True,
                                         reasons=[reason], violations=[reason], row="<row 3>")])
        files = write_report(three_plan_run(tsat), tmp_path / on_violation, plot=False)
        md = files.markdown.read_text()
        assert md.index(title) < md.index("## Summary")
        assert f"> - esme: {reason}" in md
        page = files.html.read_text()
        assert f'<div class="alert {on_violation}"><strong>{title}' in page
        assert "[&lt;row 3&gt;]" in page and "<row 3>" not in page
    assert "this run fails" in md and "| Verdict | FAIL" in md
