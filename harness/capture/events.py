"""The event bus: what the drivers saw, in arrival order, for test plans to wait on.

Drivers publish :class:`Event` objects (a decoded GBCS frame, an undecodable frame, a link lost
or restored, a supply output change). Every event carries the rig-clock instant at which its
bytes or its confirmation arrived at the I/O boundary, and the journal id of the raw frame that
proves it. The bus keeps every event of the run, so a wait can look back as well as forward,
and a timeout can say what did arrive.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hubrig.harness.clock import Clock, Progress, seconds

# Event kinds (strings, so plugins and new instruments can add their own).
FRAME = "frame"  # a decoded GBCS message; data: message fields (see hubrig.harness.gbcs)
FRAME_ERROR = "frame_error"  # bytes that framed or decoded wrongly; data: error, offset, raw hex
LINK = "link"  # a transport went away or came back; data: state ("lost"/"restored"), detail
SUPPLY = "supply"  # a mains switch confirmed a change; data: output (bool), source
NOTIFICATION = "notification"  # a non-GBCS line the link framing recognised (e.g. the ITCH's AD1 POA)


@dataclass(frozen=True)
class Event:
    """One thing that happened on the rig, stamped with its arrival instant."""

    kind: str
    t_ns: int
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    journal_id: int | None = None
    seq: int = 0

    @property
    def alert_code(self) -> int | None:
        code = self.data.get("alert_code")
        return int(code, 16) if isinstance(code, str) else code

    def __str__(self) -> str:
        bits = [f"#{self.seq}", f"t={seconds(self.t_ns):.6f}s", self.kind, self.source]
        for key in ("cra", "message_code", "alert_code", "name", "state", "output", "error"):
            if key in self.data:
                bits.append(f"{key}={self.data[key]}")
        if self.journal_id is not None:
            bits.append(f"journal={self.journal_id}")
        return " ".join(str(b) for b in bits)


Match = Callable[[Event], bool]


class WaitTimeout(AssertionError):
    """A wait ran out; the message lists what did arrive and where the journal is."""


def match(kind: str | None = None, **fields: Any) -> Match:
    """A predicate on events: ``match(FRAME, alert_code=0x8F36)``.

    Integer codes compare equal to their hex-string form (``0x8F36`` matches ``"8F36"``).
    """

    def norm(v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    def want(event: Event) -> bool:
        if kind is not None and event.kind != kind:
            return False
        for key, value in fields.items():
            have = event.data.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and isinstance(have, str):
                try:
                    have = int(have, 16)
                except ValueError:
                    return False
            if norm(have) != norm(value):
                return False
        return True

    return want


class EventBus:
    """Thread-safe store of the run's events, with waits driven by the rig clock."""

    def __init__(self, clock: Clock, journal_path: str | None = None):
        self.clock = clock
        self.journal_path = journal_path
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []

    def publish(self, kind: str, source: str, data: dict[str, Any] | None = None, *,
                t_ns: int | None = None, journal_id: int | None = None) -> Event:
        """Record an event (stamped now unless ``t_ns`` is given) and wake waiters."""
        return self.publish_many(source, [(kind, data or {}, self.clock.now_ns() if t_ns is None else t_ns,
                                           journal_id)])[0]

    def publish_many(self, source: str,
                     events: Sequence[tuple[str, dict[str, Any], int, int | None]]) -> list[Event]:
        """Record ``(kind, data, t_ns, journal_id)`` events from ``source`` in order, then wake
        waiters once (a capture publishes what one batch completed)."""
        with self._lock:
            published = [Event(kind, t_ns, source, data, journal_id, len(self._events) + i)
                         for i, (kind, data, t_ns, journal_id) in enumerate(events)]
            self._events.extend(published)
            subscribers = list(self._subscribers)
        for event in published:
            for fn in subscribers:
                fn(event)
        self.clock.notify()
        return published

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subscribers.append(fn)

    def events(self, predicate: Match | None = None, since: int = 0) -> list[Event]:
        """Events from sequence number ``since`` on, optionally filtered."""
        with self._lock:
            found = self._events[since:]
        return [e for e in found if predicate is None or predicate(e)]

    def mark(self) -> int:
        """A position to wait from: only events after it count."""
        with self._lock:
            return len(self._events)

    def wait_for(self, predicate: Match, timeout_s: float, *, since: int | None = None,
                 what: str = "a matching event", progress: Progress | None = None) -> Event:
        """Return the first event after ``since`` (default: now) that matches, or raise
        :class:`WaitTimeout` listing what did arrive in the meantime."""
        start = self.mark() if since is None else since
        found: list[Event] = []

        def seen() -> bool:
            found[:] = self.events(predicate, start)[:1]
            return bool(found)

        if self.clock.wait_until(seen, timeout_s, progress):
            return found[0]
        arrived = self.events(since=start)
        lines = [f"no {what} within {timeout_s:g} s; {len(arrived)} event(s) arrived meanwhile:"]
        lines += [f"  {e}" for e in arrived[-20:]]
        if len(arrived) > 20:
            lines.insert(1, f"  ... {len(arrived) - 20} earlier event(s) not shown")
        if self.journal_path:
            lines.append(f"journal: {self.journal_path}")
        raise WaitTimeout("\n".join(lines))
