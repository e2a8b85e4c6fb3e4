"""The rig clock and the event bus: virtual time is deterministic and waits say what arrived."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, strategies as st

from hubrig.harness.clock import NS_PER_S, RealClock, RealTimeScheduler, VirtualClock
from hubrig.harness.capture.events import FRAME, LINK, EventBus, WaitTimeout, match


def test_virtual_clock_runs_callbacks_in_time_order_and_jumps():
    clock = VirtualClock()
    seen = []
    clock.call_later(180, lambda: seen.append(("b", clock.now())))
    clock.call_later(1.5, lambda: seen.append(("a", clock.now())))
    clock.sleep(200)
    assert seen == [("a", 1.5), ("b", 180.0)]
    assert clock.now() == 200.0


@given(st.lists(st.integers(min_value=0, max_value=10**12), max_size=50))
def test_virtual_clock_order_is_stable_for_equal_instants(delays):
    clock = VirtualClock()
    order = []
    for i, d in enumerate(delays):
        clock.call_at(d, lambda i=i: order.append(i))
    clock.sleep(10**4)
    assert order == sorted(range(len(delays)), key=lambda i: (delays[i], i))


def test_cancelled_timer_never_runs():
    clock = VirtualClock()
    ran = []
    t = clock.call_later(5, lambda: ran.append(1))
    t.cancel()
    clock.sleep(10)
    assert ran == []


def test_wait_for_returns_event_published_by_a_scheduled_device():
    clock = VirtualClock()
    bus = EventBus(clock)
    clock.call_later(42, lambda: bus.publish(FRAME, "itch", {"alert_code": "8F36"}))
    event = bus.wait_for(match(FRAME, alert_code=0x8F36), timeout_s=60)
    assert event.t_ns == 42 * NS_PER_S
    assert clock.now() == 42.0  # the wait stopped at the event, not at the timeout


def test_wait_timeout_lists_what_arrived_and_the_journal():
    clock = VirtualClock()
    bus = EventBus(clock, journal_path="/tmp/run/journal.sqlite")
    clock.call_later(1, lambda: bus.publish(LINK, "itch", {"state": "lost"}))
    with pytest.raises(WaitTimeout) as info:
        bus.wait_for(match(FRAME, alert_code=0x8F36), timeout_s=5, what="8F36 alert")
    text = str(info.value)
    assert "no 8F36 alert within 5 s" in text and "state=lost" in text
    assert "/tmp/run/journal.sqlite" in text
    assert clock.now() == 5.0


def test_real_clock_wait_wakes_on_publish_from_another_thread():
    clock = RealClock()
    bus = EventBus(clock)
    threading.Timer(0.05, lambda: bus.publish(FRAME, "itch", {"alert_code": "8F35"})).start()
    event = bus.wait_for(match(FRAME, alert_code="8f35"), timeout_s=5)
    assert event.data["alert_code"] == "8F35"
    clock.close()


def test_real_clock_timers_fire_in_order():
    clock = RealClock()
    seen = []
    clock.call_later(0.03, lambda: seen.append(2))
    clock.call_later(0.01, lambda: seen.append(1))
    assert clock.wait_until(lambda: len(seen) == 2, 5)
    assert seen == [1, 2]
    clock.close()


def test_virtual_wall_date_follows_virtual_time():
    clock = VirtualClock()
    start = clock.wall()
    clock.sleep(3600)
    assert (clock.wall() - start).total_seconds() == 3600


def test_a_failing_real_time_callback_is_logged_and_later_timers_still_run(caplog):
    clock = RealClock()
    seen = []

    def broken() -> None:
        raise RuntimeError("device model bug")

    clock.call_later(0.01, broken)
    clock.call_later(0.02, lambda: seen.append("later"))
    try:
        assert clock.wait_until(lambda: seen == ["later"], 5)
    finally:
        clock.close()
    assert "device model bug" in caplog.text


def test_a_scheduler_serving_a_clock_shares_its_wall_dates():
    clock = RealClock()
    scheduler = RealTimeScheduler(clock)
    t = clock.now_ns()
    assert scheduler.wall(t) == clock.wall(t)
    clock.close()
