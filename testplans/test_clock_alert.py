"""GBCS v3.2 Set Clock alert 0x81C6 (IRP511): ECS70 within and outside tolerance, with the alert
switched on and off by ECS25a (Set Alert Behaviours - ESME - Supplier) and its logging switched off
by ECS25a3 (Set Event Behaviours - ESME logging), each confirmed by reading the ESME's event log
back (ECS35a). A behaviour is changed one bit at a time after reading the current behaviours
(ECS25r1) and put back when the test ends, however it ends. Skipped with the TSAT/IRP511 reason on
an ESME below GBCS 3.2.

Runs unchanged on the virtual rig and a real bench (docs/testplans.md, "0x81C6 clock alert plan").
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator

import pytest

from hubrig.fixtures.recording import frame_ids
from hubrig.harness.rig.commands import Behaviour, BehaviourChange, CommandSender, DeviceFailure, Exchange, sender_for

pytestmark = pytest.mark.gbcs_feature("alert_0x81C6")

CLOCK_ADJUSTED, NOT_ADJUSTED_TOLERANCE, NOT_ADJUSTED_OVER_10S = 0x8145, 0x81C6, 0x8F0C
READBACK_SLACK_S = 3.0
"""How far the clock read back in the ECS70 response may sit from the time asked for (transit)."""
QUIET_WAIT_S = 60.0
"""How long a disabled alert must stay absent."""
LOG_WINDOW = timedelta(days=1)
"""The event log is read this far either side of true time (the meter stamps entries by its clock)."""


@pytest.fixture
def esme(rig) -> CommandSender:
    return sender_for(rig)


def read_back(ex: Exchange) -> datetime:
    value = ex.body.get("time")
    if not isinstance(value, str):
        raise DeviceFailure(f"ECS70 response reads back no clock time: {value!r} ({ex.evidence})")
    return datetime.fromisoformat(value)


@pytest.fixture
def behaviour(esme, measure):
    """``with behaviour(Behaviour.ALERT, on):`` 0x81C6's bit switched for the body; afterwards the
    restore is recorded (read, write, restore and read-back frames as evidence)."""

    @contextmanager
    def switched(which: Behaviour, on: bool) -> Iterator[BehaviourChange]:
        change = None
        try:
            with esme.behaviour(which, NOT_ADJUSTED_TOLERANCE, on) as change:
                yield change
        finally:
            if change is not None:
                measure.check(f"{which.read_as}_restored", change.restored, evidence=frame_ids(*change.exchanges),
                              value=f"0x81C6 bit {'on' if change.original else 'off'} before, "
                                    f"{'restored' if change.restored else 'NOT restored'}",
                              rule=f"a behaviour changed for a test ({which.meaning}) is restored afterwards "
                                   f"and the other behaviours are kept (ECS25r1 read before and after)")
        assert change.restored, (f"the ESME's {which.read_as} were not restored: before {change.before!r}, "
                                 f"after {change.after!r} ({change.evidence})")

    return switched


def read_log(esme: CommandSender, around: datetime) -> tuple[list[tuple[str, str]], Exchange]:
    """(time stamp, event code) of every event-log entry within :data:`LOG_WINDOW` of ``around``."""
    ex = esme.read_event_log(around - LOG_WINDOW, around + LOG_WINDOW)
    if not ex.ok:
        raise DeviceFailure(f"ECS35a (read event log) failed: {ex.results} ({ex.evidence})")
    return [(e["timestamp"], e["event_code"]) for e in ex.body.get("event_log") or []], ex


class LogChange:
    """The event-log entries an action added: the log is read before and after it."""

    def __init__(self, esme: CommandSender, clock, action: Callable[[], Exchange]):
        around = clock.wall()
        before, first = read_log(esme, around)
        self.exchange = action()
        after, last = read_log(esme, around)
        self.reads = (first, last)
        kept = Counter(before)
        self.added: list[int] = []
        for entry in after:
            if kept[entry]:
                kept[entry] -= 1
            else:
                self.added.append(int(entry[1], 16))
        self.evidence = f"ECS35a before: {first.evidence}; after: {last.evidence}"

    def require(self, code: int, why: str) -> None:
        if code not in self.added:
            raise DeviceFailure(f"0x{code:04X} is not in the event log after {why} ({self.exchange.evidence}); "
                                f"entries added: {self.shown()} ({self.evidence})")

    def forbid(self, code: int, why: str) -> None:
        if code in self.added:
            raise DeviceFailure(f"0x{code:04X} was logged after {why} ({self.exchange.evidence}); "
                                f"entries added: {self.shown()} ({self.evidence})")

    def shown(self) -> str:
        return "[" + ", ".join(f"0x{c:04X}" for c in self.added) + "]"


@pytest.mark.measures("ecs70_within_tolerance_applied", "0x8145_logged")
def test_within_tolerance_the_clock_is_adjusted_and_0x8145_logged(esme, rig, clock, measure):
    tolerance = rig.rig.dut.clock_tolerance_s
    requested = clock.wall()
    change = LogChange(esme, clock, lambda: esme.set_clock(requested, tolerance))
    ex = change.exchange
    measure.check("ecs70_within_tolerance_applied", ex.ok, evidence=frame_ids(ex),
                  rule=f"ECS70: an adjustment within the {tolerance:g} s tolerance is applied")
    assert ex.ok, (f"ECS70 within tolerance was refused: {ex.results} ({ex.evidence}); is the ESME "
                   f"clock within {tolerance:g} s of true time?")
    got = read_back(ex)
    assert abs((got - requested).total_seconds()) <= READBACK_SLACK_S, (
        f"clock reads {got.isoformat()} after being set to {requested.isoformat()} ({ex.evidence})")
    measure.check("0x8145_logged", CLOCK_ADJUSTED in change.added, value=change.shown(), evidence=frame_ids(ex),
                  rule="GBCS: an adjustment within tolerance logs 0x8145 (Clock adjusted)")
    change.require(CLOCK_ADJUSTED, "an adjustment within tolerance")
    change.forbid(NOT_ADJUSTED_TOLERANCE, "an adjustment within tolerance")


def outside(esme: CommandSender, rig, clock, measure) -> tuple[LogChange, int]:
    """ECS70 far outside tolerance: the clock must not move, and 0x81C6 (and, over 10 s, 0x8F0C)
    must be logged. Returns the log change and the bus mark taken before the command."""
    tolerance = rig.rig.dut.clock_tolerance_s
    truth = clock.wall()
    requested = truth + timedelta(seconds=max(10 * tolerance, 120))
    mark = esme.itch.mark()
    change = LogChange(esme, clock, lambda: esme.set_clock(requested, tolerance))
    ex = change.exchange
    assert not ex.ok, f"ECS70 {requested - truth} ahead was accepted: {ex.results} ({ex.evidence})"
    got = read_back(ex)
    assert abs((got - truth).total_seconds()) <= READBACK_SLACK_S + tolerance, (
        f"clock moved to {got.isoformat()} although the adjustment was outside tolerance ({ex.evidence})")
    measure.check("0x81C6_logged", NOT_ADJUSTED_TOLERANCE in change.added, value=change.shown(),
                  evidence=frame_ids(ex, *change.reads),
                  rule="IRP511 / GBCS v3.2: a refused adjustment outside tolerance logs 0x81C6")
    change.require(NOT_ADJUSTED_TOLERANCE, "a refused adjustment")
    change.require(NOT_ADJUSTED_OVER_10S, "a refused adjustment of over 10 s")
    change.forbid(CLOCK_ADJUSTED, "a refused adjustment")
    return change, mark


@pytest.mark.measures("0x81C6_logged", "0x81C6_alerted_when_enabled")
def test_outside_tolerance_with_0x81C6_enabled_logs_and_alerts_it(esme, rig, clock, measure, behaviour):
    with behaviour(Behaviour.ALERT, True):
        change, mark = outside(esme, rig, clock, measure)
        rule = ("IRP511 / GBCS v3.2: a refused adjustment outside tolerance raises 0x81C6 when ECS25a (Set Alert "
                "Behaviours - ESME - Supplier) enables it")
        try:
            alert = esme.wait_alert(NOT_ADJUSTED_TOLERANCE, mark)
        except DeviceFailure as exc:
            measure.check("0x81C6_alerted_when_enabled", False, evidence=frame_ids(change.exchange), rule=rule,
                          note="no 0x81C6 alert arrived")
            raise DeviceFailure(f"refused adjustment ({change.exchange.evidence}) raised no 0x81C6 although "
                                f"ECS25a enabled it: {exc}") from None
        measure.check("0x81C6_alerted_when_enabled", True, evidence=frame_ids(change.exchange, alert), rule=rule)
        esme.wait_alert(NOT_ADJUSTED_OVER_10S, mark)  # the adjustment was over 10 s: critical alert


@pytest.mark.measures("0x81C6_logged", "0x81C6_not_sent_when_disabled")
def test_outside_tolerance_with_0x81C6_disabled_logs_it_but_sends_none(esme, rig, clock, measure, behaviour):
    with behaviour(Behaviour.ALERT, False):
        change, mark = outside(esme, rig, clock, measure)
        esme.wait_alert(NOT_ADJUSTED_OVER_10S, mark)
        clock.sleep(QUIET_WAIT_S)
        sent = esme.alerts_since(NOT_ADJUSTED_TOLERANCE, mark)
        measure.check("0x81C6_not_sent_when_disabled", not sent, value=len(sent), unit="alert",
                      evidence=frame_ids(change.exchange, *sent),
                      rule="ECS25a: an alert switched off is logged, not sent")
        assert not sent, (f"0x81C6 sent while disabled (journal {[e.journal_id for e in sent]}) after "
                          f"{change.exchange.evidence}")


@pytest.mark.measures("0x81C6_not_logged_when_logging_off")
def test_outside_tolerance_with_0x81C6_logging_off_logs_no_0x81C6(esme, rig, clock, measure, behaviour):
    tolerance = rig.rig.dut.clock_tolerance_s
    requested = clock.wall() + timedelta(seconds=max(10 * tolerance, 120))
    with behaviour(Behaviour.LOGGING, False):
        change = LogChange(esme, clock, lambda: esme.set_clock(requested, tolerance))
        assert not change.exchange.ok, f"ECS70 far ahead was accepted ({change.exchange.evidence})"
        measure.check("0x81C6_not_logged_when_logging_off", NOT_ADJUSTED_TOLERANCE not in change.added,
                      value=change.shown(), evidence=frame_ids(change.exchange, *change.reads),
                      rule="ECS25a3 (Set Event Behaviours - ESME logging): an event switched off is not logged")
        change.forbid(NOT_ADJUSTED_TOLERANCE, "a refused adjustment with 0x81C6 logging switched off by ECS25a3")
        change.require(NOT_ADJUSTED_OVER_10S, "a refused adjustment of over 10 s (its logging was not touched)")
