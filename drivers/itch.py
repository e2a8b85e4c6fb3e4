"""The Wired ITCH driver: the capture pipeline configured with GFI framing and GBCS decoding.

Every frame the ITCH sends goes through :class:`hubrig.harness.capture.pipeline.Capture`
(transport -> framing -> journal, durable first -> decode -> event bus), stamped with the
instant its last chunk arrived. This module adds what is the ITCH's own: the framing named in
the rig file with its POA notification line, GBCS decode errors, the command path and waits
phrased in GBCS terms (alert code, message code, CRA flag, notification).
"""

from __future__ import annotations

from typing import Any, Callable

from hubrig.drivers.transport import SerialTransport, Transport
from hubrig.harness.capture.events import FRAME, NOTIFICATION, Event, EventBus, match
from hubrig.harness.capture.framing import LinkFraming, make_framing
from hubrig.harness.capture.journal import Journal
from hubrig.harness.capture.pipeline import Capture, CaptureConfig, DecodeError, Record
from hubrig.harness.clock import Clock
from hubrig.harness.gbcs.errors import GbcsError

Decoder = Callable[[bytes], dict]
"""One GBCS message (the frame payload) to its JSON-ready record; raises GbcsError when malformed."""

POA_NOTIFICATION = "AD1"
"""The notification name under which the rig file's ``poa_notification`` pattern is registered."""
PRA_NOTIFICATION = "CH-PRA"
"""The name of the rig file's ``pra_notification`` (a Comms Hub's own restoration notification)."""


def gbcs_decoder(decoder: Decoder) -> Callable[[bytes], Record]:
    """``decoder`` for the pipeline: a :class:`GbcsError` becomes a :class:`DecodeError` at its offset."""

    def decode(payload: bytes) -> Record:
        try:
            return decoder(payload)
        except GbcsError as exc:
            raise DecodeError(str(exc), exc.offset) from None

    return decode


class Itch:
    """A Wired ITCH on one transport; see the module docstring."""

    def __init__(self, transport: Transport, framing: LinkFraming, journal: Journal, bus: EventBus, clock: Clock,
                 decoder: Decoder, name: str = "itch", capture: CaptureConfig = CaptureConfig()):
        self.name = name
        self.capture = Capture(transport, framing, journal, bus, clock, gbcs_decoder(decoder), source=name,
                               config=capture)

    @property
    def transport(self) -> Transport:
        return self.capture.transport

    @property
    def framing(self) -> LinkFraming:
        return self.capture.framing

    @property
    def journal(self) -> Journal:
        return self.capture.journal

    @property
    def bus(self) -> EventBus:
        return self.capture.bus

    @property
    def clock(self) -> Clock:
        return self.capture.clock

    def identify(self) -> str:
        """The Wired ITCH has no identity query: say which link it is on."""
        return f"Wired ITCH on {self.transport.name} (no identity query)"

    def describe(self) -> dict[str, str]:
        """Where the link is, for the results."""
        return {"resource": self.transport.name}

    def send(self, payload: bytes) -> int:
        """Frame ``payload``, journal it (direction "out") and write it; returns its journal id."""
        return self.capture.send(payload)

    def mark(self) -> int:
        """A bus position: pass it as ``since`` to wait only for what arrives after now."""
        return self.capture.mark()

    def wait_for(self, *, alert_code: int | str | None = None, message_code: int | str | None = None,
                 cra: Any = None, notification: str | None = None, since: int | None = None,
                 timeout: float, what: str | None = None) -> Event:
        """The first event from this ITCH after ``since`` (default: now) that matches.

        ``notification`` waits for a link notification (e.g. ``"AD1"``); otherwise a decoded frame
        with the given fields. On timeout raises :class:`WaitTimeout` listing what did arrive and
        naming the journal.
        """
        if notification is not None:
            wanted = match(NOTIFICATION, name=notification)
            what = what or f"{notification} notification from {self.name}"
        else:
            fields = {k: v for k, v in (("alert_code", alert_code), ("message_code", message_code),
                                        ("cra", cra)) if v is not None}
            wanted = match(FRAME, **fields)
            what = what or f"frame from {self.name}" + "".join(
                f" {k}=0x{v:04X}" if isinstance(v, int) and not isinstance(v, bool) else f" {k}={v}"
                for k, v in fields.items())
        return self.capture.wait_for(wanted, timeout, since=since, what=what)

    def close(self) -> None:
        """Stop capturing; what was read is journalled, decoded and published first (an
        incomplete last line as such). The journal stays open: it belongs to the run."""
        self.capture.close()


def make_link_framing(cfg: Any) -> LinkFraming:
    """The link framing named in the ITCH config, with the POA notification pattern registered."""
    notifications = {name: pattern for name, pattern in ((POA_NOTIFICATION, cfg.poa_notification),
                                                         (PRA_NOTIFICATION, cfg.pra_notification)) if pattern}
    return make_framing(cfg.framing, notifications=notifications)


def open_itch(cfg: Any, clock: Clock, bus: EventBus, journal: Journal, *, decoder: Decoder,
              transport: Transport | None = None, capture: CaptureConfig = CaptureConfig()) -> Itch:
    """An :class:`Itch` from the rig file's ``instruments.itch`` (an ``ItchConfig``).

    Without ``transport``, opens ``cfg.port`` with pyserial (device path, ``socket://``,
    ``loop://`` or a pty path); the virtual rig passes its in-process transport instead.
    ``capture`` sets the group commit and backpressure bounds.
    """
    if transport is None:
        if cfg.port == "virtual":
            raise ValueError('ITCH port "virtual" needs the virtual bench\'s in-process transport')
        transport = SerialTransport(cfg.port, cfg.baudrate, clock, reconnect_s=cfg.reconnect_s)
    return Itch(transport, make_link_framing(cfg), journal, bus, clock, decoder, capture=capture)
