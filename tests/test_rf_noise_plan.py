"""The RF noise plan against the virtual analyser: passes on the compliant virtual rig, fails on
each rf defect switch naming the band, the frequency of the worst violation and its margin (checked
against what the virtual ESME really radiated), with the traces in the run folder; and the same
plan's sweeps through pyvisa-py and a loopback TCP analyser in real time for three dialects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from hubrig.drivers.analyser.analyser import Analyser
from hubrig.harness.rig.commands import sender_for
from hubrig.harness.rig.session import default_rig_file, open_rig
from hubrig.testplans import rfnoise
from hubrig.testplans import test_rf_noise as plan
from tests.test_devicelog_plan import failures, run

pytest_plugins = ["pytester"]
PLAN = Path(plan.__file__)
LIMIT_HAN, LIMIT_WAN = -70.0, 37.0 - 107.0  # the shipped example masks (dBm)


def rig_file(tmp: Path, defects: dict[str, bool] | None = None, *, dialect: str = "keysight-x",
             settle_s: float = 5.0, bands: list[str] | None = None) -> Path:
    data = yaml.safe_load(default_rig_file().read_text())
    data["instruments"]["analyser"]["dialect"] = dialect
    data["rf_noise"]["settle_s"] = settle_s
    if bands is not None:
        data["rf_noise"]["bands"] = [b for b in data["rf_noise"]["bands"] if b["band"] in bands]
    if defects:
        data["virtual"]["defects"] = dict(defects)
    path = tmp / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def evidence(out: Path, band: str, state: str) -> dict:
    return json.loads((out / "rf-noise" / f"{band}-{state}.json").read_text())


def test_compliant_virtual_rig_passes_with_traces_and_pictures(pytester, tmp_path):
    out = tmp_path / "out"
    run(pytester, rig_file(tmp_path), out, PLAN).assert_outcomes(passed=2)  # the HAN energy scan runs: the virtual rig has a HAN stick
    for band in ("zigbee-2g4", "han-868", "wan-example-cellular-800"):
        assert (out / "rf-noise" / f"{band}.png").stat().st_size > 10_000
        for state in ("idle", "active"):
            doc = evidence(out, band, state)
            assert doc["passed"] and doc["violation_count"] == 0 and doc["worst_margin_db"] > 0
            assert doc["example_mask"] and "EXAMPLE" in doc["mask"]
            seg = doc["segments"][0]
            assert len(seg["freq_hz"]) == len(seg["reference_dbm"]) == len(seg["powered_dbm"]) == 1001
    # the compliant ESME's weak spur at 2441.3 MHz (-100 dBm) is the worst point, 30 dB under the mask
    doc = evidence(out, "zigbee-2g4", "idle")
    assert abs(doc["worst_freq_hz"] - 2441.3e6) < 100e3 and 27 < doc["worst_margin_db"] < 33
    results = json.loads((out / "results.json").read_text())
    checks = {m["name"]: m for m in results["measurements"] if m["name"].endswith("-within-mask")}
    assert len(checks) == 6 and {m["verdict"] for m in checks.values()} == {"pass"}
    verdicts = [r for r in results["records"] if r["plan"] == "rf-noise" and r["kind"] == "band"]
    assert sorted((r["data"]["band"], r["data"]["state"]) for r in verdicts) == sorted(
        (b, s) for b in ("zigbee-2g4", "han-868", "wan-example-cellular-800") for s in ("idle", "active"))
    report = (out / "report.md").read_text()
    assert "### Emissions against the masks" in report and "EXAMPLE masks, not ICHIS values" in report
    assert "(rf-noise-zigbee-2g4.svg)" in report and (out / "rf-noise-zigbee-2g4.svg").read_text().startswith("<?xml")


def worst(text: str, band: str, state: str) -> tuple[float, float, float]:
    found = re.search(rf"band {band} \({state}\): \d+ points above mask \S+; worst at ([\d.]+) MHz: "
                      rf"(-?[\d.]+) dBm vs limit (-?[\d.]+) dBm, margin (-?[\d.]+) dB \(traces: (\S+)\)", text)
    assert found, text
    assert Path(found.group(5)).is_file()
    return float(found.group(1)), float(found.group(2)), float(found.group(4))


@pytest.mark.parametrize("defect, band, states, freq_mhz, level_dbm, limit", [
    ("rf_han_spur", "zigbee-2g4", ("idle", "active"), 2450.0, -55.0, LIMIT_HAN),
    ("rf_state_spur", "zigbee-2g4", ("active",), 2425.0, -58.0, LIMIT_HAN),
])
def test_a_spur_above_the_mask_fails_naming_band_frequency_and_margin(pytester, tmp_path, defect, band, states,
                                                                       freq_mhz, level_dbm, limit):
    out = tmp_path / "out"
    run(pytester, rig_file(tmp_path, {defect: True}), out, PLAN).assert_outcomes(failed=1, passed=1)
    (text,) = failures(out).values()
    for state in ("idle", "active"):
        if state not in states:
            assert f"band {band} ({state})" not in text
            assert evidence(out, band, state)["passed"]
            continue
        freq, level, margin = worst(text, band, state)
        # ground truth: the spur the virtual ESME radiated (rig parameters rf.han_spur / rf.state_spur)
        assert abs(freq - freq_mhz) <= 0.1, freq  # within one RBW of the true spur
        assert abs(level - level_dbm) <= 3.0 and abs(margin - (limit - level_dbm)) <= 3.0
    assert "band han-868 (" not in text and "band wan-example-cellular-800 (" not in text


def test_broadband_noise_in_a_wan_band_fails_naming_the_band(pytester, tmp_path):
    out = tmp_path / "out"
    run(pytester, rig_file(tmp_path, {"rf_wan_noise": True}), out, PLAN).assert_outcomes(failed=1, passed=1)
    (text,) = failures(out).values()
    truth_dbm = -112.0 + 50.0  # rf.wan_noise density -112 dBm/Hz in the mask's 100 kHz RBW
    for state in ("idle", "active"):
        freq, level, margin = worst(text, "wan-example-cellular-800", state)
        assert 800.0 <= freq <= 815.0
        assert abs(margin - (LIMIT_WAN - truth_dbm)) <= 3.5
        doc = evidence(out, "wan-example-cellular-800", state)
        assert doc["violation_count"] > 400  # noise over the whole 15 MHz (30 kHz a point) ...
        assert all(800e6 <= v["freq_hz"] <= 815e6 for v in doc["violations"])  # ... and nothing outside it
    assert "band zigbee-2g4 (" not in text and "band han-868 (" not in text


def test_measured_worst_violation_matches_what_the_virtual_esme_radiated(tmp_path):
    """In process: the plan's helpers on an opened virtual rig, compared with the analyser's ground
    truth (the spur in every powered sweep, none in the reference sweeps)."""
    with open_rig(rig_file(tmp_path, {"rf_state_spur": True}, bands=["zigbee-2g4"]), tmp_path / "out") as rig:
        cfg, plans = rig.rig.rf_noise, rig.rig.rf_noise.plan()
        reference = rfnoise.sweep_reference(rig.instrument("analyser", Analyser), rig.mains, rig.clock, plans, cfg)
        activity = rfnoise.event_log_read(sender_for(rig).read_event_log, rig.clock)
        idle = rfnoise.sweep_powered(rig.instrument("analyser", Analyser), rig.clock, plans, cfg, "idle", None)
        active = rfnoise.sweep_powered(rig.instrument("analyser", Analyser), rig.clock, plans, cfg, "active", activity)
        truth = rig.bench.analyser.radiated
    reference_sweeps = truth[:cfg.max_hold_sweeps]
    assert all(not r.powered and not r.spurs for r in reference_sweeps)
    active_sweeps = truth[-cfg.max_hold_sweeps:]
    assert all(r.state == "active" for r in active_sweeps)
    only_active = [[s for s in r.spurs if s.states == ["active"]] for r in active_sweeps]
    assert all(len(found) == 1 for found in only_active)
    spur = only_active[0][0]
    assert not any(s.states == ["active"] for r in truth[cfg.max_hold_sweeps:-cfg.max_hold_sweeps] for s in r.spurs)
    result = rfnoise.evaluate(plans[0], "active", reference["zigbee-2g4"], active["zigbee-2g4"])
    margin, freq = result.worst
    assert abs(freq - spur.freq_mhz * 1e6) <= 50e3 and abs(margin - (LIMIT_HAN - spur.level_dbm)) <= 3.0
    assert rfnoise.evaluate(plans[0], "idle", reference["zigbee-2g4"], idle["zigbee-2g4"]).passed


@pytest.mark.realtime
@pytest.mark.parametrize("dialect", ["rs-fsx", "siglent-ssa3000x", "rigol-dsa"])
def test_plan_sweeps_through_pyvisa_py_and_loopback_tcp_in_real_time(tmp_path, dialect):
    """REAL,32 little-endian with an X-axis query (R&S), ASCII with a trailing comma (Siglent) and
    ASCII in a block header (Rigol DSA) through pyvisa-py; the HAN spur defect is found."""
    path = rig_file(tmp_path, {"rf_han_spur": True}, dialect=dialect, settle_s=0.2, bands=["zigbee-2g4"])
    with open_rig(path, tmp_path / "out", realtime=True) as rig:
        assert rig.instrument("analyser", Analyser).cfg.resource.startswith("TCPIP0::127.0.0.1::")
        cfg, plans = rig.rig.rf_noise, rig.rig.rf_noise.plan()
        reference = rfnoise.sweep_reference(rig.instrument("analyser", Analyser), rig.mains, rig.clock, plans, cfg)
        powered = rfnoise.sweep_powered(rig.instrument("analyser", Analyser), rig.clock, plans, cfg, "idle", None)
        result = rfnoise.evaluate(plans[0], "idle", reference["zigbee-2g4"], powered["zigbee-2g4"])
        rfnoise.write_evidence(result, tmp_path / "out" / "rf-noise")
    assert not result.passed
    margin, freq = result.worst
    assert abs(freq - 2450e6) <= 100e3 and abs(margin - (LIMIT_HAN + 55.0)) <= 3.0
    assert json.loads(result.evidence.read_text())["segments"][0]["encoding"] == rig.instrument("analyser", Analyser).encoding


class _Reading:
    def __init__(self, channel: int, rssi: int, journal_id: int):
        self.channel, self.max_rssi_dbm, self.journal_id = channel, rssi, journal_id


class _Scan:
    def __init__(self, energy: list[_Reading]):
        self.energy, self.complete = energy, True


class _Stick:
    """A stand-in HAN stick (the han helper's driver has the same energy_scan shape): it hears an
    ESME emission on channel 20 only while mains is on."""

    def __init__(self, rig):
        self.rig, self.scans = rig, 0

    def energy_scan(self, channels, duration: int = 3) -> _Scan:
        self.scans += 1
        on = not self.rig.mains.is_off
        return _Scan([_Reading(c, -60 if on and c == 20 else -95, 100 * self.scans + c) for c in channels])


def test_han_energy_off_vs_on_cuts_mains_for_the_first_scan_only(tmp_path):
    with open_rig(rig_file(tmp_path, bands=["zigbee-2g4"]), tmp_path / "out") as rig:
        stick = _Stick(rig)
        assert isinstance(stick, rfnoise.EnergyScanner)
        off, on, evidence = rfnoise.han_energy_off_on(stick, rig.mains, rig.clock, 1.0)
        assert not rig.mains.is_off
    assert sorted(off) == sorted(on) == list(range(11, 27))
    assert off[20] == -95 and on[20] == -60 and all(on[c] == off[c] for c in on if c != 20)
    assert len(evidence) == 32 and len(set(evidence)) == 32
