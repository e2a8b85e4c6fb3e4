"""ASH, the Asynchronous Serial Host protocol (Silicon Labs UG101), from the NCP's side.

The codec (pure functions and a streaming deframer) and :class:`AshNcp`, the state machine an
EmberZNet NCP runs on its UART: it frames what the host writes, acknowledges DATA frames, keeps one
DATA frame of its own in flight (retransmitting it when no acknowledgement comes), answers RST with
RSTACK and gives up with an ERROR frame after too many acknowledgement timeouts.

Wire format (UG101 section 2): a frame is ``control | data | CRC-16 (big-endian)``, byte-stuffed and
ended by the Flag byte 0x7E. The CRC is CRC-CCITT (polynomial 0x1021, initial value 0xFFFF) over
control and data. Reserved bytes (Flag 0x7E, Escape 0x7D, XON 0x11, XOFF 0x13, Substitute 0x18,
Cancel 0x1A) inside a frame are sent as Escape followed by the byte with bit 5 flipped. A DATA
frame's data field is XORed with a pseudo-random sequence (an 8-bit LFSR seeded 0x42) so long
runs of reserved bytes are rare. Control bytes:

============  ===========================  ===============================================
DATA          ``0 frmNum(3) reTx ackNum(3)``  an EZSP frame
ACK           ``100 res nRdy ackNum(3)``    acknowledges every frame before ``ackNum``
NAK           ``101 res nRdy ackNum(3)``    asks for retransmission from ``ackNum``
RST           ``0xC0``                       host asks the NCP to reset
RSTACK        ``0xC1 version code``          NCP has reset (version 2, reset code)
ERROR         ``0xC2 version code``          NCP has failed and waits for RST
============  ===========================  ===============================================

Every byte the host sends is untrusted: the deframer bounds frame length, and a frame with a bad
CRC, a bad escape or an unknown control byte is reported as :class:`AshError`, never raised.
"""

from __future__ import annotations

import binascii
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Union

from hubrig.harness.clock import Scheduler, Timer, to_ns

log = logging.getLogger(__name__)

FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL = 0x7E, 0x7D, 0x11, 0x13, 0x18, 0x1A
RESERVED = frozenset((FLAG, ESCAPE, XON, XOFF, SUBSTITUTE, CANCEL))
ASH_VERSION = 2
MAX_DATA = 128
"""Largest EZSP frame a DATA frame carries (UG101: 3..128 bytes)."""
MAX_FRAME = 1 + MAX_DATA + 2
"""Largest unstuffed frame: control, data, CRC. Anything longer is garbage."""

# NCP reset codes carried by RSTACK and ERROR (UG101 table 3).
RESET_UNKNOWN = 0x00
RESET_EXTERNAL = 0x01
RESET_POWER_ON = 0x02
RESET_WATCHDOG = 0x03
RESET_ASSERT = 0x06
RESET_BOOTLOADER = 0x09
RESET_SOFTWARE = 0x0B
ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT = 0x51

T_RX_ACK_INIT_S = 1.6
T_RX_ACK_MIN_S = 0.4
T_RX_ACK_MAX_S = 3.2
ACK_TIMEOUTS = 4
"""Consecutive unacknowledged retransmissions after which the NCP fails (UG101 ``ACK_TIMEOUTS``)."""


def crc16(data: bytes) -> int:
    """CRC-CCITT as ASH uses it: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def _lfsr(length: int) -> bytes:
    out = bytearray()
    r = 0x42
    for _ in range(length):
        out.append(r)
        r = (r >> 1) ^ 0xB8 if r & 1 else r >> 1
    return bytes(out)


PSEUDO_RANDOM = _lfsr(256)
"""UG101 4.3: the data randomisation sequence (seed 0x42; shift right, XOR 0xB8 when bit 0 was 1)."""


def randomise(data: bytes) -> bytes:
    """XOR ``data`` with the pseudo-random sequence (its own inverse)."""
    if len(data) > len(PSEUDO_RANDOM):
        raise ValueError(f"{len(data)} bytes is longer than the randomisation sequence")
    return bytes(a ^ b for a, b in zip(data, PSEUDO_RANDOM))


def stuff(frame: bytes) -> bytes:
    """Escape every reserved byte (Escape, then the byte with bit 5 flipped)."""
    out = bytearray()
    for b in frame:
        if b in RESERVED:
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


class StuffingError(ValueError):
    """An Escape not followed by an escaped reserved byte."""


def unstuff(data: bytes) -> bytes:
    """Undo :func:`stuff`; :class:`StuffingError` for an Escape that escapes nothing reserved."""
    out = bytearray()
    escaped = False
    for b in data:
        if escaped:
            b ^= 0x20
            if b not in RESERVED:
                raise StuffingError(f"escaped byte 0x{b:02X} is not a reserved byte")
            out.append(b)
            escaped = False
        elif b == ESCAPE:
            escaped = True
        else:
            out.append(b)
    if escaped:
        raise StuffingError("frame ends with an Escape byte")
    return bytes(out)


# ----------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class Data:
    frm_num: int
    re_tx: bool
    ack_num: int
    payload: bytes
    """The EZSP frame, not randomised."""


@dataclass(frozen=True)
class Ack:
    ack_num: int
    not_ready: bool = False


@dataclass(frozen=True)
class Nak:
    ack_num: int
    not_ready: bool = False


@dataclass(frozen=True)
class Rst:
    pass


@dataclass(frozen=True)
class RstAck:
    code: int
    version: int = ASH_VERSION


@dataclass(frozen=True)
class Error:
    code: int
    version: int = ASH_VERSION


Frame = Union[Data, Ack, Nak, Rst, RstAck, Error]


@dataclass(frozen=True)
class AshError:
    """A frame that could not be used: ``reason`` is one of ``crc``, ``stuffing``, ``short``,
    ``long``, ``control``, ``length``, ``substitute``; ``raw`` the bytes as received."""

    reason: str
    detail: str
    raw: bytes
    data_frame: bool = False
    """The control byte said DATA (the NCP answers those with NAK)."""


@dataclass(frozen=True)
class Flow:
    """An XON (``on``) or XOFF byte between frames."""

    on: bool


def control_byte(frame: Frame) -> int:
    if isinstance(frame, Data):
        return (frame.frm_num & 7) << 4 | int(frame.re_tx) << 3 | (frame.ack_num & 7)
    if isinstance(frame, Ack):
        return 0x80 | int(frame.not_ready) << 3 | (frame.ack_num & 7)
    if isinstance(frame, Nak):
        return 0xA0 | int(frame.not_ready) << 3 | (frame.ack_num & 7)
    if isinstance(frame, Rst):
        return 0xC0
    if isinstance(frame, RstAck):
        return 0xC1
    return 0xC2


def frame_bytes(frame: Frame) -> bytes:
    """Control, data and CRC, before stuffing."""
    body = bytes((control_byte(frame),))
    if isinstance(frame, Data):
        body += randomise(frame.payload)
    elif isinstance(frame, (RstAck, Error)):
        body += bytes((frame.version, frame.code))
    return body + crc16(body).to_bytes(2, "big")


def encode(frame: Frame) -> bytes:
    """The frame as it goes on the wire: stuffed and Flag-terminated."""
    return stuff(frame_bytes(frame)) + bytes((FLAG,))


def parse(raw: bytes) -> Frame | AshError:
    """An unstuffed frame (control, data, CRC) to a :data:`Frame`, or why it is unusable."""
    raw = bytes(raw)
    data_frame = bool(raw) and raw[0] & 0x80 == 0
    if len(raw) < 3:
        return AshError("short", f"{len(raw)} byte(s); a frame has at least control and CRC", raw, data_frame)
    if len(raw) > MAX_FRAME:
        return AshError("long", f"{len(raw)} bytes; at most {MAX_FRAME}", raw, data_frame)
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "big")
    if crc16(body) != crc:
        return AshError("crc", f"CRC {crc:04X}, computed {crc16(body):04X}", raw, data_frame)
    control, data = body[0], body[1:]
    if control & 0x80 == 0:
        if not data:
            return AshError("length", "DATA frame without data", raw, True)
        return Data(control >> 4 & 7, bool(control & 0x08), control & 7, randomise(data))
    if control & 0xE0 in (0x80, 0xA0):
        if data:
            return AshError("length", f"ACK/NAK with {len(data)} data byte(s)", raw)
        cls = Ack if control & 0xE0 == 0x80 else Nak
        return cls(control & 7, bool(control & 0x08))
    if control == 0xC0:
        return Rst() if not data else AshError("length", "RST with data", raw)
    if control in (0xC1, 0xC2):
        if len(data) != 2:
            return AshError("length", f"RSTACK/ERROR with {len(data)} data byte(s), not 2", raw)
        return (RstAck if control == 0xC1 else Error)(data[1], data[0])
    return AshError("control", f"unknown control byte 0x{control:02X}", raw)


class Deframer:
    """Turns a byte stream into frames, :class:`AshError` and :class:`Flow` items.

    Cancel (0x1A) drops everything since the last Flag; Substitute (0x18) marks the frame in
    progress bad (reported when its Flag arrives); XON/XOFF are flow control, never frame data.
    A frame that grows past :data:`MAX_FRAME` stuffed-and-all is reported once and dropped up to
    the next Flag, so a stream of garbage costs bounded memory.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._substituted = False
        self._overflow = False

    def feed(self, data: bytes) -> list[Frame | AshError | Flow]:
        out: list[Frame | AshError | Flow] = []
        for b in data:
            if b == FLAG:
                out.extend(self._end())
            elif b == CANCEL:
                self._reset()
            elif b == SUBSTITUTE:
                self._substituted = True
            elif b in (XON, XOFF):
                out.append(Flow(b == XON))
            elif self._overflow:
                continue
            else:
                self._buf.append(b)
                if len(self._buf) > 2 * MAX_FRAME:
                    out.append(AshError("long", f"no Flag within {2 * MAX_FRAME} bytes", bytes(self._buf[:32]),
                                        self._buf[0] & 0x80 == 0))
                    self._buf.clear()
                    self._overflow = True
        return out

    def _reset(self) -> None:
        self._buf.clear()
        self._substituted = self._overflow = False

    def _end(self) -> list[Frame | AshError]:
        raw, substituted, overflow = bytes(self._buf), self._substituted, self._overflow
        self._reset()
        if overflow or (not raw and not substituted):
            return []
        data_frame = bool(raw) and raw[0] & 0x80 == 0
        if substituted:
            return [AshError("substitute", "a Substitute byte marked the frame bad", raw, data_frame)]
        try:
            frame = unstuff(raw)
        except StuffingError as exc:
            return [AshError("stuffing", str(exc), raw, data_frame)]
        return [parse(frame)]


# ----------------------------------------------------------------------------- the NCP's state machine


@dataclass
class AshCounters:
    """What the NCP's ASH layer saw: kept for tests and ``hubrig han serve``'s summary."""

    frames_in: int = 0
    data_in: int = 0
    data_out: int = 0
    retransmits: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    out_of_sequence: int = 0
    resets: int = 0


class AshNcp:
    """The NCP's end of ASH, on a :class:`Scheduler`: all methods run on the scheduler's thread.

    ``write(bytes)`` puts bytes on the wire to the host; ``deliver(ezsp_frame)`` hands an in-sequence
    DATA payload to the EZSP layer; ``on_reset()`` tells the EZSP layer the NCP reset (a host RST, or
    a fault injected with :meth:`fault_reset`). One DATA frame is in flight at a time: the next is
    sent when the host acknowledges it. Unacknowledged frames are retransmitted after ``t_rx_ack``
    (doubling, bounded); after :data:`ACK_TIMEOUTS` retransmissions the NCP sends ERROR and ignores
    everything but RST.
    """

    def __init__(self, scheduler: Scheduler, write: Callable[[bytes], None], deliver: Callable[[bytes], None],
                 on_reset: Callable[[], None]):
        self.scheduler = scheduler
        self._write = write
        self._deliver = deliver
        self._on_reset = on_reset
        self._deframer = Deframer()
        self.counters = AshCounters()
        self._queue: deque[bytes] = deque()
        self._reset_state()
        self.failed = False
        self.connected = False
        """True from the first RSTACK until the next ERROR."""

    def _reset_state(self) -> None:
        self._deframer = Deframer()
        self._queue.clear()
        self._tx_next = 0
        self._rx_expected = 0
        self._in_flight: tuple[int, bytes] | None = None
        self._attempts = 0
        self._t_rx_ack = T_RX_ACK_INIT_S
        self._ack_timer: Timer | None = None
        self._rejecting = False
        self._paused = False

    # --------------------------------------------------------------- from the host

    def feed(self, data: bytes) -> None:
        """Bytes the host wrote."""
        for item in self._deframer.feed(data):
            if isinstance(item, Flow):
                self._paused = not item.on
                if item.on:
                    self._pump()
            elif isinstance(item, AshError):
                self._bad_frame(item)
            else:
                self.counters.frames_in += 1
                self._frame(item)

    def _bad_frame(self, err: AshError) -> None:
        self.counters.errors[err.reason] = self.counters.errors.get(err.reason, 0) + 1
        log.debug("ASH: discarded frame (%s: %s) %s", err.reason, err.detail, err.raw.hex())
        if err.data_frame:
            self._reject()

    def _reject(self) -> None:
        if self.connected and not self.failed and not self._rejecting:
            self._rejecting = True
            self.counters.naks_sent += 1
            self._send(Nak(self._rx_expected))

    def _frame(self, frame: Frame) -> None:
        if isinstance(frame, Rst):
            self.reset(RESET_SOFTWARE)
            return
        if self.failed or not self.connected:
            return  # only RST is heard before the first reset and after a failure
        if isinstance(frame, (Data, Ack, Nak)):
            self._acknowledged(frame.ack_num)
        if isinstance(frame, Data):
            self._data(frame)
        elif isinstance(frame, Nak):
            self.counters.naks_received += 1
            if self._in_flight is not None and self._in_flight[0] == frame.ack_num:
                self._retransmit()

    def _data(self, frame: Data) -> None:
        self.counters.data_in += 1
        if frame.frm_num == self._rx_expected:
            self._rx_expected = (self._rx_expected + 1) % 8
            self._rejecting = False
            sent_before = self.counters.data_out + self.counters.retransmits
            self._deliver(frame.payload)
            if self.counters.data_out + self.counters.retransmits == sent_before:
                self._send(Ack(self._rx_expected))  # nothing went out to carry the acknowledgement
        elif frame.re_tx and frame.frm_num == (self._rx_expected - 1) % 8:
            self.counters.duplicates += 1
            self._send(Ack(self._rx_expected))
        else:
            self.counters.out_of_sequence += 1
            self._reject()

    def _acknowledged(self, ack_num: int) -> None:
        if self._in_flight is not None and ack_num == (self._in_flight[0] + 1) % 8:
            self._in_flight = None
            self._attempts = 0
            if self._ack_timer is not None:
                self._ack_timer.cancel()
                self._ack_timer = None
            self._pump()

    # --------------------------------------------------------------- to the host

    def send(self, ezsp_frame: bytes) -> None:
        """Queue an EZSP frame (a response or a callback) for the host."""
        if len(ezsp_frame) > MAX_DATA:
            raise ValueError(f"EZSP frame of {len(ezsp_frame)} bytes; ASH carries at most {MAX_DATA}")
        if self.failed or not self.connected:
            return
        self._queue.append(bytes(ezsp_frame))
        self._pump()

    def _pump(self) -> None:
        if self._in_flight is not None or self._paused or not self._queue or self.failed:
            return
        payload = self._queue.popleft()
        self._in_flight = (self._tx_next, payload)
        self._tx_next = (self._tx_next + 1) % 8
        self.counters.data_out += 1
        self._send(Data(self._in_flight[0], False, self._rx_expected, payload))
        self._arm()

    def _retransmit(self) -> None:
        assert self._in_flight is not None
        self.counters.retransmits += 1
        self._send(Data(self._in_flight[0], True, self._rx_expected, self._in_flight[1]))
        self._arm()

    def _arm(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        self._ack_timer = self.scheduler.call_at(self.scheduler.now_ns() + to_ns(self._t_rx_ack), self._ack_timeout)

    def _ack_timeout(self) -> None:
        self._ack_timer = None
        if self._in_flight is None or self.failed:
            return
        self._attempts += 1
        if self._attempts > ACK_TIMEOUTS:
            self.fail(ERROR_EXCEEDED_MAXIMUM_ACK_TIMEOUT_COUNT)
            return
        self._t_rx_ack = min(2 * self._t_rx_ack, T_RX_ACK_MAX_S)
        self._retransmit()

    def _send(self, frame: Frame) -> None:
        self._write(encode(frame))

    # --------------------------------------------------------------- resets and failure

    def reset(self, code: int) -> None:
        """Reset (a host RST, power-on, or a fault) and announce it with RSTACK ``code``."""
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        self._reset_state()
        self.failed = False
        self.connected = True
        self.counters.resets += 1
        self._on_reset()
        self._send(RstAck(code))

    def fault_reset(self, code: int = RESET_WATCHDOG) -> None:
        """The NCP resets by itself (watchdog, assert): whatever was in flight is lost."""
        log.info("ASH: NCP resets by itself (code 0x%02X)", code)
        self.reset(code)

    def fail(self, code: int) -> None:
        """Enter the failed state: send ERROR and hear nothing but RST."""
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        self._queue.clear()
        self._in_flight = None
        self.failed = True
        self._send(Error(code))
