"""The streaming GFI link framing: frames, notifications, errors, resynchronisation, bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.capture.framing import FRAMINGS, Frame, FramingError, GfiFraming, Notification, make_framing

AD1 = {"AD1": r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"}


def feed_all(framing, data: bytes, cuts: list[int] | None = None) -> list:
    """Feed ``data`` split at ``cuts`` (offsets), then flush."""
    items, last = [], 0
    for cut in sorted(set(cuts or [])) + [len(data)]:
        items += framing.feed(data[last:cut])
        last = cut
    return items + framing.flush()


def test_one_frame_per_line():
    payload = bytes.fromhex("DF0903")
    items = feed_all(GfiFraming(), b"GBCS:DATA#0:3:DF0903\r\n")
    assert items == [Frame(payload, b"GBCS:DATA#0:3:DF0903\r\n")]  # raw: exactly what was on the wire


def test_encode_is_the_inverse_of_feed():
    framing = GfiFraming()
    line = framing.encode(b"\xdd\x00\xab")
    assert line == b"GBCS:DATA#0:3:DD00AB\r\n"
    assert [i.payload for i in framing.feed(line * 3)] == [b"\xdd\x00\xab"] * 3


def test_bare_lf_and_lowercase_hex_are_accepted_blank_lines_ignored():
    items = feed_all(GfiFraming(), b"\r\n\nGBCS:DATA#0:2:df09\n  \r\n")
    assert [type(i) for i in items] == [Frame] and items[0].payload == b"\xdf\x09"


@pytest.mark.parametrize("line, error", [
    (b"GBCS:DATA#0:3:DF09", "length field says 3 bytes, payload has 2"),
    (b"GBCS:DATA#0:2:DF0", "even number of hex digits"),
    (b"GBCS:DATA#0:2:DFZZ", "even number of hex digits"),
    (b"GBCS:DATA#0::DF09", "bad length field"),
    (b"GBCS:DATA#0:-2:DF09", "bad length field"),
    (b"GBCS:DATA#0:99999999:DF09", "bad length field"),
    (b"GBCS:DATA#0:2", "bad length field"),
    (b"hello from the ITCH bootloader", "unrecognised line"),
    (b"\xff\xfe\x00junk", "not ASCII"),
])
def test_bad_lines_are_errors_with_the_offending_bytes_then_framing_resumes(line, error):
    items = feed_all(GfiFraming(), line + b"\r\nGBCS:DATA#0:1:AA\r\n")
    assert len(items) == 2
    assert isinstance(items[0], FramingError) and error in items[0].error and items[0].raw == line + b"\r\n"
    assert items[1] == Frame(b"\xaa", b"GBCS:DATA#0:1:AA\r\n")


def test_garbage_before_a_frame_on_the_same_line_is_reported_and_the_frame_kept():
    items = feed_all(GfiFraming(), b"\x00\x13noiseGBCS:DATA#0:1:AA\r\n")
    assert items == [FramingError("garbage before GBCS frame", b"\x00\x13noise"),
                     Frame(b"\xaa", b"GBCS:DATA#0:1:AA\r\n")]


def test_configured_notifications_are_recognised_with_their_fields():
    framing = GfiFraming(notifications=AD1)
    items = feed_all(framing, b"DCC:ALERT#0:AD1:00DB1234567890A0\r\nDCC:ALERT#0:AD1:nothex\r\n")
    assert items[0] == Notification("AD1", {"eui": "00DB1234567890A0"}, b"DCC:ALERT#0:AD1:00DB1234567890A0\r\n")
    assert isinstance(items[1], FramingError)


def test_over_long_line_is_reported_once_truncated_and_skipped():
    framing = GfiFraming(max_line=64)
    junk = b"GBCS:DATA#0:100:" + b"A" * 200
    items = feed_all(framing, junk + b"\r\nGBCS:DATA#0:1:BB\r\n")
    assert items[0] == FramingError("line longer than 64 bytes", junk[:64])
    assert items[1:] == [Frame(b"\xbb", b"GBCS:DATA#0:1:BB\r\n")]


def test_memory_stays_bounded_while_a_device_streams_junk_without_newlines():
    framing = GfiFraming(max_line=1000)
    errors = []
    for _ in range(500):
        errors += framing.feed(b"x" * 997)
        assert len(framing._buffer) <= 1001
    assert len(errors) == 1 and len(errors[0].raw) == 1000
    assert framing.feed(b"\nGBCS:DATA#0:1:CC\n") == [Frame(b"\xcc", b"GBCS:DATA#0:1:CC\n")]


def test_partial_line_at_end_of_stream_is_reported_by_flush():
    framing = GfiFraming()
    assert framing.feed(b"GBCS:DATA#0:1:A") == []
    assert framing.flush() == [FramingError("line truncated at end of stream", b"GBCS:DATA#0:1:A")]
    assert framing.flush() == []


def test_registry_builds_framings_by_name():
    assert FRAMINGS["gfi"] is GfiFraming
    framing = make_framing("gfi", max_line=128, notifications=AD1)
    assert isinstance(framing, GfiFraming) and framing.max_line == 128
    with pytest.raises(ValueError, match="unknown link framing 'hdlc'; known: gfi"):
        make_framing("hdlc")
    with pytest.raises(ValueError, match="too small"):
        GfiFraming(max_line=4)


line_kinds = st.one_of(
    st.binary(min_size=1, max_size=120).map(lambda p: GfiFraming().encode(p)),
    st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"") + b"\r\n"),
    st.just(b"DCC:ALERT#0:AD1:00DB1234567890A0\r\n"),
    st.binary(min_size=1, max_size=60).map(lambda p: b"GBCS:DATA#0:" + str(len(p) + 1).encode()
                                           + b":" + p.hex().encode() + b"\n"),
    st.integers(150, 400).map(lambda n: b"GBCS:DATA#0:" + b"F" * n + b"\r\n"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(line_kinds, max_size=12), st.binary(max_size=30), st.lists(st.integers(0, 6000), max_size=25))
def test_same_items_however_the_stream_is_chunked(lines, tail, cuts):
    stream = b"".join(lines) + tail
    whole = feed_all(GfiFraming(max_line=200, notifications=AD1), stream)
    chunked = feed_all(GfiFraming(max_line=200, notifications=AD1), stream, [c % (len(stream) + 1) for c in cuts])
    bytewise = feed_all(GfiFraming(max_line=200, notifications=AD1), stream, list(range(len(stream))))
    assert chunked == whole == bytewise


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), max_size=10), st.lists(st.integers(0, 5000), max_size=20))
def test_every_encoded_payload_comes_back_in_order(payloads, cuts):
    framing = GfiFraming()
    stream = b"".join(framing.encode(p) for p in payloads)
    items = feed_all(framing, stream, [c % (len(stream) + 1) for c in cuts])
    assert [i.payload for i in items] == payloads


@settings(max_examples=300, deadline=None)
@given(st.lists(line_kinds, max_size=12), st.binary(max_size=30), st.lists(st.integers(0, 6000), max_size=25))
def test_parse_gives_back_each_frame_and_notification_from_its_raw_bytes_alone(lines, tail, cuts):
    """What the capture pipeline relies on to re-read frames from its journal: a frame is a pure
    function of its own bytes, whatever came before it on the stream."""
    framing = GfiFraming(max_line=200, notifications=AD1)
    stream = b"".join(lines) + tail
    items = feed_all(framing, stream, [c % (len(stream) + 1) for c in cuts])
    kept = [i for i in items if not isinstance(i, FramingError)]
    assert [framing.parse(i.raw) for i in kept] == kept
    assert framing.feed(b"GBCS:DATA#0:1:AA\r\n") == [Frame(b"\xaa", b"GBCS:DATA#0:1:AA\r\n")]  # state untouched
