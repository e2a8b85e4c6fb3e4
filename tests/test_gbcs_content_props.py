"""Properties of the content codec: builders invert decoders, and bad bytes only raise GbcsError."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.content import build_content, decode_content
from hubrig.harness.gbcs.content.axdr import decode_data_exact, encode_data
from hubrig.harness.gbcs.errors import GbcsError

SETTINGS = settings(max_examples=150, deadline=None)

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                     timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=t.microsecond // 10_000 * 10_000).isoformat())
raw_times = st.fixed_dictionaries({
    "year": st.integers(0, 0xFFFF), "month": st.just(0xFF), "day": st.integers(0, 0xFF),
    "weekday": st.integers(0, 0xFF), "hour": st.integers(0, 0xFF), "minute": st.integers(0, 0xFF),
    "second": st.integers(0, 0xFF), "hundredths": st.integers(0, 0xFF),
    "deviation": st.integers(-0x8000, 0x7FFF), "clock_status": st.integers(0, 0xFF)})
any_time = st.one_of(times, raw_times)
eui = st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())
hexes = st.binary(max_size=40).map(lambda b: b.hex().upper())
u8, i8 = st.integers(0, 255), st.integers(-128, 127)
bits = st.text(alphabet="01", max_size=600)
invoke = {"invoke_id": st.integers(0, (1 << 24) - 1), "invoke_flags": u8,
          "date_time": st.one_of(st.none(), times)}
data_result = st.sampled_from(["success", "hardware-fault", "read-write-denied", "other-reason"])
utc_seconds = st.integers(0, (1 << 32) - 1).map(
    lambda s: (datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=s)).isoformat())
log_entry = st.fixed_dictionaries({
    "timestamp": utc_seconds, "event_code": st.integers(0, 0xFFFF).map(lambda c: f"{c:04X}"),
    "value": st.binary(max_size=200).map(lambda b: b.hex().upper())})


def dlms(kind: str, name: str, **fields):
    return st.fixed_dictionaries({"kind": st.just(kind), "decoded_as": st.just(name),
                                  **invoke, **fields})


backup = st.fixed_dictionaries({
    "date_time": any_time, "extended_pan_id": hexes,
    "devices": st.lists(st.fixed_dictionaries({
        "mac_address": eui, "tc_link_key_hash": st.sampled_from(["", "AB" * 16])}), max_size=16)})
entry = st.fixed_dictionaries({
    "mac_address": eui, "status": bits.map(lambda b: b[:8]), "max_rssi": i8, "avg_rssi": i8,
    "min_rssi": i8, "max_lqi": u8, "avg_lqi": u8, "min_lqi": u8, "last_communication": any_time,
    "hops": u8, "tx_failures": u8, "tx_successes": u8, "app_version": u8, "stack_version": u8})

USE_CASES = [
    (0x0067, "alert", dlms("dlms-data-notification", "ECS80",
                           alert_code=st.sampled_from([f"{c:04X}" for c in range(0x8F35, 0x8F3D)]),
                           timestamp=any_time, interruption=any_time, restoration=any_time)),
    (0x1001, "alert", dlms("dlms-data-notification", "generic-alert",
                           alert_code=st.sampled_from(["81C6", "8145", "8F0C"]), timestamp=any_time)),
    (0x0018, "alert", dlms("dlms-data-notification", "CS14", alert_code=st.just("8F12"),
                           timestamp=any_time, device_log=backup)),
    (0x0001, "command", dlms("dlms-access-request", "CCS01", register_device=st.fixed_dictionaries({
        "mac_address": eui, "key_type": u8, "install_code": hexes, "device_type": u8}),
        join_timeout=st.integers(0, 0xFFFF), enable_joining=st.booleans())),
    (0x0002, "command", dlms("dlms-access-request", "CCS02", unregister_device=eui)),
    (0x0003, "command", dlms("dlms-access-request", "CCS03", restore_pan=st.fixed_dictionaries({
        "extended_pan_id": hexes, "devices": backup.map(lambda b: b["devices"])}))),
    (0x010F, "command", dlms("dlms-access-request", "CCS06")),
    (0x010F, "response", dlms("dlms-access-response", "CCS06",
                              results=st.fixed_dictionaries({"active_devices": data_result}),
                              active_devices=st.one_of(st.none(), st.lists(entry, max_size=16)))),
    (0x00FE, "command", dlms("dlms-access-request", "CCS07")),
    (0x00FE, "response", dlms("dlms-access-response", "CCS07", results=st.fixed_dictionaries({
        "device_log": data_result, "historic_device_log": data_result}),
        device_log=st.one_of(st.none(), backup), historic_device_log=st.one_of(st.none(), backup))),
    (0x0062, "command", dlms("dlms-access-request", "ECS70", clock_base=u8,
                             preset_adjusting_time=st.fixed_dictionaries({
                                 "preset_time": any_time, "validity_interval_start": any_time,
                                 "validity_interval_end": any_time}),
                             adjust_to_preset_time=i8)),
    (0x0062, "response", dlms("dlms-access-response", "ECS70", results=st.fixed_dictionaries({
        name: data_result for name in ("clock_base", "preset_adjusting_time",
                                       "adjust_to_preset_time", "time", "status")}),
        time=st.one_of(st.none(), any_time), status=st.one_of(st.none(), u8))),
    (0x00EC, "command", dlms("dlms-access-request", "ECS25a3", event_filter=bits)),
    (0x00EC, "response", dlms("dlms-access-response", "ECS25a3",
                              results=st.fixed_dictionaries({"event_filter": data_result}))),
    (0x0048, "command", dlms("dlms-access-request", "ECS35a", event_log_range=st.fixed_dictionaries({
        "from": utc_seconds, "to": utc_seconds}))),
    (0x0048, "response", dlms("dlms-access-response", "ECS35a",
                              results=st.fixed_dictionaries({"event_log": data_result}),
                              event_log=st.one_of(st.none(), st.lists(log_entry, max_size=40)))),
    (0x0128, "alert", st.fixed_dictionaries({
        "kind": st.just("asn1"), "decoded_as": st.just("CCS08"),
        "alert_code": st.sampled_from(["8F89", "8F8A"]),
        "timestamp": st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                  timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=0).isoformat()),
        "entity_id": eui,
        "firmware_version": hexes,
        "response_code": st.sampled_from(["success", "image-discarded",
                                          "hardware-version-mismatch", "file-transfer-failure"])})),
]


@SETTINGS
@given(case=st.sampled_from(USE_CASES).flatmap(
    lambda c: st.tuples(st.just(c[0]), st.just(c[1]), c[2])))
def test_decode_inverts_build_for_every_use_case(case):
    message_code, cra, fields = case
    content = build_content(message_code, cra, fields)
    assert decode_content(message_code, cra, content) == fields
    assert build_content(message_code, cra, fields) == content


scalars = st.one_of(
    st.builds(lambda v: {"type": "null-data", "value": None}, st.none()),
    st.builds(lambda v: {"type": "boolean", "value": v}, st.booleans()),
    st.builds(lambda v: {"type": "long-unsigned", "value": v}, st.integers(0, 0xFFFF)),
    st.builds(lambda v: {"type": "double-long", "value": v}, st.integers(-(1 << 31), (1 << 31) - 1)),
    st.builds(lambda v: {"type": "long64-unsigned", "value": v}, st.integers(0, (1 << 64) - 1)),
    st.builds(lambda v: {"type": "enum", "value": v}, u8),
    st.builds(lambda v: {"type": "octet-string", "value": v}, st.binary(max_size=300).map(
        lambda b: b.hex().upper())),
    st.builds(lambda v: {"type": "visible-string", "value": v}, st.text(
        alphabet=st.characters(max_codepoint=255), max_size=20)),
    st.builds(lambda v: {"type": "utf8-string", "value": v}, st.text(max_size=20)),
    st.builds(lambda v: {"type": "bit-string", "value": v}, bits),
    st.builds(lambda v: {"type": "date-time", "value": v}, any_time),
    st.builds(lambda v: {"type": "float64", "value": v}, st.floats(allow_nan=False,
                                                                   allow_infinity=False)),
)
typed_data = st.recursive(scalars, lambda inner: st.builds(
    lambda kind, items: {"type": kind, "value": items},
    st.sampled_from(["array", "structure"]), st.lists(inner, max_size=5)), max_leaves=20)


@SETTINGS
@given(typed_data)
def test_axdr_data_round_trips(value):
    assert decode_data_exact(encode_data(value)) == value


def _strip_header_and_tag(block: bytes) -> bytes:
    return block[5:-12]


def _safe_decode(message_code: int, cra: str, content: bytes) -> None:
    try:
        decoded = decode_content(message_code, cra, content, decrypt=_strip_header_and_tag)
    except GbcsError as exc:
        assert 0 <= exc.offset <= len(content)
    else:
        json.dumps(decoded)
        assert build_content(message_code, cra, decoded) == content


codes = st.sampled_from([0x0067, 0x0018, 0x0001, 0x010F, 0x00FE, 0x0062, 0x00EC, 0x0048, 0x0128,
                         0x1000, 0x1001, 0x0074])
cras = st.sampled_from(["command", "response", "alert"])
prefixes = st.sampled_from([b"", b"\x0f", b"\xd9", b"\xda", b"\x01\x09", b"\x30"])


@settings(max_examples=400, deadline=None)
@given(codes, cras, prefixes, st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_gbcs_error(message_code, cra, prefix, tail):
    _safe_decode(message_code, cra, prefix + tail)


def mutate(data: st.DataObject, content: bytes) -> bytes:
    how = data.draw(st.sampled_from(["truncate", "extend", "flip", "length", "splice"]))
    if how == "truncate":
        return content[:data.draw(st.integers(0, len(content) - 1))]
    if how == "extend":
        return content + data.draw(st.binary(min_size=1, max_size=8))
    at = data.draw(st.integers(0, len(content) - 1))
    if how == "flip":
        return content[:at] + bytes((content[at] ^ data.draw(st.integers(1, 255)),)) + content[at + 1:]
    if how == "length":
        return content[:at] + bytes((data.draw(st.sampled_from([0, 0x7F, 0x80, 0x81, 0x82, 0xFF])),)) \
            + content[at + 1:]
    stop = data.draw(st.integers(at, len(content)))
    return content[:at] + data.draw(st.binary(max_size=12)) + content[stop:]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_self_built_contents_only_raise_gbcs_error(data):
    message_code, cra, fields = data.draw(st.sampled_from(USE_CASES).flatmap(
        lambda c: st.tuples(st.just(c[0]), st.just(c[1]), c[2])))
    _safe_decode(message_code, cra, mutate(data, build_content(message_code, cra, fields)))


@pytest.fixture(scope="module")
def rtds_contents(rtds):
    """(message code, CRA, content) of every RTDS message."""
    out = []
    for path in sorted((rtds / "messages").glob("*/*.HEX")):
        msg = envelope.parse(bytes.fromhex("".join(path.read_text().split())))
        out.append((msg.message_code, msg.cra, msg.content))
    return out


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_rtds_contents_only_raise_gbcs_error(rtds_contents, data):
    message_code, cra, content = data.draw(st.sampled_from(rtds_contents))
    _safe_decode(message_code, cra, mutate(data, content))
