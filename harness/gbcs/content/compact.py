"""DLMS compact arrays (data type 19) decoded through their type description.

A compact array is a type description, then a length, then the elements' untagged values one after
another (IEC 62056-6-2, "compact-array"; the same walk as the public reference parser's
``parseDlmsCompactArray``). The description becomes ``element_type``: a DLMS type name for a simple
type, ``{"structure": [...]}`` or ``{"array": n, "of": ...}``; each element becomes a plain value
(int, bool, hex for octet-string/date/time, text for visible/utf8-string, '0'/'1' text for
bit-string, a COSEM date-time as in :mod:`.axdr`, a list for structures and arrays).
``encode`` is the inverse: ``encode(*decode(raw)) == raw``.

Each description is compiled once into a reader (cached by its bytes), so a log of hundreds of
entries costs one dictionary lookup per field, not a walk of the description per element.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache

from hubrig.harness.gbcs.content.axdr import (
    MAX_DEPTH, decode_datetime, encode_datetime, encode_length, read_length, take,
)
from hubrig.harness.gbcs.errors import GbcsError

_FIXED = {3: ("boolean", 1), 5: ("double-long", 4), 6: ("double-long-unsigned", 4), 13: ("bcd", 1),
          15: ("integer", 1), 16: ("long", 2), 17: ("unsigned", 1), 18: ("long-unsigned", 2),
          20: ("long64", 8), 21: ("long64-unsigned", 8), 22: ("enum", 1), 23: ("float32", 4),
          24: ("float64", 8), 25: ("date-time", 12), 26: ("date", 5), 27: ("time", 4)}
_SIGNED = {5, 13, 15, 16, 20}
_VARIABLE = {4: "bit-string", 9: "octet-string", 10: "visible-string", 12: "utf8-string"}
_TAGS = {name: tag for tag, (name, _) in _FIXED.items()} | {name: tag for tag, name in _VARIABLE.items()}

Reader = Callable[[bytes, int, int], tuple[object, int]]
ElementType = str | dict


def _leaf(tag: int) -> Reader:
    if tag in _FIXED:
        size = _FIXED[tag][1]
        signed = tag in _SIGNED
        if tag == 3:
            def read(buf: bytes, pos: int, end: int) -> tuple[object, int]:
                stop = take(buf, pos, end, 1, "boolean")
                raw = buf[pos]
                return (raw == 0xFF if raw in (0, 0xFF) else raw), stop
        elif tag in (23, 24):
            fmt = ">f" if tag == 23 else ">d"

            def read(buf: bytes, pos: int, end: int) -> tuple[object, int]:
                stop = take(buf, pos, end, size, "float")
                value = struct.unpack(fmt, buf[pos:stop])[0]
                return (value if value == value and abs(value) != float("inf")
                        else buf[pos:stop].hex().upper()), stop
        elif tag == 25:
            def read(buf: bytes, pos: int, end: int) -> tuple[object, int]:
                stop = take(buf, pos, end, 12, "date-time")
                return decode_datetime(buf[pos:stop]), stop
        elif tag in (26, 27):
            def read(buf: bytes, pos: int, end: int) -> tuple[object, int]:
                stop = take(buf, pos, end, size, _FIXED[tag][0])
                return buf[pos:stop].hex().upper(), stop
        else:
            def read(buf: bytes, pos: int, end: int) -> tuple[object, int]:
                stop = pos + size
                if stop > end:
                    raise GbcsError(f"{_FIXED[tag][0]} truncated", pos)
                return int.from_bytes(buf[pos:stop], "big", signed=signed), stop
        return read
    name = _VARIABLE[tag]

    def read_variable(buf: bytes, pos: int, end: int) -> tuple[object, int]:
        size, pos = read_length(buf, pos, end)
        if tag == 4:
            nbytes = (size + 7) >> 3
            stop = take(buf, pos, end, nbytes, name)
            return (format(int.from_bytes(buf[pos:stop], "big"), f"0{nbytes * 8}b")[:size] if nbytes else ""), stop
        stop = take(buf, pos, end, size, name)
        raw = buf[pos:stop]
        if tag == 9:
            return raw.hex().upper(), stop
        try:
            return raw.decode("latin-1" if tag == 10 else "utf-8"), stop
        except UnicodeDecodeError:
            raise GbcsError(f"{name} is not valid text", pos) from None
    return read_variable


def _description(buf: bytes, pos: int, end: int, depth: int) -> tuple[ElementType, Reader, int]:
    if depth >= MAX_DEPTH:
        raise GbcsError(f"type description nested deeper than {MAX_DEPTH}", pos)
    stop = take(buf, pos, end, 1, "compact-array type description")
    tag = buf[pos]
    if tag == 1:
        stop = take(buf, stop, end, 2, "compact-array element count")
        count = int.from_bytes(buf[stop - 2:stop], "big")
        inner, read_one, stop = _description(buf, stop, end, depth + 1)

        def read_array(data: bytes, at: int, limit: int) -> tuple[object, int]:
            items = []
            for _ in range(count):
                item, at = read_one(data, at, limit)
                items.append(item)
            return items, at
        return {"array": count, "of": inner}, read_array, stop
    if tag == 2:
        count, stop = read_length(buf, stop, end)
        if count > end - stop:
            raise GbcsError(f"{count} type descriptions cannot fit in {end - stop} bytes", stop)
        types, readers = [], []
        for _ in range(count):
            inner, read_one, stop = _description(buf, stop, end, depth + 1)
            types.append(inner)
            readers.append(read_one)

        def read_structure(data: bytes, at: int, limit: int) -> tuple[object, int]:
            items = []
            for read_one in readers:
                item, at = read_one(data, at, limit)
                items.append(item)
            return items, at
        return {"structure": types}, read_structure, stop
    if tag in _FIXED or tag in _VARIABLE:
        return (_FIXED[tag][0] if tag in _FIXED else _VARIABLE[tag]), _leaf(tag), stop
    raise GbcsError(f"compact-array type 0x{tag:02X} has no fixed encoding", pos)


@lru_cache(maxsize=256)
def _compiled(description: bytes) -> tuple[ElementType, Reader]:
    element_type, read, stop = _description(description, 0, len(description), 0)
    if stop != len(description):
        raise GbcsError("bytes after the type description", stop)
    return element_type, read


def decode(raw: bytes, description_end: int) -> tuple[ElementType, list]:
    """(element type, elements) of a compact array's bytes after its tag; ``description_end`` is
    where its type description stops (the caller has checked the lengths)."""
    element_type, read = _compiled(raw[:description_end])
    size, pos = read_length(raw, description_end, len(raw))
    end = take(raw, pos, len(raw), size, "compact-array contents")
    elements = []
    while pos < end:
        element, after = read(raw, pos, end)
        if after == pos:
            raise GbcsError("compact-array elements of zero size cannot fill its contents", pos)
        elements.append(element)
        pos = after
    return element_type, elements


def _encode_type(element_type: ElementType, out: bytearray) -> None:
    if isinstance(element_type, str):
        out.append(_TAGS[element_type])
    elif "structure" in element_type:
        out.append(2)
        out += encode_length(len(element_type["structure"]))
        for inner in element_type["structure"]:
            _encode_type(inner, out)
    else:
        out.append(1)
        out += int(element_type["array"]).to_bytes(2, "big")
        _encode_type(element_type["of"], out)


def _encode_value(element_type: ElementType, value: object, out: bytearray) -> None:
    if isinstance(element_type, dict):
        inner_types = element_type["structure"] if "structure" in element_type else \
            [element_type["of"]] * int(element_type["array"])
        if not isinstance(value, list) or len(value) != len(inner_types):
            raise GbcsError(f"{element_type} needs {len(inner_types)} items, got {value!r}")
        for inner, item in zip(inner_types, value):
            _encode_value(inner, item, out)
        return
    tag = _TAGS[element_type]
    if tag == 3:
        out.append(value if isinstance(value, int) and not isinstance(value, bool) else (0xFF if value else 0))
    elif tag in (23, 24):
        out += bytes.fromhex(value) if isinstance(value, str) else struct.pack(">f" if tag == 23 else ">d", value)
    elif tag == 25:
        out += encode_datetime(value)  # type: ignore[arg-type]
    elif tag in (26, 27):
        out += bytes.fromhex(str(value))
    elif tag in _FIXED:
        out += int(value).to_bytes(_FIXED[tag][1], "big", signed=tag in _SIGNED)  # type: ignore[call-overload]
    elif tag == 4:
        bits = str(value)
        size = (len(bits) + 7) >> 3
        out += encode_length(len(bits)) + (int(bits.ljust(size * 8, "0"), 2).to_bytes(size, "big") if bits else b"")
    else:
        raw = bytes.fromhex(str(value)) if tag == 9 else str(value).encode("latin-1" if tag == 10 else "utf-8")
        out += encode_length(len(raw)) + raw


def encode(element_type: ElementType, elements: list) -> bytes:
    """Inverse of :func:`decode`: type description, length and contents (without the 0x13 tag)."""
    description, contents = bytearray(), bytearray()
    try:
        _encode_type(element_type, description)
        for element in elements:
            _encode_value(element_type, element, contents)
    except GbcsError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise GbcsError(f"cannot encode compact array of {element_type!r}: {exc!r}") from exc
    return bytes(description) + encode_length(len(contents)) + bytes(contents)
