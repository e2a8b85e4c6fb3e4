"""The Wired ITCH driver: capture every frame with its arrival instant, never lose one.

Data flows one way through :meth:`Itch.ingest`::

    (chunk, arrival instant) -> link framing -> journal (raw, durable) -> decode -> event bus

The arrival instant is the one the transport stamped when the chunk that completed a frame was
read, before any decoding. Nothing a device sends can make the capture loop raise: garbage
and undecodable frames are journalled with their error and published as ``FRAME_ERROR``. A line
left incomplete when the link is lost or the driver closes is journalled the same way (as of its
last chunk), so it is neither lost nor glued to the first line after a reconnection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from hubrig.drivers.transport import LOST, SerialTransport, Transport
from hubrig.harness.clock import Clock
from hubrig.harness.capture.events import FRAME, FRAME_ERROR, LINK, NOTIFICATION, Event, EventBus, WaitTimeout, match
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.capture.journal import Journal
from hubrig.harness.capture.framing import Frame, LinkFraming, Notification, make_framing

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], dict]
"""One GBCS message (the frame payload) to its JSON-ready record; raises GbcsError when malformed."""

POA_NOTIFICATION = "AD1"
"""The notification name under which the rig file's ``poa_notification`` pattern is registered."""
PRA_NOTIFICATION = "CH-PRA"
"""The name of the rig file's ``pra_notification`` (a Comms Hub's own restoration notification)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def wall_ns(clock: Clock, t_ns: int) -> int:
    """The wall instant (ns since the Unix epoch) of rig instant ``t_ns``."""
    delta = clock.wall(t_ns) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class Itch:
    """A Wired ITCH on one transport; see the module docstring for the capture path."""

    def __init__(self, transport: Transport, framing: LinkFraming, journal: Journal, bus: EventBus, clock: Clock,
                 decoder: Decoder, name: str = "itch"):
        self.transport = transport
        self.framing = framing
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.decoder = decoder
        self.name = name
        self._ingest_lock = threading.Lock()
        self._last_chunk_ns = clock.now_ns()
        transport.start(self.ingest, self._on_link)

    def identify(self) -> str:
        """The Wired ITCH has no identity query: say which link it is on."""
        return f"Wired ITCH on {self.transport.name} (no identity query)"

    def describe(self) -> dict[str, str]:
        """Where the link is, for the results."""
        return {"resource": self.transport.name}

    # capture -----------------------------------------------------------------------------------

    def ingest(self, chunk: bytes, t_ns: int) -> None:
        """Feed one chunk that arrived at ``t_ns``; journal, decode and publish what it completes."""
        with self._ingest_lock:
            self._last_chunk_ns = t_ns
            try:
                items = self.framing.feed(chunk)
            except Exception as exc:  # the framing should report garbage, not raise: keep capturing
                self._garbage(f"framing failed: {type(exc).__name__}: {exc}", chunk, t_ns)
                return
            self._handle(items, t_ns)

    def _flush(self) -> None:
        """Journal and report a line the stream ended in the middle of (link lost, driver closed)."""
        with self._ingest_lock:
            self._handle(self.framing.flush(), self._last_chunk_ns)

    def _handle(self, items: list, t_ns: int) -> None:
        for item in items:
            if isinstance(item, Frame):
                self._frame(item.payload, item.raw, t_ns)
            elif isinstance(item, Notification):
                self._notification(item.name, dict(item.fields), item.raw, t_ns)
            else:
                self._garbage(item.error, item.raw, t_ns)

    def _journal(self, direction: str, raw: bytes, t_ns: int, kind: str) -> tuple[int | None, str | None]:
        try:
            return self.journal.append(direction, t_ns, wall_ns(self.clock, t_ns), raw, self.name, kind), None
        except (sqlite3.Error, ValueError) as exc:
            return None, f"journal write failed: {exc}"

    def _set_decoded(self, frame_id: int | None, record: dict | None, error: str | None) -> None:
        if frame_id is None:
            return
        try:
            self.journal.set_decoded(frame_id, record, error)
        except sqlite3.Error as exc:  # the raw frame is already durable; the decode can be redone from it
            log.warning("%s: could not journal the decode of frame %s: %s", self.name, frame_id, exc)

    def _frame(self, payload: bytes, raw: bytes, t_ns: int) -> None:
        frame_id, journal_error = self._journal("in", raw, t_ns, "frame")
        try:
            record = self.decoder(payload)
            if not isinstance(record, dict):
                raise TypeError(f"decoder returned {type(record).__name__}, not a record")
        except GbcsError as exc:
            self._reject(frame_id, journal_error, raw, t_ns, "decode", str(exc), offset=exc.offset)
            return
        except Exception as exc:  # a decoder bug must not stop the capture
            self._reject(frame_id, journal_error, raw, t_ns, "decode",
                         f"decoder failed: {type(exc).__name__}: {exc}")
            return
        self._set_decoded(frame_id, record, None)
        data = {**record, "payload_hex": payload.hex().upper()}
        if journal_error:
            data["journal_error"] = journal_error
        self.bus.publish(FRAME, self.name, data, t_ns=t_ns, journal_id=frame_id)

    def _notification(self, name: str, fields: dict[str, Any], raw: bytes, t_ns: int) -> None:
        frame_id, journal_error = self._journal("in", raw, t_ns, "notification")
        self._set_decoded(frame_id, {"notification": name, **fields}, None)
        data = {"name": name, **fields, "raw": raw.decode("ascii", "replace").strip()}
        if journal_error:
            data["journal_error"] = journal_error
        self.bus.publish(NOTIFICATION, self.name, data, t_ns=t_ns, journal_id=frame_id)

    def _garbage(self, error: str, raw: bytes, t_ns: int) -> None:
        frame_id, journal_error = self._journal("in", raw, t_ns, "garbage")
        self._reject(frame_id, journal_error, raw, t_ns, "framing", str(error))

    def _reject(self, frame_id: int | None, journal_error: str | None, raw: bytes, t_ns: int, stage: str,
                error: str, offset: int | None = None) -> None:
        self._set_decoded(frame_id, None, error)
        data: dict[str, Any] = {"stage": stage, "error": error, "raw_hex": raw.hex().upper()}
        if offset is not None:
            data["offset"] = offset
        if journal_error:
            data["journal_error"] = journal_error
        self.bus.publish(FRAME_ERROR, self.name, data, t_ns=t_ns, journal_id=frame_id)

    def _on_link(self, state: str, detail: str) -> None:
        if state == LOST:
            self._flush()
        self.bus.publish(LINK, self.name, {"state": state, "detail": detail})

    # commands ----------------------------------------------------------------------------------

    def send(self, payload: bytes) -> int:
        """Frame ``payload``, journal it (direction "out") and write it; returns its journal id."""
        raw = self.framing.encode(payload)
        t_ns = self.clock.now_ns()
        frame_id = self.journal.append("out", t_ns, wall_ns(self.clock, t_ns), raw, self.name, "frame")
        try:
            record, error = self.decoder(payload), None
        except Exception as exc:  # a command we cannot decode is still sent, and says why
            record, error = None, f"{type(exc).__name__}: {exc}"
        self._set_decoded(frame_id, record, error)
        self.transport.write(raw)
        return frame_id

    # waits -------------------------------------------------------------------------------------

    def mark(self) -> int:
        """A bus position: pass it as ``since`` to wait only for what arrives after now."""
        return self.bus.mark()

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

        def predicate(event: Event) -> bool:
            return event.source == self.name and wanted(event)

        try:
            return self.bus.wait_for(predicate, timeout, since=since, what=what)
        except WaitTimeout as exc:
            text = str(exc)
            if str(self.journal.path) not in text:
                text += f"\njournal: {self.journal.path}"
            raise WaitTimeout(text) from None

    def close(self) -> None:
        """Stop capturing, journalling any incomplete last line (the journal stays open: it
        belongs to the run)."""
        self.transport.close()
        self._flush()


def make_link_framing(cfg: Any) -> LinkFraming:
    """The link framing named in the ITCH config, with the POA notification pattern registered."""
    notifications = {name: pattern for name, pattern in ((POA_NOTIFICATION, cfg.poa_notification),
                                                         (PRA_NOTIFICATION, cfg.pra_notification)) if pattern}
    return make_framing(cfg.framing, notifications=notifications)


def open_itch(cfg: Any, clock: Clock, bus: EventBus, journal: Journal, *, decoder: Decoder,
              transport: Transport | None = None) -> Itch:
    """An :class:`Itch` from the rig file's ``instruments.itch`` (an ``ItchConfig``).

    Without ``transport``, opens ``cfg.port`` with pyserial (device path, ``socket://``,
    ``loop://`` or a pty path); the virtual rig passes its in-process transport instead.
    """
    if transport is None:
        if cfg.port == "virtual":
            raise ValueError('ITCH port "virtual" needs the virtual bench\'s in-process transport')
        transport = SerialTransport(cfg.port, cfg.baudrate, clock, reconnect_s=cfg.reconnect_s)
    return Itch(transport, make_link_framing(cfg), journal, bus, clock, decoder)
