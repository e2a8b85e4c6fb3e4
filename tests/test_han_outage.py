"""The power-outage plan with a HAN stick on the virtual rig: HAN-down and HAN-back against the
virtual Comms Hub's ground truth (its PAN's true down and up instants), per CSP preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubrig.drivers.han.stick import dwell_s
from hubrig.harness.clock import to_ns
from hubrig.harness.rig.session import default_rig_file, open_rig
from hubrig.testplans.outage import observe_outage, pan_target


def make_rig(tmp: Path, virtual: str, han: str = "") -> Path:
    text = default_rig_file().read_text()
    head = text[: text.index("\nvirtual:")]
    if han:
        head = head.replace("    scan_cadence_s: 5.0", han)
    path = tmp / "rig.yaml"
    path.write_text(head + "\nvirtual:\n" + virtual)
    return path


def observe(rig: Path, out: Path, durations: list[float]):
    with open_rig(rig, out) as session:
        session.mains.restore()
        pan = pan_target(session)
        assert pan is not None
        obs = [observe_outage(session.mains, session.bus, session.clock, d, scenario="t", index=i,
                              observe_s=3000.0, settle_s=30.0, pan=pan) for i, d in enumerate(durations)]
        return obs, session.bench, pan


@pytest.mark.parametrize("cadence", [5.0, 2.0])
def test_central_south_han_down_and_back_equal_the_ground_truth_within_the_cadence(tmp_path, cadence):
    rig = make_rig(tmp_path, "  preset: central-south\n", han=f"    scan_cadence_s: {cadence}")
    observations, bench, pan = observe(rig, tmp_path / "out", [60.0, 390.0, 240.0])
    scan_s = len(pan.channels) * dwell_s(pan.duration)
    truth = bench.radio.pan_log
    assert [c.up for c in truth] == [False, True] * 3
    params = bench.params.ch
    for i, obs in enumerate(observations):
        down, up = truth[2 * i], truth[2 * i + 1]
        assert down.t_ns == obs.cut_ns + to_ns(params.hold_up_s)  # the virtual CH's own model
        assert up.t_ns == obs.restore_ns + to_ns(params.reboot_s)
        assert obs.pan.heard_before_cut
        assert 0 <= obs.pan.down_ns - down.t_ns <= to_ns(cadence + scan_s)
        assert 0 <= obs.pan.back_ns - up.t_ns <= to_ns(cadence + scan_s)
        trial = obs.trial()
        assert trial.han_down_seconds == pytest.approx(params.hold_up_s, abs=cadence + scan_s)
        assert trial.han_back_seconds == pytest.approx(params.reboot_s, abs=cadence + scan_s)
        assert len(obs.pan.evidence) == 3


def test_evidence_is_the_journalled_beacons_and_scan_end(tmp_path):
    rig = make_rig(tmp_path, "  preset: central-south\n")
    with open_rig(rig, tmp_path / "out") as session:
        session.mains.restore()
        obs = observe_outage(session.mains, session.bus, session.clock, 120.0, scenario="t", observe_s=3000.0,
                             pan=pan_target(session))
        frames = {f.id: f for f in session.journal.frames()}
    last_heard, gone, first_back = (frames[i] for i in obs.pan.evidence)
    assert last_heard.record["name"] == "networkFoundHandler" and last_heard.t_ns < obs.pan.down_ns
    assert gone.record["name"] == "scanCompleteHandler" and gone.t_ns > obs.pan.down_ns
    assert first_back.record["name"] == "networkFoundHandler" and first_back.t_ns == obs.pan.back_ns
    assert first_back.record["networkFound"]["extendedPanId"] == session.rig.dut.comms_hub.eui


def test_north_holds_its_pan_through_the_outage(tmp_path):
    observations, bench, _ = observe(make_rig(tmp_path, "  preset: north\n"), tmp_path / "out", [390.0])
    (obs,) = observations
    assert bench.radio.pan_log == []  # ground truth: the CH never went down
    assert obs.pan.heard_before_cut and obs.pan.down_ns is None and obs.pan.back_ns is None
    assert obs.pan.scans > 390 / 5
    assert obs.trial().han_down_seconds is None


def test_plan_records_han_measurements(tmp_path):
    from hubrig.testplans.test_power_outage import judge_pan

    rig = make_rig(tmp_path, "  preset: central-south\n")
    with open_rig(rig, tmp_path / "out") as session:
        session.mains.restore()
        obs = observe_outage(session.mains, session.bus, session.clock, 60.0, scenario="t", observe_s=3000.0,
                             pan=pan_target(session))
    recorded = {}

    class Measure:
        def info(self, name, value, unit="", **kw):
            recorded[name] = (value, unit, kw["evidence"])

    judge_pan(Measure(), obs)
    assert recorded["han_down_s"][0] == pytest.approx(obs.han_down_s, abs=1e-3) and recorded["han_down_s"][2]
    assert recorded["han_back_s"][0] == pytest.approx(obs.han_back_s, abs=1e-3) and recorded["han_back_s"][2]
