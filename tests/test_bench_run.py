"""The power-outage plan's short scenario through ``hubrig run``, in real time, against the bench
in another process (``hubrig bench serve``, supply, ITCH and HAN stick): green, and its figures
checked against the bench's own ground truth. As short as the plan allows: a 60 s outage, the PRA,
the plan's 30 s settle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from bench import serve_bench
from hubrig.drivers.han.stick import dwell_s
from hubrig.harness.capture.journal import Journal
from hubrig.harness.rig.mains import marker_path

pytestmark = pytest.mark.realtime

IMMEDIATE_ALERTS = "  esme: {boot_s: 0.5, han_latency_s: 0.1}\n  ch: {windows: {poa: null, pra: null}}\n"
"""Alerts leave as soon as the devices raise them (no CSP time windows): the shortest run the plan allows."""
PAN_DROPS = ("  esme: {boot_s: 0.5, han_latency_s: 0.1}\n"
             "  ch: {windows: {poa: null, pra: null}, hold_up_s: 5.0, reboot_s: 5.0, reconnect_s: 1.0,"
             " dither: {distribution: fixed, min_s: 0.0}}\n")
"""As IMMEDIATE_ALERTS, but the Comms Hub outlives mains by 5 s only, so its PAN drops in the outage
and is back 5 s after the restore (a short central-south-like hub: HAN-down and HAN-back to measure)."""
HAN_CADENCE_S = 2.0
"""The served stick's scan cadence: the plan scans one cadence before each cut, and a PAN change is
found within one cadence plus one scan."""
HAN_RESET_MID_SCAN = "  han_faults:\n    - {kind: reset, scan: 2}\n"
"""The served stick resets by itself in the watch's second scan: the plan must ride through it."""


def test_short_outage_runs_green_in_real_time_against_the_bench_and_matches_its_ground_truth(tmp_path):
    bench = serve_bench(tmp_path, HAN_RESET_MID_SCAN, PAN_DROPS, han_cadence_s=HAN_CADENCE_S)
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

    # HAN-down and HAN-back against the instants the served radio world saw the CH's PAN go and
    # return: a scan finds a change at the latest one cadence plus one scan after it. The harness
    # measures from its confirmed switch instants, a loopback round trip after the true ones.
    (down, _), (up, _) = pan = bench.pan_changes()
    assert [on for _, on in pan] == [False, True]
    true_down_s, true_back_s = (down - outputs[1][0]) / 1e9, (up - outputs[2][0]) / 1e9
    down_error, back_error = trial["han_down_seconds"] - true_down_s, trial["han_back_seconds"] - true_back_s
    print(f"HAN-down {trial['han_down_seconds']:.3f} s (truth {true_down_s:.3f}, error {down_error:+.3f}); HAN-back "
          f"{trial['han_back_seconds']:.3f} s (truth {true_back_s:.3f}, error {back_error:+.3f}); cadence "
          f"{HAN_CADENCE_S} s")
    bound_s = HAN_CADENCE_S + dwell_s(2)  # the rig file's scan_duration: 2, one channel
    assert -0.5 <= down_error <= bound_s + 0.5 and -0.5 <= back_error <= bound_s + 0.5

    # The stick's reset mid-scan (the bench's log) reached the harness as a lost and restored link.
    (fault,) = bench.entries("fault")
    assert fault["fault"] == "han_reset" and fault["scan"] == 2
    with Journal.open_existing(tmp_path / "run" / "journal.sqlite") as journal:
        links = [f.raw.decode() for f in journal.frames(source="han") if f.kind == "link"]
    assert [line.split(":")[0] for line in links] == ["lost", "restored"] and "RESET_WATCHDOG" in links[0]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_hubrig_run_passes_a_signal_to_its_plans_and_waits_for_mains_to_be_restored(tmp_path, sig):
    """A dropped SSH session (SIGHUP) or a cancelled job (SIGTERM) reaches ``hubrig run`` alone: it
    passes the signal on, the plans restore mains, and ``hubrig run`` ends after them, not first."""
    bench = serve_bench(tmp_path, virtual_section=IMMEDIATE_ALERTS, han_cadence_s=HAN_CADENCE_S)
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
