"""The EZSP command subset a virtual EmberZNet NCP answers (Silicon Labs UG100).

Enough for a host to connect, identify the stick and scan: ``version`` (negotiated in the legacy
frame format, then in the format of the agreed version), ``getEui64``, ``getMfgToken``,
``getValue``/``setValue``, ``getConfigurationValue``/``setConfigurationValue``, ``addEndpoint``,
``startScan`` with its ``energyScanResultHandler``, ``networkFoundHandler`` and
``scanCompleteHandler`` callbacks. Every other frame id is answered with ``invalidCommand``.

Frame formats (UG100 section 3):

* legacy (protocol 4, and every host's first ``version``): ``seq | frameControl | frameId``;
* extended (protocols 5-7): ``seq | frameControl | 0xFF | 0x00 | frameId``;
* protocol 8 and later: ``seq | frameControl (2 bytes, LE) | frameId (2 bytes, LE)``; the high
  frame-control byte carries the frame format version (1) in bits 0-1.

Frame control (low byte): bit 7 is the direction (1 = response); for responses bits 4-3 are the
callback type (0 none, 2 asynchronous callback). Statuses are one byte up to protocol 13 (EzspStatus
and EmberStatus) and four (``sl_status_t``, LE) from protocol 14.

The radio is not modelled here: ``startScan`` asks a :class:`ScanSource` (the radio world) what
each channel holds while the stick dwells on it, and reports it when the dwell ends.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Callable, Protocol

from hubrig.harness.clock import Scheduler, Timer, to_ns

log = logging.getLogger(__name__)

# Frame ids (UG100).
VERSION = 0x00
ADD_ENDPOINT = 0x02
GET_MFG_TOKEN = 0x0B
START_SCAN = 0x1A
NETWORK_FOUND_HANDLER = 0x1B
SCAN_COMPLETE_HANDLER = 0x1C
GET_EUI64 = 0x26
ENERGY_SCAN_RESULT_HANDLER = 0x48
GET_CONFIGURATION_VALUE = 0x52
SET_CONFIGURATION_VALUE = 0x53
INVALID_COMMAND = 0x58
GET_VALUE = 0xAA
SET_VALUE = 0xAB

# Statuses: (protocol <= 13 value, protocol >= 14 sl_status_t value).
SUCCESS = (0x00, 0x0000)
EZSP_ERROR_VERSION_NOT_SET = (0x30, 0x0002)
EZSP_ERROR_INVALID_FRAME_ID = (0x31, 0x0048)
EZSP_ERROR_INVALID_VALUE = (0x36, 0x0021)
EZSP_ERROR_INVALID_ID = (0x37, 0x0021)
EZSP_ERROR_INVALID_CALL = (0x38, 0x0021)
EMBER_BAD_ARGUMENT = (0x02, 0x0021)
EMBER_MAC_SCANNING = (0x3D, 0x0004)
EMBER_MAC_INVALID_CHANNEL_MASK = (0x35, 0x004F)

ENERGY_SCAN, ACTIVE_SCAN = 0, 1
CHANNELS = range(11, 27)
CHANNEL_MASK_ALL = 0x07FFF800
MAX_SCAN_DURATION = 14
SUPERFRAME_S = 960 * 16e-6
"""aBaseSuperframeDuration: 960 symbols of 16 us (2.4 GHz O-QPSK)."""

VALUE_VERSION_INFO = 0x11
MFG_STRING, MFG_BOARD_NAME = 0x01, 0x02
MFG_CUSTOM_EUI_64 = 0x00
TOKEN_LENGTHS = {0x00: 8, 0x01: 16, 0x02: 16, 0x03: 2, 0x04: 2, 0x05: 8, 0x06: 2, 0x07: 40,
                 0x08: 20, 0x09: 92, 0x0A: 2, 0x0B: 16}
"""Manufacturing token id -> its length in bytes; unset tokens read as 0xFF."""


def dwell_s(duration: int) -> float:
    """How long a scan stays on one channel: (2**duration + 1) superframes (IEEE 802.15.4)."""
    return (2 ** duration + 1) * SUPERFRAME_S


def stack_version_word(version: str) -> int:
    """``"7.4.3.0"`` -> 0x7430: the stack version's four fields as nibbles, as ``version`` reports it."""
    parts = [int(p) for p in version.split(".")]
    if len(parts) != 4 or any(not 0 <= p <= 15 for p in parts):
        raise ValueError(f"stack version {version!r}: expected four fields 0..15, like 7.4.3.0")
    return parts[0] << 12 | parts[1] << 8 | parts[2] << 4 | parts[3]


@dataclass(frozen=True)
class Beacon:
    """One PAN heard on a channel during an active scan."""

    channel: int
    pan_id: int
    extended_pan_id: bytes
    """8 bytes, as they go on the air (little-endian)."""
    permit_joining: bool
    stack_profile: int
    nwk_update_id: int
    lqi: int
    rssi_dbm: int


class ScanSource(Protocol):
    """What the radio world tells the stick about one channel's dwell ``[start_ns, end_ns)``."""

    def max_rssi(self, channel: int, start_ns: int, end_ns: int) -> int: ...

    def beacons(self, channel: int, start_ns: int, end_ns: int) -> list[Beacon]: ...


@dataclass(frozen=True)
class Firmware:
    """What the stick says about itself."""

    protocol_version: int = 13
    stack_version: str = "7.4.3.0"
    build: int = 0
    eui64: str = "00124B00DEADBEEF"
    """As printed (most significant byte first)."""
    mfg_string: str = "hubrig"
    board_name: str = "virtual-ncp"
    stack_type: int = 2


@dataclass
class EzspCounters:
    commands: dict[str, int] = field(default_factory=dict)
    invalid: int = 0
    malformed: int = 0
    scans: int = 0


_NAMES = {VERSION: "version", ADD_ENDPOINT: "addEndpoint", GET_MFG_TOKEN: "getMfgToken",
          START_SCAN: "startScan", GET_EUI64: "getEui64", GET_CONFIGURATION_VALUE: "getConfigurationValue",
          SET_CONFIGURATION_VALUE: "setConfigurationValue", GET_VALUE: "getValue", SET_VALUE: "setValue"}


class Malformed(ValueError):
    """A command whose parameters are shorter or longer than its frame id says."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed(f"needs {self.pos + n} parameter bytes, has {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def lv(self) -> bytes:
        return self.take(self.u8())

    def end(self) -> None:
        if self.pos != len(self.data):
            raise Malformed(f"{len(self.data) - self.pos} trailing parameter byte(s)")


class EzspNcp:
    """The EZSP layer of a virtual NCP: ``handle`` one frame from the host, ``send`` frames back.

    Runs on ``scheduler``'s thread. Scan results are computed from ``radio`` at the end of each
    channel's dwell, so a PAN that vanishes mid-scan is missing from the channels scanned after.
    """

    def __init__(self, firmware: Firmware, scheduler: Scheduler, radio: ScanSource, send: Callable[[bytes], None]):
        self.firmware = firmware
        self.scheduler = scheduler
        self.radio = radio
        self._send = send
        self.counters = EzspCounters()
        self.config: dict[int, int] = {}
        self.values: dict[int, bytes] = {}
        self.endpoints: dict[int, tuple[int, int]] = {}
        self._scan_timer: Timer | None = None
        self._scan: tuple[int, list[int], int] | None = None
        self.scan_listeners: list[Callable[[int, int], None]] = []
        """Told ``(scans so far, channel dwell ns)`` as each scan starts (bench serve's fault switches)."""
        self.reset()

    def reset(self) -> None:
        """The NCP restarted: protocol not negotiated, configuration at defaults, no scan."""
        self.negotiated: int | None = None
        self.config = {}
        self.values = {}
        self.endpoints = {}
        self._last_seq = 0
        if self._scan_timer is not None:
            self._scan_timer.cancel()
        self._scan_timer = None
        self._scan = None

    @property
    def scanning(self) -> bool:
        return self._scan is not None

    # ----------------------------------------------------------------- framing

    def _status(self, status: tuple[int, int]) -> bytes:
        version = self.negotiated or 4
        return struct.pack("<I", status[1]) if version >= 14 else bytes((status[0],))

    def _header(self, seq: int, frame_id: int, fmt: str, callback: bool) -> bytes:
        control = 0x90 if callback else 0x80
        if fmt == "legacy":
            return bytes((seq, control, frame_id))
        if fmt == "extended":
            return bytes((seq, control, 0xFF, 0x00, frame_id))
        return bytes((seq, control, 0x01)) + struct.pack("<H", frame_id)

    def _format(self) -> str:
        v = self.negotiated or 4
        return "legacy" if v < 5 else "extended" if v < 8 else "v8"

    def handle(self, frame: bytes) -> None:
        """One EZSP frame from the host (already out of ASH)."""
        frame = bytes(frame)
        if len(frame) < 3:
            self.counters.malformed += 1
            return
        seq = frame[0]
        if frame[2] == 0xFF and len(frame) >= 5 and frame[3] == 0x00:
            fmt, frame_id, params = "extended", frame[4], frame[5:]
        elif frame[2] & 0x03 == 0x01 and len(frame) >= 5:
            fmt, frame_id, params = "v8", struct.unpack_from("<H", frame, 3)[0], frame[5:]
        else:
            fmt, frame_id, params = "legacy", frame[2], frame[3:]
        self._last_seq = seq
        if frame_id == VERSION:
            self._version(seq, fmt, params)
            return
        if self.negotiated is None:
            self._invalid(seq, fmt, EZSP_ERROR_VERSION_NOT_SET)
            return
        if fmt != self._format():
            self._invalid(seq, fmt, EZSP_ERROR_INVALID_FRAME_ID)
            return
        handler = self._handlers().get(frame_id)
        if handler is None:
            self._invalid(seq, fmt, EZSP_ERROR_INVALID_FRAME_ID)
            return
        name = _NAMES[frame_id]
        self.counters.commands[name] = self.counters.commands.get(name, 0) + 1
        try:
            reply = handler(_Reader(params))
        except Malformed as exc:
            log.debug("EZSP: malformed %s: %s", name, exc)
            self.counters.malformed += 1
            self._invalid(seq, fmt, EZSP_ERROR_INVALID_VALUE)
            return
        self._send(self._header(seq, frame_id, fmt, False) + reply)

    def _invalid(self, seq: int, fmt: str, status: tuple[int, int]) -> None:
        self.counters.invalid += 1
        self._send(self._header(seq, INVALID_COMMAND, fmt, False) + self._status(status))

    def _callback(self, frame_id: int, params: bytes) -> None:
        self._send(self._header(self._last_seq, frame_id, self._format(), True) + params)

    def _handlers(self) -> dict[int, Callable[[_Reader], bytes]]:
        return {GET_EUI64: self._get_eui64, GET_MFG_TOKEN: self._get_mfg_token, GET_VALUE: self._get_value,
                SET_VALUE: self._set_value, GET_CONFIGURATION_VALUE: self._get_config,
                SET_CONFIGURATION_VALUE: self._set_config, ADD_ENDPOINT: self._add_endpoint,
                START_SCAN: self._start_scan}

    # ----------------------------------------------------------------- commands

    def _version(self, seq: int, fmt: str, params: bytes) -> None:
        if len(params) != 1:
            self.counters.malformed += 1
            return
        self.counters.commands["version"] = self.counters.commands.get("version", 0) + 1
        ours = self.firmware.protocol_version
        if params[0] == ours:
            self.negotiated = ours
        reply = struct.pack("<BBH", ours, self.firmware.stack_type, stack_version_word(self.firmware.stack_version))
        self._send(self._header(seq, VERSION, fmt, False) + reply)

    def _get_eui64(self, r: _Reader) -> bytes:
        r.end()
        return bytes.fromhex(self.firmware.eui64)[::-1]

    def _get_mfg_token(self, r: _Reader) -> bytes:
        token = r.u8()
        r.end()
        length = TOKEN_LENGTHS.get(token, 0)
        text = {MFG_STRING: self.firmware.mfg_string, MFG_BOARD_NAME: self.firmware.board_name}.get(token)
        value = text.encode()[:length].ljust(length, b"\x00") if text is not None else b"\xff" * length
        return bytes((len(value),)) + value

    def _get_value(self, r: _Reader) -> bytes:
        value_id = r.u8()
        r.end()
        if value_id == VALUE_VERSION_INFO:
            major, minor, patch, special = (int(p) for p in self.firmware.stack_version.split("."))
            value = struct.pack("<HBBBB", self.firmware.build, major, minor, patch, special)
        elif value_id in self.values:
            value = self.values[value_id]
        else:
            return self._status(EZSP_ERROR_INVALID_ID) + b"\x00"
        return self._status(SUCCESS) + bytes((len(value),)) + value

    def _set_value(self, r: _Reader) -> bytes:
        value_id = r.u8()
        value = r.lv()
        r.end()
        if value_id == VALUE_VERSION_INFO:
            return self._status(EZSP_ERROR_INVALID_CALL)
        self.values[value_id] = value
        return self._status(SUCCESS)

    def _get_config(self, r: _Reader) -> bytes:
        config_id = r.u8()
        r.end()
        if config_id not in self.config and config_id not in DEFAULT_CONFIG:
            return self._status(EZSP_ERROR_INVALID_ID) + b"\x00\x00"
        return self._status(SUCCESS) + struct.pack("<H", self.config.get(config_id, DEFAULT_CONFIG.get(config_id, 0)))

    def _set_config(self, r: _Reader) -> bytes:
        config_id = r.u8()
        value = r.u16()
        r.end()
        self.config[config_id] = value
        return self._status(SUCCESS)

    def _add_endpoint(self, r: _Reader) -> bytes:
        endpoint, profile, device, _version = r.u8(), r.u16(), r.u16(), r.u8()
        n_in, n_out = r.u8(), r.u8()
        r.take(2 * (n_in + n_out))
        r.end()
        if not 1 <= endpoint <= 240:
            return self._status(EZSP_ERROR_INVALID_VALUE)
        self.endpoints[endpoint] = (profile, device)
        return self._status(SUCCESS)

    def _start_scan(self, r: _Reader) -> bytes:
        scan_type, mask, duration = r.u8(), r.u32(), r.u8()
        r.end()
        if self._scan is not None:
            return self._status(EMBER_MAC_SCANNING)
        if scan_type not in (ENERGY_SCAN, ACTIVE_SCAN) or duration > MAX_SCAN_DURATION:
            return self._status(EMBER_BAD_ARGUMENT)
        channels = [c for c in CHANNELS if mask >> c & 1]
        if not channels or mask & ~CHANNEL_MASK_ALL:
            return self._status(EMBER_MAC_INVALID_CHANNEL_MASK)
        self.counters.scans += 1
        self._scan = (scan_type, channels, duration)
        self._next_channel(self.scheduler.now_ns())
        for listener in list(self.scan_listeners):
            listener(self.counters.scans, to_ns(dwell_s(duration)))
        return self._status(SUCCESS)

    # ----------------------------------------------------------------- scanning

    def _next_channel(self, start_ns: int) -> None:
        assert self._scan is not None
        end_ns = start_ns + to_ns(dwell_s(self._scan[2]))
        self._scan_timer = self.scheduler.call_at(end_ns, lambda: self._channel_done(start_ns, end_ns))

    def _channel_done(self, start_ns: int, end_ns: int) -> None:
        self._scan_timer = None
        if self._scan is None:
            return
        scan_type, channels, duration = self._scan
        channel = channels.pop(0)
        if scan_type == ENERGY_SCAN:
            rssi = max(-128, min(127, self.radio.max_rssi(channel, start_ns, end_ns)))
            self._callback(ENERGY_SCAN_RESULT_HANDLER, struct.pack("<Bb", channel, rssi))
        else:
            for b in self.radio.beacons(channel, start_ns, end_ns):
                network = (struct.pack("<BH", b.channel, b.pan_id) + b.extended_pan_id
                           + struct.pack("<BBB", int(b.permit_joining), b.stack_profile, b.nwk_update_id))
                self._callback(NETWORK_FOUND_HANDLER, network + struct.pack("<Bb", b.lqi, b.rssi_dbm))
        if channels:
            self._next_channel(end_ns)
        else:
            self._scan = None
            self._callback(SCAN_COMPLETE_HANDLER, bytes((channel,)) + self._status(SUCCESS))


DEFAULT_CONFIG = {0x01: 75, 0x02: 8, 0x03: 2, 0x05: 16, 0x0C: 16, 0x13: 6, 0x19: 16, 0x29: 0}
"""Configuration id -> value an NCP reports before the host sets it (a plausible EmberZNet default
subset: packet buffers, neighbour table, APS unicasts, binding table, address table, ...)."""
