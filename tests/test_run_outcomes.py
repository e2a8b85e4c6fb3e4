"""Honest outcomes: declared-but-missing measurements, JUnit for CI, interrupted runs, full disks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hubrig.harness.results.store import open_store

pytest_plugins = ["pytester"]

DECLARED = """
import pytest

@pytest.mark.measures("a", "b")
def test_forgets_b(measure):
    measure.check("a", True, rule="a holds")

@pytest.mark.measures("a", "b")
def test_stops_early(measure):
    measure.check("a", True, rule="a holds")
    assert False, "the device did not answer"

@pytest.mark.measures("a")
def test_skips(measure):
    pytest.skip("not for this device")
"""


def test_a_declared_measurement_never_recorded_is_unset_and_fails_its_test(pytester, tmp_path):
    pytester.makepyfile(test_decl=DECLARED)
    result = pytester.runpytest_inprocess("--out", str(tmp_path / "out"), "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2, skipped=1)
    result.stdout.fnmatch_lines(["*1 measurement(s) failed: b unset*"])
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    unset = sorted((m["scenario"], m["name"]) for m in doc["measurements"] if m["verdict"] == "unset")
    assert unset == [("forgets-b", "b"), ("stops-early", "b")]  # a test that failed early leaves a trace too
    assert doc["verdict"] == "fail" and "skips" not in {m["scenario"] for m in doc["measurements"]}


MINI = """
from hubrig.testplans.outage_results import Trial

def test_pra(measure):
    measure.record(Trial(scenario="pra", outage_seconds=60.0, poa_seconds=None, pra_seconds=75.5, evidence=[42]))
    measure.latency("pra_latency_s", 75.5, outage_s=60.0, evidence=[42], trial=0)
    measure.check("code", False, rule="8F35 for an outage < 180 s [GBCS ECS80]", value="8F36")
"""


def test_junit_carries_the_verdict_key_figures_and_why_a_test_failed(pytester, tmp_path):
    pytester.makepyfile(test_power_outage=MINI)  # its plan is power-outage, whose key figures it gets
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_inprocess("--out", str(tmp_path / "out"), "--junitxml", str(junit),
                                          "--limit-set", "dno-ena-2019", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    suite = ET.parse(junit).getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["hubrig.verdict"] == "fail" and props["hubrig.failed_measurements"] == "2"
    assert props["hubrig.tests_failed"] == "1" and props["hubrig.plans"] == "power-outage"
    assert props["power-outage.dno-ena-2019.pra_95pct"] == "1m16s"
    assert props["power-outage.dno-ena-2019.pra_within_limit"] == "0.0 %"
    failure = suite.find("testcase").find("failure")
    assert failure.get("message").startswith(
        "AssertionError: 2 measurement(s) failed: pra_latency_s [dno-ena-2019] = 75.500 s not <= 60 s; "
        "code = 8F36 breaks its rule")
    assert "[pra] trial 0: pra_latency_s = 75.500 s vs dno-ena-2019: pra_latency_s <= 60 s" in failure.text


INTERRUPTED = """
def test_first(measure):
    measure.check("first", True, rule="holds")

def test_second(measure):
    measure.info("partial", 1, "alert")
    raise KeyboardInterrupt  # what Ctrl-C does in the middle of a test

def test_third(measure):
    measure.check("third", True, rule="holds")
"""


def test_ctrl_c_in_a_session_writes_an_interrupted_run_with_what_it_measured(pytester, tmp_path, capsys):
    pytester.makepyfile(test_int=INTERRUPTED)
    run = pytester.inline_run("--out", str(tmp_path / "out"), "--results-db", str(tmp_path / "db"),
                              "-p", "no:cacheprovider", no_reraise_ctrlc=True)
    assert run.ret == pytest.ExitCode.INTERRUPTED
    assert "INTERRUPTED; results " in capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["verdict"] == "interrupted" and doc["interruption"] == "interrupted (Ctrl-C)"
    assert [(t["scenario"], t["outcome"]) for t in doc["tests"]] == [("first", "passed"), ("second", "interrupted"),
                                                                     ("third", "not run")]
    assert [m["name"] for m in doc["measurements"]] == ["first", "partial"]


@pytest.mark.parametrize("how", ["SIGTERM"])
def test_an_interrupted_run_is_interrupted_everywhere_and_keeps_what_it_measured(tmp_path, how):
    """``hubrig run --trials 3000`` stopped early by SIGTERM: INTERRUPTED in the output,
    results.json, JUnit, the store and the exit status (issue: it used to say PASS). The
    terminal's Ctrl-C takes the same path (the test above, and test_run_cli's signal tests)."""
    out, db = tmp_path / "run", tmp_path / "db.sqlite"
    cmd = [sys.executable, "-m", "hubrig.harness", "run", "--out", str(out), "--db", str(db),
           "--trials", "3000", "--limit-set", "sec-relaxed"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out / "journal.sqlite").exists():  # the plans are running: the rig is open
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.05)
    time.sleep(1.0)
    if how == "SIGTERM":
        os.kill(proc.pid, signal.SIGTERM)  # a CI runner stops hubrig alone
    else:
        os.killpg(proc.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    printed, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, printed
    assert "INTERRUPTED" in printed and "PASS:" not in printed
    doc = json.loads((out / "results.json").read_text())
    assert doc["verdict"] == "interrupted" and doc["status"] == "interrupted"
    assert how in doc["interruption"]  # says which signal (the recorder's or the mains guard's words)
    outcomes = {t["outcome"] for t in doc["tests"]}
    assert "not run" in outcomes  # the later plans never started, and say so
    assert doc["measurements"] or doc["records"]  # what was measured is kept
    props = {p.get("name"): p.get("value") for p in ET.parse(out / "junit.xml").getroot().iter("property")}
    assert props["hubrig.verdict"] == "interrupted"
    store = open_store(db)
    assert store.get(doc["run_id"]).verdict == "interrupted"
    store.close()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs (needs root, as CI runs), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the ENOSPC path is covered by test_results' injected failure")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


FAILING = """
import pytest

@pytest.mark.parametrize("i", range(7))
def test_late(measure, i):
    measure.latency("pra_latency_s", 70.0 + i, outage_s=60.0, evidence=[i])
"""


def test_a_full_disk_loses_no_failure_reason_leaves_no_partial_file_and_fails_the_exit(pytester, tiny_disk):
    pytester.makepyfile(test_full=FAILING)
    out, db = tiny_disk / "out", tiny_disk / "db.sqlite"
    open_store(db).close()  # the store exists, then the disk fills up
    fill(tiny_disk)
    result = pytester.runpytest_inprocess("--out", str(out), "--results-db", str(db), "--limit-set",
                                          "dno-ena-2019", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=7)
    text = result.stdout.str()
    for i in range(7):  # every failure reason, printed before the writes that failed
        reason = f"pra_latency_s = {70 + i:.3f} s vs dno-ena-2019"
        assert reason in text and text.index(reason) < text.index("NOT written")
    result.stdout.fnmatch_lines(["hubrig: run *: FAIL; results NOT written in *: No space left on device; "
                                 "NOT stored in *db.sqlite*"])
    assert result.ret not in (0, 1)  # not recorded: neither a pass nor a plain failure
    assert not [p for p in tiny_disk.rglob("*") if p.name.endswith(".tmp")]


WAITING = """
import pathlib, time

def test_measures_then_waits(measure):
    measure.check("before", True, rule="holds")
    pathlib.Path("ready").write_text("")
    time.sleep(60)

def test_never_reached(measure):
    measure.check("after", True, rule="holds")
"""


def test_a_dropped_session_sighup_writes_the_run_as_interrupted(tmp_path):
    """SIGHUP (an SSH session that drops) ends a plain ``pytest`` run as Ctrl-C does, with results."""
    (tmp_path / "test_wait.py").write_text(WAITING)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--out",
                             str(tmp_path / "out"), "test_wait.py"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    printed, _ = proc.communicate(timeout=60)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, printed
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["verdict"] == "interrupted" and "SIGHUP" in doc["interruption"]
    assert [t["outcome"] for t in doc["tests"]] == ["interrupted", "not run"]
    assert [m["name"] for m in doc["measurements"]] == ["before"]
