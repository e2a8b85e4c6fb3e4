"""GBZ (GBCS ZigBee) payloads: profile 0x0109, components, and the GBZ alert header.

A command/response is ``01 09 | component count | components``; an alert is
``01 09 | component count | alert code (2) | time stamp (4, UTC seconds since 2000) | rest``,
where the rest is parsed as components when it is exactly that, else kept as ``payload`` hex.
A component is ``control (1) | cluster id (2) | length (2) | body``; its body carries an
additional header (encrypted, control bit 0x02) or a from-date-time (control bit 0x10), then
the ZCL header (frame control, sequence number, command id) and the ZCL payload (hex), with its
named view beside it (``zcl``: attribute records or command fields, see :mod:`.zcl`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubrig.harness.gbcs.content import zcl
from hubrig.harness.gbcs.content.axdr import take
from hubrig.harness.gbcs.errors import GbcsError

PROFILE = b"\x01\x09"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ENCRYPTED, FROM_TIME = 0x02, 0x10


def decode_time(value: int) -> str | int:
    """GBZ UTC time (seconds since 2000-01-01): ISO string, or the raw int for 0 / 0xFFFFFFFF."""
    if value in (0, 0xFFFFFFFF):
        return value
    return (EPOCH + timedelta(seconds=value)).isoformat()


def encode_time(value: str | int | datetime) -> bytes:
    """Inverse of :func:`decode_time` (an aware datetime is accepted too, whole seconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        try:
            when = datetime.fromisoformat(value) if isinstance(value, str) else value
            seconds = int((when - EPOCH).total_seconds())
        except (TypeError, ValueError) as exc:
            raise GbcsError(f"GBZ time must be an aware ISO date-time or int: {value!r}") from exc
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise GbcsError(f"GBZ time out of range: {value!r}")
    return seconds.to_bytes(4, "big")


def _decode_component(buf: bytes, pos: int, end: int) -> tuple[dict, int]:
    start = take(buf, pos, end, 5, "GBZ component header")
    control = buf[pos]
    comp: dict = {"control": control, "cluster_id": buf[pos + 1:pos + 3].hex().upper()}
    stop = take(buf, start, end, (buf[pos + 3] << 8) | buf[pos + 4], "GBZ component")
    pos = start
    if control & ENCRYPTED:
        pos = take(buf, pos, stop, 2, "GBZ additional header")
        comp["additional_header_control"] = buf[pos - 2]
        comp["additional_frame_counter"] = buf[pos - 1]
    elif control & FROM_TIME:
        pos = take(buf, pos, stop, 4, "GBZ from-date-time")
        comp["from_time"] = decode_time(int.from_bytes(buf[pos - 4:pos], "big"))
    pos = take(buf, pos, stop, 3, "ZCL header")
    comp["frame_control"], comp["sequence"], comp["command_id"] = buf[pos - 3:pos]
    comp["payload"] = buf[pos:stop].hex().upper()
    if not control & ENCRYPTED:
        name_payload(comp, buf[pos:stop])
    return comp, stop


def name_payload(comp: dict, payload: bytes, key: str = "zcl") -> None:
    """Add the named ZCL view of ``payload`` to ``comp`` under ``key`` (``<key>_error`` if malformed)."""
    try:
        view = zcl.decode(comp["cluster_id"], comp["frame_control"], comp["command_id"], payload)
    except GbcsError as exc:
        comp[f"{key}_error"] = str(exc)
        return
    if view is not None:
        comp[key] = view


def _encode_component(comp: dict) -> bytes:
    control = comp["control"]
    body = b""
    if control & ENCRYPTED:
        body = bytes((comp["additional_header_control"], comp["additional_frame_counter"]))
    elif control & FROM_TIME:
        body = encode_time(comp["from_time"])
    body += bytes((comp["frame_control"], comp["sequence"], comp["command_id"]))
    if "payload" in comp:
        body += bytes.fromhex(comp["payload"])
    else:  # built from named attribute records (global commands only)
        body += zcl.encode_records(comp["command_id"], comp["zcl"]["records"])
    if len(body) > 0xFFFF:
        raise GbcsError("GBZ component longer than 65535 bytes")
    return (bytes((control,)) + bytes.fromhex(comp["cluster_id"]) + len(body).to_bytes(2, "big")
            + body)


def _decode_components(buf: bytes, pos: int, end: int, count: int) -> list[dict]:
    components = []
    for _ in range(count):
        comp, pos = _decode_component(buf, pos, end)
        components.append(comp)
    if pos != end:
        raise GbcsError(f"{end - pos} bytes after the last GBZ component", pos)
    return components


def decode(buf: bytes, alert: bool) -> dict:
    """A GBZ payload; ``alert`` selects the alert header."""
    end = len(buf)
    take(buf, 0, end, 3, "GBZ header")
    if buf[:2] != PROFILE:
        raise GbcsError(f"GBZ profile must be 0109, not {buf[:2].hex().upper()}", 0)
    count = buf[2]
    if not alert:
        return {"kind": "gbz", "components": _decode_components(buf, 3, end, count)}
    take(buf, 3, end, 6, "GBZ alert header")
    out = {"kind": "gbz", "component_count": count, "alert_code": buf[3:5].hex().upper(),
           "timestamp": decode_time(int.from_bytes(buf[5:9], "big"))}
    try:
        out["components"] = _decode_components(buf, 9, end, count)
    except GbcsError:
        out["payload"] = buf[9:].hex().upper()
    return out


def encode(fields: dict) -> bytes:
    """Inverse of :func:`decode`."""
    if "alert_code" not in fields:
        components = fields["components"]
        return (PROFILE + bytes((len(components),))
                + b"".join(_encode_component(c) for c in components))
    code = bytes.fromhex(fields["alert_code"])
    if len(code) != 2:
        raise GbcsError(f"alert_code must be 4 hex digits: {fields['alert_code']!r}")
    rest = (b"".join(_encode_component(c) for c in fields["components"])
            if "components" in fields else bytes.fromhex(fields.get("payload", "")))
    return (PROFILE + bytes((fields["component_count"],)) + code + encode_time(fields["timestamp"])
            + rest)
