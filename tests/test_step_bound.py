"""A plan step is bounded by its own schedule, not by a test-runner timeout: ``hubrig run`` runs the
plans without pytest-timeout, and an outage step that outlives its schedule ends with mains restored."""

from __future__ import annotations

import signal
import time
import tomllib
from argparse import Namespace
from pathlib import Path

import pytest

from hubrig.harness.capture.events import EventBus
from hubrig.harness.clock import RealClock
from hubrig.harness.rig import bound
from hubrig.harness.rig.bound import StepOverrun, bound_for, step_bound
from hubrig.harness.rig.mains import Mains

ROOT = Path(__file__).resolve().parent.parent


def test_hubrig_run_inherits_no_pytest_timeout():
    from hubrig.harness.cli.run import pytest_command

    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "timeout" not in pytest_ini
    args = Namespace(plan=["power-outage"], rig="rigs/virtual.yaml", trials=1, db="x.sqlite", limit_set=[],
                     limits=None, observe_s=None, k=None)
    cmd = pytest_command(args, "run-1", Path("out"))
    assert cmd[cmd.index("-p", cmd.index("pytest")) + 1] == "no:timeout"


def test_the_bound_is_the_schedule_plus_a_quarter_plus_a_minute():
    assert bound_for(240 + 300 + 30) == pytest.approx(570 * 1.25 + 60)


class Switch:
    def __init__(self, clock: RealClock):
        self.clock, self.commands = clock, []

    def set_output(self, on: bool) -> int:
        self.commands.append(on)
        return self.clock.now_ns()


def test_an_outage_step_that_outlives_its_schedule_ends_with_mains_restored(monkeypatch):
    monkeypatch.setattr(bound, "MARGIN_S", 0.3)
    monkeypatch.setattr(bound, "MARGIN_RATIO", 0.0)
    clock = RealClock()
    switch = Switch(clock)
    mains = Mains(switch, clock, EventBus(clock), None, "bench-b")
    outer = signal.getitimer(signal.ITIMER_REAL)[0]  # the suite's own pytest-timeout timer, if running
    try:
        with pytest.raises(StepOverrun, match=r"short-outage #0 took longer than its bound of 0 s"):
            with step_bound("short-outage #0", 0.0):
                with mains.outage(600):
                    time.sleep(30)  # a hung instrument or device: the bound interrupts even this
        assert switch.commands == [False, True] and not mains.is_off
        if outer:  # the outer timer runs on with what it had left
            assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] < outer
    finally:
        mains.close()
        clock.close()


def test_no_bound_in_virtual_time(monkeypatch):
    monkeypatch.setattr(bound, "MARGIN_S", 0.1)
    monkeypatch.setattr(bound, "MARGIN_RATIO", 0.0)
    with step_bound("x", 0.0, real_time=False):
        time.sleep(0.3)  # wall time passing in a virtual-time step is no overrun
