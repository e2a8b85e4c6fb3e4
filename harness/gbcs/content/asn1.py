"""ASN.1 (BER/DER) content (GBCS CS/CCS commands, responses and alerts) as a lossless tree.

A node is ``{"tag": "30", "children": [...]}`` when constructed, else ``{"tag": "02", "hex":
"008F8A"}``; ``tag`` is the identifier octets in hex. Lengths must be definite; GBCS writes
some in a wider long form than DER's minimal one (``82 00 83``), which is kept as
``length_width`` so that ``encode(decode(b)) == b``. GBCS ASN.1 alerts are a SEQUENCE starting with
the alert code (INTEGER) and the execution date-time (GeneralizedTime); those two are lifted
out as ``alert_code`` and ``timestamp``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hubrig.harness.gbcs.content.axdr import MAX_DEPTH, take
from hubrig.harness.gbcs.errors import GbcsError

SEQUENCE, INTEGER, OCTET_STRING, GENERALIZED_TIME = "30", "02", "04", "18"


def _read_length(buf: bytes, pos: int, end: int) -> tuple[int, int, int | None]:
    """(length, position after it, long-form width when it is wider than needed, else None)."""
    if pos >= end:
        raise GbcsError("DER length missing", pos)
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1, None
    width = first & 0x7F
    if width == 0:
        raise GbcsError("indefinite length", pos)
    if width > 4:
        raise GbcsError(f"DER length of {width} bytes", pos)
    stop = take(buf, pos + 1, end, width, "DER length")
    value = int.from_bytes(buf[pos + 1:stop], "big")
    minimal = 0 if value < 0x80 else (value.bit_length() + 7) // 8
    return value, stop, (width if width != minimal else None)


def _encode_length(value: int, width: int | None = None) -> bytes:
    if width is None:
        if value < 0x80:
            return bytes((value,))
        width = (value.bit_length() + 7) // 8
    if not 1 <= width <= 4 or value >> (8 * width):
        raise GbcsError(f"length {value} does not fit a {width}-byte long form")
    return bytes((0x80 | width,)) + value.to_bytes(width, "big")


def decode_node(buf: bytes, pos: int, end: int, depth: int = 0) -> tuple[dict, int]:
    """One DER TLV at ``pos``; returns (node, position after it).

    The common case (one-byte tag, short or minimal long length) is read inline: certificates
    are hundreds of small elements, so calls per element are what this costs."""
    if depth >= MAX_DEPTH:
        raise GbcsError(f"DER nested deeper than {MAX_DEPTH}", pos)
    if pos >= end:
        raise GbcsError("DER tag truncated: needs 1 bytes, 0 left", pos)
    start = pos
    first = buf[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            pos = take(buf, pos, end, 1, "DER tag")
            if not buf[pos - 1] & 0x80:
                break
            if pos - start > 4:
                raise GbcsError("DER tag longer than 4 bytes", start)
        tag = buf[start:pos].hex().upper()
    else:
        tag = _TAG_TEXT[first]
    width = None
    if pos < end and buf[pos] < 0x80:
        size = buf[pos]
        pos += 1
    else:
        size, pos, width = _read_length(buf, pos, end)
    stop = pos + size
    if stop > end:
        raise GbcsError(f"ASN.1 {tag} value truncated: needs {size} bytes, {end - pos} left", pos)
    if first & 0x20:
        children = []
        append = children.append
        while pos < stop:
            child, pos = decode_node(buf, pos, stop, depth + 1)
            append(child)
        node = {"tag": tag, "children": children}
    else:
        node = {"tag": tag, "hex": buf[pos:stop].hex().upper()}
    if width is not None:
        node["length_width"] = width
    return node, stop


_TAG_TEXT = [f"{n:02X}" for n in range(256)]


def encode_node(node: dict) -> bytes:
    """Inverse of :func:`decode_node`."""
    try:
        tag = bytes.fromhex(node["tag"])
        body = (b"".join(encode_node(child) for child in node["children"])
                if "children" in node else bytes.fromhex(node["hex"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise GbcsError(f"DER node must have tag and children or hex: {node!r}") from exc
    return tag + _encode_length(len(body), node.get("length_width")) + body


def decode_generalized_time(text: str) -> str:
    """'YYYYMMDDHHMMSSZ' -> ISO 8601 UTC; any other form is returned as it is."""
    if len(text) == 15 and text[-1] == "Z" and text[:-1].isdigit() and text.isascii():
        try:
            return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]),
                            int(text[10:12]), int(text[12:14]), tzinfo=UTC).isoformat()
        except ValueError:
            pass
    return text


def encode_generalized_time(value: str | datetime) -> str:
    """Inverse of :func:`decode_generalized_time` (an aware datetime is accepted too)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        raise GbcsError(f"GeneralizedTime needs an aware datetime, got {value!r}")
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}{utc:%m%d%H%M%S}Z"  # strftime's %Y does not pad years below 1000


def alert_header(node: dict) -> tuple[str, str] | None:
    """(alert code as 4 hex, ISO time stamp) of a GBCS ASN.1 alert SEQUENCE, else None."""
    children = node.get("children")
    if (node["tag"] != SEQUENCE or not children or len(children) < 2
            or children[0]["tag"] != INTEGER or children[1]["tag"] != GENERALIZED_TIME):
        return None
    raw = bytes.fromhex(children[0]["hex"])
    code = int.from_bytes(raw, "big", signed=True)
    if not raw or not 0 <= code <= 0xFFFF:
        return None
    stamp = bytes.fromhex(children[1]["hex"]).decode("latin-1")
    return f"{code:04X}", decode_generalized_time(stamp)


def decode(buf: bytes, alert: bool) -> dict:
    """ASN.1 content: one DER element filling the content."""
    node, pos = decode_node(buf, 0, len(buf))
    if pos != len(buf):
        raise GbcsError(f"{len(buf) - pos} bytes after the DER element", pos)
    out = {"kind": "asn1", "der": node}
    header = alert_header(node) if alert else None
    if header:
        out["alert_code"], out["timestamp"] = header
    return out


def encode(fields: dict) -> bytes:
    """Inverse of :func:`decode` (``alert_code``/``timestamp`` are read from the tree)."""
    return encode_node(fields["der"])
