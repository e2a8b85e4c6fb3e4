"""``hubrig run`` / ``hubrig results`` and the results plugin that plans record with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hubrig.fixtures.recording import plan_name
from hubrig.harness.cli import main
from hubrig.harness.rules.limits import load_limits
from hubrig.harness.results.measurements import judge_quantity
from hubrig.harness.results.model import RigInfo, RunResults
from hubrig.harness.results.store import open_store
from hubrig.testplans.outage_results import Trial
from hubrig.harness.cli.run import PLANS, plan_path, pytest_command, selected_plans

pytest_plugins = ["pytester"]

MINI_PLAN = """
def test_pra_late(measure):
    measure.record(__import__("hubrig.testplans.outage_results", fromlist=["Trial"]).Trial(
        scenario="pra-late", outage_seconds=60.0, poa_seconds=None, pra_seconds=75.5, evidence=[42]))
    measure.latency("pra_latency_s", 75.5, outage_s=60.0, evidence=[42], trial=0)
    measure.info("note", 1.5, "s")

def test_all_good(measure):
    measure.latency("pra_latency_s", 10.0, outage_s=60.0, evidence=[7])
"""


def test_a_failed_measurement_fails_its_test_naming_scenario_limit_set_and_evidence(pytester, tmp_path):
    pytester.makepyfile(test_mini=MINI_PLAN)
    out = tmp_path / "out"
    db = tmp_path / "db.sqlite"
    result = pytester.runpytest_inprocess("--out", str(out), "--limit-set", "sec-relaxed",
                                          "--limit-set", "dno-ena-2019", "--run-id", "mini-1",
                                          "--results-db", str(db), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*[[]pra-late[]] trial 0: pra_latency_s = 75.500 s vs dno-ena-2019: "
                                 "pra_latency_s <= 60 s*FAIL*journal #42*"])
    assert "vs sec-relaxed" not in "\n".join(l for l in result.stdout.lines if "FAIL" in l)
    doc = json.loads((out / "results.json").read_text())
    assert doc["run_id"] == "mini-1" and [s["name"] for s in doc["limit_sets"]] == ["sec-relaxed", "dno-ena-2019"]
    assert doc["schema_version"] == "hubrig-results/3" and doc["plans"] == ["mini"]
    assert doc["records"][0]["data"]["pra_seconds"] == 75.5 and doc["verdict"] == "fail"
    assert {(t["outcome"], t["plan"], t["scenario"]) for t in doc["tests"]} == {
        ("failed", "mini", "pra-late"), ("passed", "mini", "all-good")}
    assert doc["tsat"]["table"].startswith("Schedule 11") and {d["role"] for d in doc["tsat"]["devices"]} == {
        "comms_hub", "esme"}  # judged although no test opened the rig
    assert (out / "report.md").exists() and (out / "report.html").exists()
    store = open_store(db)
    assert store.get("mini-1").verdict == "fail"
    store.close()


def test_a_results_database_that_cannot_be_opened_loses_nothing_and_says_why(pytester, tmp_path):
    pytester.makepyfile(test_mini=MINI_PLAN)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    result = pytester.runpytest_inprocess("--out", str(tmp_path / "out"), "--results-db", str(junk),
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"hubrig: run *: FAIL; results *; NOT stored in {junk}: *not a hubrig results "
                                 "database*"])
    assert "Traceback" not in result.stdout.str()
    assert json.loads((tmp_path / "out" / "results.json").read_text())["records"][0]["data"]["pra_seconds"] == 75.5
    assert result.ret != 0  # a run the store could not record is never a success


def test_an_unknown_limit_set_stops_the_session_with_its_name(pytester):
    pytester.makepyfile(test_mini=MINI_PLAN)
    result = pytester.runpytest_inprocess("--limit-set", "sec-h3", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown limit set 'sec-h3'*known: sec-h3.14g, sec-relaxed, dno-ena-2019*"])


def _stored(db: Path, run_id: str, pra: float) -> None:
    sets = load_limits().select(["sec-h3.14g"])
    trial = Trial(scenario="short-outage", outage_seconds=60.0, poa_seconds=None, pra_seconds=pra,
                  pra_alert_code="8F35", evidence=[3])
    store = open_store(db)
    store.save(RunResults(run_id=run_id, started=datetime(2026, 2, 1, tzinfo=timezone.utc), rig=RigInfo(
        name="bench-3", kind="real"), limit_sets=sets, records=[trial.to_record()], measurements=judge_quantity(
        sets, "pra_latency_s", scenario="short-outage", value=pra, outage_s=60.0, evidence=[3])))
    store.close()


def test_results_list_and_show(tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    _stored(db, "20260201T000000Z-aaaa", 12.0)
    _stored(db, "20260201T000000Z-bbbb", 99.0)
    assert main(["results", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "aaaa" in listing and "bbbb" in listing and "PASS" in listing and "FAIL" in listing
    assert main(["results", "show", "20260201T000000Z-b", "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "| Verdict | FAIL" in shown and "- **short-outage: pra_latency_s** = 99 s\n  - sec-h3.14g: pra_latency_s <= 60 s, 39 s outside" in shown
    assert main(["results", "show", "20260201T000000Z-aaaa", "--json", "--db", str(db)]) == 0
    assert json.loads(capsys.readouterr().out)["records"][0]["data"]["pra_seconds"] == 12.0
    assert main(["results", "show", "nope", "--db", str(db)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_run_rejects_a_bad_rig_file_with_its_line(tmp_path, capsys):
    bad = tmp_path / "bench.yaml"
    bad.write_text("name: bench\nkind: real\nsurprise: 1\n")
    assert main(["run", "--rig", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bench.yaml" in err and "Traceback" not in err
    assert main(["run", "--rig", str(tmp_path / "missing.yaml")]) == 2


def test_run_on_the_virtual_rig_writes_every_artefact_and_stores_the_run(tmp_path, capsys):
    from hubrig.harness.rig.session import default_rig_file

    out, db = tmp_path / "run", tmp_path / "db.sqlite"
    status = main(["run", "--rig", str(default_rig_file()), "--out", str(out), "--db", str(db),
                   "-k", "short_outage", "--limit-set", "sec-relaxed"])
    assert status == 0  # the embedded virtual rig models compliant devices
    for name in ("junit.xml", "results.json", "journal.sqlite", "report.md", "report.html", "latency.svg"):
        assert (out / name).exists(), name
    doc = json.loads((out / "results.json").read_text())
    assert doc["rig"]["kind"] == "virtual" and doc["records"][0]["scenario"] == "short-outage"
    assert doc["plans"] == ["power-outage"]  # -k left no test of the other plans
    assert [s["name"] for s in doc["limit_sets"]] == ["sec-relaxed"]
    store = open_store(db)
    assert store.get(doc["run_id"]).verdict == "pass"
    store.close()
    printed = capsys.readouterr().out
    assert f"report {out / 'report.html'}" in printed and "plans power-outage, device-log, clock-alert" in printed


def test_run_takes_every_standard_plan_unless_told_which(tmp_path):
    from hubrig.harness.cli import build_parser

    args = build_parser().parse_args(["run"])
    assert args.rig is None and args.plan is None
    args.rig, args.db = "rig.yaml", str(tmp_path / "db.sqlite")
    cmd = pytest_command(args, "r-1", tmp_path)
    assert [c for c in cmd if c.endswith(".py")] == [str(plan_path(p)) for p in PLANS]
    assert "hubrig.fixtures.recording" not in cmd  # the results plugin comes from its pytest11 entry point
    args = build_parser().parse_args(["run", "--plan", "clock-alert", "--plan", "power-outage", "--plan",
                                      "clock-alert"])
    assert selected_plans(args.plan) == ["power-outage", "clock-alert"]
    assert {p.name for p in map(plan_path, PLANS)} == {"test_power_outage.py", "test_device_log.py",
                                                        "test_clock_alert.py", "test_rf_noise.py"}
    assert all(plan_path(p).exists() for p in PLANS)
    assert [plan_name(plan_path(p)) for p in PLANS] == list(PLANS)  # results group tests under these names


def test_run_rejects_an_unknown_plan(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--plan", "power-outages"])
    assert "invalid choice: 'power-outages'" in capsys.readouterr().err


CHILD = """
import pathlib, signal, sys, time
out = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    time.sleep(1.0)  # restoring mains on a real bench takes a moment
    (out / "restored").write_text(signal.Signals(signum).name)
    sys.exit(3)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
(out / "ready").write_text("")
time.sleep(60)
"""

PARENT = """
import sys
from hubrig.harness.cli.run import run_plans
sys.exit(run_plans([sys.executable, "-c", sys.argv[1], sys.argv[2]]))
"""


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_waits_for_the_plans_to_restore_mains(tmp_path, how):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(tmp_path)], start_new_session=True,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not (tmp_path / "ready").exists():
        assert time.monotonic() < deadline and parent.poll() is None, parent.stderr.read()
        time.sleep(0.02)
    if how == "ctrl-c":  # the terminal signals the whole foreground process group
        os.killpg(parent.pid, signal.SIGINT)
    else:  # a CI runner or a service manager stops hubrig alone
        os.kill(parent.pid, signal.SIGTERM)
    assert parent.wait(timeout=20) == 3
    assert (tmp_path / "restored").read_text() == ("SIGINT" if how == "ctrl-c" else "SIGTERM")


def test_version_and_a_help_without_markup(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"hubrig {version('hubrig')}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "hardware-in-the-loop test harness" in text
    for command in ("gbcs", "rig", "journal", "tsat", "run", "results"):
        assert f"    {command} " in text


def test_each_command_imports_only_what_it_needs():
    """``hubrig --help`` loads no command module; ``tsat check`` loads only its own; no command
    loads matplotlib or Jinja2 unless it draws a report."""
    probe = """
import sys
from hubrig.harness.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("hubrig.harness.cli.", "matplotlib", "jinja2", "pydantic", "rich", "numpy", "pytest")
print(" ".join(sorted(m for m in sys.modules if m.startswith(heavy))))
"""

    def loaded(*argv: str) -> set[str]:
        done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60)
        return set(done.stdout.split("\n")[-2].split())

    assert loaded("--help") == set()
    assert loaded("tsat", "check", "--device-type", "ESMETS", "--spec", "4.2", "--gbcs", "3.2",
                  "--date", "2026-11-22") == {"hubrig.harness.cli.tsat"}
    assert not {m for m in loaded("results", "list", "--json") if m.startswith(("matplotlib", "jinja2", "numpy"))}


def test_results_list_filters_fits_a_terminal_and_speaks_json(tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    _stored(db, "20260201T000000Z-aaaa", 12.0)
    _stored(db, "20260201T000000Z-bbbb", 99.0)
    assert main(["results", "list", "--db", str(db), "--json", "--verdict", "fail"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["run_id"] == "20260201T000000Z-bbbb" and row["verdict"] == "fail" and row["failures"] == 1
    assert main(["results", "list", "--db", str(db), "--json", "--rig", "bench-3", "--since", "2026-01-31"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["results", "list", "--db", str(db), "--since", "2026-02-02"]) == 0
    assert capsys.readouterr().out.strip() == "no run matches"
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    shown = subprocess.run(["script", "-qec", f"{sys.executable} -m hubrig.harness results list --db {db}",
                            "/dev/null"], capture_output=True, text=True, env=env, timeout=60).stdout
    rows = [line for line in shown.splitlines() if "20260201T000000Z" in line]
    assert len(rows) == 2 and all(len(_plain(line)) <= 80 for line in rows), shown  # one line per run
    assert "20260201T000000Z-aaaa" in shown  # the id is never cut


def _plain(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip("\r")


def test_a_closed_pipe_ends_quietly(tmp_path):
    db = tmp_path / "db.sqlite"
    sets = load_limits().select(["sec-h3.14g"])
    many = [m for i in range(3000) for m in judge_quantity(sets, "pra_latency_s", scenario=f"s{i}", value=12.0,
                                                            outage_s=60.0, evidence=[i])]
    store = open_store(db)
    store.save(RunResults(run_id="20260201T000000Z-aaaa", started=datetime(2026, 2, 1, tzinfo=timezone.utc),
                          rig=RigInfo(name="bench-3", kind="real"), limit_sets=sets, measurements=many))
    store.close()  # a report far larger than a pipe's buffer, so the writer meets the closed pipe
    done = subprocess.run(f"{sys.executable} -m hubrig.harness results show 20260201T000000Z-aaaa --db {db} | head -1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("# hubrig run 20260201T000000Z-aaaa") and "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr


def test_hubrig_run_says_first_when_mains_is_left_off_with_the_marker_and_what_to_do(tmp_path, capsys):
    from conftest import bench_rig_file
    from hubrig.harness.cli.run import _say_if_mains_left_off
    from hubrig.harness.rig.file import load_rig

    rig = load_rig(bench_rig_file(tmp_path, resource="TCPIP0::127.0.0.1::1::SOCKET"))
    _say_if_mains_left_off(rig)
    assert capsys.readouterr().err == ""  # nothing cut, nothing said
    marker = tmp_path / "state" / "bench.mains-off"
    marker.parent.mkdir()
    marker.write_text('{"rig": "bench", "cut_at": "2026-03-01T02:03:04+00:00", "pid": 4242}')
    _say_if_mains_left_off(rig)
    err = capsys.readouterr().err
    assert err.startswith(f"hubrig: MAINS IS STILL OFF on rig 'bench'") and f"marker {marker}" in err
    assert "Switch the supply or relay on by hand" in err
