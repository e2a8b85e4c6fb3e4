"""The capture pipeline: group commit, backpressure, a decoder backlog kept on disk, durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import threading

import pytest
from hypothesis import given, settings, strategies as st

from hubrig.drivers.itch import open_itch
from hubrig.drivers.transport import LOST, RESTORED, InProcessTransport, PtyPair, SerialTransport
from hubrig.harness.capture.events import FRAME, FRAME_ERROR, LINK, NOTIFICATION, EventBus
from hubrig.harness.capture.framing import DatagramFraming, GfiFraming, Item
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.capture.pipeline import Capture, CaptureConfig, DecodeError, OnChunk, OnLink
from hubrig.harness.capture.storm import (LINE_BYTES, StormWriter, capture_child, journalled_seqs, storm_line,
                                          storm_record)
from hubrig.harness.clock import NS_PER_S, RealClock, VirtualClock
from hubrig.harness.rig.file import ItchConfig

POA = {"AD1": r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"}
AD1_LINE = b"DCC:ALERT#0:AD1:00DB1234567890A3\r\n"


class FedTransport:
    """A transport the test drives: ``feed`` plays the reader thread (it blocks when the pipeline does)."""

    name = "fed"

    def __init__(self) -> None:
        self.on_chunk: OnChunk | None = None
        self.on_link: OnLink | None = None
        self.closed = False

    def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None:
        self.on_chunk, self.on_link = on_chunk, on_link

    def feed(self, data: bytes, t_ns: int) -> None:
        assert self.on_chunk is not None
        self.on_chunk(data, t_ns)

    def link(self, state: str) -> None:
        assert self.on_link is not None
        self.on_link(state, f"fed: {state}")

    def write(self, data: bytes) -> None:
        raise AssertionError("nothing is sent in these tests")

    def close(self) -> None:
        self.closed = True


class Rig:
    """A pipeline on a fed transport, in real time (threads) or in virtual time (inline)."""

    def __init__(self, path, config: CaptureConfig = CaptureConfig(), decoder=storm_record, virtual=False,
                 framing=None):
        self.clock = VirtualClock() if virtual else RealClock()
        self.journal = Journal(path / JOURNAL_FILENAME)
        self.bus = EventBus(self.clock)
        self.link = FedTransport()
        self.capture = Capture(self.link, framing or GfiFraming(notifications=POA), self.journal, self.bus,
                               self.clock, decoder, source="src", config=config)

    def events(self, kind=None):
        return [e for e in self.bus.events() if kind is None or e.kind == kind]

    def until(self, predicate, timeout_s=30.0) -> None:
        assert self.clock.wait_until(predicate, timeout_s), "timed out"

    def close(self) -> None:
        self.capture.close()
        self.journal.close()
        if isinstance(self.clock, RealClock):
            self.clock.close()


def feeder(rig: Rig, chunks: list[bytes]) -> tuple[threading.Thread, list[int]]:
    """Feed ``chunks`` from a thread, each stamped as it is fed; returns the thread and the count fed."""
    fed: list[int] = []

    def run() -> None:
        for i, chunk in enumerate(chunks):
            rig.link.feed(chunk, rig.clock.now_ns())
            fed.append(i)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, fed


def test_a_batch_commits_when_it_is_full_and_the_rest_waits_for_the_delay_or_close(tmp_path):
    rig = Rig(tmp_path, CaptureConfig(batch_frames=4, max_delay_s=10))
    try:
        rig.link.feed(b"".join(storm_line(i) for i in range(4)), rig.clock.now_ns())
        rig.until(lambda: len(rig.events(FRAME)) == 4)
        assert rig.capture.stats().commits == 1 and len(rig.journal.frames()) == 4
        rig.link.feed(storm_line(4) + storm_line(5), rig.clock.now_ns())
        rig.until(lambda: rig.capture.stats().pending == 2)
        assert len(rig.journal.frames()) == 4  # two pending frames: not a full batch, not 10 s old
        rig.capture.close()
        assert [e.data["seq"] for e in rig.events(FRAME)] == list(range(6))
        assert rig.capture.stats().commits == 2 and len(rig.journal.frames()) == 6
    finally:
        rig.close()


def test_a_lone_frame_is_committed_and_published_after_the_delay(tmp_path):
    rig = Rig(tmp_path, CaptureConfig(batch_frames=1000, max_delay_s=0.05))
    try:
        rig.link.feed(storm_line(7), rig.clock.now_ns())
        rig.until(lambda: bool(rig.events(FRAME)))
        (frame,) = rig.journal.frames()
        assert frame.record == {"seq": 7} and rig.events(FRAME)[0].journal_id == frame.id
        assert rig.capture.stats().commits == 1
    finally:
        rig.close()


class GatedFraming(GfiFraming):
    """GFI framing that waits for ``gate`` before framing: a journal writer that has fallen behind."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def feed(self, chunk: bytes) -> list[Item]:
        assert self.gate.wait(30)
        return super().feed(chunk)


@pytest.mark.realtime
def test_a_journal_writer_that_falls_behind_stops_the_reader_instead_of_queueing(tmp_path):
    framing = GatedFraming()
    rig = Rig(tmp_path, CaptureConfig(batch_frames=8, max_delay_s=0.01, queue_bytes=100), framing=framing)
    try:
        chunks = [storm_line(i) * 1 for i in range(50)]
        thread, fed = feeder(rig, chunks)
        rig.until(lambda: rig.capture.stats().backpressure_waits >= 1)
        assert thread.is_alive() and len(fed) < 10  # the reader waits: it reads nothing more
        assert rig.capture.stats().max_queued_bytes <= 100 + LINE_BYTES
        framing.gate.set()
        thread.join(30)
        rig.until(lambda: len(rig.events(FRAME)) == 50)
        assert [e.data["seq"] for e in rig.events(FRAME)] == list(range(50))
        assert rig.capture.stats().max_queued_bytes <= 100 + LINE_BYTES
    finally:
        framing.gate.set()
        rig.close()


@pytest.mark.realtime
def test_a_slow_decoder_neither_stops_the_reader_nor_holds_its_backlog_in_memory(tmp_path):
    release = threading.Event()

    def slow(payload: bytes) -> dict:
        assert release.wait(30)
        return storm_record(payload)

    rig = Rig(tmp_path, CaptureConfig(batch_frames=8, max_delay_s=0.01, decode_backlog=16), decoder=slow)
    try:
        lines = [storm_line(i) for i in range(600)]
        lines[100] = AD1_LINE
        lines[300] = b"line noise\r\n"
        thread, fed = feeder(rig, lines[:400])
        thread.join(30)
        assert len(fed) == 400  # the decoder is stuck, yet nothing stopped the reader
        rig.link.link(LOST)
        rig.link.link(RESTORED)
        thread, fed = feeder(rig, lines[400:])
        thread.join(30)
        rig.until(lambda: len(rig.journal.frames()) == 602)  # all on disk (and the link changes) before
        # anything was decoded
        stats = rig.capture.stats()
        assert stats.max_decode_backlog <= 16 + 8 and stats.spilled >= 500
        release.set()
        rig.until(lambda: len(rig.bus.events()) == 602)
        kinds = [(e.kind, e.data.get("seq"), e.data.get("state")) for e in rig.bus.events()]
        expected = [(FRAME, i, None) for i in range(600)]
        expected[100], expected[300] = (NOTIFICATION, None, None), (FRAME_ERROR, None, None)
        assert kinds == expected[:400] + [(LINK, None, LOST), (LINK, None, RESTORED)] + expected[400:]
        frames = rig.journal.frames()
        assert [e.journal_id for e in rig.bus.events()] == [f.id for f in frames]  # link changes in their place
        assert [f.kind for f in frames[400:402]] == ["link", "link"]
        published = [e for e in rig.bus.events() if e.kind != LINK]
        frames = [f for f in frames if f.kind != "link"]
        assert published[100].data["eui"] == "00DB1234567890A3" and published[300].data["stage"] == "framing"
        assert all(f.record == {"seq": i} for i, f in enumerate(frames) if i not in (100, 300))
    finally:
        release.set()
        rig.close()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["frame", "poa", "noise", "cut", "lost"]), min_size=1, max_size=30),
       st.integers(1, 6), st.integers(1, 6), st.data())
def test_the_threaded_pipeline_publishes_what_the_inline_one_does(tmp_path_factory, script, batch, backlog, data):
    """Whatever the batching and the decoder's backlog (kept on disk or not), real time publishes and
    journals exactly what virtual time does, in the same order."""
    steps: list[tuple[str, bytes]] = []
    for n, what in enumerate(script):
        line = {"frame": storm_line(n), "poa": AD1_LINE, "noise": b"\x00noise\r\n", "cut": storm_line(n)[:9]}.get(what)
        if line is None:
            steps.append(("lost", b""))
            continue
        cuts = sorted(set(data.draw(st.lists(st.integers(1, len(line) - 1), max_size=3)))) if len(line) > 1 else []
        steps += [("chunk", line[a:b]) for a, b in zip([0, *cuts], [*cuts, len(line)])]
    runs = []
    for virtual in (True, False):
        release = threading.Event()

        def held(payload: bytes, release=release) -> dict:
            assert release.wait(30)
            return storm_record(payload)

        rig = Rig(tmp_path_factory.mktemp("p"), CaptureConfig(batch_frames=batch, max_delay_s=0.001,
                                                              decode_backlog=backlog),
                  decoder=storm_record if virtual else held, virtual=virtual)
        try:
            for i, (what, chunk) in enumerate(steps):
                if what == "lost":
                    rig.link.link(LOST)
                    rig.link.link(RESTORED)
                else:
                    rig.link.feed(chunk, (i + 1) * NS_PER_S)
            release.set()
            rig.capture.close()
            events = [(e.kind, e.source, e.journal_id, e.t_ns if e.kind != LINK else None, sorted(e.data.items()))
                      for e in rig.bus.events()]
            frames = [(f.id, f.t_ns if f.kind != "link" else None, f.kind, f.raw, f.record, f.error)
                      for f in rig.journal.frames()]
            runs.append((events, frames))
        finally:
            rig.close()
    assert runs[0] == runs[1]


@pytest.mark.realtime
def test_sigkill_during_a_pty_storm_loses_nothing_written_before_the_commit_bound(tmp_path):
    """A child captures a pty through the ITCH driver while a storm writer fills it; after SIGKILL,
    the journal holds exactly the storm's first frames, every frame written more than the bound
    before the kill among them."""
    config = CaptureConfig()
    bound_s = config.max_delay_s + 1.0  # the commit delay, plus the loaded test machine's scheduling
    bound_ns = round(bound_s * NS_PER_S)
    clock = RealClock()
    pair = PtyPair()
    path = tmp_path / JOURNAL_FILENAME
    child = capture_child(pair.port, path, config)
    storm = StormWriter(pair.device_fd, clock).start()
    try:
        # storm until thousands of frames were written longer than the bound ago, however loaded the machine
        assert clock.wait_until(lambda: storm.frames_by(clock.now_ns() - bound_ns) >= 5_000, 120)
        kill_ns = clock.now_ns()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        storm.stop()
        if child.poll() is None:
            child.kill()
            child.wait()
        pair.close()
        clock.close()
    assert child.returncode == -signal.SIGKILL
    seqs = journalled_seqs(path)
    assert seqs == list(range(len(seqs)))  # exact bytes, in order, no gap, nothing invented
    must_have = storm.frames_by(kill_ns - bound_ns)
    assert must_have >= 5_000  # the storm ran long before the bound: the check is not vacuous
    assert len(seqs) >= must_have, f"{must_have - len(seqs)} frames written over {bound_s} s before the kill are lost"


@pytest.mark.realtime
def test_a_fast_socket_storm_keeps_the_pipeline_within_its_bounds(tmp_path):
    """A loopback socket:// storm against a held-up decoder: every frame is journalled and published
    in order, while what waits in memory never exceeds the configured bounds."""
    frames = 40_000
    config = CaptureConfig(batch_frames=256, max_delay_s=0.005, queue_bytes=8192, decode_backlog=512)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)
    release = threading.Event()

    def held(payload: bytes) -> dict:
        assert release.wait(60)
        return storm_record(payload)

    clock = RealClock()
    journal = Journal(tmp_path / JOURNAL_FILENAME)
    bus = EventBus(clock)
    itch = open_itch(ItchConfig(port=f"socket://127.0.0.1:{server.getsockname()[1]}"), clock, bus, journal,
                     decoder=held, capture=config)
    conn, _ = server.accept()
    sender = threading.Thread(target=lambda: conn.sendall(b"".join(storm_line(i) for i in range(frames))),
                              daemon=True)
    try:
        sender.start()
        assert clock.wait_until(lambda: itch.capture.stats().frames >= frames // 2, 60)
        release.set()
        assert clock.wait_until(lambda: len(bus.events()) >= frames, 120)
        assert [e.data["seq"] for e in bus.events()] == list(range(frames))
        assert [f.id for f in journal.frames()] == [e.journal_id for e in bus.events()]
        stats = itch.capture.stats()
        assert stats.frames == frames
        assert stats.max_queued_bytes <= config.queue_bytes + SerialTransport.MAX_CHUNK
        assert stats.max_decode_backlog <= config.decode_backlog + config.batch_frames \
            + (config.queue_bytes + SerialTransport.MAX_CHUNK) // LINE_BYTES
        assert stats.spilled > frames // 4  # the held-up decoder's backlog waited on disk, not in memory
    finally:
        release.set()
        itch.close()
        conn.close()
        server.close()
        journal.close()
        clock.close()


@pytest.mark.parametrize("virtual", [True, False])
def test_a_source_that_hands_over_whole_frames_is_captured_with_its_own_kinds(tmp_path, virtual):
    """How the HAN stick reuses the pipeline: its library hands over whole frames from its own
    thread; they are stamped, journalled under the source's kind, decoded and published under
    the event kinds its decoder's records call for, also when they are read back from the journal."""

    hold = threading.Event()  # in real time the decoder waits until all is sent: its backlog goes to disk
    if virtual:
        hold.set()

    def decode(frame: bytes) -> dict:
        assert hold.wait(30)
        if frame[0] != 0x01:
            raise DecodeError(f"unknown frame id {frame[0]:02X}", 0)
        return {"name": "energyScanResult", "channel": frame[1]}

    clock = VirtualClock() if virtual else RealClock()
    journal = Journal(tmp_path / JOURNAL_FILENAME)
    bus = EventBus(clock)
    link = InProcessTransport(clock, name="ncp")
    capture = Capture(link, DatagramFraming(), journal, bus, clock, decode, source="han",
                      config=CaptureConfig(batch_frames=2, max_delay_s=0.001, decode_backlog=2),
                      frame_kind="ezsp8", event_kind=lambda record: f"han_{record['name']}")
    frames = [bytes([0x01, channel]) for channel in range(11, 27)] + [b"\x7f\x00"]
    sender = threading.Thread(target=lambda: [link.device_write(f) for f in frames])
    sender.start()
    sender.join(30)
    hold.set()
    capture.close()
    assert virtual or capture.stats().spilled > 0
    events = bus.events()
    assert [(e.kind, e.data.get("channel")) for e in events] == [
        *[("han_energyScanResult", c) for c in range(11, 27)], (FRAME_ERROR, None)]
    assert events[-1].data["error"] == "unknown frame id 7F" and events[-1].data["offset"] == 0
    stored = journal.frames()
    assert [(f.kind, f.source, f.raw) for f in stored] == [("ezsp8", "han", f) for f in frames]
    assert [e.journal_id for e in events] == [f.id for f in stored]
    assert stored[0].record == {"name": "energyScanResult", "channel": 11} and stored[-1].error
    journal.close()
    if isinstance(clock, RealClock):
        clock.close()


@pytest.mark.parametrize("field, value", [("batch_frames", 0), ("queue_bytes", -1), ("decode_backlog", 0),
                                          ("max_delay_s", float("nan")), ("max_delay_s", -0.1), ("max_delay_s", 60)])
def test_capture_bounds_must_be_sane(field, value):
    with pytest.raises(ValueError, match=f"capture {field}"):
        CaptureConfig(**{field: value})


class BrokenFraming(GfiFraming):
    """A framing with bugs: it raises on a chunk with ``boom`` in it, and when flushed."""

    def feed(self, chunk: bytes) -> list[Item]:
        if b"boom" in chunk:
            raise RuntimeError("framing bug")
        return super().feed(chunk)

    def flush(self) -> list[Item]:
        raise RuntimeError("flush bug")


@pytest.mark.parametrize("virtual", [True, False])
def test_a_framing_bug_is_journalled_and_reported_and_capture_goes_on(tmp_path, virtual):
    rig = Rig(tmp_path, CaptureConfig(max_delay_s=0.001), virtual=virtual, framing=BrokenFraming())
    try:
        rig.link.feed(b"boom\r\n", rig.clock.now_ns())
        rig.link.feed(storm_line(3), rig.clock.now_ns())
        rig.capture.close()
        assert [(e.kind, e.data.get("error"), e.data.get("seq")) for e in rig.events()] == [
            (FRAME_ERROR, "framing failed: RuntimeError: framing bug", None), (FRAME, None, 3),
            (FRAME_ERROR, "framing failed at the end of the stream: RuntimeError: flush bug", None)]
        assert [(f.kind, f.raw) for f in rig.journal.frames()] == [("garbage", b"boom\r\n"), ("frame", storm_line(3)),
                                                                  ("garbage", b"")]
    finally:
        rig.close()


def test_a_transport_that_cannot_start_leaves_no_capture_thread_behind(tmp_path):
    class Refusing(FedTransport):
        def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None:
            raise RuntimeError("port busy")

    clock = RealClock()
    before = {t.name for t in threading.enumerate()}
    with Journal(tmp_path / JOURNAL_FILENAME) as journal, pytest.raises(RuntimeError, match="port busy"):
        Capture(Refusing(), GfiFraming(), journal, EventBus(clock), clock, storm_record, source="refused")
    assert clock.wait_until(lambda: not [t for t in threading.enumerate()
                                         if t.name.endswith(" refused") and t.name not in before], 10)
    clock.close()
