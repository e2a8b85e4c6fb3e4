"""The power-outage plan with a HAN stick on the virtual rig: HAN-down and HAN-back against the
virtual Comms Hub's ground truth (its PAN's true down and up instants), per CSP preset."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_power_outage_plan import make_rig

from hubrig.drivers.han.stick import dwell_s
from hubrig.harness.clock import to_ns
from hubrig.harness.rig.session import open_rig
from hubrig.testplans.outage import observe_outage, pan_target


def with_cadence(rig: Path, cadence_s: float) -> Path:
    rig.write_text(rig.read_text().replace("    scan_cadence_s: 5.0", f"    scan_cadence_s: {cadence_s}"))
    return rig


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
    rig = with_cadence(make_rig(tmp_path, "  preset: central-south\n"), cadence)
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


def one_outage(tmp_path: Path, seconds_: float):
    """One central-south outage with the HAN watch: the observation and the journal's frames."""
    with open_rig(make_rig(tmp_path, "  preset: central-south\n"), tmp_path / "out") as session:
        session.mains.restore()
        obs = observe_outage(session.mains, session.bus, session.clock, seconds_, scenario="t", observe_s=3000.0,
                             pan=pan_target(session))
        return obs, {f.id: f for f in session.journal.frames()}, session.rig.dut.comms_hub.eui


def test_evidence_is_the_journalled_beacons_and_scan_end(tmp_path):
    obs, frames, ch_eui = one_outage(tmp_path, 120.0)
    last_heard, gone, first_back = (frames[i] for i in obs.pan.evidence)
    assert last_heard.record["name"] == "networkFoundHandler" and last_heard.t_ns < obs.pan.down_ns
    assert gone.record["name"] == "scanCompleteHandler" and gone.t_ns > obs.pan.down_ns
    assert first_back.record["name"] == "networkFoundHandler" and first_back.t_ns == obs.pan.back_ns
    assert first_back.record["networkFound"]["extendedPanId"] == ch_eui


def test_north_holds_its_pan_through_the_outage(tmp_path):
    observations, bench, _ = observe(make_rig(tmp_path, "  preset: north\n"), tmp_path / "out", [390.0])
    (obs,) = observations
    assert bench.radio.pan_log == []  # ground truth: the CH never went down
    assert obs.pan.heard_before_cut and obs.pan.down_ns is None and obs.pan.back_ns is None
    assert obs.pan.scans > 390 / 5
    assert obs.trial().han_down_seconds is None


def test_plan_records_han_measurements(tmp_path):
    from hubrig.testplans.test_power_outage import judge_pan

    obs, _, _ = one_outage(tmp_path, 60.0)
    recorded = {}

    class Measure:
        def info(self, name, value, unit="", **kw):
            recorded[name] = (value, unit, kw["evidence"])

    judge_pan(Measure(), obs)
    assert recorded["han_down_s"][0] == pytest.approx(obs.han_down_s, abs=1e-3) and recorded["han_down_s"][2]
    assert recorded["han_back_s"][0] == pytest.approx(obs.han_back_s, abs=1e-3) and recorded["han_back_s"][2]
