"""The ITCH driver: framing -> journal (first, durable) -> decode -> bus, stamped at arrival."""

from __future__ import annotations

import time
import pytest
from hypothesis import given, settings, strategies as st

from hubrig.drivers.itch import POA_NOTIFICATION, Itch, open_itch
from hubrig.harness.capture.pipeline import wall_ns
from hubrig.drivers.transport import InProcessTransport, PtyPair
from hubrig.harness.clock import NS_PER_S, RealClock, VirtualClock
from hubrig.harness.capture.events import FRAME, FRAME_ERROR, LINK, NOTIFICATION, EventBus, WaitTimeout
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.rig.file import ItchConfig

POA = r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"
ALERT_8F36 = bytes.fromhex("DF0903000000000007D3")
ALERT_8F35 = bytes.fromhex("DF0903000000000007D4")
RESPONSE = bytes.fromhex("DF090200000000000001")


class TableDecoder:
    """Decodes the few payloads a test knows; anything else is malformed GBCS."""

    RECORDS = {
        ALERT_8F36: {"cra": "alert", "message_code": "0067", "alert_code": "8F36"},
        ALERT_8F35: {"cra": "alert", "message_code": "0067", "alert_code": "8F35"},
        RESPONSE: {"cra": "response", "message_code": "010F"},
    }

    def __init__(self, clock=None):
        self.clock = clock
        self.started_at: list[int] = []

    def __call__(self, payload: bytes) -> dict:
        if self.clock is not None:
            self.started_at.append(self.clock.now_ns())
        try:
            return dict(self.RECORDS[payload])
        except KeyError:
            raise GbcsError("unknown message", offset=len(payload) // 2) from None


def gfi(payload: bytes) -> bytes:
    return f"GBCS:DATA#0:{len(payload)}:{payload.hex().upper()}\r\n".encode()


class VirtualBench:
    """A VirtualClock, a bus, a journal and an Itch on an in-process link."""

    def __init__(self, tmp_path, decoder=None):
        self.clock = VirtualClock()
        self.journal = Journal(tmp_path / JOURNAL_FILENAME)
        self.bus = EventBus(self.clock)
        self.link = InProcessTransport(self.clock, name="virtual-ch")
        self.itch = Itch(self.link, GfiFraming(notifications={POA_NOTIFICATION: POA}), self.journal,
                         self.bus, self.clock, decoder or TableDecoder())

    def at(self, t_s: float, data: bytes) -> None:
        self.clock.call_at(round(t_s * NS_PER_S), lambda: self.link.device_write(data))

    def events(self, kind=None):
        return [e for e in self.bus.events() if kind is None or e.kind == kind]


@pytest.fixture
def bench(tmp_path):
    b = VirtualBench(tmp_path)
    yield b
    b.itch.close()
    b.journal.close()


def test_a_frame_is_journalled_decoded_and_published_with_its_arrival_instant(bench):
    bench.at(12.5, gfi(ALERT_8F36))
    event = bench.itch.wait_for(alert_code=0x8F36, timeout=60)
    assert event.kind == FRAME and event.source == "itch" and event.t_ns == 12_500_000_000
    assert event.data["payload_hex"] == ALERT_8F36.hex().upper() and event.data["cra"] == "alert"
    (frame,) = bench.journal.frames()
    assert frame.id == event.journal_id and frame.raw == gfi(ALERT_8F36)  # the journal holds exactly what was on the wire
    assert (frame.direction, frame.kind, frame.t_ns) == ("in", "frame", 12_500_000_000)
    assert frame.wall_ns == wall_ns(bench.clock, 12_500_000_000)
    assert frame.alert_code == 0x8F36 and frame.error is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([ALERT_8F36, ALERT_8F35, RESPONSE]), min_size=1, max_size=4), st.data())
def test_each_frame_carries_the_instant_of_the_chunk_that_completed_it(tmp_path_factory, payloads, data):
    bench = VirtualBench(tmp_path_factory.mktemp("itch"))
    stream = b"".join(gfi(p) for p in payloads)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=40))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
    ends, pos = [], 0
    for i, chunk in enumerate(chunks):  # chunk i arrives at i + 1 seconds
        bench.at(i + 1, chunk)
        pos += len(chunk)
        ends.append(pos)
    bench.clock.sleep(len(chunks) + 1)
    frame_ends = [len(b"".join(gfi(p) for p in payloads[:k + 1])) for k in range(len(payloads))]
    expected = [(next(i for i, e in enumerate(ends) if e >= end) + 1) * NS_PER_S for end in frame_ends]
    frames = bench.events(FRAME)
    assert [e.data["payload_hex"] for e in frames] == [p.hex().upper() for p in payloads]
    assert [e.t_ns for e in frames] == expected
    assert [f.t_ns for f in bench.journal.frames()] == expected
    bench.journal.close()


def test_garbage_on_the_line_is_journalled_reported_and_skipped(bench):
    bench.at(1, b"\x00\xffboot banner v1.2\r\n")
    bench.at(2, gfi(ALERT_8F36))
    bench.clock.sleep(3)
    error, frame = bench.events(FRAME_ERROR)[0], bench.events(FRAME)[0]
    assert error.data["stage"] == "framing" and error.t_ns == NS_PER_S
    garbage = bench.journal.frames()[0]
    assert garbage.id == error.journal_id and garbage.kind == "garbage" and b"boot banner" in garbage.raw
    assert garbage.error and bytes.fromhex(error.data["raw_hex"]) == garbage.raw
    assert frame.data["alert_code"] == "8F36" and frame.t_ns == 2 * NS_PER_S


def test_undecodable_frames_are_kept_with_the_decoder_error(bench):
    bench.at(1, gfi(b"\xde\xad\xbe\xef"))
    bench.clock.sleep(2)
    (error,) = bench.events(FRAME_ERROR)
    assert error.data["stage"] == "decode" and error.data["error"] == "unknown message" and error.data["offset"] == 2
    (frame,) = bench.journal.frames()
    assert frame.id == error.journal_id and frame.error == "unknown message"
    assert frame.raw == gfi(b"\xde\xad\xbe\xef")


def test_a_crashing_decoder_never_stops_the_capture(tmp_path):
    def broken(payload: bytes) -> dict:
        if payload == ALERT_8F35:
            raise TypeError("bug in a content decoder")
        if payload == RESPONSE:
            return None  # type: ignore[return-value]
        return TableDecoder()(payload)

    bench = VirtualBench(tmp_path, decoder=broken)
    bench.at(1, gfi(ALERT_8F35) + gfi(RESPONSE) + gfi(ALERT_8F36))
    bench.clock.sleep(2)
    errors = [e.data["error"] for e in bench.events(FRAME_ERROR)]
    assert errors == ["decoder failed: TypeError: bug in a content decoder",
                      "decoder failed: TypeError: decoder returned NoneType, not a record"]
    assert [e.data["alert_code"] for e in bench.events(FRAME)] == ["8F36"]
    assert len(bench.journal.frames()) == 3
    bench.journal.close()


def test_a_journal_failure_is_reported_but_the_frame_still_reaches_the_plan(bench):
    bench.journal.close()
    bench.at(1, gfi(ALERT_8F36))
    bench.clock.sleep(2)
    bench.at(2, b"line noise\r\n")
    bench.clock.sleep(3)
    (event,) = bench.events(FRAME)
    assert event.journal_id is None and "journal write failed" in event.data["journal_error"]
    (error,) = bench.events(FRAME_ERROR)
    assert error.journal_id is None and "journal write failed" in error.data["journal_error"]


def test_the_poa_notification_line_becomes_a_notification_event(bench):
    bench.at(200, b"DCC:ALERT#0:AD1:00DB1234567890A3\r\n")
    event = bench.itch.wait_for(notification="AD1", timeout=300)
    assert event.kind == NOTIFICATION and event.t_ns == 200 * NS_PER_S
    assert event.data["name"] == "AD1" and event.data["eui"] == "00DB1234567890A3"
    (frame,) = bench.journal.frames()
    assert frame.kind == "notification" and frame.record == {"notification": "AD1", "eui": "00DB1234567890A3"}


def test_send_journals_the_framed_command_then_writes_it(bench):
    device_saw: list[bytes] = []
    bench.link.on_host_write(device_saw.append)
    bench.clock.sleep(7)
    frame_id = bench.itch.send(RESPONSE)
    assert device_saw == [gfi(RESPONSE)]
    (frame,) = bench.journal.frames()
    assert (frame.id, frame.direction, frame.raw, frame.t_ns) == (frame_id, "out", gfi(RESPONSE), 7 * NS_PER_S)
    assert frame.record["message_code"] == "010F"


def test_wait_for_filters_by_fields_and_source_and_times_out_saying_what_arrived(bench):
    bench.at(1, gfi(ALERT_8F35))
    bench.clock.call_at(2 * NS_PER_S, lambda: bench.bus.publish(FRAME, "other-itch", {"alert_code": "8F36"}))
    with pytest.raises(WaitTimeout) as info:
        bench.itch.wait_for(alert_code=0x8F36, timeout=180)
    text = str(info.value)
    assert "no frame from itch alert_code=0x8F36 within 180 s" in text
    assert "alert_code=8F35" in text and f"journal: {bench.journal.path}" in text
    mark = bench.itch.mark()
    bench.at(200, gfi(RESPONSE))
    assert bench.itch.wait_for(cra="response", message_code=0x010F, since=mark, timeout=60).t_ns == 200 * NS_PER_S


def test_a_line_cut_by_a_link_loss_is_kept_and_the_first_frame_after_reconnection_is_not_lost(bench):
    cut_short = gfi(ALERT_8F35)[:20]
    bench.at(1, cut_short)
    bench.clock.call_at(2 * NS_PER_S, lambda: bench.link.set_link(False, "USB gone"))
    bench.clock.call_at(3 * NS_PER_S, lambda: bench.link.set_link(True, "USB back"))
    bench.at(4, gfi(ALERT_8F36))
    bench.clock.sleep(5)
    (error,) = bench.events(FRAME_ERROR)
    assert error.t_ns == NS_PER_S and "truncated" in error.data["error"]
    assert bytes.fromhex(error.data["raw_hex"]) == cut_short
    assert [(e.kind, e.t_ns) for e in bench.events() if e.kind != FRAME_ERROR] == [
        (LINK, 2 * NS_PER_S), (LINK, 3 * NS_PER_S), (FRAME, 4 * NS_PER_S)]
    assert bench.events(FRAME)[0].data["alert_code"] == "8F36"
    assert [(f.kind, f.t_ns, f.raw) for f in bench.journal.frames()] == [
        ("garbage", NS_PER_S, cut_short), ("link", 2 * NS_PER_S, b"lost: USB gone"),
        ("link", 3 * NS_PER_S, b"restored: USB back"), ("frame", 4 * NS_PER_S, gfi(ALERT_8F36))]


def test_closing_keeps_an_incomplete_last_line(bench):
    bench.at(1, b"GBCS:DATA#0:10:DF09")
    bench.clock.sleep(2)
    bench.itch.close()
    (frame,) = bench.journal.frames()
    assert frame.raw == b"GBCS:DATA#0:10:DF09" and frame.t_ns == NS_PER_S and "truncated" in frame.error


def test_link_changes_are_published(bench):
    bench.clock.call_later(5, lambda: bench.link.set_link(False, "USB gone"))
    bench.clock.call_later(9, lambda: bench.link.set_link(True, "USB back"))
    bench.clock.sleep(10)
    assert [(e.data["state"], e.t_ns) for e in bench.events(LINK)] == [("lost", 5 * NS_PER_S),
                                                                      ("restored", 9 * NS_PER_S)]


def test_open_itch_needs_the_virtual_benchs_transport_for_a_virtual_port(tmp_path):
    clock = VirtualClock()
    with Journal(tmp_path / JOURNAL_FILENAME) as journal:
        cfg = ItchConfig(port="virtual")
        with pytest.raises(ValueError, match="in-process transport"):
            open_itch(cfg, clock, EventBus(clock), journal, decoder=TableDecoder())
        link = InProcessTransport(clock)
        itch = open_itch(cfg, clock, EventBus(clock), journal, decoder=TableDecoder(), transport=link)
        link.device_write(b"DCC:ALERT#0:AD1:00DB1234567890A3\r\n")
        assert itch.bus.events()[0].kind == NOTIFICATION


@pytest.mark.realtime
def test_real_driver_stack_over_a_pty_stamps_before_decoding_and_survives_reconnection(tmp_path):
    clock = RealClock()
    pair = PtyPair()
    journal = Journal(tmp_path / JOURNAL_FILENAME)
    bus = EventBus(clock, journal_path=str(journal.path))
    decoder = TableDecoder(clock)
    itch = open_itch(ItchConfig(port=pair.port, reconnect_s=0.1), clock, bus, journal, decoder=decoder)
    try:
        mark = itch.mark()
        emitted = time.monotonic_ns()
        pair.write(gfi(ALERT_8F35))
        first = itch.wait_for(alert_code=0x8F35, since=mark, timeout=10)
        assert emitted <= first.t_ns <= decoder.started_at[0]

        pair.close_device()
        bus.wait_for(lambda e: e.kind == LINK and e.data["state"] == "lost", 10, since=mark)
        pair.reopen()
        bus.wait_for(lambda e: e.kind == LINK and e.data["state"] == "restored", 10, since=mark)
        pair.write(gfi(ALERT_8F36))
        itch.wait_for(alert_code=0x8F36, since=mark, timeout=10)
        assert [(f.kind, f.alert_code) for f in journal.frames()] == [
            ("frame", 0x8F35), ("link", None), ("link", None), ("frame", 0x8F36)]  # the port's loss in its place
    finally:
        itch.close()
        journal.close()
        pair.close()
        clock.close()


@pytest.mark.shared_vectors
def test_the_rtds_8f36_alert_decodes_and_verifies_through_the_capture_path(tmp_path, rtds):
    from hubrig.harness.gbcs.decode import decode_record
    from hubrig.harness.gbcs.keystore import KeyStore

    keys = KeyStore(rtds / "keystore")
    payload = bytes.fromhex((rtds / "messages" / "NA_ECS80" / "ECS80_NA_8F36_ALERT_GBCS.HEX").read_text().strip())
    bench = VirtualBench(tmp_path, decoder=lambda data: decode_record(data, keys))
    wire = gfi(payload)
    for i in range(0, len(wire), 7):  # trickled in 7-byte chunks, one virtual millisecond apart
        bench.at(60 + i / 7 / 1000, wire[i:i + 7])
    event = bench.itch.wait_for(alert_code=0x8F36, cra="alert", message_code=0x0067, timeout=120)
    assert event.t_ns == round((60 + (len(wire) - 1) // 7 / 1000) * NS_PER_S)
    assert event.data["originator"] == "00DB1234567890A0" and event.data["originator_counter"] == 2003
    assert event.data["signature_valid"] == [True]
    (frame,) = bench.journal.frames(alert_code="8F36")
    assert frame.id == event.journal_id and frame.record["alert_code"] == "8F36"
    bench.journal.close()
