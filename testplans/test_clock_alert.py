"""GBCS v3.2 Set Clock alert 0x81C6 (IRP511): ECS70 within and outside tolerance, with the alert
switched on and off by ECS25a3. Skipped with the TSAT/IRP511 reason on an ESME below GBCS 3.2.

Runs unchanged on the virtual rig and a real bench (docs/testplans.md, "0x81C6 clock alert plan").
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from harness.commands import CommandSender, DeviceFailure, Exchange, sender_for

pytestmark = pytest.mark.gbcs_feature("alert_0x81C6")

CLOCK_ADJUSTED, NOT_ADJUSTED_TOLERANCE, NOT_ADJUSTED_OVER_10S = 0x8145, 0x81C6, 0x8F0C
READBACK_SLACK_S = 3.0
"""How far the clock read back in the ECS70 response may sit from the time asked for (transit)."""
QUIET_WAIT_S = 60.0
"""How long a disabled alert must stay absent."""


@pytest.fixture
def esme(rig) -> CommandSender:
    return sender_for(rig)


def read_back(ex: Exchange) -> datetime:
    value = ex.body.get("time")
    if not isinstance(value, str):
        raise DeviceFailure(f"ECS70 response reads back no clock time: {value!r} ({ex.evidence})")
    return datetime.fromisoformat(value)


def enable(esme: CommandSender, on: bool) -> None:
    ex = esme.set_alert(NOT_ADJUSTED_TOLERANCE, on)
    if not ex.ok:
        raise DeviceFailure(f"ECS25a3 ({'enable' if on else 'disable'} 0x81C6) failed: {ex.results} ({ex.evidence})")


def test_within_tolerance_the_clock_is_adjusted(esme, rig, clock):
    tolerance = rig.rig.dut.clock_tolerance_s
    requested = clock.wall()
    ex = esme.set_clock(requested, tolerance)
    assert ex.ok, (f"ECS70 within tolerance was refused: {ex.results} ({ex.evidence}); is the ESME "
                   f"clock within {tolerance:g} s of true time?")
    got = read_back(ex)
    assert abs((got - requested).total_seconds()) <= READBACK_SLACK_S, (
        f"clock reads {got.isoformat()} after being set to {requested.isoformat()} ({ex.evidence})")


def outside(esme: CommandSender, rig, clock) -> tuple[Exchange, int, datetime]:
    """ECS70 far outside tolerance; the clock must not move. Returns the exchange and bus mark."""
    tolerance = rig.rig.dut.clock_tolerance_s
    truth = clock.wall()
    requested = truth + timedelta(seconds=max(10 * tolerance, 120))
    mark = esme.itch.mark()
    ex = esme.set_clock(requested, tolerance)
    assert not ex.ok, f"ECS70 {requested - truth} ahead was accepted: {ex.results} ({ex.evidence})"
    got = read_back(ex)
    assert abs((got - truth).total_seconds()) <= READBACK_SLACK_S + tolerance, (
        f"clock moved to {got.isoformat()} although the adjustment was outside tolerance ({ex.evidence})")
    return ex, mark, requested


def test_outside_tolerance_with_0x81C6_enabled_alerts_it(esme, rig, clock):
    enable(esme, True)
    ex, mark, _ = outside(esme, rig, clock)
    try:
        esme.wait_alert(NOT_ADJUSTED_TOLERANCE, mark)
    except DeviceFailure as exc:
        raise DeviceFailure(f"refused adjustment ({ex.evidence}) raised no 0x81C6 although ECS25a3 "
                            f"enabled it: {exc}") from None
    esme.wait_alert(NOT_ADJUSTED_OVER_10S, mark)  # the adjustment was over 10 s: critical alert


def test_outside_tolerance_with_0x81C6_disabled_sends_no_0x81C6(esme, rig, clock):
    enable(esme, False)
    ex, mark, _ = outside(esme, rig, clock)
    esme.wait_alert(NOT_ADJUSTED_OVER_10S, mark)
    clock.sleep(QUIET_WAIT_S)
    sent = esme.alerts_since(NOT_ADJUSTED_TOLERANCE, mark)
    assert not sent, (f"0x81C6 sent while disabled (journal {[e.journal_id for e in sent]}) after "
                      f"{ex.evidence}")
