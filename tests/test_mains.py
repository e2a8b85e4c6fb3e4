"""Mains: cut/restore/outage over a switch, and the power-restore guarantee under exception,
SIGINT, SIGTERM and SIGKILL (the next start restores and says so)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hubrig.harness.clock import NS_PER_S, VirtualClock
from hubrig.harness.capture.events import EventBus, match
from hubrig.harness.rig.mains import MAINS, Mains, MainsNotRestoredError, MainsRecoveredWarning

ROOT = Path(__file__).resolve().parent.parent


class FakeSwitch:
    """A mains switch that confirms after ``delay_s`` of rig time and remembers every command."""

    def __init__(self, clock: VirtualClock, delay_s: float = 0.05, fail_on: bool | None = None):
        self.clock, self.delay_s, self.fail_on = clock, delay_s, fail_on
        self.commands: list[bool] = []

    def set_output(self, on: bool) -> int:
        self.commands.append(on)
        if on is self.fail_on:
            raise OSError("instrument did not answer")
        self.clock.sleep(self.delay_s)
        return self.clock.now_ns()


@pytest.fixture
def rig(tmp_path):
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    mains = Mains(switch, clock, EventBus(clock), tmp_path, "bench-1")
    yield mains, switch, clock
    mains.close()


def test_cut_writes_marker_first_and_restore_removes_it(rig, tmp_path):
    mains, switch, clock = rig
    marker = tmp_path / "bench-1.mains-off"
    t_cut = mains.cut()
    assert t_cut == int(0.05 * NS_PER_S)  # the confirmed instant, not the request
    assert marker.exists() and json.loads(marker.read_text())["rig"] == "bench-1"
    t_on = mains.restore()
    assert t_on > t_cut and not marker.exists()
    assert switch.commands == [False, True]
    states = [(e.data["state"], e.t_ns) for e in mains.bus.events(match(MAINS))]
    assert states == [("off", t_cut), ("on", t_on)]


def test_outage_lasts_the_planned_rig_time_while_the_body_waits(rig):
    mains, switch, clock = rig
    with mains.outage(seconds=200) as out:
        assert mains.current is out and switch.commands == [False]
        clock.sleep(30)  # the plan waits for something during the outage
    assert out.restore_ns - out.cut_ns >= 200 * NS_PER_S
    assert out.duration_s == pytest.approx(200.05)
    assert mains.current is None and switch.commands == [False, True]


def test_outage_body_that_overruns_restores_when_it_returns(rig):
    mains, _, clock = rig
    with mains.outage(seconds=10) as out:
        clock.sleep(25)
    assert out.duration_s == pytest.approx(25.05)


def test_exception_in_outage_restores_at_once_and_propagates(rig, tmp_path):
    mains, switch, clock = rig
    with pytest.raises(RuntimeError, match="plan failed"):
        with mains.outage(seconds=300) as out:
            clock.sleep(5)
            raise RuntimeError("plan failed")
    assert switch.commands == [False, True]
    assert out.duration_s == pytest.approx(5.05)
    assert not (tmp_path / "bench-1.mains-off").exists()


def test_failed_cut_tries_to_restore_and_reports_the_error(tmp_path):
    clock = VirtualClock()
    switch = FakeSwitch(clock, fail_on=False)
    mains = Mains(switch, clock, EventBus(clock), tmp_path, "bench-1")
    with pytest.raises(OSError, match="did not answer"):
        mains.cut()
    assert switch.commands == [False, True] and not mains.is_off
    assert not (tmp_path / "bench-1.mains-off").exists()
    mains.close()


def test_failed_restore_keeps_the_marker_for_the_next_start(tmp_path):
    clock = VirtualClock()
    switch = FakeSwitch(clock, fail_on=True)
    mains = Mains(switch, clock, EventBus(clock), tmp_path, "bench-1")
    mains.cut()
    with pytest.raises(MainsNotRestoredError, match="MAINS IS STILL OFF on rig 'bench-1'") as caught:
        mains.restore()
    assert isinstance(caught.value.__cause__, OSError)
    assert str(tmp_path / "bench-1.mains-off") in str(caught.value) and mains.unrestored == str(caught.value)
    assert (tmp_path / "bench-1.mains-off").exists() and mains.is_off
    switch.fail_on = None
    mains.close()
    assert not (tmp_path / "bench-1.mains-off").exists()


def test_start_after_a_killed_run_restores_first_and_says_so(tmp_path):
    (tmp_path / "bench-9.mains-off").write_text(json.dumps(
        {"rig": "bench-9", "cut_at": "2026-03-01T02:03:04+00:00", "pid": 4242, "host": "rigpc"}))
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    with pytest.warns(MainsRecoveredWarning) as caught:
        mains = Mains(switch, clock, EventBus(clock), tmp_path, "bench-9")
    text = str(caught[0].message)
    assert "rig 'bench-9'" in text and "2026-03-01T02:03:04+00:00" in text and "pid 4242" in text
    assert switch.commands == [True]
    assert mains.recovered["pid"] == 4242
    assert not (tmp_path / "bench-9.mains-off").exists()
    (event,) = mains.bus.events(match(MAINS))  # one restore, one event, at the confirmed instant
    assert event.data == {"state": "on", "recovered": mains.recovered} and event.t_ns == int(0.05 * NS_PER_S)


def test_unreadable_marker_still_restores(tmp_path):
    (tmp_path / "b.mains-off").write_text("{half")
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    with pytest.warns(MainsRecoveredWarning, match="unknown time"):
        Mains(switch, clock, EventBus(clock), tmp_path, "b")
    assert switch.commands == [True]


def test_other_rigs_markers_are_left_alone(tmp_path):
    (tmp_path / "other.mains-off").write_text("{}")
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Mains(switch, clock, EventBus(clock), tmp_path, "mine")
    assert switch.commands == [] and (tmp_path / "other.mains-off").exists()


def test_no_state_dir_keeps_no_marker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a marker with no folder would land here
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    mains = Mains(switch, clock, EventBus(clock), None, "virtual")
    mains.cut()
    assert mains.marker is None and mains.is_off and list(tmp_path.iterdir()) == []
    mains.close()
    assert not mains.is_off and switch.commands == [False, True]


OPS = st.lists(st.sampled_from(["cut", "restore", "outage", "outage_fail", "sleep"]), max_size=12)


@settings(max_examples=50, deadline=None)
@given(OPS)
def test_marker_tracks_the_switch_and_close_always_leaves_mains_on(tmp_path_factory, ops):
    state = tmp_path_factory.mktemp("state")
    clock = VirtualClock()
    switch = FakeSwitch(clock)
    mains = Mains(switch, clock, EventBus(clock), state, "r")
    marker = state / "r.mains-off"
    for op in ops:
        if op == "cut":
            mains.cut()
        elif op == "restore":
            mains.restore()
        elif op == "sleep":
            clock.sleep(61)
        else:
            try:
                with mains.outage(seconds=120):
                    if op == "outage_fail":
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                pass
            assert switch.commands[-1] is True
        assert marker.exists() == mains.is_off == (switch.commands[-1] is False if switch.commands else False)
    mains.close()
    assert not marker.exists()
    assert not switch.commands or switch.commands[-1] is True


# ------------------------------------------------------------------ the guarantee across processes

CHILD = """
import os, sys
from pathlib import Path
from hubrig.harness.clock import RealClock
from hubrig.harness.capture.events import EventBus
from hubrig.harness.rig.mains import Mains

record, state, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
clock = RealClock()

class FileSwitch:
    def set_output(self, on):
        with open(record, "a") as fh:
            fh.write(("on" if on else "off") + "\\n")
            fh.flush()
            os.fsync(fh.fileno())
        return clock.now_ns()

mains = Mains(FileSwitch(), clock, EventBus(clock), state, "bench-7")
if mode == "outage":
    with mains.outage(seconds=3600):
        print("cut", flush=True)
        clock.sleep(3600)
elif mode == "start":
    print("started", flush=True)
"""


def run_child(tmp_path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "switch.log"), str(tmp_path / "state"), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def cut_then(tmp_path: Path, sig: int) -> subprocess.Popen:
    child = run_child(tmp_path, "outage")
    assert child.stdout.readline().strip() == "cut"
    assert (tmp_path / "state" / "bench-7.mains-off").exists()
    child.send_signal(sig)
    child.wait(timeout=20)
    return child


def switch_log(tmp_path: Path) -> list[str]:
    return (tmp_path / "switch.log").read_text().split()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT],
                         ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
def test_interrupted_or_terminated_run_restores_mains(tmp_path, sig):
    child = cut_then(tmp_path, sig)
    assert child.returncode == -sig  # the signal still ends the process as it would have
    assert switch_log(tmp_path) == ["off", "on"]
    assert not (tmp_path / "state" / "bench-7.mains-off").exists()


def test_sigkill_leaves_marker_and_next_start_restores_and_says_so(tmp_path):
    child = cut_then(tmp_path, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    assert switch_log(tmp_path) == ["off"]  # nobody could restore: the process died outright
    marker = json.loads((tmp_path / "state" / "bench-7.mains-off").read_text())
    assert marker["pid"] == child.pid

    nxt = run_child(tmp_path, "start")
    out, err = nxt.communicate(timeout=20)
    assert nxt.returncode == 0 and out.strip() == "started"
    assert switch_log(tmp_path) == ["off", "on"]
    assert "MainsRecoveredWarning" in err and "rig 'bench-7'" in err
    assert f"mains was left cut since {marker['cut_at']} by pid {child.pid}" in err
    assert not (tmp_path / "state" / "bench-7.mains-off").exists()
