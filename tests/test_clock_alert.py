"""The virtual meter clock: tolerance, 0x8145 / 0x81C6 / 0x8F0C, alert configuration."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.rig.commands import apply_behaviour_write, behaviour_write
from hubrig.harness.virtual.meterclock import (CLOCK_ADJUSTED, CLOCK_NOT_ADJUSTED_OVER_10S,
                                        CLOCK_NOT_ADJUSTED_TOLERANCE, ClockDefects, MeterClock)

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
BITS = {CLOCK_NOT_ADJUSTED_TOLERANCE: 198}


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
    return MeterClock(now=device.now, adjust=device.adjust, gbcs=gbcs, bit_of=BITS, **kw)


def switch(clock: MeterClock, which: str, on: bool) -> None:
    clock.write_behaviours(which, behaviour_write(BITS[CLOCK_NOT_ADJUSTED_TOLERANCE], on))


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
    switch(clock, "alert", True)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in clock.set_clock(T0 - timedelta(seconds=30)).alerted
    switch(clock, "alert", False)
    out = clock.set_clock(T0 - timedelta(seconds=30))
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in out.logged and CLOCK_NOT_ADJUSTED_TOLERANCE not in out.alerted


def test_before_gbcs_3_2_there_is_no_81C6():
    out = meter(gbcs=(2, 1)).set_clock(T0 + timedelta(seconds=60))
    assert out.logged == (CLOCK_NOT_ADJUSTED_OVER_10S,)


def test_defect_no_81C6():
    clock = meter(defects=ClockDefects(no_81C6=True))
    switch(clock, "alert", True)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE not in clock.set_clock(T0 + timedelta(minutes=5)).logged


def test_a_tighter_tolerance_refuses_without_8F0C_up_to_10s():
    out = meter(tolerance_s=2).set_clock(T0 + timedelta(seconds=5))
    assert not out.adjusted and out.logged == (CLOCK_NOT_ADJUSTED_TOLERANCE,)


@given(offset=st.floats(-3600, 3600, allow_nan=False), tolerance=st.floats(0, 60),
       enabled=st.booleans(), gbcs=st.sampled_from([(2, 0), (2, 1), (3, 2)]))
def test_adjustment_rule(offset, tolerance, enabled, gbcs):
    clock = meter(gbcs=gbcs, tolerance_s=tolerance)
    switch(clock, "alert", enabled)
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


@given(current=st.text("01", min_size=256, max_size=256), bit=st.integers(0, 255), on=st.booleans())
def test_a_behaviour_write_changes_its_one_bit_and_keeps_every_other(current, bit, on):
    write = behaviour_write(bit, on)
    assert len(write) == 512 and write[:256].count("1") == 1 and write[bit] == "1"
    after = apply_behaviour_write(current, write)
    assert after[bit] == ("1" if on else "0")
    assert after[:bit] + after[bit + 1:] == current[:bit] + current[bit + 1:]
    assert apply_behaviour_write(after, behaviour_write(bit, current[bit] == "1")) == current  # the restore


def test_a_bit_outside_the_behaviour_object_is_refused():
    with pytest.raises(ValueError, match="outside 0..255"):
        behaviour_write(256, True)


def test_logging_switched_off_by_ecs25a3_logs_no_81C6_but_still_refuses():
    clock = meter()
    switch(clock, "logging", False)
    out = clock.set_clock(T0 + timedelta(seconds=60))
    assert not out.adjusted and out.logged == (CLOCK_NOT_ADJUSTED_OVER_10S,)
    switch(clock, "logging", True)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in clock.set_clock(T0 + timedelta(seconds=60)).logged


def test_defect_behaviour_write_ignores_mask_loses_the_other_bits():
    clock = meter(defects=ClockDefects(behaviour_write_ignores_mask=True))
    switch(clock, "logging", False)
    assert clock.logging_behaviours == "0" * 256  # every event's logging switched off


def test_defect_alert_81C6_always_sent_ignores_the_filter():
    clock = meter(defects=ClockDefects(alert_81C6_always_sent=True))
    switch(clock, "alert", False)
    assert CLOCK_NOT_ADJUSTED_TOLERANCE in clock.set_clock(T0 + timedelta(minutes=5)).alerted


def test_the_rig_files_defect_switches_reach_the_meter_clock():
    from hubrig.harness.virtual.meterclock import defects_from
    from hubrig.harness.virtual.params import Defects

    assert defects_from(Defects(no_81C6=True, no_8F12=True)) == ClockDefects(no_81C6=True)
    assert defects_from(Defects()) == ClockDefects()
