"""The HAN stick: a ZigBee EmberZNet NCP the harness listens to the Comms Hub's HAN with.

Synchronous for plans: :meth:`HanStick.identify`, :meth:`HanStick.energy_scan` and
:meth:`HanStick.active_scan` block on the rig clock (virtual or real) with bounded timeouts.
Every frame the NCP sends goes through the shared capture pipeline
(:mod:`hubrig.harness.capture.pipeline`): the session hands it to the stick's
:class:`~hubrig.drivers.han.feed.NcpFeed`, which stamps it on arrival (rig clock); the pipeline's
writer journals it in a group commit (``direction="in"``, ``kind="ezsp<protocol>"``, raw = the EZSP
frame as it came out of ASH); its decoder decodes it (:func:`hubrig.drivers.han.frames.decode`) and
publishes ``han_energy`` (channel, max RSSI), ``han_network`` (a PAN heard),
``han_scan_complete`` or ``han_frame`` (any other frame) with the decode record as data, the arrival
instant and the journal id. The stick's scans fill in from those published events, so a reading
exists only once its frame is durable, and a scan that an NCP reset or a vanished port interrupts
keeps what it already heard.

Interruptions are recovered where they can be: the session reports the loss to the feed the
moment it sees it (a ``link`` event ``lost``, in order with the frames), the driver reconnects
and publishes ``restored``, and the scan comes back with ``complete=False``. An NCP that does not
answer, or speaks an EZSP version this driver was not tested with, is a :class:`HanError` that
names the port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from hubrig.drivers.han import frames
from hubrig.drivers.han.feed import NcpFeed
from hubrig.drivers.han.frames import SUPPORTED_PROTOCOLS
from hubrig.drivers.han.session import DirectStick, HanError, Session
from hubrig.harness.capture.events import FRAME_ERROR, Event, EventBus
from hubrig.harness.capture.framing import DatagramFraming
from hubrig.harness.capture.journal import Journal
from hubrig.harness.capture.pipeline import LOST, RESTORED, Capture, DecodeError, Record
from hubrig.harness.clock import Clock

if TYPE_CHECKING:
    from hubrig.drivers.han.config import HanConfig

log = logging.getLogger(__name__)

HAN_ENERGY = "han_energy"
HAN_NETWORK = "han_network"
HAN_SCAN_COMPLETE = "han_scan_complete"
HAN_FRAME = "han_frame"
"""Any other frame from the NCP (command replies, other callbacks)."""

EVENT_KINDS = {frames.ENERGY: HAN_ENERGY, frames.NETWORK: HAN_NETWORK, frames.COMPLETE: HAN_SCAN_COMPLETE}

ENERGY_SCAN, ACTIVE_SCAN = 0, 1
ZIGBEE_CHANNELS = tuple(range(11, 27))
MAX_DURATION = 14

FIRMWARE_FAMILIES = (
    (13, "EmberZNet 7.x (EZSP 13+): 115200 baud, RTS/CTS"),
    (8, "EmberZNet 6.7-6.10 (EZSP 8-12): 57600 or 115200 baud, often XON/XOFF"),
    (4, "EmberZNet 5.x/6.0-6.6 (EZSP 4-7): 57600 baud, XON/XOFF"),
)


def firmware_family(protocol: int) -> str:
    """The firmware family an EZSP protocol version belongs to (what ``rig check`` says)."""
    for floor, family in FIRMWARE_FAMILIES:
        if protocol >= floor:
            return family
    return f"unknown (EZSP {protocol})"


def dwell_s(duration: int) -> float:
    """Time a scan spends on one channel: (2**duration + 1) x 15.36 ms."""
    return (2 ** duration + 1) * 0.01536


def channel_mask(channels: Iterable[int]) -> int:
    mask = 0
    for c in channels:
        if c not in ZIGBEE_CHANNELS:
            raise ValueError(f"channel {c} is not a 2.4 GHz ZigBee channel (11..26)")
        mask |= 1 << c
    if not mask:
        raise ValueError("no channels to scan")
    return mask


@dataclass(frozen=True)
class Identity:
    eui64: str
    manufacturer: str | None
    board: str | None
    firmware: str | None
    protocol_version: int
    stack_version: str

    @property
    def family(self) -> str:
        return firmware_family(self.protocol_version)


def event_kind(record: Record) -> str:
    """The bus event kind of a decoded NCP frame."""
    return EVENT_KINDS.get(str(record.get("name")), HAN_FRAME)


@dataclass(frozen=True)
class EnergyReading:
    channel: int
    max_rssi_dbm: int
    t_ns: int
    journal_id: int | None
    """The frame's journal id (None only if the journal could not be written: the event says why)."""


@dataclass(frozen=True)
class NetworkHeard:
    channel: int
    pan_id: int
    extended_pan_id: str
    permit_joining: bool
    stack_profile: int
    lqi: int
    rssi_dbm: int
    t_ns: int
    journal_id: int | None


@dataclass
class Scan:
    """One scan's results as they arrived; ``complete`` False if it was cut short (``interrupted``)."""

    kind: str
    channels: tuple[int, ...]
    started_ns: int
    duration: int = 3
    energy: list[EnergyReading] = field(default_factory=list)
    networks: list[NetworkHeard] = field(default_factory=list)
    complete: bool = False
    interrupted: str | None = None
    ended_ns: int | None = None
    complete_journal_id: int | None = None


SessionFactory = Callable[[NcpFeed], Session]


class HanStick:
    """A HAN stick on the rig. ``open_session(feed)`` opens (and re-opens) the NCP session, which
    hands every NCP frame and link loss to ``feed``: the stick's :attr:`capture`."""

    def __init__(self, open_session: SessionFactory, clock: Clock, bus: EventBus, journal: Journal, *,
                 port: str, name: str = "han", reconnect_attempts: int = 3):
        self.name = name
        self.port = port
        self.clock = clock
        self.bus = bus
        self.journal = journal
        self._open_session = open_session
        self._reconnect_attempts = reconnect_attempts
        self._scan: Scan | None = None
        self._protocol = 4
        self.identity: Identity | None = None
        self._feed = NcpFeed(clock, port)
        bus.subscribe(self._on_event)
        self.capture = Capture(self._feed, DatagramFraming(), journal, bus, clock, self._decode, source=name,
                               frame_kind=f"ezsp{self._protocol}", event_kind=event_kind)
        try:
            self._session = self._connect()
        except BaseException:
            self.capture.close()
            bus.unsubscribe(self._on_event)
            raise

    # ----------------------------------------------------------------- frames in

    def _decode(self, frame: bytes) -> Record:
        """The pipeline's decoder: one NCP frame, with the protocol the session negotiated."""
        record = frames.decode(frame, self._protocol)
        if "error" in record:
            raise DecodeError(str(record["error"]))
        return record

    def _on_event(self, event: Event) -> None:
        """The stick's readings, from what the pipeline published (its decoder thread, or the
        virtual clock's): a scan collects the frames that arrived after it started."""
        if event.source != self.name:
            return
        data = event.data
        if event.kind == FRAME_ERROR:
            log.warning("HAN %s: undecodable frame from the NCP (journal #%s): %s", self.port, event.journal_id,
                        data.get("error"))
            return
        scan = self._scan
        if scan is not None and event.t_ns < scan.started_ns:
            scan = None
        if event.kind == HAN_ENERGY and scan is not None:
            scan.energy.append(EnergyReading(data["channel"], data["maxRssiValue"], event.t_ns, event.journal_id))
        elif event.kind == HAN_NETWORK and scan is not None:
            net = data["networkFound"]
            scan.networks.append(NetworkHeard(net["channel"], net["panId"], net["extendedPanId"],
                                              net["allowingJoin"] == "true", net["stackProfile"],
                                              data["lastHopLqi"], data["lastHopRssi"], event.t_ns, event.journal_id))
        elif event.kind == HAN_SCAN_COMPLETE and scan is not None:
            scan.complete, scan.ended_ns, scan.complete_journal_id = True, event.t_ns, event.journal_id

    # ----------------------------------------------------------------- connection

    def _connect(self) -> Session:
        session = self._open_session(self._feed)
        try:
            if session.protocol_version not in SUPPORTED_PROTOCOLS:
                raise HanError(
                    f"HAN stick {self.port}: the NCP speaks EZSP protocol {session.protocol_version}; this driver "
                    f"(bellows 1.2.1) knows {min(SUPPORTED_PROTOCOLS)}..{max(SUPPORTED_PROTOCOLS)}: update the "
                    "stick's firmware or the pinned bellows")
        except HanError:
            session.close()
            raise
        self._protocol = session.protocol_version
        self.capture.frame_kind = f"ezsp{self._protocol}"
        return session

    def _recover(self, why: str) -> None:
        """The NCP reset, the port went away or a scan never ended: close the session (the loss
        is published then if the session had not reported it), then reconnect (bounded attempts)."""
        session = self._session
        try:
            session.close()
        except Exception as exc:
            log.debug("HAN %s: closing the lost session: %s", self.port, exc)
        if session.lost is None:
            self._feed.link(LOST, why)
        log.warning("HAN %s: link lost: %s; reconnecting", self.port, why)
        last: Exception | None = None
        for attempt in range(1, self._reconnect_attempts + 1):
            try:
                self._session = self._connect()
            except HanError as exc:
                last = exc
                log.warning("HAN %s: reconnect %d/%d failed: %s", self.port, attempt, self._reconnect_attempts, exc)
                self.clock.sleep(1.0)
                continue
            log.warning("HAN %s: link restored", self.port)
            self._feed.link(RESTORED, f"reconnected after: {why}")
            return
        raise HanError(f"HAN stick {self.port}: lost ({why}) and not back after "
                       f"{self._reconnect_attempts} attempts: {last}")

    # ----------------------------------------------------------------- what plans call

    def identify(self) -> str:
        """Who the stick says it is, as one line (the instrument interface's identity)."""
        i = self.identity or self.read_identity()
        return (f"{i.manufacturer or '?'} {i.board or '?'} EUI-64 {i.eui64}, firmware {i.firmware or '?'}, "
                f"EZSP {i.protocol_version}")

    def describe(self) -> dict[str, str]:
        """What the results record about the stick."""
        out = {"resource": self.port, "family": "han"}
        if self.identity is not None:
            out.update(eui64=self.identity.eui64, firmware=self.identity.firmware or "?",
                       ezsp=str(self.identity.protocol_version), firmware_family=self.identity.family)
        return out

    def mark(self) -> int:
        """A bus position: the stick's events after it are the ones that arrive from now on."""
        return self.capture.mark()

    def read_identity(self) -> Identity:
        """EUI-64, manufacturer and board strings, firmware version and the negotiated protocol."""
        s = self._session
        (eui,) = s.command("getEui64")
        strings = []
        for token in (1, 2):  # MFG_STRING, MFG_BOARD_NAME
            (value,) = s.command("getMfgToken", tokenId=token)
            raw = bytes(value).rstrip(b"\xff").rstrip(b"\x00")
            strings.append(raw.decode("utf-8", "replace") or None)
        status, info = s.command("getValue", valueId=0x11)  # VALUE_VERSION_INFO
        firmware = None
        if int(status) == 0 and len(info) >= 6:
            b = bytes(info)
            firmware = f"{b[2]}.{b[3]}.{b[4]}.{b[5]} build {int.from_bytes(b[:2], 'little')}"
        self.identity = Identity(bytes(reversed(eui.serialize())).hex().upper(), strings[0], strings[1], firmware,
                                 self._protocol, firmware.split(" ")[0] if firmware else "?")
        return self.identity

    def energy_scan(self, channels: Iterable[int] = ZIGBEE_CHANNELS, duration: int = 3) -> Scan:
        """Maximum RSSI per channel; each reading is stamped on arrival and journalled before it is read."""
        return self._run_scan("energy", tuple(channels), duration)

    def active_scan(self, channels: Iterable[int] = ZIGBEE_CHANNELS, duration: int = 3) -> Scan:
        """The PANs that answer a beacon request on each channel."""
        return self._run_scan("active", tuple(channels), duration)

    def begin_scan(self, kind: str, channels: Iterable[int] = ZIGBEE_CHANNELS, duration: int = 3) -> Scan:
        """Start an ``energy`` or ``active`` scan and return at once; the :class:`Scan` fills in as
        frames arrive (and its events reach the bus). One scan at a time: :class:`HanError` if busy."""
        if kind not in ("energy", "active"):
            raise ValueError(f"scan kind {kind!r}: expected 'energy' or 'active'")
        if not 0 <= duration <= MAX_DURATION:
            raise ValueError(f"scan duration {duration} is outside 0..{MAX_DURATION}")
        channels = tuple(sorted(set(channels)))
        mask = channel_mask(channels)
        if self._scan is not None and not self._scan.complete and self._scan.interrupted is None:
            raise HanError(f"HAN stick {self.port}: a {self._scan.kind} scan is still running")
        if self._session.lost:
            self._recover(self._session.lost)
        scan = Scan(kind, channels, self.clock.now_ns(), duration=duration)
        self._scan = scan
        self._session.start_scan(ENERGY_SCAN if kind == "energy" else ACTIVE_SCAN, mask, duration)
        return scan

    def settled(self, scan: Scan) -> bool:
        """Whether ``scan`` completed, or the NCP or its port went away under it."""
        session = self._session
        return scan.complete or scan.interrupted is not None or session.lost is not None \
            or session.scan_failure() is not None

    def finish_scan(self, scan: Scan) -> Scan:
        """Wait (bounded: twice the scan's dwell time plus 5 s) for ``scan``; an interrupted scan
        keeps what it heard, is marked ``complete=False`` and the stick is recovered."""
        timeout = len(scan.channels) * dwell_s(scan.duration) * 2 + 5.0
        remaining = timeout - (self.clock.now_ns() - scan.started_ns) / 1e9
        self.clock.wait_until(lambda: self.settled(scan), max(remaining, 0.0))
        if not scan.complete and scan.interrupted is None:
            session = self._session
            why = session.lost or session.scan_failure() or f"no scanCompleteHandler within {timeout:.1f} s"
            scan.interrupted = why
            scan.ended_ns = self.clock.now_ns()
            log.warning("HAN %s: %s scan interrupted (%s); kept %d reading(s) already stamped",
                        self.port, scan.kind, why, len(scan.energy) + len(scan.networks))
            if self._scan is scan:
                self._scan = None
            self._recover(why)
        return scan

    def _run_scan(self, kind: str, channels: tuple[int, ...], duration: int) -> Scan:
        return self.finish_scan(self.begin_scan(kind, channels, duration))

    def watch(self, cadence_s: float, channels: Iterable[int] = ZIGBEE_CHANNELS, duration: int = 0) -> "Watch":
        """Active scans every ``cadence_s`` on the rig clock, in the background, until ``stop()``."""
        return Watch(self, cadence_s, tuple(channels), duration)

    @property
    def lost(self) -> str | None:
        """Why the NCP session went away (an unexpected reset, the port gone), until recovered."""
        return self._session.lost

    def close(self) -> None:
        """Close the NCP session, then the capture: every frame that arrived is journalled and
        published before this returns."""
        try:
            self._session.close()
        finally:
            try:
                self.capture.close()
            finally:
                self.bus.unsubscribe(self._on_event)


class Watch:
    """Background active scans at a cadence (see :meth:`HanStick.watch`): :attr:`scans` in order.

    Each tick runs on the rig clock's timer (the virtual clock's callbacks, or the real clock's
    timer thread): it closes the previous scan if it settled and starts the next one. A scan still
    running at a tick is left to finish; a lost NCP is recovered at the next tick."""

    def __init__(self, stick: HanStick, cadence_s: float, channels: tuple[int, ...], duration: int):
        if not cadence_s > 0:
            raise ValueError(f"scan cadence {cadence_s!r} s must be positive")
        self.stick = stick
        self.cadence_s = cadence_s
        self.channels = channels
        self.duration = duration
        self.scans: list[Scan] = []
        self.errors: list[str] = []
        self._stopped = False
        self._timer = stick.clock.call_later(0, self._tick)

    def _tick(self) -> None:
        if self._stopped:
            return
        last = self.scans[-1] if self.scans else None
        try:
            if last is None or self.stick.settled(last):
                if last is not None and not last.complete and last.interrupted is None:
                    last.interrupted = self.stick.lost or "scan failed"
                    last.ended_ns = self.stick.clock.now_ns()
                self.scans.append(self.stick.begin_scan("active", self.channels, self.duration))
        except HanError as exc:  # the stick is gone for now: say so, try again next tick
            log.warning("%s", exc)
            self.errors.append(str(exc))
        self._timer = self.stick.clock.call_later(self.cadence_s, self._tick)

    def stop(self) -> list[Scan]:
        """Stop scanning (a scan in flight still finishes on the NCP) and return the scans."""
        self._stopped = True
        self._timer.cancel()
        return self.scans


def open_han(cfg: "HanConfig | None", clock: Clock, bus: EventBus, journal: Journal, *,
             stick: DirectStick | None = None, name: str = "han") -> HanStick:
    """Open the HAN stick of a rig file's ``instruments.han`` section; ``stick``: the virtual stick
    to use in-process (virtual time) instead of a port."""
    from hubrig.drivers.han.session import BellowsSession, InProcessSession

    if stick is not None:
        return HanStick(lambda feed: InProcessSession(stick, feed), clock, bus, journal, port="virtual", name=name)
    if cfg is None:
        raise ValueError("open_han needs the rig file's instruments.han section, or a virtual stick")
    flow = None if cfg.flow_control == "none" else cfg.flow_control
    return HanStick(lambda feed: BellowsSession(cfg.port, cfg.baudrate, flow, feed), clock, bus, journal,
                    port=cfg.port, name=name)
