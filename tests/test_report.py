"""The human report: the study-shaped table per limit set, failures explained, the plot."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hubrig.harness.report.render import write_report
from hubrig.harness.results.measurements import check, info, judge_quantity
from hubrig.harness.results.model import DeviceIdentity, DeviceTsat, RigInfo, RunResults, TestOutcome, TsatRecord
from hubrig.harness.rules.limits import load_limits
from hubrig.testplans.outage_results import Trial, tables

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
    fields = dict(plans=["power-outage"], tests=tests, measurements=ms, records=[t.to_record() for t in trials])
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
    assert ("- **repeated trial 9: poa_latency_s** = none\n"
            "  - sec-h3.14g: poa_latency_s <= 240 s (outages >= 180 s) [H3.14(g): 3-minute initial period + 60 s]\n"
            "  - sec-relaxed: poa_latency_s <= 300 s (outages >= 180 s) [DP096: 3-minute initial period + 120 s]\n"
            ) in md and "  - note: no POA arrived\n  - evidence: journal #109\n" in md
    assert ("- **repeated trial 8: poa_latency_s** = 270 s\n  - sec-h3.14g: poa_latency_s <= 240 s "
            "(outages >= 180 s), 30 s outside [H3.14(g)") in md  # one value, every limit it broke
    assert "trial 9: PRA arrived before its POA" in md
    assert md.startswith("# hubrig run rep-1\n\n**FAIL**: 14 failed measurement(s), 0 failed test(s) of 1")
    assert md.index("**FAIL**") < md.index("## Failures") < md.index("\n|")  # verdict, failures, then tables
    assert "![POA and PRA latency distributions against each limit set](latency.svg)" in md
    page = files.html.read_text()
    assert "&lt;b&gt;esc&lt;/b&gt;" in page and "<b>esc</b>" not in page
    assert "<img" not in page and page.count("<svg") == 1  # the plot travels inside the one HTML file
    [svg] = files.figures
    assert svg.name == "latency.svg" and svg.read_text().lstrip().startswith("<?xml")


def test_each_rule_and_its_citation_is_written_once_per_scenario(tmp_path: Path):
    md = write_report(run_with(TRIALS), tmp_path, plot=False).markdown.read_text()
    scenario = md.split("### Scenario repeated")[1]
    cite = "H3.14(g): restoration Alert within 60 s"
    assert scenario.count(cite) == 1  # ten trials under one rule row
    assert "|  |  |  | 1 | 20 s | 40 s inside | PASS | journal #201 |" in scenario
    assert "| three_minute_timer_s | 180.4 s | <b>esc</b> |" in scenario


def test_values_carry_their_units_in_words():
    from hubrig.harness.report.render import value_text

    assert [value_text(1, "alert"), value_text(2, "alert"), value_text(16, "entry"), value_text(0, "alert")] == [
        "1 alert", "2 alerts", "16 entries", "0 alerts"]
    assert [value_text(75.5, "s"), value_text(0.6, "ratio"), value_text(True, ""), value_text(None, "s")] == [
        "75.5 s", "60 %", "yes", "none"]
    assert [value_text(1, "alerts"), value_text(1, "entries"), value_text(3, "POA"), value_text(1, "POAs")] == [
        "1 alert", "1 entry", "3 POAs", "1 POA"]
    assert value_text("signature verified", "") == "signature verified"
    assert value_text(1.25, "alerts/min") == "1.25 alerts/min"


def test_a_passing_run_reports_no_failures(tmp_path: Path):
    good = [Trial(scenario="long", index=0, outage_seconds=200.0, poa_seconds=200.0, pra_seconds=20.0,
                  pra_alert_code="8F36")]
    files = write_report(run_with(good), tmp_path, plot=False)
    md = files.markdown.read_text()
    assert "**PASS**" in md and "## Failures\n\n- none" in md and "Ordering flags" not in md
    assert files.figures == [] and '<div class="verdict pass" id="verdict">PASS' in files.html.read_text()


def test_an_interrupted_run_says_so_first_and_lists_what_never_ran(tmp_path: Path):
    run = run_with(TRIALS[:1]).model_copy(update={"status": "interrupted", "interruption": "interrupted by SIGTERM"})
    run.tests.append(TestOutcome(nodeid="testplans/test_device_log.py::test_sr8_9", outcome="not run",
                                 plan="device-log", scenario="sr8-9"))
    files = write_report(run, tmp_path, plot=False)
    md = files.markdown.read_text()
    assert md.index("**INTERRUPTED**") < md.index("> **INTERRUPTED (interrupted by SIGTERM)**") < md.index(
        "## Failures")
    assert "| test_sr8_9 | NOT RUN |" in md
    assert '<div class="verdict interrupted" id="verdict">INTERRUPTED' in files.html.read_text()


def test_failures_link_the_frames_they_cite_decoded_from_the_journal(tmp_path: Path):
    from hubrig.harness.capture.journal import Journal

    journal = Journal(tmp_path / "journal.sqlite")
    ids = [journal.append("in", 1, 1_767_225_600_000_000_000, b"GBCS:DATA#0:4:8F36\r\n", "itch", "frame")
           for _ in range(3)]
    journal.set_decoded(ids[1], {"alert_name": "Supply Outage Restored <long>", "alert_code": "8F36"}, None)
    journal.close()
    late = Trial(scenario="long", index=0, outage_seconds=200.0, poa_seconds=200.0, pra_seconds=90.0,
                 pra_alert_code="8F36", evidence=[ids[0], ids[1]])
    files = write_report(run_with([late], journal=str(tmp_path / "journal.sqlite")), tmp_path, plot=False)
    page = files.html.read_text()
    assert f'<a href="#frame-{ids[1]}">journal #{ids[1]}</a>' in page
    frame = page.split(f'<div id="frame-{ids[1]}">')[1].split("</div>")[0]
    assert "Supply Outage Restored &lt;long&gt;" in frame and "&#34;alert_code&#34;: &#34;8F36&#34;" in frame
    assert page.index('id="failures"') < page.index('id="evidence"')
    md = files.markdown.read_text()
    assert f"- journal #{ids[1]}: Supply Outage Restored <long> (2026-01-01 00:00:00.000 UTC, in itch)" in md


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
    assert sections(md) == ["## Failures", "## Summary", "## TSAT verdict on 2026-01-01", "## Plan power-outage",
                            "## Plan device-log", "## Plan clock-alert"]
    summary = md.split("## TSAT verdict")[0]
    assert "| Rig | virtual (virtual, preset north, seed 1)" in summary
    assert "| DUT | esme 00DB1234567890A0 (" in summary
    assert "| TSAT | within IVP, MVP and GBCS applicability on 2026-01-01 (Schedule 11 v9.0 + MP139) |" in summary
    assert "| Verdict | FAIL |" in summary and "| Plan device-log | 1 passed, 1 failed, 0 skipped |" in summary
    assert "| Plan clock-alert | 0 passed, 0 failed, 1 skipped |" in summary
    assert "| All tests | 2 passed, 1 failed, 1 skipped |" in summary
    assert "TSAT WARNING" not in md and "TSAT FAIL" not in md
    device_log = md.split("## Plan device-log")[1].split("## Plan clock-alert")[0]
    assert "| ccs06_drops_removed_esme | SR8.9: CCS06 no longer lists it |  |  |  |  | PASS | " \
           "journal #11, journal #12 |" in device_log
    assert "- **historic: historic_log_keeps_newest_15** = 16 entries\n  - CRP535: at most 15 <entries>\n" \
           "  - evidence: journal #40" in md.split("## Summary")[0]
    assert "| historic_log_keeps_newest_15 | CRP535: at most 15 <entries> |  |  | 16 entries |  | FAIL | " \
           "journal #40 |" in device_log
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


def test_matplotlib_is_imported_only_when_a_plot_is_drawn(tmp_path: Path):
    import subprocess
    import sys

    probe = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_report import TRIALS, run_with
from hubrig.harness.report.render import write_report
write_report(run_with(TRIALS), {str(tmp_path)!r} + "/" + sys.argv[1], plot=sys.argv[1] == "plot")
print("matplotlib" in sys.modules)
"""
    drawn = [subprocess.run([sys.executable, "-c", probe, how], capture_output=True, text=True, timeout=120)
             for how in ("text", "plot")]
    assert [d.stdout.split()[-1] for d in drawn] == ["False", "True"], [d.stderr[-500:] for d in drawn]
    assert (tmp_path / "plot" / "latency.svg").exists() and not (tmp_path / "text" / "latency.svg").exists()
