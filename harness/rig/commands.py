"""The command sender: builds authenticated GBCS commands, sends them through the ITCH, waits for
the response (and alerts), and says whose fault it is when something goes wrong.

CCS01/02/06/07 go from the Access Control Broker to the CHF, General-Ciphered (MAC) with the
supplier as supplementary remote party (as the RTDS vectors are); ECS70, ECS25a, ECS25a3, ECS25r1,
ECS35a and ECS35e go from the supplier (the rig file's ``dut.supplier``) to the ESME, MACed, ECS70 also
signed (critical). Originator counters start from the rig clock's wall time in milliseconds, so they
keep rising across runs as GBCS devices require.

Behaviours (which alerts are sent: ECS25a; which events are logged: ECS25a3) are changed one bit at
a time and put back afterwards (:meth:`CommandSender.behaviour`): the current behaviours are read
first (ECS25r1) and each write carries a change mask, so the supplier's other settings are kept.

The message codes and the behaviour bit layout (:func:`behaviour_write`,
:func:`apply_behaviour_write`) are defined here once; the virtual devices answer the same commands
with them.

Failures are of two kinds:

* :class:`HarnessConfigError`: the harness could not build or authenticate the command (missing
  keys), or the device rejected it for authentication (it logs 0x8F53 and answers nothing): the
  keys or EUIs in the rig file are wrong, not the device;
* :class:`DeviceFailure` (an ``AssertionError``): no response, a response whose MAC or signature
  does not verify, or an error result; the message carries the frame evidence (journal ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Callable, Iterator

from hubrig.harness.capture.events import FRAME, Event, WaitTimeout
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.keystore import KeyStoreError

CCS01, CCS02, CCS06, CCS07 = 0x0001, 0x0002, 0x010F, 0x00FE
ECS70, ECS25A, ECS25A3, ECS25R1, ECS35A, ECS35E = 0x0062, 0x00AC, 0x00EC, 0x00EE, 0x0048, 0x00B9
DEVICE_LOG_CHANGED = 0x8F12
AUTHENTICATION_FAILED = 0x8F53
NAMES = {CCS01: "CCS01", CCS02: "CCS02", CCS06: "CCS06", CCS07: "CCS07", ECS70: "ECS70",
         ECS25A: "ECS25a", ECS25A3: "ECS25a3", ECS25R1: "ECS25r1", ECS35A: "ECS35a",
         ECS35E: "ECS35e"}
BEHAVIOUR_BITS = 256
"""Bits in one ESME behaviour object (ECS25r1 reads four of them)."""


class Behaviour(Enum):
    """An ESME behaviour object: what it switches, the use case that writes it, and its name in the
    ECS25r1 read."""

    ALERT = ("alert_behaviours", ECS25A, "alert_filter", "whether a non-critical alert is sent")
    LOGGING = ("logging_behaviours", ECS25A3, "event_filter", "whether an event is logged")

    def __init__(self, read_as: str, message_code: int, field: str, meaning: str):
        self.read_as, self.message_code, self.field, self.meaning = read_as, message_code, field, meaning


FilterBits = Mapping[int, int]
"""Alert code -> its bit in the ESME behaviour objects (the rig file's ``dut.esme.filter_bits``)."""


def behaviour_write(bit: int, on: bool) -> str:
    """The 512 bits of a behaviour write (ECS25a, ECS25a3) that changes ``bit`` alone: a 256-bit
    change mask, then the 256 new values. Every behaviour write in RTDS 4.5.0 has this layout
    (each value bit set is also set in the mask), so the device's other bits are left as they are."""
    if not 0 <= bit < BEHAVIOUR_BITS:
        raise ValueError(f"behaviour bit {bit} is outside 0..{BEHAVIOUR_BITS - 1}")
    mask = ["0"] * BEHAVIOUR_BITS
    values = ["0"] * BEHAVIOUR_BITS
    mask[bit] = "1"
    values[bit] = "1" if on else "0"
    return "".join(mask + values)


def apply_behaviour_write(current: str, write: str) -> str:
    """A behaviour object after a write: the masked bits take the written values."""
    if len(write) != 2 * BEHAVIOUR_BITS or len(current) != BEHAVIOUR_BITS:
        raise ValueError(f"expected a {BEHAVIOUR_BITS}-bit object and a {2 * BEHAVIOUR_BITS}-bit write")
    mask, values = write[:BEHAVIOUR_BITS], write[BEHAVIOUR_BITS:]
    return "".join(v if m == "1" else c for c, m, v in zip(current, mask, values))


def behaviour_bit(behaviours: str, bit: int) -> bool:
    """Whether ``bit`` is on in a behaviour object read back."""
    return len(behaviours) > bit and behaviours[bit] == "1"


def whole_seconds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A log read's range in the whole seconds its entries carry, widened outwards."""
    last = end.replace(microsecond=0) + (timedelta(seconds=1) if end.microsecond else timedelta())
    return start.replace(microsecond=0), last


class HarnessConfigError(Exception):
    """The harness's own set-up (keys, EUIs) is wrong: not a device failure."""


class DeviceFailure(AssertionError):
    """The device did not do what GBCS requires; the message names the frames."""


@dataclass(frozen=True)
class Exchange:
    """One command and its response: decoded body, per-step results and the frame evidence."""

    name: str
    counter: int
    command_frame: int
    response: Event

    @property
    def body(self) -> dict:
        return self.response.data.get("body") or {}

    @property
    def results(self) -> dict:
        return self.body.get("results") or {}

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r == "success" for r in self.results.values())

    @property
    def evidence(self) -> str:
        return f"{self.name} command journal #{self.command_frame}, response journal #{self.response.journal_id}"


@dataclass
class BehaviourChange:
    """One behaviour bit switched for a test: the reads and writes that did it and undid it."""

    behaviour: Behaviour
    code: int
    wanted: bool
    original: bool
    before: str
    read: Exchange
    write: Exchange
    restore: Exchange | None = None
    check: Exchange | None = None
    after: str | None = None

    @property
    def restored(self) -> bool:
        """The restore was accepted and the behaviours read back equal those read before."""
        return self.restore is not None and self.restore.ok and self.after == self.before

    @property
    def exchanges(self) -> list[Exchange]:
        return [e for e in (self.read, self.write, self.restore, self.check) if e is not None]

    @property
    def evidence(self) -> str:
        return "; ".join(e.evidence for e in self.exchanges)


Rejections = Callable[[int], list[str]]
"""Given a rig instant, the authentication rejections a device reported since then (virtual rig:
from its ground truth); on a real bench ``None``."""


class CommandSender:
    """Sends the CHF and ESME commands the device-log and clock plans need.

    ``filter_bits``: alert code -> its bit in the ESME behaviour objects (the rig file's
    ``dut.esme.filter_bits``).
    """

    def __init__(self, itch: Any, keys: Any, clock: Any, *, acb: str, supplier: str, ch: str, esme: str,
                 filter_bits: Mapping[int, int], timeout_s: float = 60.0,
                 rejections: Rejections | None = None):
        self.itch = itch
        self.keys = keys
        self.clock = clock
        self.acb, self.supplier, self.ch, self.esme = acb.upper(), supplier.upper(), ch.upper(), esme.upper()
        self.filter_bits = dict(filter_bits)
        self.timeout_s = timeout_s
        self.rejections = rejections
        self._counter = int(clock.wall().timestamp() * 1000)

    def next_counter(self) -> int:
        self._counter += 1
        return self._counter

    # ------------------------------------------------------------------ sending

    def build(self, message_code: int, recipient: str, counter: int, content: bytes) -> bytes:
        """An authenticated command; :class:`HarnessConfigError` if the keys cannot make one."""
        try:
            if recipient == self.ch:
                return builder.build_message(
                    cra="command", originator=self.acb, recipient=recipient, counter=counter,
                    message_code=message_code, content=content, keys=self.keys,
                    general_ciphering=True, sign=False, acb=self.acb,
                    supplementary_remote_party_id=self.supplier,
                    supplementary_remote_party_counter=counter)
            return builder.build_command(originator=self.supplier, recipient=recipient, counter=counter,
                                         message_code=message_code, content=content, keys=self.keys,
                                         acb=self.acb, sign=message_code == ECS70)
        except KeyStoreError as exc:
            raise HarnessConfigError(f"harness configuration error (not a device failure): cannot "
                                     f"authenticate {NAMES.get(message_code, hex(message_code))}: {exc}") from None

    def send_raw(self, name: str, message_code: int, recipient: str, counter: int, raw: bytes) -> Exchange:
        """Send ``raw`` and wait for its response (same message code and counter)."""
        since = self.itch.mark()
        t0 = self.clock.now_ns()
        frame = self.itch.send(raw)

        def answer(e: Event) -> bool:
            d = e.data
            return (e.kind == FRAME and d.get("cra") == "response" and d.get("originator") == recipient
                    and d.get("originator_counter") == counter
                    and str(d.get("message_code")).upper() == f"{message_code:04X}")

        try:
            event = self.itch.bus.wait_for(answer, self.timeout_s, since=since,
                                           what=f"{name} response (counter {counter}) from {recipient}")
        except WaitTimeout as exc:
            rejected = self.rejections(t0) if self.rejections else []
            if rejected:
                raise HarnessConfigError(
                    f"harness configuration error (not a device failure): {recipient} rejected {name} "
                    f"(command journal #{frame}) for authentication: {'; '.join(rejected)}; check the "
                    f"rig file's keystore and acb") from None
            raise DeviceFailure(f"{name} (command journal #{frame}) got no response: {exc}") from None
        exchange = Exchange(name, counter, frame, event)
        self._check_authentic(exchange)
        return exchange

    def _check_authentic(self, ex: Exchange) -> None:
        d = ex.response.data
        if d.get("general_ciphering") and d.get("mac") != "valid":
            raise DeviceFailure(f"{ex.name} response MAC is {d.get('mac')!r} ({ex.evidence})")
        if d.get("signature_valid") and not all(d["signature_valid"]):
            raise DeviceFailure(f"{ex.name} response signature does not verify ({ex.evidence})")
        if not ex.body:
            raise DeviceFailure(f"{ex.name} response content did not decode ({ex.evidence})")

    def command(self, message_code: int, recipient: str, content_for: Callable[[int], bytes]) -> Exchange:
        counter = self.next_counter()
        name = NAMES[message_code]
        raw = self.build(message_code, recipient, counter, content_for(counter & 0xFFFFFF))
        return self.send_raw(name, message_code, recipient, counter, raw)

    # ------------------------------------------------------------------ the use cases

    def add_device(self, eui: str, install_code: bytes, device_type: int = 0,
                   join_timeout_s: int = 90) -> Exchange:
        """CCS01: register ``eui`` in the CHF device log and open joining for ``join_timeout_s``."""
        return self.command(CCS01, self.ch, lambda inv: builders.ccs01_command(
            mac_address=eui.upper(), install_code=install_code.hex().upper(), device_type=device_type,
            join_timeout=join_timeout_s, invoke_id=inv))

    def remove_device(self, eui: str) -> Exchange:
        """CCS02: unregister ``eui`` from the CHF device log."""
        return self.command(CCS02, self.ch, lambda inv: builders.ccs02_command(
            mac_address=eui.upper(), invoke_id=inv))

    def read_device_log(self) -> Exchange:
        """CCS06: the active devices (``body['active_devices']``, 14 fields each)."""
        return self.command(CCS06, self.ch, lambda inv: builders.ccs06_command(invoke_id=inv))

    def read_backups(self) -> Exchange:
        """CCS07: backup_PAN of the device log and the historic device log."""
        return self.command(CCS07, self.ch, lambda inv: builders.ccs07_command(invoke_id=inv))

    def set_clock(self, requested: datetime, window_s: float) -> Exchange:
        """ECS70: set the ESME's clock to ``requested``, valid while its clock is within
        ``window_s`` of it; the response reads back the clock (``body['time']``)."""
        half = timedelta(seconds=window_s)
        return self.command(ECS70, self.esme, lambda inv: builders.ecs70_command(
            preset_time=requested, validity_interval_start=requested - half,
            validity_interval_end=requested + half, invoke_id=inv))

    def read_behaviours(self) -> Exchange:
        """ECS25r1: the ESME's four behaviour objects (``body['alert_behaviours']``,
        ``body['logging_behaviours']``, ...), 256 bits each."""
        return self.command(ECS25R1, self.esme, lambda inv: builders.ecs25r1_command(invoke_id=inv))

    def write_behaviour(self, behaviour: Behaviour, code: int, on: bool) -> Exchange:
        """ECS25a (alert sent or not) or ECS25a3 (event logged or not) for ``code`` alone."""
        bits = behaviour_write(self.bit_of(code), on)
        build = builders.ecs25a_command if behaviour is Behaviour.ALERT else builders.ecs25a3_command
        return self.command(behaviour.message_code, self.esme,
                            lambda inv: build(**{behaviour.field: bits}, invoke_id=inv))

    def bit_of(self, code: int) -> int:
        if code not in self.filter_bits:
            raise HarnessConfigError(f"harness configuration error (not a device failure): alert 0x{code:04X} "
                                     f"has no behaviour bit; set dut.esme.alert_filter_bits")
        return self.filter_bits[code]

    @contextmanager
    def behaviour(self, behaviour: Behaviour, code: int, on: bool) -> Iterator["BehaviourChange"]:
        """Switch one behaviour bit for the body, then put it back however the body ends.

        Reads the behaviours first (ECS25r1), writes the one bit (ECS25a or ECS25a3, change mask),
        and afterwards writes the original value back and reads again: ``change.restored`` says
        whether the device's behaviours equal what they were before the test."""
        bit = self.bit_of(code)
        read = self._read_ok()
        before = str(read.body.get(behaviour.read_as) or "")
        change = BehaviourChange(behaviour, code, on, behaviour_bit(before, bit), before, read,
                                 self.write_behaviour(behaviour, code, on))
        if not change.write.ok:
            raise DeviceFailure(f"{change.write.name} ({'on' if on else 'off'} 0x{code:04X}) failed: "
                                f"{change.write.results} ({change.write.evidence})")
        try:
            yield change
        finally:
            change.restore = self.write_behaviour(behaviour, code, change.original)
            change.check = self._read_ok()
            change.after = str(change.check.body.get(behaviour.read_as) or "")

    def _read_ok(self) -> Exchange:
        read = self.read_behaviours()
        if not read.ok:
            raise DeviceFailure(f"ECS25r1 (read behaviours) failed: {read.results} ({read.evidence})")
        return read

    def read_event_log(self, start: datetime, end: datetime) -> Exchange:
        """ECS35a: the ESME's event log entries time-stamped from ``start`` to ``end`` (by its clock;
        whole seconds, widened outwards): ``body['event_log']`` is a list of {timestamp,
        event_code (4 hex), value}."""
        first, last = whole_seconds(start, end)
        return self.command(ECS35A, self.esme, lambda inv: builders.ecs35a_command(
            start=first, end=last, invoke_id=inv))

    def read_power_event_log(self, start: datetime, end: datetime) -> Exchange:
        """ECS35e: the ESME's power event log entries time-stamped from ``start`` to ``end`` (by its
        clock; whole seconds, widened outwards): ``body['power_event_log']`` is a list of
        {timestamp, event_code (4 hex), counter}."""
        first, last = whole_seconds(start, end)
        return self.command(ECS35E, self.esme, lambda inv: builders.ecs35e_command(
            start=first, end=last, invoke_id=inv))

    # ------------------------------------------------------------------ alerts

    def wait_alert(self, code: int, since: int, timeout_s: float | None = None) -> Event:
        """The first alert ``code`` after bus position ``since``; :class:`DeviceFailure` if none."""
        try:
            return self.itch.wait_for(alert_code=code, cra="alert", since=since,
                                      timeout=self.timeout_s if timeout_s is None else timeout_s)
        except WaitTimeout as exc:
            raise DeviceFailure(f"no alert 0x{code:04X}: {exc}") from None

    def alerts_since(self, code: int, since: int) -> list[Event]:
        return self.itch.bus.events(lambda e: e.kind == FRAME and e.data.get("cra") == "alert"
                                    and e.alert_code == code, since)


def sender_for(rig: Any, timeout_s: float = 60.0) -> CommandSender:
    """A sender for a running rig (``hubrig.harness.rig.session.RigSession``), commanding as the rig file's ACB and
    supplier (``dut.supplier``, else the ACB). On the virtual rig it reads authentication
    rejections from the ground truth."""
    dut = rig.rig.dut
    rejections = None
    if rig.bench is not None:
        truth = rig.bench.ground_truth

        def rejections(t0: int) -> list[str]:
            return [e.detail for e in truth.select("event", alert_code=AUTHENTICATION_FAILED, since_ns=t0)]

    return CommandSender(rig.itch, rig.keys, rig.clock, acb=dut.acb, supplier=dut.supplier_party,
                         ch=dut.comms_hub.eui, esme=dut.esme.eui, filter_bits=dut.esme.filter_bits,
                         timeout_s=timeout_s, rejections=rejections)
