"""The capture pipeline: every event source's path from bytes on a link to events on the bus.

::

    transport ──> link framing ──> journal ──> decode ──> event bus
    (chunk +      (frames,          (group      (never     (FRAME, NOTIFICATION,
     arrival ns)   notifications,    commit,     raises)    FRAME_ERROR, LINK)
                   garbage)          durable)

A :class:`Capture` is configured with a transport, a :class:`~hubrig.harness.capture.framing.LinkFraming`
and a :data:`Decoder`; the Wired ITCH configures it with GFI framing and the GBCS decoder. A
source whose library owns the port and hands over whole frames (the HAN stick through bellows)
uses a transport it feeds from that library's callback (the HAN stick's
:class:`~hubrig.drivers.han.feed.NcpFeed`; an :class:`~hubrig.drivers.transport.InProcessTransport`
does too), :class:`~hubrig.harness.capture.framing.DatagramFraming`, its own decoder, its own
journal ``frame_kind`` and ``event_kind``. Each frame is journalled with its ``source`` and kind
(``frame_kind``, ``notification``, ``garbage``) before it is decoded, and stamped with the
instant its last chunk arrived, which the transport took before anyone looked at the bytes.

In real time (a :class:`~hubrig.harness.clock.RealClock`) three threads share the work:

* the transport's reader reads and stamps, hands the chunk over, and reads again only when
  the pipeline has room (**backpressure**: beyond ``queue_bytes`` read but not yet framed the
  reader stops reading, so the link's sender waits rather than the harness dropping bytes or
  growing without bound);
* the journal writer frames what was read and commits it in batches (**group commit**): when
  ``batch_frames`` frames are pending, or ``max_delay_s`` after the arrival of the oldest
  pending one, whichever comes first. It never waits for the decoder, so what was read is on
  disk within ``max_delay_s`` plus the time to frame at most ``queue_bytes``;
* the decoder decodes what is on disk, stores the result, and publishes the events in order.
  Up to ``decode_backlog`` journalled frames wait for it in memory; beyond that the writer
  hands it only their journal ids and the decoder reads them back from the journal, so a
  slow decoder costs neither memory nor reading.

Events go to the bus with the pipeline's way back to them: once they leave the bus's window, the
bus asks for them by journal id and the pipeline re-reads and re-decodes those frames, giving
the same events it published (see :mod:`hubrig.harness.capture.events`).

In virtual time (a :class:`~hubrig.harness.clock.VirtualClock`) there are no threads: each
chunk goes through all steps (one commit per chunk) before the device's write returns.

Nothing a device sends can make the pipeline raise: garbage, undecodable frames and decoder
bugs are journalled with their error and published as ``FRAME_ERROR``. A line left incomplete
when the link is lost or the capture closes is journalled the same way (as of its last chunk),
so it is neither lost nor glued to the first line after a reconnection.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol, Union

from hubrig.harness.capture.events import (FRAME, FRAME_ERROR, LINK, NOTIFICATION, Event, EventBus, Match,
                                           WaitTimeout)
from hubrig.harness.capture.framing import Frame, FramingError, Item, LinkFraming, Notification
from hubrig.harness.capture.journal import Journal, JournalFrame, NewFrame
from hubrig.harness.clock import NS_PER_S, Clock, to_ns

log = logging.getLogger(__name__)

OnChunk = Callable[[bytes, int], None]
"""Receives each chunk read and its arrival instant (rig-clock ns)."""
OnLink = Callable[[str, str], None]
"""Receives link changes: ``("lost" | "restored", detail)``."""

LOST = "lost"
RESTORED = "restored"


class Transport(Protocol):
    """What the pipeline needs of a byte link (``hubrig.drivers.transport`` has the real ones).

    ``start`` hands every chunk read to ``on_chunk`` with the instant it was read, in order, on
    one thread; ``on_chunk`` may block, and the transport then reads nothing more until it
    returns (that is how backpressure reaches the link). Link changes go to ``on_link``.
    """

    name: str

    def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


Record = dict[str, object]
Decoder = Callable[[bytes], Record]
"""One frame payload to its JSON-ready record; raises :class:`DecodeError` when malformed."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class DecodeError(ValueError):
    """A payload the decoder rejects as malformed; ``offset`` is where decoding stopped."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class CaptureConfig:
    """Group commit and backpressure bounds (real time only)."""

    batch_frames: int = 512
    """Commit as soon as this many frames are pending."""
    max_delay_s: float = 0.002
    """Commit at the latest this long after the arrival of the oldest pending frame."""
    queue_bytes: int = 1 << 14
    """Read but not yet framed: beyond this the reader stops reading until the writer catches up."""
    decode_backlog: int = 8192
    """Journalled frames held in memory for the decoder; beyond this it reads them back from the journal."""

    def __post_init__(self) -> None:
        for name in ("batch_frames", "queue_bytes", "decode_backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"capture {name} must be at least 1, not {getattr(self, name)}")
        if not math.isfinite(self.max_delay_s) or not 0 <= self.max_delay_s <= 10:
            raise ValueError(f"capture max_delay_s must be between 0 and 10 s, not {self.max_delay_s}")


@dataclass(frozen=True)
class CaptureStats:
    """What the pipeline has done, and the most it ever held in memory."""

    frames: int
    """Frames journalled (in and out)."""
    commits: int
    pending: int
    """Frames framed but not yet committed now (what a SIGKILL now would lose besides the queue)."""
    max_queued_bytes: int
    """Most bytes ever read but not yet taken by the journal writer."""
    max_decode_backlog: int
    """Most journalled frames ever held in memory for the decoder."""
    spilled: int
    """Frames the decoder read back from the journal because its backlog was full."""
    backpressure_waits: int
    """Times the reader stopped reading because the journal writer was behind."""


@dataclass(frozen=True)
class _Journalled:
    """An item on disk (or that failed to get there), waiting to be decoded and published."""

    item: Item
    t_ns: int
    frame_id: int | None
    journal_error: str | None


@dataclass(frozen=True)
class _Spilled:
    """Frames ``first_id`` to ``last_id`` of this source are on disk, for the decoder to read back."""

    first_id: int
    last_id: int


@dataclass(frozen=True)
class _LinkChange:
    state: str
    detail: str
    t_ns: int
    journal_id: int | None = None


LINK_KIND = "link"
"""Journal kind of a link change: raw ``b"lost: <detail>"``, its record ``{"state", "detail"}``."""


_Entry = Union[tuple[bytes, int], _LinkChange]
_Published = Union[_Journalled, _Spilled, _LinkChange, None]  # None: the writer has finished


def wall_ns(clock: Clock, t_ns: int) -> int:
    """The wall instant (ns since the Unix epoch) of rig instant ``t_ns``."""
    delta = clock.wall(t_ns) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class Capture:
    """One event source's capture path; see the module docstring."""

    DECODE_BATCH = 64
    """Items the decoder takes at once: events are published after at most this many decodes."""
    JOIN_S = 10.0

    def __init__(self, transport: Transport, framing: LinkFraming, journal: Journal, bus: EventBus, clock: Clock,
                 decoder: Decoder, *, source: str, config: CaptureConfig = CaptureConfig(),
                 frame_kind: str = "frame", event_kind: Callable[[Record], str] | None = None):
        self.transport = transport
        self.framing = framing
        self.journal = journal
        self.bus = bus
        self.clock = clock
        self.decoder = decoder
        self.source = source
        self.config = config
        self.frame_kind = frame_kind
        """The journal kind of a framed frame (``frame`` for GBCS; e.g. ``ezsp8`` for a HAN stick's)."""
        self._event_kind = event_kind
        self._last_chunk_ns = clock.now_ns()
        self._lock = threading.Lock()
        self._to_write = threading.Condition(self._lock)
        self._to_decode = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._inbox: deque[_Entry] = deque()
        self._outbox: deque[_Published] = deque()
        self._queued_bytes = 0
        self._in_memory = 0  # _Journalled entries in the outbox
        self._closing = False
        self._stopping = False
        self._pending = 0
        self._frames = self._commits = self._max_queued = self._max_backlog = self._spilled = self._waits = 0
        self._threads: list[threading.Thread] = []
        if not clock.virtual:
            self._threads = [threading.Thread(target=self._write_loop, name=f"hubrig-journal {source}", daemon=True),
                             threading.Thread(target=self._decode_loop, name=f"hubrig-decode {source}", daemon=True)]
            for thread in self._threads:
                thread.start()
        try:
            transport.start(self._on_chunk, self._on_link)
        except BaseException:
            with self._lock:  # let the threads end rather than wait for a link that never started
                self._closing = self._stopping = True
                self._to_write.notify()
            raise

    # the transport's side --------------------------------------------------------------------

    def _on_chunk(self, chunk: bytes, t_ns: int) -> None:
        if not self._threads:
            self._last_chunk_ns = t_ns
            self._publish(self._commit(self._frame(chunk, t_ns)))
            return
        with self._lock:
            self._inbox.append((chunk, t_ns))
            self._queued_bytes += len(chunk)
            self._max_queued = max(self._max_queued, self._queued_bytes)
            self._to_write.notify()
            if self._full():
                self._waits += 1
                while self._full():  # backpressure: the reader reads again only when there is room
                    self._room.wait()

    def _full(self) -> bool:
        return not self._closing and self._queued_bytes >= self.config.queue_bytes

    def _on_link(self, state: str, detail: str) -> None:
        change = _LinkChange(state, detail, self.clock.now_ns())
        if not self._threads:
            if state == LOST:
                self._publish(self._commit(self._flush()))
            self._publish([self._journal_link(change)])
            return
        with self._lock:
            self._inbox.append(change)
            self._to_write.notify()

    # framing and journal ---------------------------------------------------------------------

    def _frame(self, chunk: bytes, t_ns: int) -> list[tuple[Item, int]]:
        try:
            items = self.framing.feed(chunk)
        except Exception as exc:  # the framing should report garbage, not raise: keep capturing
            items = [FramingError(f"framing failed: {type(exc).__name__}: {exc}", chunk)]
        return [(item, t_ns) for item in items]

    def _flush(self) -> list[tuple[Item, int]]:
        """A line the stream ended in the middle of (link lost, capture closed), as of its last chunk."""
        try:
            items = self.framing.flush()
        except Exception as exc:
            items = [FramingError(f"framing failed at the end of the stream: {type(exc).__name__}: {exc}", b"")]
        return [(item, self._last_chunk_ns) for item in items]

    def _commit(self, pending: list[tuple[Item, int]]) -> list[_Journalled]:
        """Journal ``pending`` in one transaction; a failure is carried to the plan, not raised."""
        if not pending:
            return []
        walls: dict[int, int] = {}  # the frames of one chunk share its instant
        rows = []
        for item, t_ns in pending:
            if t_ns not in walls:
                walls[t_ns] = wall_ns(self.clock, t_ns)
            rows.append(NewFrame("in", t_ns, walls[t_ns], item.raw, self.source, *self._kind(item)))
        try:
            ids: list[int | None] = list(self.journal.append_many(rows))
            error = None
        except Exception as exc:  # a full disk, a closed journal: the plan still gets the frames, and why
            ids, error = [None] * len(rows), f"journal write failed: {exc}"
        else:
            self._frames += len(rows)
            self._commits += 1
        return [_Journalled(item, t_ns, frame_id, error) for (item, t_ns), frame_id in zip(pending, ids)]

    def _journal_link(self, change: _LinkChange) -> _LinkChange:
        """Journal a link change after the frames before it, so the journal alone shows when a link
        was lost and why; a failed write is logged and the change still published."""
        row = NewFrame("in", change.t_ns, wall_ns(self.clock, change.t_ns),
                       f"{change.state}: {change.detail}".encode("utf-8", "replace"), self.source, LINK_KIND,
                       ({"state": change.state, "detail": change.detail}, None))
        try:
            (journal_id,) = self.journal.append_many([row])
        except Exception as exc:
            log.warning("%s: could not journal the link change %s (%s): %s", self.source, change.state,
                        change.detail, exc)
            return change
        return _LinkChange(change.state, change.detail, change.t_ns, journal_id)

    def _kind(self, item: Item) -> tuple[str, tuple[Record | None, str | None] | None]:
        """The journal kind of ``item`` and its outcome when framing already decided it."""
        if isinstance(item, Frame):
            return self.frame_kind, None
        if isinstance(item, Notification):
            return "notification", ({"notification": item.name, **item.fields}, None)
        return "garbage", (None, item.error)

    def _write_loop(self) -> None:
        pending: list[tuple[Item, int]] = []
        delay_ns = to_ns(self.config.max_delay_s)
        while True:
            with self._lock:
                while not self._inbox and not self._stopping:
                    if not pending:
                        self._to_write.wait()
                        continue
                    left = pending[0][1] + delay_ns - self.clock.now_ns()
                    if left <= 0:
                        break
                    self._to_write.wait(left / NS_PER_S)
                taken, self._inbox = self._inbox, deque()
                self._queued_bytes = 0
                stopping = self._stopping and not taken
                self._room.notify_all()
            for entry in taken:
                if isinstance(entry, _LinkChange):
                    if entry.state == LOST:
                        pending += self._flush()
                    done = self._commit(pending)
                    self._hand_over(done, self._journal_link(entry))
                    pending = []
                else:
                    self._last_chunk_ns = entry[1]
                    pending += self._frame(*entry)
            if stopping:
                pending += self._flush()
            if pending and (stopping or len(pending) >= self.config.batch_frames
                            or self.clock.now_ns() - pending[0][1] >= delay_ns):
                self._hand_over(self._commit(pending))
                pending = []
            self._pending = len(pending)
            if stopping:
                self._hand_over([], None)
                return

    def _hand_over(self, done: list[_Journalled], *then: _Published) -> None:
        with self._lock:
            last = self._outbox[-1] if self._outbox else None
            on_disk = bool(done) and done[0].frame_id is not None  # a batch is stored whole or not at all
            if on_disk and (isinstance(last, _Spilled)
                            or self._in_memory + len(done) > self.config.decode_backlog):
                first_id = last.first_id if isinstance(last, _Spilled) else done[0].frame_id
                if isinstance(last, _Spilled):
                    self._outbox.pop()
                self._outbox.append(_Spilled(first_id, done[-1].frame_id))
                self._spilled += len(done)
            else:
                self._outbox.extend(done)
                self._in_memory += len(done)
            self._outbox.extend(then)
            self._max_backlog = max(self._max_backlog, self._in_memory)
            self._to_decode.notify()

    # decode and publish ----------------------------------------------------------------------

    def _decode_loop(self) -> None:
        while True:
            with self._lock:
                while not self._outbox:
                    self._to_decode.wait()
                batch: list[_Published] = []
                while self._outbox and len(batch) < self.DECODE_BATCH:
                    entry = self._outbox.popleft()
                    batch.append(entry)
                    if isinstance(entry, _Spilled):
                        break
                self._in_memory -= sum(isinstance(entry, _Journalled) for entry in batch)
            last = batch[-1]
            self._publish_safely([e for e in batch if isinstance(e, (_Journalled, _LinkChange))])
            if isinstance(last, _Spilled):
                self._read_back(last)
            elif last is None:  # the writer has finished, and everything before it is published
                return

    def _read_back(self, spilled: _Spilled) -> None:
        """Decode and publish spilled frames, read back from the journal in batches."""
        since = spilled.first_id - 1
        while since < spilled.last_id:
            try:
                frames = self.journal.frames(since_id=since, until_id=spilled.last_id, source=self.source,
                                             direction="in", limit=self.DECODE_BATCH)
                entries = [_Journalled(self._item(f), f.t_ns, f.id, None) for f in frames]
            except Exception:
                log.exception("%s: cannot read frames %d to %d back from the journal; they are kept there "
                              "but not published", self.source, since + 1, spilled.last_id)
                return
            if not frames:
                return
            since = frames[-1].id
            self._publish_safely(entries)

    def _item(self, frame: JournalFrame) -> Item:
        """The framing item of a journalled frame: as framed then, from what was stored with it."""
        if frame.kind == "notification" and frame.record is not None:
            fields = dict(frame.record)
            return Notification(str(fields.pop("notification", "")), fields, frame.raw)
        if frame.kind == "garbage":
            return FramingError(frame.error or "", frame.raw)
        return self.framing.parse(frame.raw)

    def _publish_safely(self, entries: list[_Journalled | _LinkChange]) -> None:
        try:
            self._publish(entries)
        except Exception:  # a subscriber's bug must not end the capture
            log.exception("%s: publishing failed; capture continues", self.source)

    def decode(self, payload: bytes) -> tuple[Record | None, str | None, int | None]:
        """Decode one payload: ``(record, None, None)`` or ``(None, error, offset)``; never raises."""
        try:
            record = self.decoder(payload)
        except DecodeError as exc:
            return None, str(exc), exc.offset
        except Exception as exc:  # a decoder bug must not stop the capture
            return None, f"decoder failed: {type(exc).__name__}: {exc}", None
        if not isinstance(record, dict):
            return None, f"decoder failed: TypeError: decoder returned {type(record).__name__}, not a record", None
        return record, None, None

    def _event(self, item: Item) -> tuple[str, dict[str, object], tuple[Record | None, str | None] | None]:
        """The event kind and data of a framed item, and a frame's decode outcome (to journal)."""
        if isinstance(item, Frame):
            record, error, offset = self.decode(item.payload)
            if record is None:
                return FRAME_ERROR, _rejected("decode", error or "", item.raw, offset), (record, error)
            kind = FRAME if self._event_kind is None else self._event_kind(record)
            return kind, {**record, "payload_hex": item.payload.hex().upper()}, (record, error)
        if isinstance(item, Notification):
            raw = item.raw.decode("ascii", "replace").strip()
            return NOTIFICATION, {"name": item.name, **item.fields, "raw": raw}, None
        return FRAME_ERROR, _rejected("framing", item.error, item.raw, None), None

    def _publish(self, entries: list[_Journalled | _LinkChange]) -> None:
        """Decode the frames among ``entries``, store the results, then publish everything in order."""
        events: list[tuple[str, dict[str, object], int, int | None]] = []
        results: list[tuple[int, Record | None, str | None]] = []
        for entry in entries:
            if isinstance(entry, _LinkChange):
                events.append((LINK, {"state": entry.state, "detail": entry.detail}, entry.t_ns, entry.journal_id))
                continue
            kind, data, outcome = self._event(entry.item)
            if outcome is not None and entry.frame_id is not None:
                results.append((entry.frame_id, *outcome))
            if entry.journal_error:
                data["journal_error"] = entry.journal_error
            events.append((kind, data, entry.t_ns, entry.frame_id))
        if results:
            try:
                self.journal.set_decoded_many(results)
            except sqlite3.Error as exc:  # the raw frames are durable; the decodes can be redone from them
                log.warning("%s: could not journal %d decode(s): %s", self.source, len(results), exc)
        self.bus.publish_many(self.source, events, restore=self._restore)

    def _restore(self, first_id: int, last_id: int) -> list[tuple[str, int, dict[str, object]]]:
        """The events published for journal ids ``first_id`` to ``last_id``, re-read from the
        journal and re-decoded (the bus's way back to events it no longer holds)."""
        frames = self.journal.frames(since_id=first_id - 1, until_id=last_id, source=self.source, direction="in")
        restored: list[tuple[str, int, dict[str, object]]] = []
        for frame in frames:
            if frame.kind == LINK_KIND:
                restored.append((LINK, frame.t_ns, dict(frame.record or {})))
            else:
                kind, data, _ = self._event(self._item(frame))
                restored.append((kind, frame.t_ns, data))
        return restored

    # the plan's side -------------------------------------------------------------------------

    def send(self, payload: bytes) -> int:
        """Frame ``payload``, journal it (direction ``out``, with its decode) and write it; returns its id."""
        raw = self.framing.encode(payload)
        t_ns = self.clock.now_ns()
        record, error, _ = self.decode(payload)
        (frame_id,) = self.journal.append_many(
            [NewFrame("out", t_ns, wall_ns(self.clock, t_ns), raw, self.source, "frame", (record, error))])
        self.transport.write(raw)
        return frame_id

    def mark(self) -> int:
        """A bus position: pass it as ``since`` to wait only for what arrives after now."""
        return self.bus.mark()

    def wait_for(self, wanted: Match, timeout_s: float, *, since: int | None = None, what: str) -> Event:
        """The first event from this source after ``since`` (default: now) that ``wanted`` accepts;
        on timeout :class:`WaitTimeout` lists what did arrive and names the journal."""
        try:
            return self.bus.wait_for(lambda e: e.source == self.source and wanted(e), timeout_s, since=since,
                                     what=what)
        except WaitTimeout as exc:
            text = str(exc)
            if str(self.journal.path) not in text:
                text += f"\njournal: {self.journal.path}"
            raise WaitTimeout(text) from None

    def stats(self) -> CaptureStats:
        with self._lock:
            return CaptureStats(self._frames, self._commits, self._pending, self._max_queued, self._max_backlog, self._spilled,
                                self._waits)

    def close(self) -> None:
        """Stop capturing: what was read is framed, journalled (an incomplete last line as
        such), decoded and published before this returns. The journal stays open (it belongs
        to the run)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True  # the reader must not wait for room it will never get
            self._room.notify_all()
        self.transport.close()
        if not self._threads:
            self._publish(self._commit(self._flush()))
            return
        with self._lock:
            self._stopping = True
            self._to_write.notify()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(self.JOIN_S)
                if thread.is_alive():
                    log.warning("%s: %s did not finish within %g s", self.source, thread.name, self.JOIN_S)


def _rejected(stage: str, error: str, raw: bytes, offset: int | None) -> dict[str, object]:
    data: dict[str, object] = {"stage": stage, "error": error, "raw_hex": raw.hex().upper()}
    if offset is not None:
        data["offset"] = offset
    return data
