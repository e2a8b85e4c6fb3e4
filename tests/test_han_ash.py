"""ASH (UG101) on the virtual HAN stick: byte vectors, every bad-input case, the NCP state machine,
properties of the framing and a fuzz test of the NCP's frame parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.clock import VirtualClock
from hubrig.harness.virtual.han import ash
from hubrig.harness.virtual.han.ash import Ack, AshError, AshNcp, Data, Deframer, Error, Flow, Nak, Rst, RstAck
from hubrig.harness.virtual.han.ezsp import EzspNcp, Firmware
from hubrig.harness.virtual.han.radio import HanRadioParams, RadioWorld

# (wire bytes, the frame they are). Control/CRC pairs as UG101's examples and bellows' tests give
# them; the CRC of each is an independent check of crc16().
VECTORS = [
    ("c038bc7e", Rst()),
    ("c102029b7b7e", RstAck(code=0x02, version=2)),
    ("c20251a8bd7e", Error(code=0x51, version=2)),
    ("8070787e", Ack(0)),
    ("8160597e", Ack(1)),
    ("8e91b67e", Ack(6, not_ready=True)),
    ("a634dc7e", Nak(6)),
    ("ad85b77e", Nak(5, not_ready=True)),
    # DATA frmNum 2, ackNum 5, carrying 00 00 00 02 (randomised to 42 21 A8 56 on the wire)
    ("2542 21a8 56a6 097e", Data(2, False, 5, bytes.fromhex("00000002"))),
]


@pytest.mark.parametrize("wire,frame", VECTORS, ids=[type(f).__name__ + str(i) for i, (_, f) in enumerate(VECTORS)])
def test_vectors_decode_and_encode(wire, frame):
    raw = bytes.fromhex(wire.replace(" ", ""))
    assert Deframer().feed(raw) == [frame]
    assert ash.encode(frame) == raw


def test_crc_is_ccitt_false():
    # CRC-16/CCITT-FALSE check value (poly 0x1021, init 0xFFFF) of "123456789"
    assert ash.crc16(b"123456789") == 0x29B1


def test_pseudo_random_sequence_starts_as_ug101_says():
    assert ash.PSEUDO_RANDOM[:8] == bytes.fromhex("4221a8542a15b259")


def test_stuffing_escapes_every_reserved_byte():
    assert ash.stuff(bytes([0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A, 0x41])) == bytes.fromhex("7d5e7d5d7d317d337d387d3a41")
    assert ash.unstuff(bytes.fromhex("7d5e7d5d7d317d337d387d3a41")) == bytes([0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A, 0x41])


# ----------------------------------------------------------------------------- bad input


def test_crc_error_is_reported_not_raised():
    (err,) = Deframer().feed(bytes.fromhex("c038bd7e"))
    assert isinstance(err, AshError) and err.reason == "crc" and not err.data_frame


def test_stuffing_error_escape_of_ordinary_byte():
    (err,) = Deframer().feed(bytes.fromhex("c07d41387e"))
    assert isinstance(err, AshError) and err.reason == "stuffing"


def test_stuffing_error_frame_ending_in_escape():
    (err,) = Deframer().feed(bytes.fromhex("c0387d7e"))
    assert err.reason == "stuffing"


def test_truncated_frame():
    (err,) = Deframer().feed(bytes.fromhex("257e"))
    assert err.reason == "short" and err.data_frame


def test_unknown_control_byte():
    body = bytes([0xC5])
    (err,) = Deframer().feed(body + ash.crc16(body).to_bytes(2, "big") + b"\x7e")
    assert err.reason == "control"


def test_wrong_lengths_for_control_types():
    for body in (bytes([0x81, 0x00]), bytes([0xC0, 0x01]), bytes([0xC1, 0x02]), bytes([0x25])):
        (err,) = Deframer().feed(ash.stuff(body + ash.crc16(body).to_bytes(2, "big")) + b"\x7e")
        assert err.reason == "length", body


def test_garbage_without_flags_is_bounded_and_reported_once():
    d = Deframer()
    out = d.feed(bytes([0x42]) * 5000)
    assert [e.reason for e in out] == ["long"]
    assert d.feed(b"\x7e") == []  # the garbage's end
    assert d.feed(bytes.fromhex("8070787e")) == [Ack(0)]  # and the next frame is clean


def test_cancel_drops_the_frame_in_progress():
    assert Deframer().feed(bytes.fromhex("c1 02 1a 8070787e".replace(" ", ""))) == [Ack(0)]


def test_substitute_marks_the_frame_bad():
    out = Deframer().feed(bytes.fromhex("80 18 70 78 7e 8160597e".replace(" ", "")))
    assert out[0].reason == "substitute" and out[1] == Ack(1)


def test_xon_xoff_are_flow_not_data():
    out = Deframer().feed(bytes.fromhex("80 13 70 11 78 7e".replace(" ", "")))
    assert out == [Flow(False), Flow(True), Ack(0)]


def test_consecutive_flags_are_empty_not_errors():
    assert Deframer().feed(b"\x7e\x7e\x7e") == []


# ----------------------------------------------------------------------------- the NCP state machine


class Ncp:
    """An NCP in virtual time with the host side's bytes collected as frames."""

    def __init__(self):
        self.clock = VirtualClock()
        self.to_host = Deframer()
        self.host_frames: list = []
        self.delivered: list[bytes] = []
        self.resets = 0
        self.ncp = AshNcp(self.clock, self._wire, self.delivered.append, self._reset)

    def _wire(self, data: bytes) -> None:
        self.host_frames += self.to_host.feed(data)

    def _reset(self) -> None:
        self.resets += 1

    def send(self, *frames) -> list:
        self.host_frames = []
        for f in frames:
            self.ncp.feed(ash.encode(f) if not isinstance(f, bytes) else f)
        return self.host_frames


def test_rst_answered_with_rstack_software_reset():
    n = Ncp()
    assert n.send(b"\x1a" * 32 + ash.encode(Rst())) == [RstAck(ash.RESET_SOFTWARE)]
    assert n.resets == 1 and n.ncp.connected


def test_nothing_but_rst_is_heard_before_the_first_reset():
    n = Ncp()
    assert n.send(Data(0, False, 0, b"\x00\x00\x00\x04")) == []
    assert n.delivered == []


def test_data_in_sequence_is_delivered_and_acknowledged():
    n = Ncp()
    n.send(Rst())
    assert n.send(Data(0, False, 0, b"abc")) == [Ack(1)]
    assert n.send(Data(1, False, 0, b"def")) == [Ack(2)]
    assert n.delivered == [b"abc", b"def"]


def test_response_piggybacks_the_acknowledgement():
    n = Ncp()
    n.ncp._deliver = lambda payload: n.ncp.send(b"reply:" + payload)
    n.send(Rst())
    assert n.send(Data(0, False, 0, b"q")) == [Data(0, False, 1, b"reply:q")]


def test_out_of_sequence_data_gets_one_nak_until_a_good_frame():
    n = Ncp()
    n.send(Rst())
    assert n.send(Data(3, False, 0, b"x")) == [Nak(0)]
    assert n.send(Data(4, False, 0, b"y")) == []  # reject condition: no second NAK
    assert n.send(Data(0, False, 0, b"z")) == [Ack(1)]
    assert n.delivered == [b"z"]


def test_crc_error_on_data_frame_is_naked():
    n = Ncp()
    n.send(Rst())
    good = ash.frame_bytes(Data(0, False, 0, b"abc"))
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    assert n.send(ash.stuff(bad) + b"\x7e") == [Nak(0)]
    assert n.ncp.counters.errors == {"crc": 1}


def test_retransmitted_duplicate_is_acknowledged_not_delivered_twice():
    n = Ncp()
    n.send(Rst())
    n.send(Data(0, False, 0, b"a"))
    assert n.send(Data(0, True, 0, b"a")) == [Ack(1)]
    assert n.delivered == [b"a"] and n.ncp.counters.duplicates == 1


def test_one_frame_in_flight_next_goes_after_ack():
    n = Ncp()
    n.send(Rst())
    n.host_frames = []
    n.ncp.send(b"one")
    n.ncp.send(b"two")
    assert n.host_frames == [Data(0, False, 0, b"one")]
    assert n.send(Ack(1)) == [Data(1, False, 0, b"two")]


def test_nak_makes_the_ncp_retransmit():
    n = Ncp()
    n.send(Rst())
    n.ncp.send(b"one")
    assert n.send(Nak(0)) == [Data(0, True, 0, b"one")]


def test_unacknowledged_frame_is_retransmitted_then_the_ncp_fails_with_error():
    n = Ncp()
    n.send(Rst())
    n.host_frames = []
    n.ncp.send(b"one")
    n.clock.advance(60)
    retx = [f for f in n.host_frames if isinstance(f, Data) and f.re_tx]
    assert len(retx) == ash.ACK_TIMEOUTS
    assert n.host_frames[-1] == Error(ash.ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
    assert n.ncp.failed
    assert n.send(Data(0, False, 0, b"ignored")) == []  # failed: only RST is heard
    assert n.send(Rst()) == [RstAck(ash.RESET_SOFTWARE)] and not n.ncp.failed


def test_xoff_holds_transmission_until_xon():
    n = Ncp()
    n.send(Rst())
    n.send(bytes([ash.XOFF]))
    n.host_frames = []
    n.ncp.send(b"held")
    assert n.host_frames == []
    assert n.send(bytes([ash.XON])) == [Data(0, False, 0, b"held")]


def test_fault_reset_announces_the_code_and_drops_what_was_queued():
    n = Ncp()
    n.send(Rst())
    n.ncp.send(b"one")
    n.ncp.send(b"two")
    n.host_frames = []
    n.ncp.fault_reset(ash.RESET_WATCHDOG)
    assert n.host_frames == [RstAck(ash.RESET_WATCHDOG)]
    n.clock.advance(30)
    assert [f for f in n.host_frames if isinstance(f, Data)] == []


# ----------------------------------------------------------------------------- properties


@given(st.binary(max_size=300))
def test_stuff_unstuff_round_trip_and_no_reserved_bytes_left(data):
    stuffed = ash.stuff(data)
    assert ash.unstuff(stuffed) == data
    assert not (set(stuffed) - {ash.ESCAPE}) & ash.RESERVED


@given(st.binary(max_size=256))
def test_randomise_is_its_own_inverse(data):
    assert ash.randomise(ash.randomise(data)) == data


@given(st.binary(min_size=1, max_size=128))
def test_crc_detects_any_single_bit_flip(data):
    body = data + ash.crc16(data).to_bytes(2, "big")
    for bit in range(0, len(body) * 8, max(1, len(body) * 8 // 23)):
        flipped = bytearray(body)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert ash.crc16(bytes(flipped[:-2])) != int.from_bytes(flipped[-2:], "big") or bytes(flipped) == body


frames_st = st.one_of(
    st.builds(Data, st.integers(0, 7), st.booleans(), st.integers(0, 7), st.binary(min_size=1, max_size=128)),
    st.builds(Ack, st.integers(0, 7), st.booleans()),
    st.builds(Nak, st.integers(0, 7), st.booleans()),
    st.just(Rst()),
    st.builds(RstAck, st.integers(0, 255), st.integers(0, 255)),
    st.builds(Error, st.integers(0, 255), st.integers(0, 255)),
)


@given(st.lists(frames_st, max_size=8), st.integers(1, 7))
def test_any_frames_split_anywhere_decode_to_themselves(frames, chunk):
    wire = b"".join(ash.encode(f) for f in frames)
    d = Deframer()
    out = []
    for i in range(0, len(wire), chunk):
        out += d.feed(wire[i:i + chunk])
    assert out == frames


# ----------------------------------------------------------------------------- fuzz


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64), frames_st.map(ash.encode),
                          st.builds(lambda f, i: ash.encode(f)[:i], frames_st, st.integers(0, 10))), max_size=20))
def test_fuzz_ncp_never_raises_and_stays_bounded(chunks):
    clock = VirtualClock()
    radio = RadioWorld(HanRadioParams(), clock, ch_eui="00DB1234567890A3")
    out: list[bytes] = []
    ezsp: EzspNcp
    ncp = AshNcp(clock, out.append, lambda p: ezsp.handle(p), lambda: ezsp.reset())
    ezsp = EzspNcp(Firmware(), clock, radio, ncp.send)
    ncp.feed(ash.encode(Rst()))
    for c in chunks:
        ncp.feed(c)
    clock.advance(120)
    assert len(ncp._deframer._buf) <= 2 * ash.MAX_FRAME
    for frame in Deframer().feed(b"".join(out)):
        assert not isinstance(frame, AshError)  # the NCP itself only ever sends well-formed frames
