"""Issue 10 items 6-8 against RTDS 4.5.0: CCS06 field order and status, clock status, 0x0004."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.clockstatus import DoubtfulTime, decode_clock_status, trusted_time
from hubrig.harness.gbcs.content import build_content, decode_content
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.keystore import KeyStore
from hubrig.harness.virtual import devicelog

ACB = "90B3D51F30000002"


def _message(rtds: Path, name: str) -> bytes:
    return bytes.fromhex("".join((rtds / "messages" / name).read_text().split()))


def _messages(rtds: Path, pattern: str) -> list[tuple[str, bytes]]:
    return [(p.name, bytes.fromhex("".join(p.read_text().split())))
            for p in sorted((rtds / "messages").glob(pattern))]


@pytest.mark.parametrize("name", ["8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE_GBCS.HEX",
                                  "8.9_CCS05CCS04/CCS05CCS04_8.9_SUCCESS_RESPONSE_GBCS.HEX"])
def test_ccs06_and_its_third_mapping_decode_with_rssi_max_first(rtds, name):
    record = decode_record(_message(rtds, name), KeyStore(rtds / "keystore"), ACB)
    body = record["body"]
    assert body["decoded_as"] == name.split("/")[0].split("_")[1]
    rows = body["active_devices"]
    # hand-read from the bytes: 0FDD 0FCE 0F9C = integers -35 -50 -100; 1102 1127 11F7 = 2 39 247
    assert [(r["max_rssi"], r["avg_rssi"], r["min_rssi"]) for r in rows] == [(-35, -50, -100), (-34, -54, -77)]
    assert [(r["max_lqi"], r["avg_lqi"], r["min_lqi"]) for r in rows] == [(2, 39, 247), (1, 96, 205)]
    assert all(r["max_rssi"] >= r["avg_rssi"] >= r["min_rssi"] for r in rows)
    assert {r["status"] for r in rows} == {"11001000"}


def test_the_virtual_device_log_reports_joined_as_the_vectors_do(rtds):
    shown = {r["status"] for r in decode_record(
        _message(rtds, "8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE_GBCS.HEX"))["body"]["active_devices"]}
    entry = devicelog.DeviceEntry("00DB1234567890A0", 0, b"\x00" * 16, 60,
                                  datetime(2026, 1, 1, tzinfo=UTC), link_key=b"\x01" * 16)
    assert format(entry.status, "08b") in shown
    row = devicelog._active_row(entry)
    content = build_content(0x010F, "response", {"decoded_as": "CCS06", "invoke_id": 1, "invoke_flags": 32,
                                                 "date_time": None, "active_devices": [row]})
    again = decode_content(0x010F, "response", content)["active_devices"][0]
    assert again["status"] == "11001000" and again == row | {"last_communication": again["last_communication"]}


def test_clock_status_is_kept_and_matches_what_each_rtds_file_says(rtds):
    """UNRELIABLE responses carry 'doubtful' (0x02), RELIABLE_GSME the GSME's own clock (0x04)."""
    keys = KeyStore(rtds / "keystore")
    seen = {}
    for name, data in _messages(rtds, "4.*_GCS*/*RESPONSE_GBCS.HEX"):
        record = decode_record(data, keys, ACB)
        status = record.get("date_time_status")
        if "UNRELIABLE" in name:
            assert status and status["doubtful_value"] and not status["different_clock_base"], name
            with pytest.raises(DoubtfulTime, match="doubtful_value"):
                trusted_time(record)
            seen["doubtful"] = seen.get("doubtful", 0) + 1
        elif "RELIABLE_GSME" in name:
            assert status and status["different_clock_base"] and not status["doubtful_value"], name
            assert trusted_time(record) == datetime.fromisoformat(record["date_time"])
            seen["gsme"] = seen.get("gsme", 0) + 1
    assert seen == {"doubtful": 5, "gsme": 5}


def test_a_record_without_a_specified_status_has_no_status_field(rtds):
    data = _message(rtds, "8.9_CCS06/CCS06_8.9_SUCCESS_RESPONSE_GBCS.HEX")
    assert "date_time_status" not in decode_record(data)
    assert decode_clock_status(0xFF) is None
    assert decode_clock_status(0x81) == {"raw": 0x81, "invalid_value": True, "doubtful_value": False,
                                         "different_clock_base": False, "invalid_clock_status": False,
                                         "daylight_saving_active": True}


def test_trusted_time_refuses_invalid_and_accepts_unqualified_times():
    assert trusted_time({"date_time": "2015-01-01T00:00:00+00:00"}) == datetime(2015, 1, 1, tzinfo=UTC)
    assert trusted_time({"date_time": None}) is None
    with pytest.raises(DoubtfulTime, match="invalid_clock_status"):
        trusted_time({"date_time": "2015-01-01T00:00:00+00:00", "date_time_status": decode_clock_status(0x08)})


def test_envelope_round_trip_keeps_the_status_byte(rtds):
    for name, data in _messages(rtds, "4.*_GCS*/*UNRELIABLE*RESPONSE_GBCS.HEX"):
        assert envelope.parse(data).date_time_raw[-1] == 0x02, name
        assert envelope.encode(envelope.parse(data)) == data


@given(st.integers(0, 255))
def test_clock_status_bits_round_trip_and_decide_trust(status):
    from hubrig.harness.gbcs.clockstatus import UNTRUSTED

    decoded = decode_clock_status(status)
    if status == 0xFF:
        assert decoded is None
        return
    bits = {"invalid_value": 0x01, "doubtful_value": 0x02, "different_clock_base": 0x04,
            "invalid_clock_status": 0x08, "daylight_saving_active": 0x80}
    assert decoded["raw"] == status and all(decoded[name] == bool(status & bit) for name, bit in bits.items())
    record = {"date_time": "2015-01-01T00:00:00+00:00", "date_time_status": decoded}
    if status & UNTRUSTED:
        with pytest.raises(DoubtfulTime):
            trusted_time(record)
    else:
        assert trusted_time(record) == datetime(2015, 1, 1, tzinfo=UTC)


def test_content_date_times_are_refused_when_marked_and_read_when_not():
    from hubrig.harness.gbcs.clockstatus import trusted_cosem_time
    from hubrig.harness.gbcs.content.axdr import decode_datetime

    doubtful = decode_datetime(bytes.fromhex("07DE0C1F03173200008000" "02"))
    with pytest.raises(DoubtfulTime, match="doubtful_value"):
        trusted_cosem_time(doubtful, "interruption")
    gsme_clock = decode_datetime(bytes.fromhex("07DE0C1FFF173200008000" "04"))  # different clock base
    assert trusted_cosem_time(gsme_clock) == datetime(2014, 12, 31, 23, 50, tzinfo=UTC)
    assert trusted_cosem_time("2014-12-31T23:50:00+00:00") == datetime(2014, 12, 31, 23, 50, tzinfo=UTC)
    with pytest.raises(DoubtfulTime, match="not a complete"):
        trusted_cosem_time(decode_datetime(bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")))


def test_the_device_log_plan_refuses_a_last_communication_the_ch_marks_doubtful():
    from hubrig.harness.gbcs.content.axdr import decode_datetime
    from hubrig.testplans.test_device_log import insane_fields

    row = {"mac_address": "00DB1234567890A0", "status": "11001000", "max_rssi": -35, "avg_rssi": -50,
           "min_rssi": -100, "max_lqi": 2, "avg_lqi": 39, "min_lqi": 247,
           "last_communication": "2014-12-31T23:50:00+00:00", "hops": 1, "tx_failures": 0,
           "tx_successes": 100, "app_version": 1, "stack_version": 1}
    read_at = datetime(2015, 1, 1, tzinfo=UTC)
    assert insane_fields(row, "00DB1234567890A0", read_at, "frames 1, 2") == []
    row["last_communication"] = decode_datetime(bytes.fromhex("07DE0C1F03173200008000" "02"), weekday=True)
    assert insane_fields(row, "00DB1234567890A0", read_at, "frames 1, 2") == [
        "last_communication is marked doubtful_value by the CH (frames 1, 2)"]
