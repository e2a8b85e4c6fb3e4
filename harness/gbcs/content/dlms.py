"""DLMS APDUs used by GBCS: data-notification (alerts), access-request and access-response.

Every APDU starts with its tag, the 4-byte long-invoke-id-and-priority (returned as
``invoke_id`` = low 24 bits and ``invoke_flags`` = top byte) and a date-time octet string
(``date_time``: None when empty, as GBCS sends it). Access requests pair each
access-request-specification with its list-of-data entry; access responses pair each
access-response-specification (result) with its data.
"""

from __future__ import annotations

from hubrig.harness.gbcs.content.axdr import (
    NULL,
    decode_data,
    decode_datetime,
    decode_obis,
    encode_data,
    encode_datetime,
    encode_length,
    encode_obis,
    read_length,
    take,
)
from hubrig.harness.gbcs.errors import GbcsError

NOTIFICATION, REQUEST, RESPONSE = 0x0F, 0xD9, 0xDA

SERVICES = {1: "get", 2: "set", 3: "action", 4: "get-with-selection", 5: "set-with-selection"}
SERVICE_CODES = {name: code for code, name in SERVICES.items()}

DATA_ACCESS_RESULTS = {
    0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
    4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
    12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
    15: "long-get-aborted", 16: "no-long-get-in-progress", 17: "long-set-aborted",
    18: "no-long-set-in-progress", 19: "data-block-number-invalid", 250: "other-reason",
}
ACTION_RESULTS = {
    0: "success", 1: "hardware-fault", 2: "temporary-failure", 3: "read-write-denied",
    4: "object-undefined", 9: "object-class-inconsistent", 11: "object-unavailable",
    12: "type-unmatched", 13: "scope-of-access-violated", 14: "data-block-unavailable",
    15: "long-action-aborted", 16: "no-long-action-in-progress", 250: "other-reason",
}
_RESULT_CODES = {
    "get": {n: c for c, n in DATA_ACCESS_RESULTS.items()},
    "set": {n: c for c, n in DATA_ACCESS_RESULTS.items()},
    "action": {n: c for c, n in ACTION_RESULTS.items()},
}


# -- shared header ---------------------------------------------------------------------------

def _decode_header(buf: bytes, end: int, kind: str) -> tuple[dict, int]:
    stop = take(buf, 1, end, 4, "long-invoke-id-and-priority")
    head = {"kind": kind, "invoke_id": int.from_bytes(buf[2:5], "big"), "invoke_flags": buf[1]}
    size, pos = read_length(buf, stop, end)
    if size == 0:
        head["date_time"] = None
    elif size == 12:
        pos = take(buf, pos, end, 12, "date-time")
        head["date_time"] = decode_datetime(buf[pos - 12:pos])
    else:
        raise GbcsError(f"APDU date-time must be 0 or 12 bytes, not {size}", stop)
    return head, pos


def _encode_header(tag: int, fields: dict) -> bytes:
    invoke_id = fields.get("invoke_id", 0)
    flags = fields.get("invoke_flags", 0)
    if not (0 <= invoke_id < 1 << 24 and 0 <= flags <= 0xFF):
        raise GbcsError(f"invoke_id must fit 24 bits and invoke_flags 8 bits: {invoke_id}, {flags}")
    when = fields.get("date_time")
    stamp = b"\x00" if when is None else b"\x0c" + encode_datetime(when)
    return bytes((tag, flags)) + invoke_id.to_bytes(3, "big") + stamp


def _expect_end(pos: int, end: int) -> None:
    if pos != end:
        raise GbcsError(f"{end - pos} unexpected bytes after the APDU", pos)


def _count(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    count, pos = read_length(buf, pos, end)
    if count > end - pos:
        raise GbcsError(f"{count} {what} cannot fit in {end - pos} bytes", pos)
    return count, pos


# -- data-notification -----------------------------------------------------------------------

def decode_notification(buf: bytes) -> dict:
    """A GBCS DLMS alert: alert code, time stamp and the remaining body elements."""
    end = len(buf)
    out, pos = _decode_header(buf, end, "dlms-data-notification")
    body, pos = decode_data(buf, pos, end)
    _expect_end(pos, end)
    items = body["value"]
    if (body["type"] == "structure" and len(items) >= 2 and items[0]["type"] == "long-unsigned"
            and items[1]["type"] == "octet-string" and len(items[1]["value"]) == 24):
        out["alert_code"] = f"{items[0]['value']:04X}"
        out["timestamp"] = decode_datetime(bytes.fromhex(items[1]["value"]))
        out["body"] = items[2:]
    else:
        out["notification"] = body
    return out


def encode_notification(fields: dict) -> bytes:
    """Inverse of :func:`decode_notification`."""
    head = _encode_header(NOTIFICATION, fields)
    if "notification" in fields:
        return head + encode_data(fields["notification"])
    body = fields.get("body", [])
    alert = _alert_code(fields["alert_code"])
    stamp = encode_datetime(fields["timestamp"])
    return (head + b"\x02" + encode_length(2 + len(body)) + b"\x12" + alert.to_bytes(2, "big")
            + b"\x09\x0c" + stamp + b"".join(encode_data(item) for item in body))


def _alert_code(text) -> int:
    try:
        code = int(text, 16) if isinstance(text, str) else int(text)
    except (TypeError, ValueError) as exc:
        raise GbcsError(f"alert_code must be 4 hex digits, got {text!r}") from exc
    if not 0 <= code <= 0xFFFF:
        raise GbcsError(f"alert_code out of range: {text!r}")
    return code


# -- access-request / access-response specifications -----------------------------------------

def _decode_spec(buf: bytes, pos: int, end: int) -> tuple[dict, int]:
    if pos >= end:
        raise GbcsError("access-request-specification missing", pos)
    choice = buf[pos]
    service = SERVICES.get(choice)
    if service is None:
        raise GbcsError(f"unknown access-request-specification choice {choice}", pos)
    stop = take(buf, pos + 1, end, 9, "COSEM descriptor")
    spec = {"service": service,
            "class_id": (buf[pos + 1] << 8) | buf[pos + 2],
            "obis": decode_obis(buf[pos + 3:pos + 9]),
            "method" if choice == 3 else "attribute": buf[pos + 9]}
    if choice >= 4:
        stop = take(buf, stop, end, 1, "access selector")
        spec["selector"] = buf[stop - 1]
        spec["parameters"], stop = decode_data(buf, stop, end)
    return spec, stop


def _encode_spec(spec: dict) -> bytes:
    service = spec.get("service")
    choice = SERVICE_CODES.get(service)
    if choice is None:
        raise GbcsError(f"unknown DLMS service {service!r}")
    index = spec["method"] if choice == 3 else spec["attribute"]
    head = (bytes((choice,)) + spec["class_id"].to_bytes(2, "big") + encode_obis(spec["obis"])
            + bytes((index,)))
    if choice >= 4:
        head += bytes((spec["selector"],)) + encode_data(spec["parameters"])
    return head


def _decode_specs(buf: bytes, pos: int, end: int) -> tuple[list[dict], int]:
    count, pos = _count(buf, pos, end, "access-request-specifications")
    specs = []
    for _ in range(count):
        spec, pos = _decode_spec(buf, pos, end)
        specs.append(spec)
    return specs, pos


def _decode_list_of_data(buf: bytes, pos: int, end: int, expected: int) -> tuple[list, int]:
    count, pos = _count(buf, pos, end, "data")
    if count != expected:
        raise GbcsError(f"{expected} specifications but {count} data", pos)
    items = []
    for _ in range(count):
        item, pos = decode_data(buf, pos, end)
        items.append(item)
    return items, pos


def _result_name(service: str, code: int):
    table = ACTION_RESULTS if service == "action" else DATA_ACCESS_RESULTS
    return table.get(code, code)


def _result_code(service: str, result) -> int:
    if isinstance(result, int) and not isinstance(result, bool) and 0 <= result <= 0xFF:
        return result
    code = _RESULT_CODES.get(service, {}).get(result)
    if code is None:
        raise GbcsError(f"unknown {service} result {result!r}")
    return code


# -- access-request --------------------------------------------------------------------------

def decode_request(buf: bytes) -> dict:
    """A DLMS access-request: its requests, each with the data sent with it."""
    end = len(buf)
    out, pos = _decode_header(buf, end, "dlms-access-request")
    specs, pos = _decode_specs(buf, pos, end)
    items, pos = _decode_list_of_data(buf, pos, end, len(specs))
    _expect_end(pos, end)
    for spec, item in zip(specs, items):
        spec["data"] = item
    out["requests"] = specs
    return out


def encode_request(fields: dict) -> bytes:
    """Inverse of :func:`decode_request`."""
    requests = fields["requests"]
    return (_encode_header(REQUEST, fields)
            + encode_length(len(requests)) + b"".join(_encode_spec(r) for r in requests)
            + encode_length(len(requests))
            + b"".join(encode_data(r.get("data", NULL)) for r in requests))


# -- access-response -------------------------------------------------------------------------

def decode_response(buf: bytes) -> dict:
    """A DLMS access-response: per request, its service, result and returned data."""
    end = len(buf)
    out, pos = _decode_header(buf, end, "dlms-access-response")
    pos = take(buf, pos, end, 1, "access-request-specification presence")
    if buf[pos - 1] > 1:
        raise GbcsError(f"OPTIONAL presence flag must be 0 or 1, not {buf[pos - 1]}", pos - 1)
    if buf[pos - 1]:
        out["requests"], pos = _decode_specs(buf, pos, end)
    count, pos = _count(buf, pos, end, "data")
    items = []
    for _ in range(count):
        item, pos = decode_data(buf, pos, end)
        items.append(item)
    results, pos = _count(buf, pos, end, "access-response-specifications")
    if results != count:
        raise GbcsError(f"{count} data but {results} access-response-specifications", pos)
    responses = []
    for item in items:
        stop = take(buf, pos, end, 2, "access-response-specification")
        service = SERVICES.get(buf[pos])
        if service is None or buf[pos] > 3:
            raise GbcsError(f"unknown access-response-specification choice {buf[pos]}", pos)
        responses.append({"service": service, "result": _result_name(service, buf[pos + 1]),
                          "data": item})
        pos = stop
    _expect_end(pos, end)
    out["responses"] = responses
    return out


def encode_response(fields: dict) -> bytes:
    """Inverse of :func:`decode_response`."""
    responses = fields["responses"]
    requests = fields.get("requests")
    parts = [_encode_header(RESPONSE, fields)]
    if requests is None:
        parts.append(b"\x00")
    else:
        parts.append(b"\x01" + encode_length(len(requests)))
        parts.extend(_encode_spec(r) for r in requests)
    parts.append(encode_length(len(responses)))
    parts.extend(encode_data(r.get("data", NULL)) for r in responses)
    parts.append(encode_length(len(responses)))
    for r in responses:
        service = r["service"]
        if service not in ("get", "set", "action"):
            raise GbcsError(f"access-response service must be get/set/action, not {service!r}")
        parts.append(bytes((SERVICE_CODES[service], _result_code(service, r["result"]))))
    return b"".join(parts)
