"""The event bus: what the drivers saw, in arrival order, for test plans to wait on.

Drivers publish :class:`Event` objects (a decoded GBCS frame, an undecodable frame, a link lost
or restored, a supply output change). Every event carries the rig-clock instant at which its
bytes or its confirmation arrived at the I/O boundary, and the journal id of the raw frame that
proves it. A wait can look back as well as forward, and a timeout can say what did arrive.

Memory is bounded however long the run: the bus holds the newest events whole (a
:class:`Window`, by count and estimated bytes). The journal on disk is the record of
everything, so an older event whose publisher can restore it from there (the capture pipeline
re-reads and re-decodes its frame by journal id) keeps only its place in a run of such events;
older events nothing can restore (supply and mains changes) are small and kept whole.
Every read answers as if every event were held, in the same order.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterator, Sequence

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


class EventsLost(RuntimeError):
    """Old events whose data the bus let go could not be read back from the journal."""


Restore = Callable[[int, int], Sequence[tuple[str, int, dict[str, Any]]]]
"""A publisher's way back to its events once the bus has let their data go: ``restore(first,
last)`` returns ``(kind, t_ns, data)`` of the events it published for journal ids ``first`` to
``last`` (inclusive, in id order), equal to what it published (the capture pipeline re-reads and
re-decodes the journalled frames)."""


@dataclass(frozen=True)
class Window:
    """How much of the run the bus holds whole in memory; older events are read back on demand.

    An event leaves the window when more than ``events`` are held, or when their estimated size
    passes ``bytes`` (see :func:`footprint`); the newest event always stays.
    """

    events: int = 4096
    bytes: int = 16 << 20

    def __post_init__(self) -> None:
        for name in ("events", "bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"event window {name} must be at least 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class BusMemory:
    """What the bus holds: the window, old events kept whole, and runs of old events on disk."""

    events: int
    """Events published so far (the next event's ``seq``)."""
    window: int
    window_bytes: int
    """Estimated size of the window's events (:func:`footprint`)."""
    kept: int
    """Older events kept whole because nothing can restore them (supply and mains changes)."""
    runs: int
    """Runs of older events that only the journal holds (a run: consecutive events of one
    publisher with consecutive journal ids; a storm from one source is a few runs)."""


def footprint(data: dict[str, Any]) -> int:
    """An estimate of an event's size in memory, cheap enough for every event: 64 bytes per
    field plus 8 per character of its top-level strings (a decoded frame carries its payload in
    hex, and its decoded tree grows with it: a 152-byte signed alert measures ~1.9 kB and is
    estimated at ~3.4 kB)."""
    size = 256
    for value in data.values():
        size += 64 + (8 * len(value) if isinstance(value, (str, bytes)) else 0)
    return size


@dataclass(frozen=True)
class _OnDisk:
    """Old events ``seq`` .. ``seq + count - 1``: journal ids ``journal_id`` .. of publisher ``by``."""

    by: int
    journal_id: int
    count: int
    seq: int


class EventBus:
    """Thread-safe, memory-bounded record of the run's events, with waits driven by the rig clock.

    The newest events (a :class:`Window`) are held whole. An older event that its publisher can
    restore (``publish_many(..., restore=...)``, with a journal id) keeps only its place in a run
    ``(seq, journal id, count, publisher)``; one that cannot (no journal id, or a publisher
    without ``restore``: supply and mains changes, all small) is kept whole. Every read
    answers as if every event were held: reading past the window restores events from the
    journal, in order.
    """

    READ_BATCH = 256
    """Events read back from the journal at once (a wait stops reading at its first match)."""

    def __init__(self, clock: Clock, journal_path: str | None = None, *, window: Window = Window()):
        self.clock = clock
        self.journal_path = journal_path
        self.window = window
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Event], None]] = []
        self._next = 0
        self._recent: deque[tuple[Event, int, int]] = deque()  # (event, footprint, publisher or -1)
        self._recent_bytes = 0
        self._kept_seq = array("q")
        self._kept: list[Event] = []
        self._run_seq, self._run_id, self._run_len, self._run_by = array("q"), array("q"), array("q"), array("q")
        self._publishers: list[tuple[str, Restore]] = []
        self._publisher_ids: dict[tuple[str, Restore], int] = {}

    def publish(self, kind: str, source: str, data: dict[str, Any] | None = None, *,
                t_ns: int | None = None, journal_id: int | None = None) -> Event:
        """Record an event (stamped now unless ``t_ns`` is given) and wake waiters."""
        return self.publish_many(source, [(kind, data or {}, self.clock.now_ns() if t_ns is None else t_ns,
                                           journal_id)])[0]

    def publish_many(self, source: str, events: Sequence[tuple[str, dict[str, Any], int, int | None]], *,
                     restore: Restore | None = None) -> list[Event]:
        """Record ``(kind, data, t_ns, journal_id)`` events from ``source`` in order, then wake
        waiters once (a capture publishes what one batch completed). With ``restore`` the bus
        may let the data of those with a journal id go once they leave the window."""
        with self._lock:
            by = -1 if restore is None else self._publisher(source, restore)
            published = [Event(kind, t_ns, source, data, journal_id, self._next + i)
                         for i, (kind, data, t_ns, journal_id) in enumerate(events)]
            for event in published:
                size = footprint(event.data)
                self._recent.append((event, size, by if event.journal_id is not None else -1))
                self._recent_bytes += size
            self._next += len(published)
            self._shrink()
            subscribers = list(self._subscribers)
        for event in published:
            for fn in subscribers:
                fn(event)
        self.clock.notify()
        return published

    def _publisher(self, source: str, restore: Restore) -> int:
        key = (source, restore)
        if key not in self._publisher_ids:
            self._publisher_ids[key] = len(self._publishers)
            self._publishers.append(key)
        return self._publisher_ids[key]

    def _shrink(self) -> None:
        """Move events out of the window until it is within its bounds (under the lock)."""
        window = self.window
        while len(self._recent) > window.events or (self._recent_bytes > window.bytes and len(self._recent) > 1):
            event, size, by = self._recent.popleft()
            self._recent_bytes -= size
            if by < 0:
                self._kept_seq.append(event.seq)
                self._kept.append(event)
                continue
            assert event.journal_id is not None
            last = len(self._run_seq) - 1
            if (last >= 0 and self._run_by[last] == by and self._run_seq[last] + self._run_len[last] == event.seq
                    and self._run_id[last] + self._run_len[last] == event.journal_id):
                self._run_len[last] += 1
            else:
                for column, value in ((self._run_seq, event.seq), (self._run_id, event.journal_id),
                                      (self._run_len, 1), (self._run_by, by)):
                    column.append(value)

    def subscribe(self, fn: Callable[[Event], None]) -> None:
        """Call ``fn`` with every event published from now on (on the publisher's thread)."""
        with self._lock:
            self._subscribers.append(fn)

    def unsubscribe(self, fn: Callable[[Event], None]) -> None:
        """Stop calling ``fn`` (a closed instrument's listener); unknown ``fn`` is ignored."""
        with self._lock:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

    def memory(self) -> BusMemory:
        """What the bus holds now."""
        with self._lock:
            return BusMemory(self._next, len(self._recent), self._recent_bytes, len(self._kept), len(self._run_seq))

    def events(self, predicate: Match | None = None, since: int = 0) -> list[Event]:
        """Events from sequence number ``since`` on (a negative ``since`` counts from the end, as
        a slice does), optionally filtered; events past the window are read back from the journal."""
        return [e for e in self.iter_events(since) if predicate is None or predicate(e)]

    def iter_events(self, since: int = 0, until: int | None = None) -> Iterator[Event]:
        """Events ``since`` to ``until`` (default: the last published now), in order, read back
        from the journal a batch at a time past the window (so a long look-back holds one batch)."""
        with self._lock:
            end = self._next if until is None else min(until, self._next)
            start = max(self._next + since, 0) if since < 0 else since
        while start < end:
            with self._lock:
                pieces = self._pieces(start, min(end, start + self.READ_BATCH))
            for piece in pieces:
                if isinstance(piece, Event):
                    yield piece
                else:
                    yield from self._restore(piece)
            start = min(end, start + self.READ_BATCH)

    def _pieces(self, start: int, stop: int) -> list[Event | _OnDisk]:
        """Where events ``start`` to ``stop`` (exclusive) are, in order (under the lock)."""
        out: list[Event | _OnDisk] = []
        first_recent = self._next - len(self._recent)
        seq = start
        if seq < first_recent:
            k = bisect_left(self._kept_seq, seq)
            r = max(bisect_right(self._run_seq, seq) - 1, 0)
            while seq < min(stop, first_recent):
                if k < len(self._kept_seq) and self._kept_seq[k] == seq:
                    out.append(self._kept[k])
                    k, seq = k + 1, seq + 1
                    continue
                while self._run_seq[r] + self._run_len[r] <= seq:
                    r += 1
                count = min(self._run_seq[r] + self._run_len[r], stop) - seq
                out.append(_OnDisk(self._run_by[r], self._run_id[r] + seq - self._run_seq[r], count, seq))
                seq += count
        if seq < stop:
            skip, take = seq - first_recent, stop - seq
            if skip <= len(self._recent) - skip - take:
                out += [e for e, _, _ in islice(self._recent, skip, skip + take)]
            else:  # nearer the end: walk from there
                tail = len(self._recent) - skip
                out += [e for e, _, _ in islice(reversed(self._recent), tail - take, tail)][::-1]
        return out

    def _restore(self, piece: _OnDisk) -> list[Event]:
        source, restore = self._publishers[piece.by]
        last = piece.journal_id + piece.count - 1
        where = (f"events #{piece.seq} to #{piece.seq + piece.count - 1} from {source} (journal ids "
                 f"{piece.journal_id} to {last}{f' in {self.journal_path}' if self.journal_path else ''})")
        try:
            rows = restore(piece.journal_id, last)
        except Exception as exc:
            raise EventsLost(f"{where} are no longer in memory and could not be read back: "
                             f"{type(exc).__name__}: {exc}") from exc
        if len(rows) != piece.count:
            raise EventsLost(f"{where} are no longer in memory, and the journal gave back {len(rows)} of them")
        return [Event(kind, t_ns, source, data, piece.journal_id + i, piece.seq + i)
                for i, (kind, t_ns, data) in enumerate(rows)]

    def mark(self) -> int:
        """A position to wait from: only events after it count."""
        with self._lock:
            return self._next

    def wait_for(self, predicate: Match, timeout_s: float, *, since: int | None = None,
                 what: str = "a matching event", progress: Progress | None = None) -> Event:
        """Return the first event after ``since`` (default: now) that matches, or raise
        :class:`WaitTimeout` listing what did arrive in the meantime. Each event is looked at
        once (``predicate`` must not depend on when it is asked), so looking back past the window
        reads the journal once."""
        with self._lock:
            start = self._next if since is None else max(self._next + since, 0) if since < 0 else since
        cursor = [start]
        found: list[Event] = []

        def seen() -> bool:
            for event in self.iter_events(cursor[0]):
                cursor[0] = event.seq + 1
                if predicate(event):
                    found.append(event)
                    return True
            return False

        if self.clock.wait_until(seen, timeout_s, progress):
            return found[0]
        end = self.mark()
        arrived = max(end - start, 0)
        lines = [f"no {what} within {timeout_s:g} s; {arrived} event(s) arrived meanwhile:"]
        lines += [f"  {e}" for e in self.iter_events(max(start, end - 20), end)]
        if arrived > 20:
            lines.insert(1, f"  ... {arrived - 20} earlier event(s) not shown")
        if self.journal_path:
            lines.append(f"journal: {self.journal_path}")
        raise WaitTimeout("\n".join(lines))
