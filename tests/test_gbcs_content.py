"""GBCS content on self-built messages: runs without the RTDS vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.gbcs.content import (
    build_content,
    builders,
    decode_content,
    message_code_for_alert,
)
from hubrig.harness.gbcs.content.axdr import (
    NULL,
    decode_data_exact,
    decode_datetime,
    encode_datetime,
)
from hubrig.harness.gbcs.errors import GbcsError

T0 = datetime(2014, 12, 31, 23, 50, tzinfo=UTC)
ESME, GSME = "00DB1234567890A0", "00DB1234567890A1"


def test_ecs80_alert_carries_interruption_and_restoration():
    content = builders.ecs80_alert(timestamp=T0 + timedelta(minutes=10), interruption=T0,
                                   restoration=T0 + timedelta(minutes=9), invoke_id=2003)
    # DLMS data-notification: tag, long-invoke-id, empty date-time, structure of 4
    assert content[:8] == bytes.fromhex("0F200007D3000204")
    assert bytes.fromhex("128F36") in content
    # 2014-12-31 23:50:00, weekday/deviation/status "not specified" as GBCS writes them
    assert bytes.fromhex("090C07DE0C1FFF173200008000FF") in content
    assert decode_content(0x0067, "alert", content) == {
        "kind": "dlms-data-notification", "decoded_as": "ECS80", "invoke_id": 2003,
        "invoke_flags": 0x20, "date_time": None, "alert_code": "8F36",
        "timestamp": "2015-01-01T00:00:00+00:00",
        "interruption": "2014-12-31T23:50:00+00:00", "restoration": "2014-12-31T23:59:00+00:00",
    }


@pytest.mark.parametrize("code", range(0x8F35, 0x8F3D))
def test_every_supply_outage_restored_variant_builds_and_decodes(code):
    content = builders.ecs80_alert(alert_code=code, timestamp=T0, interruption=T0,
                                   restoration=T0, invoke_id=1)
    assert decode_content(message_code_for_alert(code), "alert", content)["alert_code"] == f"{code:04X}"
    assert message_code_for_alert(code) == 0x0067


def test_ecs80_refuses_an_alert_code_of_another_use_case():
    with pytest.raises(GbcsError, match="8F12"):
        builders.ecs80_alert(alert_code=0x8F12, timestamp=T0, interruption=T0, restoration=T0,
                             invoke_id=1)


@pytest.mark.parametrize("code,message_code", [(0x81C6, 0x1001), (0x8145, 0x1001), (0x8F0C, 0x1000)])
def test_clock_alerts_go_as_generic_alerts(code, message_code):
    assert message_code_for_alert(code) == message_code
    content = builders.clock_alert(alert_code=code, timestamp=T0, invoke_id=7)
    decoded = decode_content(message_code, "alert", content)
    assert decoded["decoded_as"] == "generic-alert"
    assert decoded["alert_code"] == f"{code:04X}"
    assert decoded["timestamp"] == T0.isoformat()


def test_cs14_alert_lists_the_device_log():
    devices = [{"mac_address": ESME, "tc_link_key_hash": "11" * 16},
               {"mac_address": GSME, "tc_link_key_hash": ""}]
    content = builders.cs14_alert(timestamp=T0, log_time=T0, extended_pan_id="0001020304050607",
                                  devices=devices, invoke_id=4000)
    decoded = decode_content(0x0018, "alert", content)
    assert decoded["alert_code"] == "8F12"
    assert decoded["device_log"] == {"date_time": T0.isoformat(),
                                     "extended_pan_id": "0001020304050607", "devices": devices}


def test_ccs01_register_device_fields():
    content = builders.ccs01_command(mac_address=ESME, install_code="AB" * 16, device_type=132,
                                     invoke_id=5, join_timeout=120)
    decoded = decode_content(0x0001, "command", content)
    assert decoded["register_device"] == {"mac_address": ESME, "key_type": 1,
                                          "install_code": "AB" * 16, "device_type": 132}
    assert decoded["join_timeout"] == 120 and decoded["enable_joining"] is True
    # ACTION register_device (method 1) on ZigBee network control 0-0:30.3.0.255
    assert bytes.fromhex("03006800001E0300FF01") in content


def test_ccs02_unregister_device():
    decoded = decode_content(0x0002, "command", builders.ccs02_command(mac_address=GSME,
                                                                       invoke_id=6))
    assert decoded["unregister_device"] == GSME


def test_ccs06_response_has_fourteen_named_fields_per_entry():
    entry = {"mac_address": ESME, "status": "11001000", "max_rssi": -35, "avg_rssi": -50,
             "min_rssi": -100, "max_lqi": 200, "avg_lqi": 150, "min_lqi": 100,
             "last_communication": "2014-12-31T23:50:00+00:00", "hops": 1, "tx_failures": 2,
             "tx_successes": 100, "app_version": 3, "stack_version": 4}
    content = builders.ccs06_response(active_devices=[entry] * 16, invoke_id=9)
    decoded = decode_content(0x010F, "response", content)
    assert decoded["results"] == {"active_devices": "success"}
    assert decoded["active_devices"] == [entry] * 16
    assert len(entry) == 14
    # the CHF writes the true weekday (Wednesday = 3) in last-communication date-times
    assert bytes.fromhex("07DE0C1F03173200008000FF") in content


def test_ccs06_error_response_has_no_entries():
    content = builders.ccs06_response(active_devices=None, result="hardware-fault", invoke_id=9)
    decoded = decode_content(0x010F, "response", content)
    assert decoded["results"] == {"active_devices": "hardware-fault"}
    assert decoded["active_devices"] is None


def test_ccs07_returns_device_log_and_historic_device_log():
    log = {"date_time": T0, "extended_pan_id": "0001020304050607",
           "devices": [{"mac_address": ESME, "tc_link_key_hash": "22" * 16}]}
    content = builders.ccs07_response(device_log=log, historic_device_log=None, invoke_id=3,
                                      results={"historic_device_log": "other-reason"})
    decoded = decode_content(0x00FE, "response", content)
    assert decoded["device_log"]["devices"][0]["mac_address"] == ESME
    assert decoded["device_log"]["date_time"] == T0.isoformat()
    assert decoded["historic_device_log"] is None
    assert decoded["results"] == {"device_log": "success", "historic_device_log": "other-reason"}
    command = decode_content(0x00FE, "command", builders.ccs07_command(invoke_id=3))
    assert command["decoded_as"] == "CCS07"
    assert bytes.fromhex("00001E0301FF04") in builders.ccs07_command(invoke_id=3)


def test_ecs70_set_clock_round_trip():
    start, stop = T0, T0 + timedelta(seconds=20)
    command = decode_content(0x0062, "command", builders.ecs70_command(
        validity_interval_start=start, validity_interval_end=stop, invoke_id=1000))
    window = command["preset_adjusting_time"]
    assert (window["validity_interval_start"], window["validity_interval_end"]) == (
        start.isoformat(), stop.isoformat())
    assert window["preset_time"]["year"] == 0xFFFF  # "not specified", as RTDS sends it
    response = decode_content(0x0062, "response", builders.ecs70_response(
        time=stop, status=0, invoke_id=1000, results={"status": "other-reason"}))
    assert response["time"] == stop.isoformat()
    assert response["results"]["status"] == "other-reason"
    assert response["results"]["clock_base"] == "success"


def test_ecs25a3_event_filter_bits():
    bits = "01" * 256
    decoded = decode_content(0x00EC, "command", builders.ecs25a3_command(event_filter=bits,
                                                                         invoke_id=2))
    assert decoded["event_filter"] == bits
    response = decode_content(0x00EC, "response", builders.ecs25a3_response(
        invoke_id=2, result="read-write-denied"))
    assert response["results"] == {"event_filter": "read-write-denied"}


def test_ccs08_firmware_transfer_alert():
    content = builders.ccs08_alert(alert_code=0x8F89, timestamp=T0, entity_id=ESME,
                                   firmware_version="0123ABCD", response_code="image-discarded")
    assert content[0] == 0x30
    assert decode_content(0x0128, "alert", content) == {
        "kind": "asn1", "decoded_as": "CCS08", "alert_code": "8F89", "timestamp": T0.isoformat(),
        "entity_id": ESME, "firmware_version": "0123ABCD", "response_code": "image-discarded"}


def test_ccs08_time_stamps_keep_four_year_digits():
    content = builders.ccs08_alert(alert_code=0x8F8A, timestamp=datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
                                   entity_id=ESME, firmware_version="01")
    assert b"09990102030405Z" in content
    assert decode_content(0x0128, "alert", content)["timestamp"] == "0999-01-02T03:04:05+00:00"


def test_a_time_that_cannot_be_written_in_utc_is_a_gbcs_error():
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))  # 0000-12-31 in UTC
    with pytest.raises(GbcsError, match="cannot build ECS80"):
        builders.ecs80_alert(timestamp=T0, interruption=early, restoration=T0, invoke_id=1)


def test_use_case_that_does_not_match_its_layout_keeps_the_generic_decoding():
    # a CCS06 command that GETs attribute 3 instead of active_devices (attribute 4)
    content = bytes.fromhex("D920000001000101006800001E0300FF030100")
    decoded = decode_content(0x010F, "command", content)
    assert "decoded_as" not in decoded
    assert decoded["requests"] == [{"service": "get", "class_id": 104, "obis": "0-0:30.3.0.255",
                                    "attribute": 3, "data": {"type": "null-data", "value": None}}]
    assert build_content(0x010F, "command", decoded) == content


def test_gbz_alert_header_and_components():
    # profile 0109, one component, alert 8F0A at 2015-01-01 (0x1C374A80 s since 2000), then a
    # plaintext Metering cluster component with ZCL header 19 00 06
    content = bytes.fromhex("0109018F0A1C374A80" "01" "0702" "0005" "190006" "AABB")
    decoded = decode_content(0x008B, "alert", content)
    assert decoded["alert_code"] == "8F0A"
    assert decoded["timestamp"] == "2015-01-01T00:00:00+00:00"
    # a Publish Snapshot needs 72 bytes: the two here stay as payload hex, with the reason
    assert decoded["components"] == [{"control": 1, "cluster_id": "0702", "frame_control": 0x19,
                                      "sequence": 0, "command_id": 6, "payload": "AABB",
                                      "zcl_error": "ZCL snapshot_id..tariff_tou_block_counter_4 truncated: "
                                                   "needs 72 bytes, 2 left"}]
    assert build_content(0x008B, "alert", decoded) == content


def test_gbz_command_component_count_must_match():
    with pytest.raises(GbcsError, match="GBZ component"):
        decode_content(0x0074, "command", bytes.fromhex("010902" "010702000301" "0000"))


def test_asn1_alert_header_is_lifted_out():
    content = bytes.fromhex("3018" "0203008F8B" "180F" + b"20150101000000Z".hex() + "0500")
    decoded = decode_content(0x012B, "alert", content)
    assert (decoded["alert_code"], decoded["timestamp"]) == ("8F8B", "2015-01-01T00:00:00+00:00")
    assert build_content(0x012B, "alert", decoded) == content


@pytest.mark.parametrize("hexdata,offset,message", [
    ("", 0, "empty"),
    ("0F2000", 1, "long-invoke-id"),
    ("0F20000001000202128F36", 11, "type tag missing"),
    ("D9200000010001FF", 7, "choice"),
    ("DA20000001000001000101", 10, "access-response-specification"),
    ("30820004020100", 4, "truncated"),
    ("3080020100", 1, "indefinite"),
    ("0F200000010002021281C6090C07DE0C1FFF173200008000FF00", 25, "unexpected bytes"),
])
def test_malformed_content_names_where_it_stopped(hexdata, offset, message):
    with pytest.raises(GbcsError, match=message) as caught:
        decode_content(0x1001, "alert", bytes.fromhex(hexdata))
    assert caught.value.offset == offset


def test_deep_nesting_is_refused_not_a_crash():
    content = bytes.fromhex("0F2000000100" + "0201" * 200 + "00")
    with pytest.raises(GbcsError, match="nested"):
        decode_content(0x1001, "alert", content)


def test_cosem_datetime_forms():
    assert decode_datetime(bytes.fromhex("07DF0101FF000000008000FF")) == "2015-01-01T00:00:00+00:00"
    assert decode_datetime(bytes.fromhex("07DF0101FF00000C328000FF")) == "2015-01-01T00:00:12.500000+00:00"
    raw = decode_datetime(bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF"))
    assert raw["year"] == 0xFFFF and raw["deviation"] == -0x8000
    # a deviation or clock status makes it not a plain GBCS UTC time: raw fields, lossless
    for text in ("07DF0101FF00000000003C00", "07DF0230FF000000008000FF"):
        decoded = decode_datetime(bytes.fromhex(text))
        assert isinstance(decoded, dict)
        assert encode_datetime(decoded).hex().upper() == text


def test_cosem_datetime_is_utc_and_truncated_to_hundredths():
    local = datetime(2015, 6, 1, 13, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=1)))
    assert decode_datetime(encode_datetime(local)) == "2015-06-01T12:00:00.120000+00:00"
    with pytest.raises(GbcsError, match="aware"):
        encode_datetime(datetime(2015, 1, 1))


def test_generic_dlms_data_types():
    data = bytes.fromhex("020B" "0300" "03FF" "0401" "80" "05FFFFFFFE" "0A0248" "49"
                         "0C02C3A9" "10FF9C" "1600" "17" "3F800000" "1A07DF0101FF" "00")
    value = decode_data_exact(data)
    assert [item["value"] for item in value["value"]] == [
        False, True, "1", -2, "HI", "é", -100, 0, 1.0, "07DF0101FF", None]


def test_decoded_values_are_independent_of_each_other_and_of_the_encoders_null():
    value = decode_data_exact(bytes.fromhex("02020000"))
    value["value"][0]["value"] = "annotated"
    assert value["value"][1] == {"type": "null-data", "value": None} == NULL


def test_unknown_kind_and_cra_are_refused():
    with pytest.raises(GbcsError):
        build_content(1, "command", {"kind": "nope"})
    with pytest.raises(GbcsError):
        decode_content(1, "request", b"\x0f")


def test_encrypted_dlms_data_is_shown_beside_its_ciphertext():
    # ECS68-like alert body: protection parameters (array of {enum, ...}) then the protected
    # attributes block 0x31 || IC || "ciphertext" || tag; the stand-in decrypt strips header/tag
    block = bytes.fromhex("3100000001" "12002A" + "EE" * 12)
    content = (bytes.fromhex("0F200000010002041280AA090C07DF0101FF000000008000FF"
                             "0101" "0202" "1602" "0200") + b"\x09" + bytes((len(block),)) + block)
    decoded = decode_content(0x0061, "alert", content, decrypt=lambda b: b[5:-12])
    assert decoded["body"][1]["decrypted"] == {"type": "long-unsigned", "value": 42}
    garbled = decode_content(0x0061, "alert", content, decrypt=lambda b: b"\xfe\x01")
    assert garbled["body"][1]["decrypted_hex"] == "FE01"
    failed = decode_content(0x0061, "alert", content, decrypt=lambda b: None)
    assert failed["body"][1]["decrypted"] is None
    assert build_content(0x0061, "alert", decoded) == content


def test_encrypted_gbz_component_payload_is_decrypted():
    block = bytes.fromhex("3100000001" "0102" + "EE" * 12)
    payload = len(block).to_bytes(2, "big") + block
    body = bytes.fromhex("0000" "190001") + payload
    content = bytes.fromhex("010901" "03" "0702") + len(body).to_bytes(2, "big") + body
    decoded = decode_content(0x0077, "response", content, decrypt=lambda b: b[5:-12])
    assert decoded["components"][0]["decrypted_payload"] == "0102"
    assert build_content(0x0077, "response", decoded) == content


def test_deep_fields_must_belong_to_the_message_code():
    fields = decode_content(0x0002, "command", builders.ccs02_command(mac_address=ESME, invoke_id=1))
    with pytest.raises(GbcsError, match="0x0001"):
        build_content(0x0001, "command", fields)


def test_ecs35a_range_and_event_log():
    start, end = T0.replace(microsecond=0), T0.replace(microsecond=0) + timedelta(hours=1)
    command = decode_content(0x0048, "command", builders.ecs35a_command(start=start, end=end, invoke_id=5))
    assert command["event_log_range"] == {"from": start.isoformat(), "to": end.isoformat()}
    log = [{"timestamp": start, "event_code": 0x8145}, {"timestamp": end, "event_code": "81C6", "value": "01"}]
    response = decode_content(0x0048, "response", builders.ecs35a_response(event_log=log, invoke_id=5))
    assert response["event_log"] == [
        {"timestamp": start.isoformat(), "event_code": "8145", "value": ""},
        {"timestamp": end.isoformat(), "event_code": "81C6", "value": "01"}]


@pytest.mark.parametrize("when", [datetime(1999, 12, 31, tzinfo=UTC), datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
                                  datetime(2020, 1, 1)])
def test_ecs35a_times_must_be_whole_aware_seconds_from_2000(when):
    with pytest.raises(GbcsError):
        builders.ecs35a_command(start=when, end=datetime(2021, 1, 1, tzinfo=UTC), invoke_id=1)


def test_an_event_log_compact_array_of_another_shape_keeps_the_generic_decoding():
    content = builders.ecs35a_response(event_log=[{"timestamp": datetime(2020, 1, 1, tzinfo=UTC),
                                                   "event_code": 0x8145}], invoke_id=1)
    # the entry's description says long-unsigned (12) where the time stamp's double-long-unsigned (06) is
    other = content.replace(bytes.fromhex("0203061209"), bytes.fromhex("0203121209"))
    decoded = decode_content(0x0048, "response", other)
    assert "decoded_as" not in decoded and decoded["responses"][0]["data"]["type"] == "compact-array"
    assert build_content(0x0048, "response", decoded) == other


_POWER_ENTRIES = st.lists(st.fixed_dictionaries({
    "timestamp": st.integers(0, (1 << 32) - 1).map(lambda s: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=s)),
    "event_code": st.integers(0, 0xFFFF), "counter": st.integers(0, (1 << 32) - 1)}), max_size=20)


@given(_POWER_ENTRIES, st.integers(0, (1 << 24) - 1))
def test_ecs35e_power_event_log_round_trips(entries, invoke_id):
    content = builders.ecs35e_response(power_event_log=entries, invoke_id=invoke_id)
    decoded = decode_content(0x00B9, "response", content)
    assert decoded["decoded_as"] == "ECS35e"
    assert decoded["power_event_log"] == [{"timestamp": e["timestamp"].isoformat(), "event_code": f"{e['event_code']:04X}",
                                           "counter": e["counter"]} for e in entries]
    assert build_content(0x00B9, "response", decoded) == content


def test_a_power_event_log_counter_out_of_range_is_refused():
    with pytest.raises(GbcsError):
        builders.ecs35e_response(power_event_log=[{"timestamp": T0.replace(microsecond=0), "event_code": 0x8F57,
                                                   "counter": 1 << 32}], invoke_id=1)
