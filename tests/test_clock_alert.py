"""The virtual meter clock: tolerance, 0x8145 / 0x81C6 / 0x8F0C, alert configuration."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.virtual.meterclock import (CLOCK_ADJUSTED, CLOCK_NOT_ADJUSTED_OVER_10S,
                                        CLOCK_NOT_ADJUSTED_TOLERANCE, ClockDefects, MeterClock)

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
BITS = {CLOCK_NOT_ADJUSTED_TOLERANCE: 454}


class DeviceClock:
    """A stopped device clock that adjustments move (stands in for the ESME's)."""

    def __init__(self):
        self.time = T0

    def now(self) -> datetime:
        return self.time

    def adjust(self, seconds: float) -> None:
        self.time += timedelta(seconds=seconds)


def meter(gbcs=(3, 2), **kw) -> MeterClock:
    device = DeviceClock()
    return MeterClock(now=device.now, adjust=device.adjust, gbcs=gbcs, **kw)


def test_within_tolerance_adjusts_and_logs_8145():
    clock = meter()
    out = clock.set_clock(T0 + timedelta(seconds=7))
    assert out.adjusted and out.logged == (CLOCK_ADJUSTED,) and out.alerted == ()
    assert clock.now() == T0 + timedelta(seconds=7)


def test_outside_tolerance_is_refused_and_81C6_logged_not_sent_by_default():
    clock = meter()
    out = clock.set_clock(T0 + timedelta(seconds=60))
    assert not out.adjusted and clock.now() == T0
    assert out.logged == (CLOCK_NOT_ADJUSTED_TOLERANCE, CLOCK_NOT_ADJUSTED_OVER_10S)
    assert out.alerted == (CLOCK_NOT_ADJUSTED_OVER_10S,)


def test_81C6_is_alerted_once_enabled_and_not_after_disabling():
    clock = meter()
    clock.configure_alert(CLOCK_NOT_ADJUSTED_TOLERANCE, True)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in clock.set_clock(T0 - timedelta(seconds=30)).alerted
    clock.configure_alert(CLOCK_NOT_ADJUSTED_TOLERANCE, False)
    out = clock.set_clock(T0 - timedelta(seconds=30))
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in out.logged and CLOCK_NOT_ADJUSTED_TOLERANCE not in out.alerted


def test_before_gbcs_3_2_there_is_no_81C6():
    out = meter(gbcs=(2, 1)).set_clock(T0 + timedelta(seconds=60))
    assert out.logged == (CLOCK_NOT_ADJUSTED_OVER_10S,)


def test_defect_no_81C6():
    clock = meter(defects=ClockDefects(no_81C6=True))
    clock.configure_alert(CLOCK_NOT_ADJUSTED_TOLERANCE, True)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE not in clock.set_clock(T0 + timedelta(minutes=5)).logged


def test_a_tighter_tolerance_refuses_without_8F0C_up_to_10s():
    out = meter(tolerance_s=2).set_clock(T0 + timedelta(seconds=5))
    assert not out.adjusted and out.logged == (CLOCK_NOT_ADJUSTED_TOLERANCE,)


@given(offset=st.floats(-3600, 3600, allow_nan=False), tolerance=st.floats(0, 60),
       enabled=st.booleans(), gbcs=st.sampled_from([(2, 0), (2, 1), (3, 2)]))
def test_adjustment_rule(offset, tolerance, enabled, gbcs):
    clock = meter(gbcs=gbcs, tolerance_s=tolerance)
    clock.configure_alert(CLOCK_NOT_ADJUSTED_TOLERANCE, enabled)
    requested = T0 + timedelta(seconds=offset)
    out = clock.set_clock(requested)
    assert out.adjusted == (abs(out.difference_s) <= tolerance)
    assert abs((clock.now() - (requested if out.adjusted else T0)).total_seconds()) < 1e-5
    assert (CLOCK_ADJUSTED in out.logged) == out.adjusted
    assert CLOCK_ADJUSTED not in out.alerted
    has_81c6 = not out.adjusted and gbcs >= (3, 2)
    assert (CLOCK_NOT_ADJUSTED_TOLERANCE in out.logged) == has_81c6
    assert (CLOCK_NOT_ADJUSTED_TOLERANCE in out.alerted) == (has_81c6 and enabled)
    assert (CLOCK_NOT_ADJUSTED_OVER_10S in out.alerted) == (not out.adjusted and abs(out.difference_s) > 10)


def test_outside_the_validity_window_is_not_adjusted():
    out = meter().set_clock(T0 + timedelta(seconds=5), window=(T0 + timedelta(seconds=1), T0 + timedelta(seconds=9)))
    assert not out.adjusted and CLOCK_NOT_ADJUSTED_TOLERANCE in out.logged


@given(enabled=st.dictionaries(st.sampled_from([0x81C6, 0x8F0C, 0x8145]), st.booleans()),
       bits=st.lists(st.integers(0, 511), min_size=3, max_size=3, unique=True))
def test_event_filter_round_trip(enabled, bits):
    from hubrig.harness.rig.commands import EVENT_FILTER_BITS, event_filter, filter_settings
    mapping = dict(zip([0x81C6, 0x8F0C, 0x8145], bits))
    text = event_filter(enabled, mapping)
    assert len(text) == EVENT_FILTER_BITS and text.count("1") == sum(enabled.values())
    assert filter_settings(text, mapping) == {code: enabled.get(code, False) for code in mapping}


def test_an_alert_without_a_filter_bit_is_refused():
    from hubrig.harness.rig.commands import event_filter
    with pytest.raises(KeyError, match="alert_filter_bits"):
        event_filter({0x8F0C: True}, BITS)


def test_defect_alert_81C6_always_sent_ignores_the_filter():
    clock = meter(defects=ClockDefects(alert_81C6_always_sent=True))
    clock.configure_alert(CLOCK_NOT_ADJUSTED_TOLERANCE, False)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in clock.set_clock(T0 + timedelta(minutes=5)).alerted


def test_the_rig_files_defect_switches_reach_the_meter_clock():
    from hubrig.harness.virtual.meterclock import defects_from
    from hubrig.harness.virtual.params import Defects

    assert defects_from(Defects(no_81C6=True, no_8F12=True)) == ClockDefects(no_81C6=True)
    assert defects_from(Defects()) == ClockDefects()
