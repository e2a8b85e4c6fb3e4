"""The event bus's memory bound: a window of recent events, older ones read back from the journal.

The bounded bus must answer every read (``events``, ``wait_for`` with an early ``since``, a
timeout's list of what arrived) exactly as a bus that kept everything would, in the same order,
while holding at most its window.
"""

from __future__ import annotations

import copy
import threading
import tracemalloc

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hubrig.harness.capture.events import (FRAME, LINK, SUPPLY, Event, EventBus, EventsLost, WaitTimeout, Window,
                                           footprint, match)
from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.capture.pipeline import Capture
from hubrig.harness.capture.storm import socket_itch, storm_line, storm_record
from hubrig.harness.clock import RealClock, VirtualClock

from test_capture_pipeline import AD1_LINE, POA, FedTransport

SOURCES = ("itch", "han", "psu")
CODES = ("8F36", "8F35", "0067", None)
PREDICATES = {
    "any": lambda e: True,
    "frame": match(FRAME),
    "8F36": match(FRAME, alert_code=0x8F36),
    "han": lambda e: e.source == "han",
    "deep": lambda e: e.data.get("body", {}).get("n", -1) % 3 == 0,  # a field only the full data has
}


class FakeJournal:
    """What a journal gives back: the data each restorable publisher published, by journal id."""

    def __init__(self) -> None:
        self.next_id = 1
        self.rows: dict[tuple[str, int], tuple[str, int, dict]] = {}
        self.reads = 0

    def restorer(self, source: str):
        def restore(first: int, last: int) -> list[tuple[str, int, dict]]:
            self.reads += 1
            return [copy.deepcopy(self.rows[(source, i)]) for i in range(first, last + 1)]  # equal, not the same
        return restore


class BoundedBusMatchesUnbounded(RuleBasedStateMachine):
    """Arbitrary interleavings of publish, look-back and waits: the bounded bus against a plain list."""

    @initialize(events=st.integers(1, 6), bytes_=st.sampled_from([1, 2_000, 1 << 30]))
    def start(self, events, bytes_):
        self.clock = VirtualClock()
        self.window = Window(events=events, bytes=bytes_)
        self.bus = EventBus(self.clock, journal_path="/run/journal.sqlite", window=self.window)
        self.journal = FakeJournal()
        self.restorers = {s: self.journal.restorer(s) for s in SOURCES}
        self.model: list[Event] = []
        self.n = 0

    def _publish(self, source: str, restorable: bool, batch: list[tuple[str | None, bool, bool]]) -> None:
        rows = []
        for code, journalled, big in batch:
            self.n += 1
            kind = FRAME if code is not None else LINK
            data = {"body": {"n": self.n, "blob": "x" * (300 if big else 3)}}
            if code is not None:
                data["alert_code"] = code
            jid = None
            if journalled:
                jid = self.journal.next_id
                self.journal.next_id += 1 + (self.n % 4 == 0)  # ids other sources or sends took
                self.journal.rows[(source, jid)] = (kind, self.clock.now_ns(), copy.deepcopy(data))
            rows.append((kind, data, self.clock.now_ns(), jid))
        published = self.bus.publish_many(source, rows, restore=self.restorers[source] if restorable else None)
        self.model += [Event(k, t, source, copy.deepcopy(d), j, len(self.model) + i)
                       for i, (k, d, t, j) in enumerate(rows)]
        assert published == self.model[len(self.model) - len(rows):]

    @rule(source=st.sampled_from(SOURCES), restorable=st.booleans(),
          batch=st.lists(st.tuples(st.sampled_from(CODES), st.booleans(), st.booleans()), min_size=1, max_size=8))
    def publish(self, source, restorable, batch):
        self._publish(source, restorable, batch)

    @rule(output=st.booleans())
    def supply_change(self, output):
        self.bus.publish(SUPPLY, "psu", {"output": output})
        self.model.append(Event(SUPPLY, self.clock.now_ns(), "psu", {"output": output}, None, len(self.model)))

    @rule(since=st.integers(-12, 60), which=st.sampled_from(sorted(PREDICATES)))
    def look_back(self, since, which):
        want = [e for e in self.model[since:] if PREDICATES[which](e)]
        assert self.bus.events(PREDICATES[which], since) == want

    @rule(since=st.integers(0, 60), which=st.sampled_from(sorted(PREDICATES)))
    def wait_looking_back(self, since, which):
        want = [e for e in self.model[since:] if PREDICATES[which](e)]
        if want:
            assert self.bus.wait_for(PREDICATES[which], 1.0, since=since) == want[0]
            return
        with pytest.raises(WaitTimeout) as info:
            self.bus.wait_for(PREDICATES[which], 1.0, since=since, what="it")
        arrived = self.model[since:]
        lines = [f"no it within 1 s; {len(arrived)} event(s) arrived meanwhile:", *[f"  {e}" for e in arrived[-20:]]]
        if len(arrived) > 20:
            lines.insert(1, f"  ... {len(arrived) - 20} earlier event(s) not shown")
        assert str(info.value) == "\n".join(lines + ["journal: /run/journal.sqlite"])

    @rule(source=st.sampled_from(SOURCES), back=st.integers(0, 30), delay_s=st.integers(1, 5),
          batch=st.lists(st.tuples(st.sampled_from(CODES[:2]), st.booleans(), st.booleans()), min_size=1, max_size=4))
    def wait_while_events_arrive(self, source, back, delay_s, batch):
        """A wait from an old mark while a device publishes: it finds what the list says is first."""
        since = max(len(self.model) - back, 0)
        self.clock.call_later(delay_s, lambda: self._publish(source, True, batch))
        try:
            got: Event | None = self.bus.wait_for(match(FRAME, alert_code=0x8F36), 10.0, since=since)
        except WaitTimeout:
            got = None
        self.clock.sleep(10)  # let the scheduled publish run if the wait ended before it
        assert got == next((e for e in self.model[since:] if PREDICATES["8F36"](e)), None)

    @precondition(lambda self: self.model)
    @invariant()
    def window_is_bounded(self):
        held = self.bus.memory()
        assert held.events == len(self.model) == self.bus.mark()
        assert held.window <= self.window.events
        assert held.window_bytes <= self.window.bytes or held.window == 1
        restorable_old = held.events - held.window - held.kept
        assert held.runs <= max(restorable_old, 0)


BoundedBusMatchesUnbounded.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_bounded_bus_answers_as_an_unbounded_one = BoundedBusMatchesUnbounded.TestCase


def test_old_events_that_nothing_can_restore_are_kept_whole():
    bus = EventBus(VirtualClock(), window=Window(events=2))
    for i in range(10):
        bus.publish(SUPPLY, "psu", {"output": bool(i % 2)}, journal_id=None)
    bus.publish(FRAME, "han", {"channel": 11}, journal_id=7)  # a journal id, but no way back: kept
    for i in range(3):
        bus.publish(FRAME, "itch", {"n": i})
    held = bus.memory()
    assert (held.window, held.kept, held.runs) == (2, 12, 0)
    assert [e.data for e in bus.events(since=9)] == [{"output": True}, {"channel": 11}, {"n": 0}, {"n": 1}, {"n": 2}]


def test_a_storm_from_one_source_is_a_few_runs():
    journal = FakeJournal()
    bus = EventBus(VirtualClock(), window=Window(events=100))
    restore = journal.restorer("itch")
    for first in range(1, 10_001, 64):
        rows = [(FRAME, {"n": i}, i, i) for i in range(first, min(first + 64, 10_001))]
        for kind, data, t, jid in rows:
            journal.rows[("itch", jid)] = (kind, t, data)
        bus.publish_many("itch", rows, restore=restore)
    bus.publish(SUPPLY, "psu", {"output": False})
    assert bus.memory().runs == 1 and bus.memory().window == 100
    assert bus.wait_for(match(FRAME, n=5), 1, since=0).seq == 4
    assert journal.reads == 1  # the wait read one batch back and stopped at its match


def test_a_wait_reads_old_events_back_once_however_often_it_wakes():
    clock = VirtualClock()
    journal = FakeJournal()
    bus = EventBus(clock, window=Window(events=4))
    restore = journal.restorer("itch")
    for jid in range(1, 501):
        journal.rows[("itch", jid)] = (FRAME, jid, {"n": jid})
        bus.publish_many("itch", [(FRAME, {"n": jid}, jid, jid)], restore=restore)
    for k in range(50):  # the wait wakes at every one of these
        clock.call_later(k + 1, lambda: bus.publish(LINK, "itch", {"state": "lost"}))
    with pytest.raises(WaitTimeout):
        bus.wait_for(match(FRAME, n=-1), 60, since=0)
    reads_for_the_wait = journal.reads
    assert reads_for_the_wait == -(-496 // EventBus.READ_BATCH)  # 496 events past the window, read once


def test_an_event_the_journal_cannot_give_back_is_a_clear_error():
    def gone(first: int, last: int):
        raise OSError("journal closed")

    bus = EventBus(VirtualClock(), journal_path="/run/j.sqlite", window=Window(events=1))
    bus.publish_many("itch", [(FRAME, {"n": 1}, 1, 41), (FRAME, {"n": 2}, 2, 42)], restore=gone)
    with pytest.raises(EventsLost, match=r"#0 to #0 from itch \(journal ids 41 to 41 in /run/j.sqlite\).*"
                                         r"journal closed"):
        bus.events()
    assert bus.events(since=1)[0].data == {"n": 2}  # the window still answers


def test_an_unsubscribed_listener_hears_nothing_more():
    """A closed instrument (the HAN stick) takes its listener off the bus: it hears what was
    published before, nothing after, and the other listeners are unaffected."""
    bus = EventBus(VirtualClock())
    heard, others = [], []
    bus.subscribe(heard.append)
    bus.subscribe(others.append)
    bus.publish(SUPPLY, "psu", {"output": False})
    bus.unsubscribe(heard.append)
    bus.unsubscribe(print)  # never subscribed: ignored
    bus.publish(SUPPLY, "psu", {"output": True})
    assert [e.data["output"] for e in heard] == [False]
    assert [e.data["output"] for e in others] == [False, True]


def test_window_bounds_are_checked():
    with pytest.raises(ValueError, match="events must be at least 1"):
        Window(events=0)
    with pytest.raises(ValueError, match="bytes must be at least 1"):
        Window(bytes=0)


def test_footprint_grows_with_the_payload():
    small, large = footprint({"payload_hex": "00" * 10}), footprint({"payload_hex": "00" * 1000})
    assert large - small == 8 * 1980


# ---------------------------------------------------------------- the real pipeline


def test_pipeline_restores_every_kind_of_event_as_it_was_published(tmp_path):
    """Decoded frames, decode errors, garbage and notifications read back from the journal equal
    what was published (seq, instant, kind, data, journal id), and a wait from the start finds
    its frame after the window has moved far past it."""
    clock = VirtualClock()
    journal = Journal(tmp_path / JOURNAL_FILENAME)
    bus = EventBus(clock, window=Window(events=8))
    published: list[Event] = []
    bus.subscribe(published.append)
    link = FedTransport()
    capture = Capture(link, GfiFraming(notifications=POA), journal, bus, clock, storm_record, source="itch")
    chunks = []
    for i in range(300):
        line = storm_line(i)
        if i % 50 == 7:
            line = b"GBCS:DATA#0:0003:ABCDEF\r\n"  # frames, but the decoder rejects it
        elif i % 50 == 9:
            line = b"not a frame\r\n"
        elif i % 50 == 11:
            line = AD1_LINE
        chunks.append(line)
    for k in range(0, 300, 7):  # chunks that split lines
        data = b"".join(chunks[k:k + 7])
        link.feed(data[:5], clock.now_ns())
        clock.sleep(0.001)
        link.feed(data[5:], clock.now_ns())
        if k == 140:
            link.link("lost")
            link.link("restored")
    assert len(published) > 300
    assert bus.events() == published
    # the two link changes are journalled in their place too, so nothing old is kept whole
    assert bus.memory().window == 8 and bus.memory().kept == 0
    assert [e.data["state"] for e in bus.events() if e.kind == LINK] == ["lost", "restored"]
    assert bus.wait_for(match(FRAME, seq=3), 1, since=0) == next(e for e in published if e.data.get("seq") == 3)
    capture.close()
    journal.close()


@pytest.mark.realtime
def test_storm_of_200k_frames_through_the_real_pipeline_keeps_memory_bounded(tmp_path):
    """200,000 frames over loopback TCP through ``open_itch`` (reader, group-committing journal
    writer, decoder threads): what stays allocated once the storm is published is bounded by the
    window, not by the storm; the first frame of the storm is still found by a look-back."""
    frames = 200_000
    window = Window(events=2_000)
    clock = RealClock()
    journal = Journal(tmp_path / JOURNAL_FILENAME)
    wire = b"".join(storm_line(i) for i in range(frames))
    tracemalloc.start()
    try:
        bus = EventBus(clock, window=window)
        with socket_itch(journal, bus, storm_record) as (itch, conn):
            before = tracemalloc.get_traced_memory()[0]
            since = bus.mark()
            sender = threading.Thread(target=conn.sendall, args=(wire,), daemon=True)
            sender.start()
            assert clock.wait_until(lambda: bus.mark() >= since + frames, 600), f"only {bus.mark() - since} events"
            sender.join()
            retained = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            held = bus.memory()
            first = itch.wait_for(timeout=1, since=since, what="the first storm frame")
            # Measured ~1.3 MB with this window; every event held whole (as before the window) grows
            # the process by ~110 MB for this storm (benchmarks/event_memory.py).
            assert retained < 6 * 2**20, f"{retained:,} bytes retained after {frames:,} events"
            assert held.window == window.events and held.runs < frames // 100
            assert first.data["seq"] == 0 and first.seq == since
            assert [e.data["seq"] for e in bus.events(since=since + frames - 1)] == [frames - 1]
    finally:
        tracemalloc.stop()
        journal.close()
        clock.close()
