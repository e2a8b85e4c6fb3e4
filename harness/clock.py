"""The rig clock: the only place the harness reads time or waits.

Two implementations share one interface:

* :class:`RealClock` for a real bench: ``time.monotonic_ns`` for instants, ``time.time_ns`` for
  the wall date, and waits that block on a condition variable other threads (the ITCH reader)
  notify.
* :class:`VirtualClock` for the virtual rig: a small single-threaded discrete-event scheduler.
  Waiting runs the scheduled device callbacks in time order and jumps straight to the next one,
  so a 3-minute outage costs microseconds. Same schedule, same seed: same result, every run.

Why a discrete-event scheduler rather than ``looptime``/asyncio: the test plans are plain
synchronous pytest code, the device models are a handful of timers, and determinism must hold
across threads we do not have. A heap of ``(instant, sequence, callback)`` is all it takes.

Device models never read the clock's type: they take a :class:`Scheduler` (``now_ns``,
``call_at``, ``call_later``), which both the virtual clock and :class:`RealTimeScheduler` (a
timer thread, for the virtual devices behind real OS transports) provide.

All instants are integer nanoseconds on the rig's monotonic time line; ``wall()`` maps them
to an aware UTC datetime (the date the devices and the TSAT judgement see).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

NS_PER_S = 1_000_000_000

log = logging.getLogger(__name__)

Predicate = Callable[[], bool]
Progress = Callable[[float, float], None]
"""Called during long waits with (seconds waited, seconds allowed)."""


def seconds(ns: int) -> float:
    """Nanoseconds to float seconds."""
    return ns / NS_PER_S


def to_ns(s: float) -> int:
    """Float seconds to integer nanoseconds (rounded)."""
    return round(s * NS_PER_S)


def _wall(epoch_wall: datetime, epoch_ns: int, t_ns: int) -> datetime:
    return epoch_wall + timedelta(microseconds=(t_ns - epoch_ns) // 1000)


class Scheduler(Protocol):
    """What a device model needs of time: read it, and run something later."""

    def now_ns(self) -> int: ...

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> "Timer": ...

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> "Timer": ...

    def wall(self, t_ns: int | None = None) -> datetime: ...


@dataclass(order=True)
class Timer:
    """A scheduled callback; ``cancel()`` stops it from running."""

    t_ns: int
    seq: int
    fn: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    """Interface shared by the real and the virtual clock."""

    virtual: bool = False
    epoch_wall: datetime
    """Wall date at rig time 0."""
    epoch_ns: int = 0

    def now_ns(self) -> int:
        raise NotImplementedError

    def now(self) -> float:
        """Rig time in seconds (monotonic)."""
        return seconds(self.now_ns())

    def wall(self, t_ns: int | None = None) -> datetime:
        """The aware UTC date-time of rig instant ``t_ns`` (default: now)."""
        return _wall(self.epoch_wall, self.epoch_ns, self.now_ns() if t_ns is None else t_ns)

    reporter: Progress | None = None
    """Progress callback for waits that are given none (the pytest plugin's live display)."""
    report_every_s: float = 1.0
    """Rig seconds between progress reports: a grid, so virtual-time logs read like real ones."""

    def wait_until(self, predicate: Predicate, timeout_s: float, progress: Progress | None = None) -> bool:
        """Wait until ``predicate()`` is true or ``timeout_s`` passes; return the predicate's value.

        With a progress callback (given, or the clock's ``reporter``) the wait is reported every
        ``report_every_s`` rig seconds as ``progress(seconds waited, seconds allowed)``."""
        report = progress or self.reporter
        if report is None:
            return self._wait(predicate, timeout_s)
        step = max(self.report_every_s, 1e-3)
        start = self.now_ns()
        waited = 0.0
        while True:
            boundary = min((waited // step + 1) * step, timeout_s)
            if self._wait(predicate, max(boundary - waited, 0.0)):
                return True
            waited = seconds(self.now_ns() - start)
            if waited >= timeout_s:
                return False
            report(waited, timeout_s)

    def _wait(self, predicate: Predicate, timeout_s: float) -> bool:
        raise NotImplementedError

    def sleep(self, seconds_: float, progress: Progress | None = None) -> None:
        """Let ``seconds_`` of rig time pass (devices keep running meanwhile)."""
        self.wait_until(lambda: False, seconds_, progress)

    def notify(self) -> None:
        """Wake waiters: called by whoever changed what a predicate looks at."""

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now_ns() + to_ns(delay_s), fn)

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> Timer:
        raise NotImplementedError


class VirtualClock(Clock):
    """Deterministic virtual time driven by a discrete-event scheduler."""

    virtual = True

    def __init__(self, start: datetime | None = None, start_ns: int = 0):
        self._now = start_ns
        self.epoch_ns = start_ns
        self.epoch_wall = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> Timer:
        timer = Timer(max(t_ns, self._now), next(self._seq), fn)
        heapq.heappush(self._heap, timer)
        return timer

    def run_next(self, until_ns: int) -> bool:
        """Run the earliest callback due at or before ``until_ns``; False if there is none."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self._heap or self._heap[0].t_ns > until_ns:
            return False
        timer = heapq.heappop(self._heap)
        self._now = timer.t_ns
        timer.fn()
        return True

    def _wait(self, predicate: Predicate, timeout_s: float) -> bool:
        deadline = self._now + to_ns(timeout_s)
        while not predicate():
            if not self.run_next(deadline):
                self._now = max(self._now, deadline)
                return predicate()
        return True

    def advance(self, seconds_: float) -> None:
        """Run everything due in the next ``seconds_`` of virtual time."""
        self.sleep(seconds_)


class RealClock(Clock):
    """Monotonic real time; waits block on a condition that :meth:`notify` wakes."""

    POLL_S = 0.05

    def __init__(self) -> None:
        self.epoch_ns = time.monotonic_ns()
        self.epoch_wall = datetime.fromtimestamp(time.time_ns() / NS_PER_S, tz=timezone.utc)
        self._cond = threading.Condition()
        self._timers = RealTimeScheduler(self)

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> Timer:
        return self._timers.call_at(t_ns, fn)

    def _wait(self, predicate: Predicate, timeout_s: float) -> bool:
        deadline = self.now_ns() + to_ns(timeout_s)
        with self._cond:
            while not predicate():
                now = self.now_ns()
                if now >= deadline:
                    return predicate()
                # Re-check at least every POLL_S: a predicate may look at state changed by
                # code that does not call notify() (a driver's own thread, an instrument).
                self._cond.wait(min(seconds(deadline - now), self.POLL_S))
        return True

    def close(self) -> None:
        self._timers.close()


class RealTimeScheduler:
    """Runs device-model callbacks at real monotonic instants on one daemon thread.

    Used when the virtual devices sit behind real OS transports (a pty, a TCP socket) and must
    keep real time. Callbacks run on the scheduler thread, one at a time, in time order; one that
    raises is logged and the others still run. Given the rig's ``clock``, the devices' wall dates
    are the harness's own, and the clock's waiters wake after every callback.
    """

    def __init__(self, clock: Clock | None = None):
        self._clock = clock
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        if clock is not None:
            self.epoch_ns, self.epoch_wall = clock.epoch_ns, clock.epoch_wall
        else:
            self.epoch_ns = time.monotonic_ns()
            self.epoch_wall = datetime.fromtimestamp(time.time_ns() / NS_PER_S, tz=timezone.utc)

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def wall(self, t_ns: int | None = None) -> datetime:
        return _wall(self.epoch_wall, self.epoch_ns, self.now_ns() if t_ns is None else t_ns)

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> Timer:
        with self._cond:
            timer = Timer(t_ns, next(self._seq), fn)
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hubrig-timers", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return timer

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now_ns() + to_ns(delay_s), fn)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    while self._heap and self._heap[0].cancelled:
                        heapq.heappop(self._heap)
                    if self._heap and self._heap[0].t_ns <= time.monotonic_ns():
                        break
                    wait = seconds(self._heap[0].t_ns - time.monotonic_ns()) if self._heap else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                timer = heapq.heappop(self._heap)
            try:
                timer.fn()
            except Exception:  # one device bug must not stop every later timer
                log.exception("timer callback %r failed; the scheduler keeps running", timer.fn)
            if self._clock is not None:
                self._clock.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
