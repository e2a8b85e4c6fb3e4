"""A plan step's own time bound, from the plan's schedule (no test-runner timeout needed).

:func:`step_bound` raises :class:`StepOverrun` in the main thread when a step outlives its
schedule (outage + observation + settle + margin), so a hung instrument still ends the step, and
the unwinding restores mains like any other error (:class:`~hubrig.harness.rig.mains.Mains`). It
uses ``SIGALRM`` (a blocked system call is interrupted too), only in real time and in the main
thread; a bound an outer timer already enforces sooner is left to it. In virtual time it does
nothing: rig time there is not wall time.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

MARGIN_S = 60.0
MARGIN_RATIO = 0.25
"""A step's bound: its scheduled length plus 25 % plus a minute (instrument timeouts, retries)."""


class StepOverrun(Exception):
    """A plan step outlived its schedule (the message says which and by how much)."""


def bound_for(scheduled_s: float) -> float:
    """The bound of a step scheduled to take ``scheduled_s`` seconds."""
    return scheduled_s * (1 + MARGIN_RATIO) + MARGIN_S


@contextmanager
def step_bound(what: str, scheduled_s: float, *, real_time: bool = True) -> Iterator[float]:
    """Bound the body to :func:`bound_for` ``(scheduled_s)`` seconds of wall time; yields the bound."""
    limit = bound_for(scheduled_s)
    if not real_time or threading.current_thread() is not threading.main_thread():
        yield limit
        return
    outer_left, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= limit:
        yield limit  # an outer timer (e.g. the harness's own tests' timeout) ends it sooner anyway
        return

    def overrun(signum: int, frame: object) -> None:
        raise StepOverrun(f"{what} took longer than its bound of {limit:.0f} s (scheduled {scheduled_s:.0f} s "
                          f"+ {MARGIN_RATIO:.0%} + {MARGIN_S:.0f} s): an instrument or device stopped answering")

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield limit
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3),
                             outer_interval)
