"""Per-phase outages: the three-phase dialect's per-phase set-point in the driver and the virtual
supply, the mains guard around a one-phase cut, and the virtual ESME's phase codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubrig.drivers.psu import SupplyConfigError, open_supply
from hubrig.drivers.psu.dialects import all_dialects, get_dialect
from hubrig.harness.capture.events import EventBus
from hubrig.harness.clock import VirtualClock
from hubrig.harness.rig.mains import Mains
from hubrig.harness.virtual.supply import HEADER_SUFFIX, UNDEFINED_HEADER, VirtualSupply
from tests.test_virtual_supply import cfg_for


def afx(tmp_path: Path | None = None):
    clock = VirtualClock()
    virtual = VirtualSupply(clock, dialect="pacific-afx", settle_s=0.2)
    seen: list[tuple[int, bool, int]] = []
    virtual.on_phase(lambda phase, live, t: seen.append((phase, live, t)))
    driver = open_supply(cfg_for("pacific-afx"), clock, EventBus(clock), endpoint=virtual)
    return clock, virtual, driver, seen


def test_only_dialects_whose_manual_has_a_per_phase_set_point_can_cut_one_phase():
    assert [d.name for d in all_dialects() if d.phase_voltage] == ["pacific-afx"]
    assert get_dialect("pacific-afx").phase_command(2, 0.0) == "VOLT2 0"
    with pytest.raises(ValueError, match="cannot program phase 4"):
        get_dialect("pacific-afx").phase_command(4, 230.0)


def test_the_driver_cuts_and_restores_one_phase_and_the_instant_is_when_it_really_changed():
    clock, virtual, driver, seen = afx()
    driver.set_output(True)
    assert driver.phases == 3 and all(virtual.phase_live(p) for p in (1, 2, 3))
    cut = driver.set_phase(2, False)
    assert virtual.commands[-3:] == ["VOLT2 0", "*OPC?", "SYST:ERR?"]
    restore = driver.set_phase(2, True)
    assert virtual.commands[-3] == "VOLT2 230"
    assert [(p, live) for p, live, _ in seen] == [(2, False), (2, True)]
    assert [t for _, _, t in seen] == [cut, restore]  # *OPC? answers once the phase has settled
    assert virtual.output and virtual.phase_live(1) and virtual.phase_live(3)


def test_a_single_phase_dialect_cannot_cut_a_phase_and_the_virtual_supply_refuses_the_command():
    clock = VirtualClock()
    virtual = VirtualSupply(clock, dialect="keysight-ac6800")
    driver = open_supply(cfg_for("keysight-ac6800"), clock, EventBus(clock), endpoint=virtual)
    assert driver.phases == 1
    with pytest.raises(SupplyConfigError, match="cannot program phase 1 alone"):
        driver.set_phase(1, False)
    virtual.write("VOLT2 0")
    assert virtual.errors[-1] == UNDEFINED_HEADER
    _, afx_supply, _, _ = afx()
    afx_supply.write("VOLT4 0")
    assert afx_supply.errors[-1] == HEADER_SUFFIX


def test_a_failing_body_restores_the_phase_at_once(tmp_path):
    clock, virtual, driver, seen = afx()
    driver.set_output(True)
    mains = Mains(driver, clock, EventBus(clock), tmp_path, "bench-3p")
    assert mains.phases() == 3
    with pytest.raises(RuntimeError, match="body failed"):
        with mains.phase_outage(3, 60.0):
            assert not virtual.phase_live(3)
            raise RuntimeError("body failed")
    assert virtual.phase_live(3) and [(p, live) for p, live, _ in seen] == [(3, False), (3, True)]
    assert not list(tmp_path.glob("*.mains-off"))
    with pytest.raises(ValueError, match="cannot cut phase 4"):
        with mains.phase_outage(4, 1.0):
            pass
