"""The instrument family registry: a family registered from this test module (no core edit) gets
its rig-file section validated with located errors, is opened by ``open_rig`` on a real bench and on
the virtual rig, probed by ``rig check``, recorded in the results and closed with the session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from tests.conftest import bench_rig_file

from hubrig.harness.cli import main
from hubrig.harness.rig.file import RigFileError, load_rig
from hubrig.harness.rig.instruments import (EventSource, Family, FamilyError, Instrument, MainsSwitch, OpenContext,
                                            Probe, families, register_family, unregister_family)
from hubrig.harness.rig.session import RigSession, VirtualWorld, open_rig, probe_rig

ROOT = Path(__file__).resolve().parent.parent


class ThermoConfig(BaseModel):
    """A test family's section: a thermometer on a port."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    port: str = Field(min_length=1)
    max_celsius: float = Field(default=60.0, gt=0)


class Thermometer:
    """An instrument of the test family; remembers what was done to it."""

    log: list[str] = []

    def __init__(self, cfg: ThermoConfig, where: str):
        self.name, self.cfg, self.where = "thermo", cfg, where
        Thermometer.log.append(f"open {where}")

    def identify(self) -> str:
        return f"THERMO-1 on {self.where}"

    def describe(self) -> dict[str, str]:
        return {"resource": self.where}

    def read_celsius(self) -> float:
        return 21.5

    def close(self) -> None:
        Thermometer.log.append(f"close {self.where}")


def _open(cfg: ThermoConfig, ctx: OpenContext) -> Thermometer:
    return Thermometer(cfg, cfg.port)


def _open_virtual(cfg: ThermoConfig, ctx: OpenContext, world: VirtualWorld) -> Thermometer:
    assert world.bench is not None
    return Thermometer(cfg, f"virtual ({'realtime' if world.realtime else 'in-process'})")


def _probe(inst: Instrument, cfg: ThermoConfig) -> list[Probe]:
    assert isinstance(inst, Thermometer)
    reading = inst.read_celsius()
    return [Probe("thermo", cfg.port, reading < cfg.max_celsius, f"{reading} °C", check="reading",
                  fix="" if reading < cfg.max_celsius else "let the bench cool down")]


THERMO = Family(key="thermo", section=ThermoConfig, open=_open, open_virtual=_open_virtual, probe=_probe,
                where=lambda cfg: cfg.port)


@pytest.fixture
def thermo():
    Thermometer.log.clear()
    register_family(THERMO)
    yield THERMO
    unregister_family("thermo")


def with_thermo(path: Path, section: str = "  thermo: {port: /dev/thermo0}\n") -> Path:
    text = path.read_text()
    path.write_text(text.replace("  itch:\n", section + "  itch:\n", 1))
    return path


@pytest.fixture
def bench_file(tmp_path, served_supply):
    _, server = served_supply
    return bench_rig_file(tmp_path, name="bench-t", resource=server.resource)


def test_the_shipped_families_are_registered_with_their_roles():
    by_key = {f.key: f for f in families()}
    assert {"supply", "relay", "itch"} <= set(by_key)
    assert by_key["supply"].mains_switch and by_key["relay"].mains_switch and not by_key["itch"].mains_switch
    assert by_key["itch"].after_mains  # capture starts once mains is on


def test_a_new_family_is_opened_probed_recorded_and_closed_on_a_real_bench(tmp_path, thermo, bench_file):
    from hubrig.fixtures.recording import rig_instruments

    path = with_thermo(bench_file)
    with open_rig(path, tmp_path / "out") as rig:
        assert isinstance(rig, RigSession)
        therm = rig.instrument("thermo", Thermometer)
        assert therm is not None and therm.read_celsius() == 21.5
        assert list(rig.instruments) == ["supply", "thermo", "itch"]  # switches and others, mains, then sources
        assert isinstance(rig.instruments["supply"], MainsSwitch)
        assert rig.event_sources == [rig.itch] and isinstance(rig.itch, EventSource)
        info = {i.name: i for i in rig_instruments(rig)}
        assert info["thermo"].identity == "THERMO-1 on /dev/thermo0" and info["thermo"].resource == "/dev/thermo0"
        assert Thermometer.log == ["open /dev/thermo0"]
    assert Thermometer.log == ["open /dev/thermo0", "close /dev/thermo0"]

    rows = [r for r in probe_rig(path) if r.name == "thermo"]
    assert [(r.check, r.ok, r.detail) for r in rows] == [("reading", True, "21.5 °C")]
    assert Thermometer.log[-2:] == ["open /dev/thermo0", "close /dev/thermo0"]  # probing opens and closes it


def test_rig_check_runs_the_new_familys_probe_and_fails_on_it(tmp_path, thermo, bench_file, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path = with_thermo(bench_file, "  thermo: {port: /dev/thermo0, max_celsius: 20}\n")
    assert main(["rig", "check", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    row = next(r for r in report["checks"] if r["instrument"] == "thermo")
    assert row["status"] == "fail" and row["fix"] == "let the bench cool down"
    assert report["ok"] is False


def test_a_new_family_opens_on_the_virtual_rig_too(tmp_path, thermo):
    path = tmp_path / "v.yaml"
    path.write_text((ROOT / "rigs" / "virtual.yaml").read_text().replace(
        "  itch:\n", "  thermo: {port: virtual}\n  itch:\n", 1))
    with open_rig(path, tmp_path / "out") as rig:
        assert rig.instrument("thermo", Thermometer).identify() == "THERMO-1 on virtual (in-process)"
    assert Thermometer.log[-1] == "close virtual (in-process)"


def test_a_new_familys_section_errors_name_the_line(tmp_path, thermo, bench_file):
    path = with_thermo(bench_file, "  thermo:\n    port: /dev/thermo0\n    max_celsius: -3\n    colour: red\n")
    lines = path.read_text().splitlines()
    with pytest.raises(RigFileError) as err:
        load_rig(path)
    msg = str(err.value)
    assert f"bench.yaml:{lines.index('    max_celsius: -3') + 1}: instruments.thermo.max_celsius: " in msg
    assert (f"bench.yaml:{lines.index('    colour: red') + 1}: instruments.thermo.colour: unknown field "
            "'colour' (expected one of: port, max_celsius)") in msg


def test_an_unregistered_family_is_an_unknown_field(tmp_path, bench_file):
    path = with_thermo(bench_file)
    with pytest.raises(RigFileError, match=r"instruments.thermo: unknown field 'thermo' \(expected one of: "
                                           r"supply, relay, mains_switch, itch(, \w+)*\)"):
        load_rig(path)


def test_mains_switch_must_name_a_configured_switch_family(tmp_path, thermo, bench_file):
    path = with_thermo(bench_file, "  thermo: {port: /dev/thermo0}\n  mains_switch: thermo\n")
    with pytest.raises(RigFileError, match="instruments.mains_switch: 'thermo' is not one of supply, relay"):
        load_rig(path)


def test_a_key_cannot_be_taken_twice(thermo):
    with pytest.raises(FamilyError, match="'thermo' is already registered"):
        register_family(Family(key="thermo", section=BaseModel, open=_open, probe=_probe, where=str))
