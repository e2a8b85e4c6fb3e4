"""Streaming link framings: bytes from a transport in, GBCS frames and notifications out.

The default is the GFI framing, one text line per message::

    GBCS:DATA#0:<decimal byte length>:<HEX>\\r\\n

Whether a real Wired ITCH uses exactly this is not public, so framings are pluggable
(:data:`FRAMINGS`, :func:`make_framing`) and non-GBCS lines can be recognised by configurable
regular expressions (e.g. the ITCH's stand-in for the DCC ``AD1`` Power Outage alert).

A framing is fed arbitrary chunks and returns, in order, :class:`Frame`, :class:`Notification`
and :class:`FramingError` items; the same bytes give the same items however they are chunked.
Garbage is reported and skipped up to the next line end; a line longer than ``max_line`` is
reported (its first ``max_line`` bytes kept) and dropped, so a device streaming junk cannot
exhaust memory. ``parse`` frames one stored frame's bytes on their own (the capture pipeline's
decoder reads frames back from the journal with it). :class:`DatagramFraming` is for sources
whose library delimits frames itself: each chunk is one frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, Union


@dataclass(frozen=True)
class Frame:
    """One GBCS message payload and the exact line that carried it."""

    payload: bytes
    raw: bytes


@dataclass(frozen=True)
class Notification:
    """A recognised non-GBCS line: ``name`` of the matching pattern and its named groups."""

    name: str
    fields: dict = field(hash=False)
    raw: bytes


@dataclass(frozen=True)
class FramingError:
    """Bytes that could not be framed, with why."""

    error: str
    raw: bytes


Item = Union[Frame, Notification, FramingError]


class LinkFraming(Protocol):
    """What the capture pipeline needs from a framing."""

    def feed(self, chunk: bytes) -> list[Item]: ...

    def flush(self) -> list[Item]: ...

    def encode(self, payload: bytes) -> bytes: ...

    def parse(self, raw: bytes) -> Item:
        """The item one complete frame's exact bytes (a ``Frame``'s ``raw``) frame to, without
        touching the stream's state: how the capture re-reads frames from its journal."""
        ...


_HEX = frozenset(b"0123456789ABCDEFabcdef")


class GfiFraming:
    """GFI text lines ``GBCS:DATA#0:<len>:<HEX>`` ended by CR LF (a bare LF is accepted)."""

    PREFIX = b"GBCS:DATA#0:"
    MAX_LENGTH_DIGITS = 7

    def __init__(self, max_line: int = 1 << 17, notifications: dict[str, str] | None = None):
        if max_line < len(self.PREFIX) + 4:
            raise ValueError(f"max_line {max_line} is too small for any GFI line")
        self.max_line = max_line
        self.notifications = {name: re.compile(pattern) for name, pattern in (notifications or {}).items()}
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line, dropping bytes up to its end

    def feed(self, chunk: bytes) -> list[Item]:
        """Consume ``chunk``; return every item completed by it."""
        out: list[Item] = []
        start = 0
        n = len(chunk)
        while start < n:
            nl = chunk.find(b"\n", start)
            end = n if nl < 0 else nl
            if self._skipping:
                if nl >= 0:
                    self._skipping = False
                start = end + 1
                continue
            room = self.max_line + 1 - len(self._buffer)  # +1: a trailing CR is not counted
            piece = chunk[start:end]
            if len(piece) > room:
                self._buffer += piece[:room]
                out.append(self._overlong())
                if nl < 0:
                    self._skipping = True
                start = end + 1
                continue
            self._buffer += piece
            if nl < 0:
                break
            line = bytes(self._buffer)
            self._buffer.clear()
            self._line(line, out)
            start = nl + 1
        return out

    def flush(self) -> list[Item]:
        """End of stream: report a pending partial line as truncated."""
        out: list[Item] = []
        if self._buffer:
            out.append(FramingError("line truncated at end of stream", bytes(self._buffer)))
        self._buffer.clear()
        self._skipping = False
        return out

    def encode(self, payload: bytes) -> bytes:
        """The GFI line for one GBCS message."""
        return self.PREFIX + str(len(payload)).encode() + b":" + payload.hex().upper().encode() + b"\r\n"

    def parse(self, raw: bytes) -> Item:
        """The item a complete GFI line (with its line end) frames to; the stream is untouched."""
        body = raw[:-1] if raw.endswith(b"\n") else raw
        body = body[:-1] if body.endswith(b"\r") else body
        return self._frame(body, raw) if body.startswith(self.PREFIX) else self._other(body, raw)

    def _overlong(self) -> FramingError:
        raw = bytes(self._buffer[:self.max_line])
        self._buffer.clear()
        return FramingError(f"line longer than {self.max_line} bytes", raw)

    def _line(self, line: bytes, out: list[Item]) -> None:
        """Frame one line (its LF already removed); the item that ends it keeps the exact
        terminator in ``raw`` so the journal holds what was on the wire."""
        body = line[:-1] if line.endswith(b"\r") else line
        end = line[len(body):] + b"\n"
        if len(body) > self.max_line:
            self._buffer += body
            out.append(self._overlong())
            return
        if not body.strip():
            return
        at = body.find(self.PREFIX)
        if at < 0:
            out.append(self._other(body, body + end))
            return
        if at > 0:
            out.append(FramingError("garbage before GBCS frame", body[:at]))
            body = body[at:]
        out.append(self._frame(body, body + end))

    def _frame(self, body: bytes, raw: bytes) -> Item:
        """The frame on line ``body``; ``raw`` (the line with its end) is what the item keeps."""
        rest = body[len(self.PREFIX):]
        length_text, sep, hex_text = rest.partition(b":")
        if not sep or not length_text.isdigit() or len(length_text) > self.MAX_LENGTH_DIGITS:
            return FramingError("bad length field in GBCS frame", raw)
        if not hex_text or len(hex_text) % 2 or not _HEX.issuperset(hex_text):
            return FramingError("payload is not an even number of hex digits", raw)
        payload = bytes.fromhex(hex_text.decode("ascii"))
        if len(payload) != int(length_text):
            return FramingError(f"length field says {int(length_text)} bytes, payload has "
                                f"{len(payload)}", raw)
        return Frame(payload, raw)

    def _other(self, body: bytes, raw: bytes) -> Item:
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            return FramingError("unrecognised line (not ASCII)", raw)
        for name, pattern in self.notifications.items():
            m = pattern.search(text)
            if m:
                return Notification(name, m.groupdict(), raw)
        return FramingError("unrecognised line", raw)


class DatagramFraming:
    """Each chunk is one whole frame: for sources whose library delimits frames itself (bellows
    hands over whole EZSP frames), captured through the same pipeline as a byte stream."""

    def feed(self, chunk: bytes) -> list[Item]:
        return [Frame(bytes(chunk), bytes(chunk))] if chunk else []

    def flush(self) -> list[Item]:
        return []

    def encode(self, payload: bytes) -> bytes:
        return bytes(payload)

    def parse(self, raw: bytes) -> Item:
        return Frame(bytes(raw), bytes(raw))


FRAMINGS: dict[str, type] = {"gfi": GfiFraming}


def make_framing(name: str, **options) -> LinkFraming:
    """A framing by registry name, e.g. ``make_framing("gfi", notifications={...})``."""
    try:
        cls = FRAMINGS[name]
    except KeyError:
        raise ValueError(f"unknown link framing {name!r}; known: {', '.join(sorted(FRAMINGS))}") from None
    return cls(**options)
