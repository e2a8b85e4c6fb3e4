"""The power-outage plan's short scenario through ``hubrig run``, in real time, against the bench
in another process (``hubrig bench serve``): green, and its figures checked against the bench's
own ground truth. As short as the plan allows: a 60 s outage, the PRA, the plan's 30 s settle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from bench import serve_bench
from hubrig.harness.rig.mains import marker_path

pytestmark = pytest.mark.realtime

IMMEDIATE_ALERTS = "  esme: {boot_s: 0.5, han_latency_s: 0.1}\n  ch: {windows: {poa: null, pra: null}}\n"
"""Alerts leave as soon as the devices raise them (no CSP time windows): the shortest run the plan allows."""


def test_short_outage_runs_green_in_real_time_against_the_bench_and_matches_its_ground_truth(tmp_path):
    bench = serve_bench(tmp_path, virtual_section=IMMEDIATE_ALERTS)
    try:
        run = subprocess.run([sys.executable, "-m", "hubrig.harness", "run", "--rig", str(bench.rig), "--plan",
                              "power-outage", "-k", "short_outage", "--out", str(tmp_path / "run"),
                              "--db", str(tmp_path / "results.sqlite")],
                             capture_output=True, text=True, timeout=280)
    finally:
        bench.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "PASS: 1 passed, 0 failed" in run.stdout
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    (trial,) = [r["data"] for r in results["records"] if (r["plan"], r["kind"]) == ("power-outage", "trial")]
    assert trial["scenario"] == "short-outage" and trial["pra_alert_code"] == "8F35" and trial["poa_count"] == 0

    outputs = bench.outputs()
    assert [on for _, on in outputs] == [True, False, True]  # on at open, the cut, the restore: mains left on
    true_outage_s = (outputs[2][0] - outputs[1][0]) / 1e9
    (pra,) = [e for e in bench.entries("frame") if e["kind"] == "alert" and e["alert_code"] == 0x8F35]
    true_pra_s = (pra["emitted_ns"] - outputs[2][0]) / 1e9
    # The harness measures from the instrument's confirmation to the frame's arrival: never before
    # the truth, and within a loopback round trip of it.
    assert true_outage_s - 0.05 <= trial["outage_seconds"] <= true_outage_s + 0.5
    assert true_pra_s - 0.5 <= trial["pra_seconds"] <= true_pra_s + 0.5


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_hubrig_run_passes_a_signal_to_its_plans_and_waits_for_mains_to_be_restored(tmp_path, sig):
    """A dropped SSH session (SIGHUP) or a cancelled job (SIGTERM) reaches ``hubrig run`` alone: it
    passes the signal on, the plans restore mains, and ``hubrig run`` ends after them, not first."""
    bench = serve_bench(tmp_path, virtual_section=IMMEDIATE_ALERTS)
    try:
        run = subprocess.Popen([sys.executable, "-m", "hubrig.harness", "run", "--rig", str(bench.rig), "--plan",
                                "power-outage", "-k", "short_outage", "--out", str(tmp_path / "run"),
                                "--db", str(tmp_path / "results.sqlite")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        bench.wait_for(lambda es: [e["on"] for e in es if e["event"] == "output"] == [True, False], timeout_s=120)
        os.kill(run.pid, sig)  # the parent only, as a hang-up or a job runner would
        out, err = run.communicate(timeout=180)
    finally:
        bench.stop()
    assert run.returncode not in (-sig, 0), out[-2000:] + err[-2000:]  # it waited, and did not call it a pass
    assert f"hubrig: {signal.Signals(sig).name}: waiting for the plans to restore mains" in err
    assert [on for _, on in bench.outputs()] == [True, False, True]
    assert not marker_path(bench.state, "virtual-bench").exists()
    assert "MAINS IS STILL OFF" not in out + err
