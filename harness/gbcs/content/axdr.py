"""DLMS A-XDR ``Data`` as typed JSON, with paired decode/encode, plus COSEM date-time and OBIS.

A decoded value is ``{"type": <DLMS type name>, "value": ...}``: ints for the integer types and
enum, bool for boolean (the raw int if a device sends a non-canonical true), uppercase hex for
octet-string, text for visible/utf8-string, a '0'/'1' string for bit-string, a list for array
and structure, a COSEM date-time (see :func:`decode_datetime`) for date-time. ``encode_data``
is the exact inverse, so ``encode_data(decode_data(b)) == b`` for every well-formed ``b``.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime

from hubrig.harness.gbcs.errors import GbcsError

MAX_DEPTH = 32
"""Deepest array/structure nesting accepted from a device (GBCS needs fewer than 8)."""

# tag -> (type name, size in bytes, signed)
_INTEGERS = {
    5: ("double-long", 4, True),
    6: ("double-long-unsigned", 4, False),
    13: ("bcd", 1, True),
    15: ("integer", 1, True),
    16: ("long", 2, True),
    17: ("unsigned", 1, False),
    18: ("long-unsigned", 2, False),
    20: ("long64", 8, True),
    21: ("long64-unsigned", 8, False),
    22: ("enum", 1, False),
}
_INTEGER_TAGS = {name: (tag, size, signed) for tag, (name, size, signed) in _INTEGERS.items()}
_FIXED_HEX = {26: ("date", 5), 27: ("time", 4)}
_FIXED_HEX_TAGS = {name: (tag, size) for tag, (name, size) in _FIXED_HEX.items()}
_FLOATS = {23: ("float32", ">f", 4), 24: ("float64", ">d", 8)}
_FLOAT_TAGS = {name: (tag, fmt, size) for tag, (name, fmt, size) in _FLOATS.items()}
_STRINGS = {9: "octet-string", 10: "visible-string", 12: "utf8-string"}

NULL = {"type": "null-data", "value": None}
"""A null-data value for the encoders (read-only: decoding returns a new dict each time)."""


# -- lengths ---------------------------------------------------------------------------------

def read_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A-XDR length at ``pos``: one byte below 0x80, else 0x81..0x84 and that many bytes."""
    if pos >= end:
        raise GbcsError("length missing", pos)
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    width = first & 0x7F
    if not 1 <= width <= 4:
        raise GbcsError(f"unsupported length form 0x{first:02X}", pos)
    stop = pos + 1 + width
    if stop > end:
        raise GbcsError("length truncated", pos)
    value = int.from_bytes(buf[pos + 1:stop], "big")
    if value < 0x80 or value >> (8 * (width - 1)) == 0:
        raise GbcsError(f"non-minimal length 0x{value:X}", pos)
    return value, stop


def encode_length(value: int) -> bytes:
    """The minimal A-XDR length encoding of ``value``."""
    if value < 0:
        raise GbcsError(f"negative length {value}")
    if value < 0x80:
        return bytes((value,))
    width = (value.bit_length() + 7) // 8
    if width > 4:
        raise GbcsError(f"length {value} too large")
    return bytes((0x80 | width,)) + value.to_bytes(width, "big")


def take(buf: bytes, pos: int, end: int, size: int, what: str) -> int:
    """Check that ``size`` bytes of ``what`` are there at ``pos``; returns where they end."""
    stop = pos + size
    if stop > end:
        raise GbcsError(f"{what} truncated: needs {size} bytes, {end - pos} left", pos)
    return stop


# -- COSEM date-time -------------------------------------------------------------------------

_RAW_FIELDS = ("year", "month", "day", "weekday", "hour", "minute", "second", "hundredths",
               "deviation", "clock_status")


def decode_datetime(raw: bytes, weekday: bool = False) -> str | dict:
    """12-byte COSEM date-time -> ISO 8601 string, or the raw fields when not fully specified.

    GBCS date-times are UTC with deviation 0x8000 ("not specified"), clock status 0xFF and
    weekday 0xFF (``weekday`` True: the true weekday, as the CHF writes in its device log).
    Exactly that form becomes an aware UTC ISO string; anything else (wildcards, a deviation, a
    weekday, the NOW/NEVER markers) is returned as a dict of the ten raw fields, so nothing is
    lost and :func:`encode_datetime` with the same ``weekday`` gives back the same bytes.
    """
    year = (raw[0] << 8) | raw[1]
    month, day, dow, hour, minute, second, hundredths = raw[2:9]
    deviation = (raw[9] << 8) | raw[10]
    status = raw[11]
    if (status == 0xFF and deviation == 0x8000 and hundredths < 100 and hour < 24
            and minute < 60 and second < 60 and 1 <= month <= 12 and year):
        try:
            when = datetime(year, month, day, hour, minute, second, hundredths * 10_000,
                            tzinfo=UTC)
        except ValueError:
            pass
        else:
            if dow == (when.isoweekday() if weekday else 0xFF):
                return when.isoformat()
    if deviation >= 0x8000:
        deviation -= 0x10000
    return dict(zip(_RAW_FIELDS, (year, month, day, dow, hour, minute, second, hundredths,
                                  deviation, status)))


def encode_datetime(value: str | datetime | dict, weekday: bool = False) -> bytes:
    """Inverse of :func:`decode_datetime`; also takes an aware ``datetime``.

    Times are converted to UTC and truncated to hundredths of a second (COSEM's resolution);
    ``weekday`` writes the true weekday instead of 0xFF.
    """
    if isinstance(value, dict):
        try:
            parts = [int(value[name]) for name in _RAW_FIELDS]
        except (KeyError, TypeError, ValueError) as exc:
            raise GbcsError(f"COSEM date-time needs the fields {', '.join(_RAW_FIELDS)}") from exc
        year, *middle, deviation, status = parts
        if not (0 <= year <= 0xFFFF and all(0 <= v <= 0xFF for v in middle)
                and -0x8000 <= deviation <= 0x7FFF and 0 <= status <= 0xFF):
            raise GbcsError(f"COSEM date-time field out of range: {value}")
        return (year.to_bytes(2, "big") + bytes(middle)
                + (deviation & 0xFFFF).to_bytes(2, "big") + bytes((status,)))
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise GbcsError(f"not an ISO date-time: {value!r}") from exc
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise GbcsError(f"COSEM date-time needs an aware datetime, got {value!r}")
    utc = value.astimezone(UTC)
    return (utc.year.to_bytes(2, "big")
            + bytes((utc.month, utc.day, utc.isoweekday() if weekday else 0xFF, utc.hour,
                     utc.minute, utc.second, utc.microsecond // 10_000, 0x80, 0x00, 0xFF)))


# -- OBIS ------------------------------------------------------------------------------------

def decode_obis(raw: bytes) -> str:
    """6-byte logical name -> 'A-B:C.D.E.F' (remembered: a device uses a handful of names)."""
    text = _OBIS_TEXT.get(raw)
    if text is None:
        text = f"{raw[0]}-{raw[1]}:{raw[2]}.{raw[3]}.{raw[4]}.{raw[5]}"
        if len(_OBIS_TEXT) < 4096:
            _OBIS_TEXT[raw] = text
    return text


_OBIS_TEXT: dict[bytes, str] = {}


def encode_obis(text: str) -> bytes:
    """'A-B:C.D.E.F' -> 6 bytes."""
    try:
        a, rest = text.split("-", 1)
        b, rest = rest.split(":", 1)
        parts = [int(a), int(b), *(int(part) for part in rest.split("."))]
        if len(parts) != 6:
            raise ValueError("six groups needed")
        return bytes(parts)
    except (ValueError, AttributeError, TypeError) as exc:
        raise GbcsError(f"not an OBIS code: {text!r}") from exc


# -- Data ------------------------------------------------------------------------------------

def decode_data(buf: bytes, pos: int, end: int, depth: int = 0) -> tuple[dict, int]:
    """One tagged A-XDR ``Data`` at ``pos``; returns (typed value, position after it)."""
    if pos >= end:
        raise GbcsError("data truncated: type tag missing", pos)
    tag = buf[pos]
    pos += 1
    spec = _INTEGERS.get(tag)
    if spec is not None:
        name, size, signed = spec
        stop = take(buf, pos, end, size, name)
        return {"type": name, "value": int.from_bytes(buf[pos:stop], "big", signed=signed)}, stop
    if tag in _STRINGS:
        size, pos = read_length(buf, pos, end)
        stop = take(buf, pos, end, size, _STRINGS[tag])
        raw = buf[pos:stop]
        if tag == 9:
            return {"type": "octet-string", "value": raw.hex().upper()}, stop
        if tag == 10:
            return {"type": "visible-string", "value": raw.decode("latin-1")}, stop
        try:
            return {"type": "utf8-string", "value": raw.decode("utf-8")}, stop
        except UnicodeDecodeError as exc:
            raise GbcsError("utf8-string is not valid UTF-8", pos + exc.start) from None
    if tag == 1 or tag == 2:
        if depth >= MAX_DEPTH:
            raise GbcsError(f"data nested deeper than {MAX_DEPTH}", pos - 1)
        count, pos = read_length(buf, pos, end)
        if count > end - pos:
            raise GbcsError(f"{count} elements cannot fit in {end - pos} bytes", pos)
        items, pos = _decode_items(buf, pos, end, count, depth + 1)
        return {"type": "array" if tag == 1 else "structure", "value": items}, pos
    if tag == 0:
        return {"type": "null-data", "value": None}, pos  # a fresh dict: callers may annotate nodes
    if tag == 3:
        stop = take(buf, pos, end, 1, "boolean")
        raw = buf[pos]
        return {"type": "boolean", "value": raw == 0xFF if raw in (0, 0xFF) else raw}, stop
    if tag == 4:
        bits, pos = read_length(buf, pos, end)
        size = (bits + 7) >> 3
        stop = take(buf, pos, end, size, "bit-string")
        number = int.from_bytes(buf[pos:stop], "big")
        if number & ((1 << (size * 8 - bits)) - 1):
            raise GbcsError("bit-string padding bits are not zero", stop - 1)
        text = format(number, f"0{size * 8}b")[:bits] if size else ""
        return {"type": "bit-string", "value": text}, stop
    if tag == 25:
        stop = take(buf, pos, end, 12, "date-time")
        return {"type": "date-time", "value": decode_datetime(buf[pos:stop])}, stop
    if tag in _FIXED_HEX:
        name, size = _FIXED_HEX[tag]
        stop = take(buf, pos, end, size, name)
        return {"type": name, "value": buf[pos:stop].hex().upper()}, stop
    if tag in _FLOATS:
        name, fmt, size = _FLOATS[tag]
        stop = take(buf, pos, end, size, name)
        number = struct.unpack(fmt, buf[pos:stop])[0]
        return {"type": name,
                "value": number if math.isfinite(number) else buf[pos:stop].hex().upper()}, stop
    if tag == 19:
        start = pos
        description_end = pos = _skip_type_description(buf, pos, end, depth)
        size, pos = read_length(buf, pos, end)
        stop = take(buf, pos, end, size, "compact-array contents")
        node = {"type": "compact-array", "value": buf[start:stop].hex().upper()}
        try:  # the elements through the type description; the hex above stays the bytes' record
            node["element_type"], node["elements"] = compact.decode(buf[start:stop], description_end - start)
        except GbcsError as exc:
            node["elements_error"] = str(exc)
        return node, stop
    if tag == 255:
        return {"type": "dont-care", "value": None}, pos
    raise GbcsError(f"unknown DLMS data type tag 0x{tag:02X}", pos - 1)


def _decode_items(buf: bytes, pos: int, end: int, count: int, depth: int) -> tuple[list, int]:
    """``count`` Data in a row: integers and short octet-strings inline (most of a GBCS tariff or
    log is those), anything else through :func:`decode_data`. Same values, fewer calls per byte."""
    items = []
    append = items.append
    integers = _INTEGERS
    from_bytes = int.from_bytes
    for _ in range(count):
        if pos >= end:
            raise GbcsError("data truncated: type tag missing", pos)
        tag = buf[pos]
        spec = integers.get(tag)
        if spec is not None:
            name, size, signed = spec
            stop = pos + 1 + size
            if stop > end:
                raise GbcsError(f"{name} truncated: needs {size} bytes, {end - pos - 1} left", pos + 1)
            append({"type": name, "value": from_bytes(buf[pos + 1:stop], "big", signed=signed)})
            pos = stop
        elif (tag == 2 or tag == 1) and pos + 1 < end and buf[pos + 1] < 0x80:
            if depth >= MAX_DEPTH:
                raise GbcsError(f"data nested deeper than {MAX_DEPTH}", pos)
            inner = buf[pos + 1]
            if inner > end - pos - 2:
                raise GbcsError(f"{inner} elements cannot fit in {end - pos - 2} bytes", pos + 2)
            value, pos = _decode_items(buf, pos + 2, end, inner, depth + 1)
            append({"type": "structure" if tag == 2 else "array", "value": value})
        elif tag == 9 and pos + 1 < end and buf[pos + 1] < 0x80:
            stop = pos + 2 + buf[pos + 1]
            if stop > end:
                raise GbcsError(f"octet-string truncated: needs {buf[pos + 1]} bytes, {end - pos - 2} left", pos + 2)
            append({"type": "octet-string", "value": buf[pos + 2:stop].hex().upper()})
            pos = stop
        else:
            item, pos = decode_data(buf, pos, end, depth)
            append(item)
    return items, pos


def _skip_type_description(buf: bytes, pos: int, end: int, depth: int) -> int:
    if depth >= MAX_DEPTH:
        raise GbcsError(f"type description nested deeper than {MAX_DEPTH}", pos)
    if pos >= end:
        raise GbcsError("compact-array type description truncated", pos)
    tag = buf[pos]
    pos += 1
    if tag == 1:
        pos = take(buf, pos, end, 2, "compact-array element count")
        return _skip_type_description(buf, pos, end, depth + 1)
    if tag == 2:
        count, pos = read_length(buf, pos, end)
        if count > end - pos:
            raise GbcsError(f"{count} type descriptions cannot fit in {end - pos} bytes", pos)
        for _ in range(count):
            pos = _skip_type_description(buf, pos, end, depth + 1)
    return pos


def decode_data_exact(buf: bytes, pos: int = 0) -> dict:
    """Exactly one ``Data`` filling ``buf[pos:]``."""
    value, stop = decode_data(buf, pos, len(buf))
    if stop != len(buf):
        raise GbcsError(f"{len(buf) - stop} bytes after the data", stop)
    return value


def encode_data(value: dict) -> bytes:
    """Typed JSON -> tagged A-XDR bytes (inverse of :func:`decode_data`)."""
    out: list[bytes] = []
    _encode_into(value, out, 0)
    return b"".join(out)


def _encode_into(node: dict, out: list[bytes], depth: int) -> None:
    try:
        kind = node["type"]
        value = node["value"]
    except (KeyError, TypeError) as exc:
        raise GbcsError(f"DLMS data must be {{'type', 'value'}}, got {node!r}") from exc
    try:
        if kind in _INTEGER_TAGS:
            tag, size, signed = _INTEGER_TAGS[kind]
            if isinstance(value, bool):
                raise TypeError("bool is not an integer")
            out.append(bytes((tag,)) + int(value).to_bytes(size, "big", signed=signed))
        elif kind == "octet-string":
            raw = bytes.fromhex(value)
            out.append(b"\x09" + encode_length(len(raw)) + raw)
        elif kind in ("visible-string", "utf8-string"):
            raw = value.encode("latin-1" if kind == "visible-string" else "utf-8")
            out.append((b"\x0a" if kind == "visible-string" else b"\x0c")
                       + encode_length(len(raw)) + raw)
        elif kind in ("array", "structure"):
            if depth >= MAX_DEPTH:
                raise GbcsError(f"data nested deeper than {MAX_DEPTH}")
            out.append((b"\x01" if kind == "array" else b"\x02") + encode_length(len(value)))
            for item in value:
                _encode_into(item, out, depth + 1)
        elif kind == "null-data":
            out.append(b"\x00")
        elif kind == "boolean":
            raw = value if isinstance(value, int) and not isinstance(value, bool) else \
                (0xFF if value else 0)
            out.append(bytes((3, raw)))
        elif kind == "bit-string":
            if value.strip("01"):
                raise ValueError(f"bit-string must be 0s and 1s: {value!r}")
            size = (len(value) + 7) >> 3
            number = int(value.ljust(size * 8, "0"), 2) if value else 0
            out.append(b"\x04" + encode_length(len(value)) + number.to_bytes(size, "big"))
        elif kind == "date-time":
            out.append(b"\x19" + encode_datetime(value))
        elif kind in _FIXED_HEX_TAGS:
            tag, size = _FIXED_HEX_TAGS[kind]
            raw = bytes.fromhex(value)
            if len(raw) != size:
                raise ValueError(f"{kind} needs {size} bytes")
            out.append(bytes((tag,)) + raw)
        elif kind in _FLOAT_TAGS:
            tag, fmt, size = _FLOAT_TAGS[kind]
            raw = bytes.fromhex(value) if isinstance(value, str) else struct.pack(fmt, value)
            if len(raw) != size:
                raise ValueError(f"{kind} needs {size} bytes")
            out.append(bytes((tag,)) + raw)
        elif kind == "compact-array":
            out.append(b"\x13" + (bytes.fromhex(value) if value is not None
                                   else compact.encode(node["element_type"], node["elements"])))
        elif kind == "dont-care":
            out.append(b"\xff")
        else:
            raise GbcsError(f"unknown DLMS data type {kind!r}")
    except GbcsError:
        raise
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise GbcsError(f"cannot encode {kind} {value!r}: {exc}") from exc


from hubrig.harness.gbcs.content import compact  # noqa: E402  (compact reads this module's helpers)
