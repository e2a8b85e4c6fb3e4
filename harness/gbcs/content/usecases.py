"""Per-use-case deep decoders and builders, as layouts over the generic DLMS/ASN.1 structure.

A layout names every element of a use case's APDU (COSEM class, OBIS, attribute or method, and
a codec turning the typed DLMS value into a plain one: EUI-64 as 16 hex, COSEM date-time as ISO,
bit strings, ints). Decoding checks the generic structure against the layout and returns the
named fields with ``"decoded_as": <use case>``; a message that does not match the layout keeps
its generic decoding. Building is the same layout run backwards, so for every layout
``decode(build(fields)) == fields`` and ``build(decode(content)) == content``.

Byte layouts were checked against RTDS 4.5.0 (ECS80, CS14, CCS01-03, CCS06-08, ECS70, ECS25a3,
ECS35a, ECS35e).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from hubrig.harness.gbcs.content import asn1, compact, dlms, gbz
from hubrig.harness.gbcs.content.axdr import NULL, decode_datetime, encode_datetime, encode_length, read_length
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.tables import alert_info, use_case_name


class _Mismatch(Exception):
    """The generic structure is not this use case's layout."""


class Codec(NamedTuple):
    """A pair: typed DLMS value -> plain value, and back."""

    decode: Callable
    encode: Callable


def _typed(kind: str) -> Codec:
    def decode(node):
        if node["type"] != kind:
            raise _Mismatch
        return node["value"]
    return Codec(decode, lambda value: {"type": kind, "value": value})


def _octets(size: int | None, inward: Callable = lambda h: h, outward: Callable = str.upper) -> Codec:
    def decode(node):
        if node["type"] != "octet-string" or (size is not None and len(node["value"]) != 2 * size):
            raise _Mismatch
        return inward(node["value"])

    def encode(value):
        text = outward(value)
        if size is not None and len(bytes.fromhex(text)) != size:
            raise GbcsError(f"expected {size} bytes, got {value!r}")
        return {"type": "octet-string", "value": text}
    return Codec(decode, encode)


def _struct(*fields: tuple[str, Codec]) -> Codec:
    def decode(node):
        items = node["value"]
        if node["type"] != "structure" or len(items) != len(fields):
            raise _Mismatch
        return {name: codec.decode(item) for (name, codec), item in zip(fields, items)}

    def encode(value):
        try:
            return {"type": "structure",
                    "value": [codec.encode(value[name]) for name, codec in fields]}
        except (KeyError, TypeError) as exc:
            raise GbcsError(f"structure needs {[n for n, _ in fields]}, got {value!r}") from exc
    return Codec(decode, encode)


def _array(element: Codec) -> Codec:
    def decode(node):
        if node["type"] != "array":
            raise _Mismatch
        return [element.decode(item) for item in node["value"]]
    return Codec(decode, lambda value: {"type": "array", "value": [element.encode(v) for v in value]})


EUI = _octets(8)
HEX = _octets(None)
DATETIME = _octets(12, lambda h: decode_datetime(bytes.fromhex(h)),
                   lambda v: encode_datetime(v).hex().upper())
DATETIME_WITH_WEEKDAY = _octets(12, lambda h: decode_datetime(bytes.fromhex(h), weekday=True),
                                lambda v: encode_datetime(v, weekday=True).hex().upper())
"""The CHF writes the weekday in its device log's last-communication date-times."""
ENUM, UNSIGNED, INTEGER = _typed("enum"), _typed("unsigned"), _typed("integer")
LONG_UNSIGNED, BOOLEAN, BITS = _typed("long-unsigned"), _typed("boolean"), _typed("bit-string")

ACTIVE_DEVICE = _struct(
    ("mac_address", EUI), ("status", BITS),
    ("max_rssi", INTEGER), ("avg_rssi", INTEGER), ("min_rssi", INTEGER),
    ("max_lqi", UNSIGNED), ("avg_lqi", UNSIGNED), ("min_lqi", UNSIGNED),
    ("last_communication", DATETIME_WITH_WEEKDAY), ("hops", UNSIGNED),
    ("tx_failures", UNSIGNED), ("tx_successes", UNSIGNED),
    ("app_version", UNSIGNED), ("stack_version", UNSIGNED),
)
"""One entry of the CHF device log (ZigBee network control, attribute 4 active_devices), in the
order of the public definition (IEC 62056-6-2 class 104; Gurux's ``gxActiveDevice``): RSSI then LQI,
each max, average, min. RTDS 4.5.0's CCS06 response fits it for RSSI (-35 >= -50 >= -100) but its
LQI triples ascend (2, 39, 247): example values, not a different order, since the types (three
integers then three unsigned) pin where each triple is and the definition fixes max first."""
BACKUP_DEVICE = _struct(("mac_address", EUI), ("tc_link_key_hash", HEX))
BACKUP = _struct(("date_time", DATETIME), ("extended_pan_id", HEX),
                 ("devices", _array(BACKUP_DEVICE)))
"""backup_PAN result: when, the extended PAN id, and each device with its hashed TC link key."""

UTC_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Event-log time stamps and ranges are double-long-unsigned seconds from 2000-01-01 00:00 UTC
(RTDS ECS35a asks for 473299200..473385600, i.e. 2014-12-31, the day of its other messages)."""


def _utc_seconds_to_iso(seconds: int) -> str:
    return (UTC_EPOCH + timedelta(seconds=seconds)).isoformat()


def _iso_to_utc_seconds(value: datetime | str) -> int:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        raise GbcsError(f"event log times must be timezone-aware, got {value!r}")
    delta = when - UTC_EPOCH
    seconds = int(delta.total_seconds())
    if delta != timedelta(seconds=seconds) or not 0 <= seconds < 1 << 32:
        raise GbcsError(f"event log times are whole seconds from 2000-01-01 to 2136, got {value!r}")
    return seconds


def _utc_decode(node):
    if node["type"] != "double-long-unsigned":
        raise _Mismatch
    return _utc_seconds_to_iso(node["value"])


UTC_SECONDS = Codec(_utc_decode, lambda v: {"type": "double-long-unsigned", "value": _iso_to_utc_seconds(v)})

_RANGE_OBJECT = {"type": "structure", "value": [
    {"type": "long-unsigned", "value": 1}, {"type": "octet-string", "value": "00005E2C64FF"},
    {"type": "integer", "value": 2}, {"type": "long-unsigned", "value": 0}]}
"""The restricting object of an event-log range read, as RTDS sends it: class 1,
0-0:94.44.100.255, attribute 2 (the entries' UTC time stamp)."""
_ALL_COLUMNS = {"type": "array", "value": []}


def _range_decode(node):
    items = node["value"]
    if (node["type"] != "structure" or len(items) != 4 or items[0] != _RANGE_OBJECT
            or items[3] != _ALL_COLUMNS):
        raise _Mismatch
    return {"from": UTC_SECONDS.decode(items[1]), "to": UTC_SECONDS.decode(items[2])}


def _range_encode(value):
    try:
        start, end = value["from"], value["to"]
    except (KeyError, TypeError) as exc:
        raise GbcsError(f"a range needs from and to, got {value!r}") from exc
    return {"type": "structure", "value": [_RANGE_OBJECT, UTC_SECONDS.encode(start), UTC_SECONDS.encode(end),
                                           _ALL_COLUMNS]}


UTC_RANGE = Codec(_range_decode, _range_encode)
"""Range descriptor (access selector 1) over the UTC time stamp: {from, to}, all columns."""

_EVENT_ENTRY = bytes.fromhex("0203061209")
"""Compact-array type description of one event-log entry: structure of double-long-unsigned (UTC
time stamp), long-unsigned (event code), octet-string (the event's value, usually empty)."""


def _event_log_decode(node):
    if node["type"] != "compact-array":
        raise _Mismatch
    raw = bytes.fromhex(node["value"])
    if not raw.startswith(_EVENT_ENTRY):
        raise _Mismatch
    try:
        size, pos = read_length(raw, len(_EVENT_ENTRY), len(raw))
        if pos + size != len(raw):
            raise _Mismatch
        entries = []
        while pos < len(raw):
            if pos + 6 > len(raw):
                raise _Mismatch
            stamp = int.from_bytes(raw[pos:pos + 4], "big")
            code = raw[pos + 4:pos + 6].hex().upper()
            length, pos = read_length(raw, pos + 6, len(raw))
            if pos + length > len(raw):
                raise _Mismatch
            entries.append({"timestamp": _utc_seconds_to_iso(stamp), "event_code": code,
                            "value": raw[pos:pos + length].hex().upper()})
            pos += length
    except GbcsError:
        raise _Mismatch from None
    return entries


def _event_log_encode(entries):
    body = bytearray()
    for entry in entries:
        try:
            value = bytes.fromhex(entry.get("value", ""))
            body += _iso_to_utc_seconds(entry["timestamp"]).to_bytes(4, "big")
            body += int(_code_text(entry["event_code"]), 16).to_bytes(2, "big")
        except (KeyError, TypeError, AttributeError) as exc:
            raise GbcsError(f"an event log entry needs timestamp and event_code, got {entry!r}") from exc
        body += encode_length(len(value)) + value
    return {"type": "compact-array", "value": (_EVENT_ENTRY + encode_length(len(body)) + body).hex().upper()}


EVENT_LOG = Codec(_event_log_decode, _event_log_encode)
"""An event log buffer as a compact array: [{timestamp (ISO), event_code (4 hex), value (hex)}]."""

_POWER_ENTRY = {"structure": ["double-long-unsigned", "long-unsigned", "double-long-unsigned"]}
"""Compact-array element of the ESME power event log (RTDS 4.5.0 ECS35e success response): UTC time
stamp, event code, counter."""


def _power_log_decode(node):
    if node["type"] != "compact-array" or node.get("element_type") != _POWER_ENTRY:
        raise _Mismatch
    return [{"timestamp": _utc_seconds_to_iso(stamp), "event_code": f"{code:04X}", "counter": counter}
            for stamp, code, counter in node["elements"]]


def _power_log_encode(entries):
    try:
        elements = [[_iso_to_utc_seconds(e["timestamp"]), int(_code_text(e["event_code"]), 16), int(e["counter"])]
                    for e in entries]
    except (KeyError, TypeError) as exc:
        raise GbcsError(f"a power event log entry needs timestamp, event_code and counter, got {entries!r}") from exc
    return {"type": "compact-array", "value": compact.encode(_POWER_ENTRY, elements).hex().upper()}


POWER_EVENT_LOG = Codec(_power_log_decode, _power_log_encode)
"""The ESME power event log as a compact array: [{timestamp (ISO), event_code (4 hex), counter}]."""


# -- access-request / access-response layouts ------------------------------------------------

class Spec(NamedTuple):
    """One access-request-specification of a use case and the codecs of its data."""

    service: str
    class_id: int
    obis: str
    index: int
    name: str
    request: Codec | None = None
    response: Codec | None = None
    selection: Codec | None = None  # get-with-selection: the range descriptor (access selector 1)

    @property
    def index_key(self) -> str:
        return "method" if self.service == "action" else "attribute"

    @property
    def response_service(self) -> str:
        """The service a response names: a GET with selection is answered as a GET."""
        return "get" if self.service == "get-with-selection" else self.service

    @property
    def selection_key(self) -> str:
        return f"{self.name}_range"


CHF_DEVICE_LOG, CHF_HISTORIC_DEVICE_LOG = "0-0:30.3.0.255", "0-0:30.3.1.255"
ZIGBEE_NETWORK_CONTROL, CLOCK, DATA, PROFILE_GENERIC = 104, 8, 1, 7
CLOCK_OBIS = "0-0:1.0.0.255"
ESME_EVENT_LOG = "0-0:99.98.0.255"
ESME_POWER_EVENT_LOG = "0-0:99.98.4.255"
RANGE_SELECTOR = 1

COMMAND_LAYOUTS: dict[str, tuple[int, tuple[Spec, ...]]] = {
    "CCS01": (0x0001, (
        Spec("action", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 1, "register_device",
             _struct(("mac_address", EUI), ("key_type", ENUM), ("install_code", HEX),
                     ("device_type", ENUM))),
        Spec("set", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 3, "join_timeout", LONG_UNSIGNED),
        Spec("set", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 2, "enable_joining", BOOLEAN),
    )),
    "CCS02": (0x0002, (
        Spec("action", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 2, "unregister_device", EUI),
    )),
    "CCS03": (0x0003, (
        Spec("action", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 5, "restore_pan",
             _struct(("extended_pan_id", HEX), ("devices", _array(BACKUP_DEVICE)))),
    )),
    "CCS06": (0x010F, (
        Spec("get", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 4, "active_devices",
             response=_array(ACTIVE_DEVICE)),
    )),
    "CCS05CCS04": (0x0004, (
        Spec("get", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 4, "active_devices",
             response=_array(ACTIVE_DEVICE)),
    )),
    "CCS07": (0x00FE, (
        Spec("action", ZIGBEE_NETWORK_CONTROL, CHF_DEVICE_LOG, 4, "device_log", response=BACKUP),
        Spec("action", ZIGBEE_NETWORK_CONTROL, CHF_HISTORIC_DEVICE_LOG, 4, "historic_device_log",
             response=BACKUP),
    )),
    "ECS70": (0x0062, (
        Spec("set", CLOCK, CLOCK_OBIS, 9, "clock_base", ENUM),
        Spec("action", CLOCK, CLOCK_OBIS, 5, "preset_adjusting_time",
             _struct(("preset_time", DATETIME), ("validity_interval_start", DATETIME),
                     ("validity_interval_end", DATETIME))),
        Spec("action", CLOCK, CLOCK_OBIS, 4, "adjust_to_preset_time", INTEGER),
        Spec("get", CLOCK, CLOCK_OBIS, 2, "time", response=DATETIME),
        Spec("get", CLOCK, CLOCK_OBIS, 4, "status", response=UNSIGNED),
    )),
    "ECS25a": (0x00AC, (
        Spec("set", DATA, "0-30:97.98.11.255", 2, "alert_filter", BITS),
    )),
    "ECS25a3": (0x00EC, (
        Spec("set", DATA, "0-30:97.98.14.255", 2, "event_filter", BITS),
    )),
    # ECS25r1 reads the four behaviour objects that ECS25a, ECS25a1, ECS25a2 and ECS25a3 write
    # (97.98.11-14 written, 97.98.15-18 read: RTDS 4.5.0 6.2.10_ECS25r1), 256 bits each.
    "ECS25r1": (0x00EE, (
        Spec("get", DATA, "0-30:97.98.15.255", 2, "alert_behaviours", response=BITS),
        Spec("get", DATA, "0-30:97.98.16.255", 2, "han_event_behaviours", response=BITS),
        Spec("get", DATA, "0-30:97.98.17.255", 2, "audible_alarm_behaviours", response=BITS),
        Spec("get", DATA, "0-30:97.98.18.255", 2, "logging_behaviours", response=BITS),
    )),
    "ECS35a": (0x0048, (
        Spec("get-with-selection", PROFILE_GENERIC, ESME_EVENT_LOG, 2, "event_log",
             response=EVENT_LOG, selection=UTC_RANGE),
    )),
    "ECS35e": (0x00B9, (
        Spec("get-with-selection", PROFILE_GENERIC, ESME_POWER_EVENT_LOG, 2, "power_event_log",
             response=POWER_EVENT_LOG, selection=UTC_RANGE),
    )),
}


def _head(kind: str, name: str, generic: dict) -> dict:
    return {"kind": kind, "decoded_as": name, "invoke_id": generic["invoke_id"],
            "invoke_flags": generic["invoke_flags"], "date_time": generic["date_time"]}


def _same_target(found: dict, spec: Spec) -> bool:
    return (found["class_id"] == spec.class_id and found["obis"] == spec.obis
            and found.get(spec.index_key) == spec.index)


def _decode_request(name: str, specs: tuple[Spec, ...], generic: dict) -> dict:
    requests = generic["requests"]
    if len(requests) != len(specs):
        raise _Mismatch
    out = _head("dlms-access-request", name, generic)
    for found, spec in zip(requests, specs):
        if found["service"] != spec.service or not _same_target(found, spec):
            raise _Mismatch
        if spec.selection is not None:
            if found["selector"] != RANGE_SELECTOR:
                raise _Mismatch
            out[spec.selection_key] = spec.selection.decode(found["parameters"])
        if spec.request is None:
            if found["data"]["type"] != "null-data":
                raise _Mismatch
        else:
            out[spec.name] = spec.request.decode(found["data"])
    return out


def _encode_request(specs: tuple[Spec, ...], fields: dict) -> bytes:
    requests = []
    for spec in specs:
        try:
            data = NULL if spec.request is None else spec.request.encode(fields[spec.name])
        except KeyError as exc:
            raise GbcsError(f"missing field {spec.name!r}") from exc
        request = {"service": spec.service, "class_id": spec.class_id, "obis": spec.obis,
                   spec.index_key: spec.index, "data": data}
        if spec.selection is not None:
            try:
                selection = fields[spec.selection_key]
            except KeyError as exc:
                raise GbcsError(f"missing field {spec.selection_key!r}") from exc
            request.update(selector=RANGE_SELECTOR, parameters=spec.selection.encode(selection))
        requests.append(request)
    return dlms.encode_request({**fields, "requests": requests})


def _decode_response(name: str, specs: tuple[Spec, ...], generic: dict) -> dict:
    responses = generic["responses"]
    if "requests" in generic or len(responses) != len(specs):
        raise _Mismatch
    out = _head("dlms-access-response", name, generic)
    results = out["results"] = {}
    for found, spec in zip(responses, specs):
        if found["service"] != spec.response_service:
            raise _Mismatch
        results[spec.name] = found["result"]
        data = found["data"]
        if spec.response is None:
            if data["type"] != "null-data":
                raise _Mismatch
        else:
            out[spec.name] = None if data["type"] == "null-data" else spec.response.decode(data)
    return out


def _encode_response(specs: tuple[Spec, ...], fields: dict) -> bytes:
    results = fields.get("results", {})
    responses = []
    for spec in specs:
        value = fields.get(spec.name) if spec.response is not None else None
        responses.append({"service": spec.response_service, "result": results.get(spec.name, "success"),
                          "data": NULL if value is None else spec.response.encode(value)})
    return dlms.encode_response({**fields, "responses": responses})


# -- alert layouts ---------------------------------------------------------------------------

class AlertLayout(NamedTuple):
    """A DLMS alert's body after the alert code and time stamp; ``codes`` None means any."""

    message_codes: tuple[int, ...]
    codes: frozenset[int] | None
    body: tuple[tuple[str, Codec], ...]


SUPPLY_OUTAGE_RESTORED = frozenset(range(0x8F35, 0x8F3D))
SUPPLY_INTERRUPTED = 0x8F57
SUPPLY_INTERRUPTED_ON_PHASE = {1: 0x8F58, 2: 0x8F59, 3: 0x8F5A}
OUTAGE_RESTORED_ON_PHASE = {1: (0x8F37, 0x8F38), 2: (0x8F39, 0x8F3A), 3: (0x8F3B, 0x8F3C)}
"""Per phase: (Supply Outage Restored on Phase N, the same with Outage >= 3 minutes), as the GBCS
alert code table names them (``harness/gbcs/data/alert_codes.json``)."""
CLOCK_ALERTS = frozenset((0x81C6, 0x8F0C, 0x8145))
GENERIC_CRITICAL_ALERT, GENERIC_NON_CRITICAL_ALERT = 0x1000, 0x1001

ALERT_LAYOUTS: dict[str, AlertLayout] = {
    "ECS80": AlertLayout((0x0067,), SUPPLY_OUTAGE_RESTORED,
                         (("interruption", DATETIME), ("restoration", DATETIME))),
    "CS14": AlertLayout((0x0018,), frozenset((0x8F12,)), (("device_log", BACKUP),)),
    "generic-alert": AlertLayout((GENERIC_CRITICAL_ALERT, GENERIC_NON_CRITICAL_ALERT), None, ()),
}


def _decode_alert(name: str, layout: AlertLayout, generic: dict) -> dict:
    if "alert_code" not in generic or len(generic["body"]) != len(layout.body):
        raise _Mismatch
    if layout.codes is not None and int(generic["alert_code"], 16) not in layout.codes:
        raise _Mismatch
    out = _head("dlms-data-notification", name, generic)
    out["alert_code"] = generic["alert_code"]
    out["timestamp"] = generic["timestamp"]
    for (field, codec), item in zip(layout.body, generic["body"]):
        out[field] = codec.decode(item)
    return out


def _encode_alert(layout: AlertLayout, fields: dict) -> bytes:
    code = _code_text(fields["alert_code"])
    if layout.codes is not None and int(code, 16) not in layout.codes:
        raise GbcsError(f"alert {code} does not belong to this use case")
    try:
        body = [codec.encode(fields[field]) for field, codec in layout.body]
    except KeyError as exc:
        raise GbcsError(f"missing field {exc.args[0]!r}") from exc
    return dlms.encode_notification({**fields, "alert_code": code, "body": body})


def _code_text(code: int | str) -> str:
    value = int(code, 16) if isinstance(code, str) else int(code)
    if not 0 <= value <= 0xFFFF:
        raise GbcsError(f"alert code out of range: {code!r}")
    return f"{value:04X}"


# -- CCS08 (ASN.1 firmware transfer alert) ---------------------------------------------------

CCS08_RESULTS = {0: "success", 1: "image-discarded", 2: "hardware-version-mismatch",
                 3: "file-transfer-failure"}
_CCS08_CODES = {name: code for code, name in CCS08_RESULTS.items()}


def _der_int(value: int) -> str:
    return value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True).hex().upper()


def _decode_ccs08(generic: dict) -> dict:
    der = generic["der"]
    items = der.get("children") or []
    tags = [item["tag"] for item in items]
    if tags != ["02", "18", "04", "04", "02"] or len(items[2]["hex"]) != 16 or "alert_code" not in generic:
        raise _Mismatch
    result = int(items[4]["hex"], 16) if items[4]["hex"] else -1
    stamp = generic["timestamp"]
    # only canonical DER integers and a parsed time stamp, so building gives the same bytes back
    if (items[0]["hex"] != _der_int(int(generic["alert_code"], 16))
            or items[4]["hex"] != _der_int(result) or "T" not in stamp):
        raise _Mismatch
    return {"kind": "asn1", "decoded_as": "CCS08", "alert_code": generic["alert_code"],
            "timestamp": stamp, "entity_id": items[2]["hex"],
            "firmware_version": items[3]["hex"],
            "response_code": CCS08_RESULTS.get(result, result)}


def _encode_ccs08(fields: dict) -> bytes:
    result = fields["response_code"]
    result = _CCS08_CODES[result] if isinstance(result, str) else int(result)
    entity = bytes.fromhex(fields["entity_id"])
    if len(entity) != 8:
        raise GbcsError(f"entity_id must be an EUI-64, got {fields['entity_id']!r}")
    stamp = asn1.encode_generalized_time(fields["timestamp"]).encode("latin-1")
    return asn1.encode_node({"tag": "30", "children": [
        {"tag": "02", "hex": _der_int(int(_code_text(fields["alert_code"]), 16))},
        {"tag": "18", "hex": stamp.hex().upper()},
        {"tag": "04", "hex": entity.hex().upper()},
        {"tag": "04", "hex": bytes.fromhex(fields["firmware_version"]).hex().upper()},
        {"tag": "02", "hex": _der_int(result)},
    ]})


# -- future-dated execution alerts (0x00CC DLMS, 0x00CD GBZ) ----------------------------------

def _instruction(raw: bytes, tail: str) -> dict:
    """The instruction a future-dated alert reports: message code, originator counter, target."""
    code = int.from_bytes(raw[0:2], "big")
    out = {"message_code": f"{code:04X}", "use_case": use_case_name(code),
           "originator_counter": int.from_bytes(raw[2:10], "big")}
    if tail == "dlms":  # cosem-attribute-descriptor: class id, instance id (OBIS), attribute id
        out.update(class_id=int.from_bytes(raw[10:12], "big"), obis=dlms.decode_obis(raw[12:18]),
                   attribute=int.from_bytes(raw[18:19], "big", signed=True))
    else:  # ZCL: cluster id, frame control, command id
        out.update(cluster_id=raw[10:12].hex().upper(), frame_control=raw[12], command_id=raw[13])
    return out


def _instruction_bytes(value: dict, tail: str) -> bytes:
    raw = int(_code_text(value["message_code"]), 16).to_bytes(2, "big") \
        + int(value["originator_counter"]).to_bytes(8, "big")
    if tail == "dlms":
        return raw + int(value["class_id"]).to_bytes(2, "big") + dlms.encode_obis(value["obis"]) \
            + int(value["attribute"]).to_bytes(1, "big", signed=True)
    cluster = bytes.fromhex(value["cluster_id"])
    if len(cluster) != 2:
        raise GbcsError(f"cluster_id must be 4 hex digits, got {value['cluster_id']!r}")
    return raw + cluster + bytes((value["frame_control"], value["command_id"]))


def _decode_future_dlms(generic: dict) -> dict:
    body = generic.get("body")
    if ("alert_code" not in generic or not body or len(body) != 1 or body[0]["type"] != "octet-string"
            or len(body[0]["value"]) != 38 or not isinstance(generic["timestamp"], str)):
        raise _Mismatch
    out = _head("dlms-data-notification", "future-dated-dlms", generic)
    out.update(alert_code=generic["alert_code"], timestamp=generic["timestamp"],
               instruction=_instruction(bytes.fromhex(body[0]["value"]), "dlms"))
    return out


def _encode_future_dlms(fields: dict) -> bytes:
    raw = _instruction_bytes(fields["instruction"], "dlms")
    return dlms.encode_notification({**fields, "alert_code": _code_text(fields["alert_code"]),
                                     "body": [{"type": "octet-string", "value": raw.hex().upper()}]})


def _decode_future_gbz(generic: dict) -> dict:
    payload = generic.get("payload")
    if "alert_code" not in generic or payload is None or len(payload) != 30 or payload[:2] != "0E":
        raise _Mismatch
    raw = bytes.fromhex(payload)
    return {"kind": "gbz", "decoded_as": "future-dated-gbz", "component_count": generic["component_count"],
            "alert_code": generic["alert_code"], "timestamp": generic["timestamp"],
            "instruction": _instruction(raw[1:], "gbz")}


def _encode_future_gbz(fields: dict) -> bytes:
    raw = _instruction_bytes(fields["instruction"], "gbz")
    return gbz.encode({"component_count": fields["component_count"], "alert_code": _code_text(fields["alert_code"]),
                       "timestamp": fields["timestamp"], "payload": (bytes((len(raw),)) + raw).hex().upper()})


# -- registry --------------------------------------------------------------------------------

Decoder = Callable[[dict], dict]
Encoder = Callable[[dict], bytes]
_DECODERS: dict[tuple[int, str], Decoder] = {}
_ENCODERS: dict[str, dict[str, Encoder]] = {}
_NAMES: dict[tuple[int, str], str] = {}


def _register(name: str, message_codes: tuple[int, ...], cra: str, decode: Decoder,
              encode: Encoder) -> None:
    for code in message_codes:
        _DECODERS[(code, cra)] = decode
        _NAMES[(code, cra)] = name
    _ENCODERS.setdefault(name, {})[cra] = encode


for _name, (_code, _specs) in COMMAND_LAYOUTS.items():
    _register(_name, (_code,), "command",
              lambda g, n=_name, s=_specs: _decode_request(n, s, g),
              lambda f, s=_specs: _encode_request(s, f))
    _register(_name, (_code,), "response",
              lambda g, n=_name, s=_specs: _decode_response(n, s, g),
              lambda f, s=_specs: _encode_response(s, f))
for _name, _layout in ALERT_LAYOUTS.items():
    _register(_name, _layout.message_codes, "alert",
              lambda g, n=_name, lay=_layout: _decode_alert(n, lay, g),
              lambda f, lay=_layout: _encode_alert(lay, f))
_register("CCS08", (0x0128,), "alert", _decode_ccs08, _encode_ccs08)
_register("future-dated-dlms", (0x00CC,), "alert", _decode_future_dlms, _encode_future_dlms)
_register("future-dated-gbz", (0x00CD,), "alert", _decode_future_gbz, _encode_future_gbz)
_KIND_OF = {0x0128: "asn1", 0x00CD: "gbz"}

_GENERIC_KIND = {"command": "dlms-access-request", "response": "dlms-access-response",
                 "alert": "dlms-data-notification"}


def deepen(message_code: int, cra: str, generic: dict) -> dict | None:
    """The use case's named fields for a generically decoded content, or None if it has none."""
    decode = _DECODERS.get((message_code, cra))
    if decode is None:
        return None
    if generic["kind"] != _KIND_OF.get(message_code, _GENERIC_KIND[cra]):
        return None
    try:
        return decode(generic)
    except _Mismatch:
        return None


def build(cra: str, fields: dict) -> bytes:
    """Content bytes from a use case's named fields (``fields["decoded_as"]`` picks the layout)."""
    encode = _ENCODERS.get(fields.get("decoded_as"), {}).get(cra)
    if encode is None:
        raise GbcsError(f"no {cra} builder for {fields.get('decoded_as')!r}")
    return run_encoder(encode, fields, f"{fields.get('decoded_as')} {cra}")


def run_encoder(encode, fields: dict, what: str) -> bytes:
    """``encode(fields)``, with malformed fields (missing, mistyped, out of range) as a GbcsError."""
    try:
        return encode(fields)
    except GbcsError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise GbcsError(f"cannot build {what}: {exc!r}") from exc


def layout_name(message_code: int, cra: str) -> str | None:
    """The deep layout (``decoded_as``) for a message code and CRA, if there is one."""
    return _NAMES.get((message_code, cra))


def message_code_for_alert(code: int) -> int:
    """The message code that carries an alert: ECS80 and CS14 alerts have their own, every other
    alert goes as a Generic Critical (0x1000) or Non Critical (0x1001) Alert."""
    if code in SUPPLY_OUTAGE_RESTORED:
        return 0x0067
    if code == 0x8F12:
        return 0x0018
    info = alert_info(code)
    critical = info.critical if info else code >> 8 == 0x8F
    return GENERIC_CRITICAL_ALERT if critical else GENERIC_NON_CRITICAL_ALERT
