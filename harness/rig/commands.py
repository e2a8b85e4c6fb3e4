"""The command sender: builds authenticated GBCS commands, sends them through the ITCH, waits for
the response (and alerts), and says whose fault it is when something goes wrong.

CCS01/02/06/07 go from the Access Control Broker to the CHF, General-Ciphered (MAC) with the
supplier as supplementary remote party (as the RTDS vectors are); ECS70, ECS25a3 and ECS35a go from
the supplier (the rig file's ``dut.supplier``) to the ESME, MACed, ECS70 also signed (critical). Originator counters start from the rig
clock's wall time in milliseconds, so they keep rising across runs as GBCS devices require.

The message codes and the ECS25a3 event filter (:func:`event_filter`, :func:`filter_settings`) are
defined here once; the virtual devices answer the same commands with them.

Failures are of two kinds:

* :class:`HarnessConfigError`: the harness could not build or authenticate the command (missing
  keys), or the device rejected it for authentication (it logs 0x8F53 and answers nothing): the
  keys or EUIs in the rig file are wrong, not the device;
* :class:`DeviceFailure` (an ``AssertionError``): no response, a response whose MAC or signature
  does not verify, or an error result; the message carries the frame evidence (journal ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from hubrig.harness.capture.events import FRAME, Event, WaitTimeout
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.keystore import KeyStoreError

CCS01, CCS02, CCS06, CCS07 = 0x0001, 0x0002, 0x010F, 0x00FE
ECS70, ECS25A3, ECS35A = 0x0062, 0x00EC, 0x0048
DEVICE_LOG_CHANGED = 0x8F12
AUTHENTICATION_FAILED = 0x8F53
NAMES = {CCS01: "CCS01", CCS02: "CCS02", CCS06: "CCS06", CCS07: "CCS07", ECS70: "ECS70",
         ECS25A3: "ECS25a3", ECS35A: "ECS35a"}
EVENT_FILTER_BITS = 512

FilterBits = Mapping[int, int]
"""Alert code -> its bit in the ECS25a3 event filter (the rig file's ``dut.esme.filter_bits``)."""


def event_filter(enabled: Mapping[int, bool], bits: FilterBits) -> str:
    """The ECS25a3 event filter ('0'/'1' string) with the given alerts on or off."""
    out = ["0"] * EVENT_FILTER_BITS
    for code, on in enabled.items():
        if code not in bits:
            raise KeyError(f"alert 0x{code:04X} has no event-filter bit (dut.esme.alert_filter_bits)")
        out[bits[code]] = "1" if on else "0"
    return "".join(out)


def filter_settings(event_filter_bits: str, bits: FilterBits) -> dict[int, bool]:
    """The alerts ``bits`` knows, on or off, in an event filter."""
    return {code: len(event_filter_bits) > i and event_filter_bits[i] == "1" for code, i in bits.items()}


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


Rejections = Callable[[int], list[str]]
"""Given a rig instant, the authentication rejections a device reported since then (virtual rig:
from its ground truth); on a real bench ``None``."""


class CommandSender:
    """Sends the CHF and ESME commands the device-log and clock plans need.

    ``filter_bits``: alert code -> its ECS25a3 event-filter bit (the rig file's
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

    def set_alert(self, code: int, enabled: bool) -> Exchange:
        """ECS25a3: the ESME's event filter with ``code``'s alert on or off."""
        if code not in self.filter_bits:
            raise HarnessConfigError(f"harness configuration error (not a device failure): alert 0x{code:04X} "
                                     f"has no ECS25a3 event-filter bit; set dut.esme.alert_filter_bits")
        return self.command(ECS25A3, self.esme, lambda inv: builders.ecs25a3_command(
            event_filter=event_filter({code: enabled}, self.filter_bits), invoke_id=inv))

    def read_event_log(self, start: datetime, end: datetime) -> Exchange:
        """ECS35a: the ESME's event log entries time-stamped from ``start`` to ``end`` (by its clock;
        whole seconds, widened outwards): ``body['event_log']`` is a list of {timestamp,
        event_code (4 hex), value}."""
        first = start.replace(microsecond=0)
        last = end.replace(microsecond=0) + (timedelta(seconds=1) if end.microsecond else timedelta())
        return self.command(ECS35A, self.esme, lambda inv: builders.ecs35a_command(
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
        return [e for e in self.itch.bus.events(since=since)
                if e.kind == FRAME and e.data.get("cra") == "alert" and e.alert_code == code]


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
