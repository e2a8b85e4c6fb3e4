"""Per-use-case deep decoders and builders, as layouts over the generic DLMS/ASN.1 structure.

A layout names every element of a use case's APDU (COSEM class, OBIS, attribute or method, and
a codec turning the typed DLMS value into a plain one: EUI-64 as 16 hex, COSEM date-time as ISO,
bit strings, ints). Decoding checks the generic structure against the layout and returns the
named fields with ``"decoded_as": <use case>``; a message that does not match the layout keeps
its generic decoding. Building is the same layout run backwards, so for every layout
``decode(build(fields)) == fields`` and ``build(decode(content)) == content``.

Byte layouts were checked against RTDS 4.5.0 (ECS80, CS14, CCS01-03, CCS06-08, ECS70, ECS25a3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from harness.gbcs.content import asn1, dlms
from harness.gbcs.content.axdr import NULL, decode_datetime, encode_datetime
from harness.gbcs.errors import GbcsError
from harness.gbcs.tables import alert_info


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
"""One entry of the CHF device log (ZigBee network control, attribute 4 active_devices)."""
BACKUP_DEVICE = _struct(("mac_address", EUI), ("tc_link_key_hash", HEX))
BACKUP = _struct(("date_time", DATETIME), ("extended_pan_id", HEX),
                 ("devices", _array(BACKUP_DEVICE)))
"""backup_PAN result: when, the extended PAN id, and each device with its hashed TC link key."""


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

    @property
    def index_key(self) -> str:
        return "method" if self.service == "action" else "attribute"


CHF_DEVICE_LOG, CHF_HISTORIC_DEVICE_LOG = "0-0:30.3.0.255", "0-0:30.3.1.255"
ZIGBEE_NETWORK_CONTROL, CLOCK, DATA = 104, 8, 1
CLOCK_OBIS = "0-0:1.0.0.255"

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
    "ECS25a3": (0x00EC, (
        Spec("set", DATA, "0-30:97.98.14.255", 2, "event_filter", BITS),
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
        requests.append({"service": spec.service, "class_id": spec.class_id, "obis": spec.obis,
                         spec.index_key: spec.index, "data": data})
    return dlms.encode_request({**fields, "requests": requests})


def _decode_response(name: str, specs: tuple[Spec, ...], generic: dict) -> dict:
    responses = generic["responses"]
    if "requests" in generic or len(responses) != len(specs):
        raise _Mismatch
    out = _head("dlms-access-response", name, generic)
    results = out["results"] = {}
    for found, spec in zip(responses, specs):
        if found["service"] != spec.service:
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
        responses.append({"service": spec.service, "result": results.get(spec.name, "success"),
                          "data": NULL if value is None else spec.response.encode(value)})
    return dlms.encode_response({**fields, "responses": responses})


# -- alert layouts ---------------------------------------------------------------------------

class AlertLayout(NamedTuple):
    """A DLMS alert's body after the alert code and time stamp; ``codes`` None means any."""

    message_codes: tuple[int, ...]
    codes: frozenset[int] | None
    body: tuple[tuple[str, Codec], ...]


SUPPLY_OUTAGE_RESTORED = frozenset(range(0x8F35, 0x8F3D))
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
    if tags != ["02", "18", "04", "04", "02"] or len(items[2]["hex"]) != 16:
        raise _Mismatch
    result = int(items[4]["hex"], 16) if items[4]["hex"] else -1
    stamp = generic.get("timestamp", "")
    if (items[0]["hex"] != _der_int(int(generic.get("alert_code", "-1"), 16) & 0xFFFF)
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

_GENERIC_KIND = {"command": "dlms-access-request", "response": "dlms-access-response",
                 "alert": "dlms-data-notification"}


def deepen(message_code: int, cra: str, generic: dict) -> dict | None:
    """The use case's named fields for a generically decoded content, or None if it has none."""
    decode = _DECODERS.get((message_code, cra))
    if decode is None:
        return None
    if generic["kind"] != ("asn1" if message_code == 0x0128 else _GENERIC_KIND[cra]):
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
    try:
        return encode(fields)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, GbcsError):
            raise
        raise GbcsError(f"cannot build {fields.get('decoded_as')} {cra}: {exc!r}") from exc


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
