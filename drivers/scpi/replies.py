"""Defensive parsing of instrument replies: every byte from an instrument is untrusted.

Each parser returns a value or raises :class:`ReplyError` with a short, printable excerpt of what
arrived; the driver adds the instrument and the command it had sent.
"""

from __future__ import annotations

import math
import re

MAX_REPLY = 512
"""Longer text replies are refused: no instrument answers a set-point, state or error query with more
(traces come as binary blocks, :func:`parse_block`)."""
MAX_ABS_READING = 1e6
"""SCPI's 9.9E37 'overflow / no reading' and anything beyond a bench supply's range."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SCPI_ERROR = re.compile(r'([+-]?\d+)\s*,\s*"?(.*?)"?\s*$', re.DOTALL)


class ReplyError(ValueError):
    """A reply that does not have the expected shape."""


def excerpt(reply: object, limit: int = 60) -> str:
    """A safe, bounded representation of an untrusted reply for error messages."""
    text = repr(reply)
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


def clean(reply: object) -> str:
    """The reply as stripped printable text, or :class:`ReplyError`."""
    if not isinstance(reply, str):
        raise ReplyError(f"expected text, got {type(reply).__name__} {excerpt(reply)}")
    if len(reply) > MAX_REPLY:
        raise ReplyError(f"reply of {len(reply)} characters is too long: {excerpt(reply)}")
    text = reply.strip()
    if any(not ch.isprintable() for ch in text):
        raise ReplyError(f"reply has non-printable characters: {excerpt(reply)}")
    return text


def parse_number(reply: object, unit: str = "") -> float:
    """A finite reading such as ``230.01``, ``+2.30010E+02`` or (Aim-TTi) ``12.00V``."""
    text = clean(reply)
    if unit and text.upper().endswith(unit.upper()):
        text = text[: -len(unit)].rstrip()
    if not _NUMBER.fullmatch(text):
        raise ReplyError(f"expected a number{' in ' + unit if unit else ''}, got {excerpt(reply)}")
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_ABS_READING:
        raise ReplyError(f"reading {excerpt(reply)} is out of any supply's range (overflow?)")
    return value


def parse_state(reply: object, replies: tuple[str, str]) -> bool:
    """An output state: ``replies`` are the texts meaning (off, on); 0/1 and OFF/ON are accepted."""
    text = clean(reply).upper()
    off, on = (r.upper() for r in replies)
    if text in (on, "1", "ON", "+1"):
        return True
    if text in (off, "0", "OFF", "+0"):
        return False
    raise ReplyError(f"expected {off} or {on}, got {excerpt(reply)}")


def parse_opc(reply: object) -> None:
    """``*OPC?`` must answer 1."""
    if clean(reply) not in ("1", "+1"):
        raise ReplyError(f"*OPC? should answer 1, got {excerpt(reply)}")


def parse_scpi_error(reply: object) -> tuple[int, str]:
    """One SCPI error-queue entry ``-222,"Data out of range"`` as (code, text); code 0 = empty."""
    text = clean(reply)
    found = _SCPI_ERROR.fullmatch(text)
    if not found:
        raise ReplyError(f'expected <code>,"<text>" from the error queue, got {excerpt(reply)}')
    return int(found.group(1)), found.group(2).strip()


def parse_register(reply: object) -> int:
    """A status or error register value (non-negative integer)."""
    text = clean(reply).lstrip("+")
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise ReplyError(f"expected a register value, got {excerpt(reply)}")
    return int(text)


def parse_marker(reply: object, marker: int) -> bool:
    """Whether ``reply`` is exactly the register value ``marker`` (the resynchronisation round trip)."""
    try:
        return parse_register(reply) == marker
    except ReplyError:
        return False


def parse_block(raw: object, max_bytes: int) -> bytes:
    """An IEEE 488.2 definite-length block ``#<n><length><data>`` (a trailing newline is allowed)."""
    if not isinstance(raw, (bytes, bytearray)):
        raise ReplyError(f"expected a binary block, got {type(raw).__name__}")
    if len(raw) < 2 or raw[:1] != b"#" or not raw[1:2].isdigit() or raw[1:2] == b"0":
        raise ReplyError(f"expected a definite-length block '#<n><length>...', got {excerpt(bytes(raw[:20]))}")
    digits = int(raw[1:2])
    header = bytes(raw[2:2 + digits])
    if len(header) != digits or not header.isdigit():
        raise ReplyError(f"block length field {excerpt(header)} is not {digits} digits")
    length = int(header)
    if length > max_bytes:
        raise ReplyError(f"block of {length} bytes exceeds the {max_bytes}-byte bound")
    data = bytes(raw[2 + digits:2 + digits + length])
    rest = bytes(raw[2 + digits + length:])
    if len(data) != length or rest not in (b"", b"\n", b"\r\n"):
        raise ReplyError(f"block says {length} bytes but {len(raw) - 2 - digits} followed")
    return data


def parse_identity(reply: object) -> str:
    """An ``*IDN?`` answer: non-empty printable text."""
    text = clean(reply)
    if not text:
        raise ReplyError("empty *IDN? reply")
    return text
