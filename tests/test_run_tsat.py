"""Every run records the DUT's TSAT verdict as of the run date (the date on the rig's clock when the
rig started); a DUT outside its IVP, MVP or GBCS applicability warns, or fails the run when the rig
file says ``tsat: {on_violation: fail}``; plans the DUT's GBCS version lacks show as skipped with
the rule."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from hubrig.fixtures.recording import judge_tsat
from hubrig.harness.rules import tsat
from hubrig.harness.cli import main
from hubrig.harness.rig.session import default_rig_file
from hubrig.harness.rig.file import load_rig

pytest_plugins = ["pytester"]

PASSING_PLAN = """
def test_fine(measure):
    measure.check("fine", True, rule="always")
"""

ESME_3_1 = "not installable: ESMETS 3.1 / GBCS 2.1 IVP 2018-11-08 to 2021-04-27 excludes"


def rig_file(tmp_path: Path, *, esme=("4.2", "3.2"), hub=("1.3", "3.2"), on_violation="warn") -> Path:
    """The embedded virtual rig with the DUT's versions and the TSAT policy changed."""
    doc = yaml.safe_load(default_rig_file().read_text())
    doc["dut"]["esme"].update(spec_version=esme[0], gbcs_version=esme[1])
    doc["dut"]["comms_hub"].update(spec_version=hub[0], gbcs_version=hub[1])
    doc["tsat"] = {"on_violation": on_violation}
    path = tmp_path / f"rig-{on_violation}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_judge_tsat_quotes_the_row_for_each_period_the_dut_is_outside(tmp_path):
    rig = load_rig(rig_file(tmp_path, esme=("3.1", "2.1"), on_violation="fail"))
    record = judge_tsat(rig, date(2026, 1, 1))
    assert record.table == tsat.default_table().version and record.on_violation == "fail"
    esme = {d.role: d for d in record.devices}["esme"]
    assert (esme.installable, esme.maintainable, esme.gbcs_applicable) == (False, True, True)
    [violation] = record.violations()
    assert violation.startswith(f"esme: {ESME_3_1} 2026-01-01 [Schedule 11 v9.0, table 'SMETS2+ ESMETS")
    assert record.fails_run
    # the last day of the IVP is still inside it (dates are inclusive)
    assert judge_tsat(rig, date(2021, 4, 27)).violations() == []


def test_a_version_the_table_lacks_is_a_violation_naming_the_versions_it_has(tmp_path):
    record = judge_tsat(load_rig(rig_file(tmp_path, esme=("9.9", "3.2"))), date(2026, 1, 1))
    assert [d.role for d in record.devices] == ["comms_hub"]
    assert record.violations() == [f"esme: cannot be judged: unknown ESMETS version 9.9 in "
                                   f"{tsat.default_table().version}; the table has 2.0, 3.1, 4.2"]
    assert not record.fails_run  # warn


@pytest.mark.parametrize("on_violation, status, word", [("warn", 0, "TSAT WARNING"), ("fail", 1, "TSAT FAIL")])
def test_a_dut_outside_its_ivp_warns_or_fails_the_session(pytester, tmp_path, on_violation, status, word):
    pytester.makepyfile(test_mini=PASSING_PLAN)
    out = tmp_path / "out"
    rig = rig_file(tmp_path, esme=("3.1", "2.1"), on_violation=on_violation)
    result = pytester.runpytest_inprocess("--rig", str(rig), "--out", str(out), "-p", "no:cacheprovider")
    assert result.ret == status
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"hubrig: {word}*the DUT breaks Schedule 11 v9.0 + MP139 on *",
                                 f"hubrig:   esme: {ESME_3_1} *[[]Schedule 11 v9.0, table*"])
    doc = json.loads((out / "results.json").read_text())
    assert doc["tsat"]["on_violation"] == on_violation
    assert doc["tsat"]["devices"][1]["violations"][0].startswith(ESME_3_1)
    assert word in (out / "report.md").read_text().split("## Summary")[0]


def test_a_compliant_dut_says_nothing_and_a_virtual_run_is_judged_on_the_day_it_runs(pytester, tmp_path):
    pytester.makepyfile(test_mini="""
def test_two_days_on_the_rig(rig, measure):
    start = rig.clock.wall(rig.clock.epoch_ns).date()
    rig.clock.sleep(2 * 86400)
    measure.info("rig_start_date", start.isoformat())
    measure.info("rig_end_date", rig.clock.wall().date().isoformat())
""")
    out = tmp_path / "out"
    today = datetime.now(timezone.utc).date()
    result = pytester.runpytest_inprocess("--rig", str(rig_file(tmp_path, on_violation="fail")), "--out",
                                           str(out), "-p", "no:cacheprovider")
    assert result.ret == 0
    assert "TSAT" not in result.stdout.str()
    doc = json.loads((out / "results.json").read_text())
    figures = {m["name"]: m["value"] for m in doc["measurements"]}
    # The virtual devices live on a fixed virtual date; the verdict is for the day of the run.
    assert figures["rig_start_date"] != figures["rig_end_date"]
    assert doc["tsat"]["date"] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}
    assert doc["tsat"]["errors"] == [] and all(d["violations"] == [] for d in doc["tsat"]["devices"])
    assert all(d["installable"] and d["maintainable"] and d["gbcs_applicable"] for d in doc["tsat"]["devices"])


def test_hubrig_run_on_a_gbcs_2_1_dut_skips_both_plans_quoting_the_rules(tmp_path, capsys):
    rig = rig_file(tmp_path, esme=("3.1", "2.1"), hub=("1.1", "2.1"))
    out = tmp_path / "run"
    status = main(["run", "--rig", str(rig), "--out", str(out), "--db", str(tmp_path / "db.sqlite"),
                   "--plan", "device-log", "--plan", "clock-alert"])
    assert status == 0  # skipped plans and a TSAT warning do not fail the run
    doc = json.loads((out / "results.json").read_text())
    assert doc["plans"] == ["device-log", "clock-alert"]
    assert {t["outcome"] for t in doc["tests"]} == {"skipped"}
    md = (out / "report.md").read_text()
    assert md.index("TSAT WARNING") < md.index("## Summary")
    assert "comms_hub: not maintainable: CHTS 1.1 / GBCS 2.1 MVP 2018-10-28 to 2022-05-31 excludes" in md
    device_log = md.split("## Plan device-log")[1].split("## Plan clock-alert")[0]
    clock_alert = md.split("## Plan clock-alert")[1]
    assert "0 passed, 0 failed, 3 skipped" in device_log and "SKIPPED" in device_log and "CRP535" in device_log
    assert "SKIPPED" in clock_alert and "IRP511" in clock_alert
    assert f"report {out / 'report.html'}" in capsys.readouterr().out
