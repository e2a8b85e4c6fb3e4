"""The virtual CHF device log and historic log, as pure state (no bytes)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hubrig.harness.virtual.devicelog import (DEVICE_LOG_CAPACITY, HISTORIC_LOG_CAPACITY, ChfDeviceLog,
                                       DeviceLogDefects, DeviceLogRefused, install_code_key)

EPAN = bytes(range(8))
CODE = b"0123456789ABCDEF"


class Ticker:
    """A wall clock that moves a second per reading, so entries get distinct times."""

    def __init__(self):
        self.t = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


def eui(n: int) -> str:
    return f"00DB12345678{n:04X}"


def fresh(**defects) -> ChfDeviceLog:
    return ChfDeviceLog(Ticker(), EPAN, DeviceLogDefects(**defects))


def test_add_join_remove_moves_the_key_to_the_historic_log():
    log = fresh()
    log.add(eui(1), CODE, 0, 3600)
    assert log.backup("active").devices == ((eui(1), b""),)  # no key until joined
    hashed = log.join(eui(1), 5).hashed_link_key
    assert len(hashed) == 16 and log.find(eui(1)).status & 0x80
    log.remove(eui(1))
    assert log.backup("active").devices == ()
    assert log.backup("historic").devices == ((eui(1), hashed),)


def test_a_device_that_never_joined_is_not_kept():
    log = fresh()
    log.add(eui(1), CODE, 0, 3600)
    log.remove(eui(1))
    assert log.historic == []


def test_re_add_restores_the_old_key_in_the_first_half_of_join_timeout():
    log = fresh()
    log.add(eui(1), CODE, 0, 600)
    old = log.join(eui(1), 5).link_key
    log.remove(eui(1))
    log.add(eui(1), b"another install code", 0, 600)
    assert log.historic == []
    assert log.join(eui(1), 300).link_key == old  # 300 s is still the first half


def test_after_half_the_join_timeout_the_install_code_is_needed():
    log = fresh()
    log.add(eui(1), CODE, 0, 600)
    log.join(eui(1), 5)
    log.remove(eui(1))
    log.add(eui(1), b"new code", 0, 600)
    assert log.join(eui(1), 301).link_key == install_code_key(eui(1), b"new code")


def test_joining_after_the_join_timeout_is_refused():
    log = fresh()
    log.add(eui(1), CODE, 0, 60)
    with pytest.raises(DeviceLogRefused, match="after its join timeout"):
        log.join(eui(1), 61)


@pytest.mark.parametrize("action,message", [
    (lambda log: log.add(eui(1), CODE, 0, 60), "already in the device log"),
    (lambda log: log.remove(eui(9)), "not in the device log"),
    (lambda log: log.add(eui(2), CODE, 7, 60), "device type 7"),
])
def test_refusals(action, message):
    log = fresh()
    log.add(eui(1), CODE, 0, 60)
    with pytest.raises(DeviceLogRefused, match=message):
        action(log)


def test_device_log_is_bounded():
    log = fresh()
    for n in range(DEVICE_LOG_CAPACITY):
        log.add(eui(n), CODE, 0, 60)
    with pytest.raises(DeviceLogRefused, match="full"):
        log.add(eui(99), CODE, 0, 60)


def churn(log: ChfDeviceLog, count: int) -> None:
    for n in range(count):
        log.add(eui(n), CODE, 0, 60)
        log.join(eui(n), 1)
        log.remove(eui(n))


def test_historic_log_keeps_the_newest_15():
    log = fresh()
    churn(log, HISTORIC_LOG_CAPACITY + 3)
    assert [h.eui for h in log.historic] == [eui(n) for n in range(3, HISTORIC_LOG_CAPACITY + 3)]


@pytest.mark.parametrize("defect,expected", [
    ("historic_log_not_kept", []),
    ("oldest_not_overwritten", [eui(n) for n in range(HISTORIC_LOG_CAPACITY)]),
])
def test_defect_switches_change_the_historic_log(defect, expected):
    log = fresh(**{defect: True})
    churn(log, HISTORIC_LOG_CAPACITY + 3)
    assert [h.eui for h in log.historic] == expected


def test_no_8F12_defect():
    assert fresh().raises_change_alert() and not fresh(no_8F12=True).raises_change_alert()


class DeviceLogMachine(RuleBasedStateMachine):
    """Random adds, joins and removes against a deliberately simple reference model."""

    def __init__(self):
        super().__init__()
        self.log = fresh()
        self.active: dict[str, bool] = {}  # eui -> joined
        self.historic: deque[str] = deque(maxlen=HISTORIC_LOG_CAPACITY)

    @precondition(lambda self: len(self.active) < DEVICE_LOG_CAPACITY)
    @rule(n=st.integers(0, 40))
    def add(self, n):
        e = eui(n)
        if e in self.active:
            with pytest.raises(DeviceLogRefused):
                self.log.add(e, CODE, 0, 60)
            return
        self.log.add(e, CODE, 0, 60)
        self.active[e] = False
        if e in self.historic:
            self.historic.remove(e)

    @rule(data=st.data())
    def join(self, data):
        waiting = sorted(e for e, joined in self.active.items() if not joined)
        if waiting:
            e = data.draw(st.sampled_from(waiting))
            self.log.join(e, 1)
            self.active[e] = True

    @rule(data=st.data())
    def remove(self, data):
        if self.active:
            e = data.draw(st.sampled_from(sorted(self.active)))
            self.log.remove(e)
            if self.active.pop(e):
                self.historic.append(e)

    @invariant()
    def logs_match_the_model(self):
        assert sorted(d for d, _ in self.log.backup("active").devices) == sorted(self.active)
        assert [d for d, _ in self.log.backup("historic").devices] == list(self.historic)
        assert all(len(k) == 16 for _, k in self.log.backup("historic").devices)


DeviceLogMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
test_device_log_state_machine = DeviceLogMachine.TestCase


def test_the_rig_files_defect_switches_reach_the_device_log():
    from hubrig.harness.virtual.devicelog import defects_from
    from hubrig.harness.virtual.params import Defects

    assert defects_from(Defects(historic_log_not_kept=True, no_81C6=True)) == DeviceLogDefects(historic_log_not_kept=True)
    assert defects_from(Defects(oldest_not_overwritten=True, no_8F12=True)) == DeviceLogDefects(
        oldest_not_overwritten=True, no_8F12=True)
