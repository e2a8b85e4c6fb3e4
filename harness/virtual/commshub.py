"""The virtual Comms Hub / Wired ITCH: powered through the ESME, talking to the harness on a wire.

Power: the CH lives off the ESME's mains. When mains goes it runs on its battery/super-capacitor
for ``hold_up_s``, then goes down. When mains returns to a CH that went down, it reboots
(``reboot_s``, after which its HAN is up), reconnects (``reconnect_s``) and dithers (``dither``)
before it transmits again. Nothing it had queued is lost while down.

Outage notification: ``poa_after_s`` into an outage, a CH that is still up raises the POA and
writes the ``poa_notification`` line (standing for the AD1 Power Outage Event) on its wired link.
A CH that was down by then raises it as soon as it is back (HAN up) if the outage lasted that
long. Alerts wait for their ``windows`` (POA from when raised; PRA from when the CH has the ESME's
alert), then for the CH to be connected. With ``pra_source: ch`` (the DCC study's North option B)
the CH reports restoration itself: it writes the ``pra_notification`` line, its window counted
from mains return, and does not forward the ESME's ECS80 restoration alert.

Defect switches (``Defects``) then change exactly what they name: no POA, a late POA, the PRA lost
or late, the POA held back until after the PRA, a share of frames lost on the wire. The ESME's
defects (wrong code, wrong date-times) live in :mod:`hubrig.harness.virtual.esme`.

Commands from the harness arrive GFI-framed on the wire. Each is parsed and verified (signature
and/or MAC against the test keys); a bad one is dropped with no response, as GBCS devices do, and
logged as event 0x8F53 (Failed Authentication or Authorisation not covered by other codes) in
the ground truth. A good one goes to :attr:`VirtualCommsHub.handlers` when addressed to the CH,
or over the HAN to the ESME's handlers when addressed to the ESME.

Handler contract (``ch.handlers[message_code] = fn``): ``fn(message, raw) -> list[bytes]`` is
called once per verified command with :class:`hubrig.harness.gbcs.envelope.Message` and the bytes as
received; it returns the GBCS messages (responses, and any alerts it raises) to send back, in
order, which the CH frames and transmits as soon as it is connected. It reads the command with
:func:`command_fields`; content that is not the use case its message code names raises
:class:`GbcsError`, and the device answers nothing (recorded as a rejection). A handler runs on the
scheduler's thread at the command's arrival instant; it may schedule later work on
:attr:`VirtualCommsHub.scheduler` and transmit then with :meth:`VirtualCommsHub.transmit`.
A code with no handler gets no response (recorded in the ground truth).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

from hubrig.harness.clock import Scheduler, Timer, to_ns
from hubrig.harness.rig.commands import AUTHENTICATION_FAILED
from hubrig.harness.gbcs import security
from hubrig.harness.gbcs.content import decode_content
from hubrig.harness.gbcs.envelope import Message, parse
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.capture.framing import Frame, GfiFraming
from hubrig.harness.virtual.esme import RESTORATION_ALERTS, HanFrame, VirtualEsme
from hubrig.harness.virtual.groundtruth import Emission, GroundTruth, Kind
from hubrig.harness.virtual.params import CommsHubParams, Defects

Handler = Callable[[Message, bytes], "list[bytes]"]


def command_fields(message: Message, use_case: str) -> dict:
    """A handler's view of a verified command: its decoded content, which must be ``use_case``
    (e.g. ``"CCS01"``); :class:`GbcsError` otherwise, and the device answers nothing."""
    fields = decode_content(message.message_code, "command", message.content)
    if fields.get("decoded_as") != use_case:
        raise GbcsError(f"message code 0x{message.message_code:04X} carries no {use_case} request")
    return fields


class Link(Protocol):
    """The wire between the CH and the harness, from the CH's side."""

    def write(self, data: bytes) -> None: ...

    def on_receive(self, callback: Callable[[bytes], None]) -> None: ...


class TransportLink:
    """A :class:`Link` over ``hubrig.drivers.transport.InProcessTransport`` (virtual time)."""

    def __init__(self, transport):
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.transport.device_write(data)

    def on_receive(self, callback: Callable[[bytes], None]) -> None:
        self.transport.on_host_write(callback)


class PtyLink:
    """A :class:`Link` over the device side of a ``hubrig.drivers.transport.PtyPair`` (real time).

    A daemon thread reads what the harness writes and hands it to the callbacks on the
    scheduler's thread (``scheduler.call_later(0, ...)``), where the device models run.
    """

    def __init__(self, pty, scheduler: Scheduler):
        self.pty = pty
        self._scheduler = scheduler
        self._callbacks: list[Callable[[bytes], None]] = []
        self._thread: threading.Thread | None = None

    def write(self, data: bytes) -> None:
        if self.pty.device_fd >= 0:
            self.pty.write(data)

    def on_receive(self, callback: Callable[[bytes], None]) -> None:
        self._callbacks.append(callback)
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="hubrig-virtual-ch-rx", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        while True:
            fd = self.pty.device_fd
            if fd < 0:
                return
            try:
                data = self.pty.read()  # returns b"" once the device side is closed
            except OSError:
                return
            if not data:
                return
            for cb in list(self._callbacks):
                self._scheduler.call_later(0, lambda cb=cb, data=data: cb(data))


@dataclass(order=True)
class _Outgoing:
    not_before_ns: int
    seq: int
    kind: Kind = field(compare=False)
    wire: bytes = field(compare=False)
    payload_hex: str = field(compare=False)
    device: str = field(compare=False)
    alert_code: Optional[int] = field(compare=False, default=None)
    outage: int = field(compare=False, default=0)


class VirtualCommsHub:
    """A Wired ITCH in virtual (or real) time. Power it with :meth:`mains`; it talks on ``link``."""

    def __init__(self, params: CommsHubParams, defects: Defects, *, eui: str, esme: VirtualEsme,
                 scheduler: Scheduler, keys, link: Link, ground_truth: GroundTruth,
                 rng: dict[str, random.Random], acb: str, name: str = "ch"):
        self.params = params
        self.defects = defects
        self.eui = eui.upper()
        self.esme = esme
        self.scheduler = scheduler
        self.keys = keys
        self.link = link
        self.ground_truth = ground_truth
        self.acb = acb.upper()
        self.name = name
        self.handlers: dict[int, Handler] = {}
        self.rejected: list[tuple[int, str]] = []
        """(rig instant, reason) of every command that failed parsing or verification."""
        self.phase = "ready"
        """``down`` | ``booting`` (HAN coming up) | ``connecting`` | ``ready``."""
        self.phase_listeners: list[Callable[[str, int], None]] = []
        """Called with (new phase, rig instant) on every change (the HAN radio world listens)."""
        self._rng = rng
        self._framing = GfiFraming()
        self._rx = GfiFraming()
        self._queue: list[_Outgoing] = []
        self._seq = 0
        self._alive = True
        self._mains_on = True
        self._outage = 0
        self._loss_ns: Optional[int] = None
        self._return_ns: Optional[int] = None
        self._poa_raised = True
        self._pra_sent_for = 0
        self._han_backlog: list[HanFrame] = []
        self._timers: dict[str, Timer] = {}
        self._pump_timer: Timer | None = None
        self._link_free_ns = 0
        esme.han_uplink = self.han_receive
        esme.hot_shoe = self.hot_shoe_gap
        link.on_receive(self.link_receive)

    # ------------------------------------------------------------------ power

    def mains(self, on: bool, t_ns: int) -> None:
        """The ESME's mains (the CH's power) changed at rig instant ``t_ns``."""
        if on == self._mains_on:
            return
        self._mains_on = on
        if not on:
            self._power_lost(t_ns)
        else:
            self._power_back(t_ns)

    def _power_lost(self, t_ns: int) -> None:
        self._outage += 1
        self._loss_ns = t_ns
        self._poa_raised = False
        if self._alive:
            self._timer("die", t_ns + to_ns(self.params.hold_up_s), self._die)
            self._timer("poa", t_ns + to_ns(self.params.poa_after_s), self._poa_due)

    def hot_shoe_gap(self, t_ns: int, seconds: float) -> None:
        """The ESME's firmware reboot interrupted this CH's supply for ``seconds`` (mains stayed on):
        a CH rides through on its hold-up, or reboots; either way it is no outage and raises no POA
        (unless defect ``poa_on_esme_reboot``)."""
        if not self._mains_on:
            return
        self._poa_raised = True  # no outage is pending: nothing to report after the gap
        if self.defects.poa_on_esme_reboot and self._alive:
            self._raise_poa()
        if seconds > self.params.hold_up_s and self._alive:
            self._timer("die", t_ns + to_ns(self.params.hold_up_s), self._die)
            self._timer("gap_over", t_ns + to_ns(seconds), lambda: self._power_back(self.scheduler.now_ns()))

    def _power_back(self, t_ns: int) -> None:
        self._return_ns = t_ns
        self._cancel("die", "poa")
        if self.params.pra_source == "ch":
            self._raise_own_restoration(t_ns)
        if self._alive:
            return
        self._alive = True
        self._set_phase("booting")
        self._timer("han_up", t_ns + to_ns(self.params.reboot_s), self._han_up)

    def _die(self) -> None:
        self._alive = False
        self._set_phase("down")
        self._cancel("poa", "han_up", "ready")

    def _han_up(self) -> None:
        self._set_phase("connecting")
        if (not self._poa_raised and self._loss_ns is not None and self._return_ns is not None
                and self._return_ns - self._loss_ns >= to_ns(self.params.poa_after_s)):
            self._raise_poa()
        backlog, self._han_backlog = self._han_backlog, []
        for frame in backlog:
            self.scheduler.call_later(self.esme.params.han_latency_s, lambda f=frame: self.han_receive(f))
        wait = self.params.reconnect_s + self.params.dither.sample(self._rng["dither"])
        self._timer("ready", self.scheduler.now_ns() + to_ns(wait), self._ready)

    def _ready(self) -> None:
        self._set_phase("ready")
        self._pump()

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        now = self.scheduler.now_ns()
        for listener in self.phase_listeners:
            listener(phase, now)

    def _timer(self, name: str, t_ns: int, fn: Callable[[], None]) -> None:
        self._cancel(name)

        def run() -> None:
            self._timers.pop(name, None)
            fn()

        self._timers[name] = self.scheduler.call_at(t_ns, run)

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    # ------------------------------------------------------------------ alerts

    def _poa_due(self) -> None:
        if not self._mains_on and self._alive:
            self._raise_poa()

    def _raise_poa(self) -> None:
        self._poa_raised = True
        window = self._draw(self.params.windows.poa, "poa_window")
        if self.defects.no_poa:
            return
        line = self.params.poa_notification.format(eui=self.eui, esme_eui=self.esme.eui)
        delay = window + self.defects.poa_delay_s
        self._enqueue("poa", line.encode("ascii") + b"\r\n", line.encode("ascii").hex().upper(),
                      self.name, None, delay, outage=self._outage)

    def han_receive(self, frame: HanFrame) -> None:
        """A message from the ESME arrives over the HAN (kept until the CH's HAN is up)."""
        if self.phase in ("down", "booting"):
            self._han_backlog.append(frame)
            return
        if frame.alert_code in RESTORATION_ALERTS:
            self._forward_restoration(frame)
        else:
            kind: Kind = "alert" if frame.cra == "alert" else "response"
            self._enqueue(kind, self._framing.encode(frame.raw), frame.raw.hex().upper(),
                          self.esme.name, frame.alert_code, 0.0)

    def _forward_restoration(self, frame: HanFrame) -> None:
        if self.params.pra_source == "ch":  # the CH reported restoration itself
            self._event(f"ESME restoration alert 0x{frame.alert_code:04X} not forwarded (pra_source: ch)",
                        frame.alert_code)
            return
        window = self._draw(self.params.windows.pra, "pra_window")
        if self.defects.no_pra:
            return
        self._consolidate()
        delay = window + self.defects.pra_delay_s
        self._enqueue("alert", self._framing.encode(frame.raw), frame.raw.hex().upper(),
                      self.esme.name, frame.alert_code, delay, outage=self._outage)

    def _consolidate(self) -> None:
        """With ``consolidate_pra``, a newer restoration replaces every one still queued."""
        if not self.params.consolidate_pra:
            return
        stale = [i for i in self._queue if i.kind == "pra" or i.alert_code in RESTORATION_ALERTS]
        for item in stale:
            self._queue.remove(item)
            self._event("restoration alert consolidated: replaced by a newer one before it was sent",
                        item.alert_code)

    def _raise_own_restoration(self, return_ns: int) -> None:
        """North option B: the CH's own restoration notification, its window from mains return."""
        window = self._draw(self.params.windows.pra, "pra_window")
        if self.defects.no_pra:
            return
        self._consolidate()
        line = self.params.pra_notification.format(eui=self.eui, esme_eui=self.esme.eui)
        delay = (return_ns - self.scheduler.now_ns()) / 1e9 + window + self.defects.pra_delay_s
        self._enqueue("pra", line.encode("ascii") + b"\r\n", line.encode("ascii").hex().upper(),
                      self.name, None, max(delay, 0.0), outage=self._outage)

    def _draw(self, delay, stream: str) -> float:
        """One draw for an alert window, made even when a defect then drops the alert, so that
        switching a defect on never shifts the draws of later alerts."""
        return delay.sample(self._rng[stream]) if delay is not None else 0.0

    # ------------------------------------------------------------------ transmission

    def transmit(self, payload: bytes, kind: Kind = "response", alert_code: Optional[int] = None) -> None:
        """Send a GBCS message on the wired link as soon as the CH is connected (for handlers)."""
        self._enqueue(kind, self._framing.encode(payload), payload.hex().upper(), self.name, alert_code, 0.0)

    def _enqueue(self, kind: Kind, wire: bytes, payload_hex: str, device: str,
                 alert_code: Optional[int], delay_s: float, outage: int = 0) -> None:
        self._seq += 1
        item = _Outgoing(self.scheduler.now_ns() + to_ns(delay_s), self._seq, kind, wire, payload_hex,
                         device, alert_code, outage)
        self._queue.append(item)
        self._pump()

    def _sendable(self, item: _Outgoing) -> bool:
        if not (self.defects.pra_before_poa and item.kind == "poa"):
            return True
        return self._pra_sent_for >= item.outage

    def _pump(self) -> None:
        """Send every item whose window is open, one after another on the wire; re-arm for the rest."""
        if self._pump_timer is not None:
            self._pump_timer.cancel()
            self._pump_timer = None
        if self.phase != "ready":
            return
        now = self.scheduler.now_ns()
        self._queue.sort()
        waiting = []
        for item in self._queue:
            if item.not_before_ns > now or not self._sendable(item):
                waiting.append(item)
                continue
            self._send(item)
        self._queue = waiting
        # A PRA sent just now may release a held-back POA.
        if any(i.not_before_ns <= now and self._sendable(i) for i in self._queue):
            self._pump()
            return
        future = [i.not_before_ns for i in self._queue if i.not_before_ns > now]
        if future:
            self._pump_timer = self.scheduler.call_at(min(future), self._pump)

    def _send(self, item: _Outgoing) -> None:
        if item.alert_code in RESTORATION_ALERTS or item.kind == "pra":
            self._pra_sent_for = max(self._pra_sent_for, item.outage)
        start = max(self.scheduler.now_ns(), self._link_free_ns)
        done = start + to_ns(len(item.wire) * self.params.link_byte_s)
        self._link_free_ns = done
        self.scheduler.call_at(done, lambda: self._write(item))

    def _write(self, item: _Outgoing) -> None:
        now = self.scheduler.now_ns()
        emission = Emission(now, item.device, item.kind, item.alert_code, item.payload_hex)
        if self.defects.drop_ratio and self._rng["drop"].random() < self.defects.drop_ratio:
            self.ground_truth.record_dropped(emission)
            return
        self.ground_truth.record(emission)
        self.link.write(item.wire)

    # ------------------------------------------------------------------ commands

    def link_receive(self, data: bytes) -> None:
        """Bytes the harness wrote on the wire; a CH that is not connected hears nothing."""
        for payload in self._frames(data):
            if self.phase != "ready":
                self._reject("command lost: the CH is not connected")
                continue
            self._command(payload)

    def _frames(self, data: bytes) -> list[bytes]:
        frames = []
        for item in self._rx.feed(data):
            if isinstance(item, Frame):
                frames.append(item.payload)
            else:  # no notification patterns here: anything else is a FramingError
                self._reject(f"unframed bytes on the wire: {item.error}")
        return frames

    def _command(self, raw: bytes) -> None:
        try:
            message = parse(raw)
        except GbcsError as exc:
            self._reject(f"undecodable command: {exc}")
            return
        problem = self._verify(message)
        if problem:
            self._reject(problem, AUTHENTICATION_FAILED)
            return
        if message.recipient == self.esme.eui:
            self.scheduler.call_later(self.esme.params.han_latency_s, lambda: self._to_esme(message, raw))
            return
        if message.recipient != self.eui:
            self._reject(f"command for {message.recipient}, neither this CH nor its ESME")
            return
        handler = self.handlers.get(message.message_code)
        if handler is None:
            self._event(f"no handler for message code 0x{message.message_code:04X}")
            return
        for out in self._answers(lambda: handler(message, raw)):
            self.transmit(out)

    def _to_esme(self, message: Message, raw: bytes) -> None:
        for out in self._answers(lambda: self.esme.handle_command(message, raw)):
            self.esme.send(HanFrame(out, "response", message.message_code))

    def _answers(self, handle: Callable[[], "list[bytes]"]) -> "list[bytes]":
        """What a handler returns; a command whose content it cannot act on gets no answer."""
        try:
            return list(handle())
        except GbcsError as exc:
            self._reject(f"command content not understood: {exc}")
            return []

    def _verify(self, message: Message) -> str:
        """Empty when the command's signature/MAC verify against the test keys, else why not.

        A command must carry at least one of them, and every one it carries must verify."""
        if message.cra != "command":
            return f"a {message.cra}, not a command"
        if not message.signature and not message.general_ciphering:
            return "neither signed nor MACed"
        if message.signature and security.verify_signature(message, self.keys) is not True:
            return f"signature of {message.originator} does not verify"
        if message.general_ciphering and security.verify_mac(message, self.keys, self.acb) != security.VALID:
            return f"MAC (ACB {self.acb}) does not verify"
        return ""

    def _reject(self, reason: str, code: Optional[int] = None) -> None:
        self.rejected.append((self.scheduler.now_ns(), reason))
        self._event(reason, code)

    def _event(self, detail: str, code: Optional[int] = None) -> None:
        self.ground_truth.record(Emission(self.scheduler.now_ns(), self.name, "event", code, "", detail))
