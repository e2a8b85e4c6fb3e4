"""GBCS content against the DCC's RTDS 4.5.0 vectors (skipped when ../shared is absent)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from hubrig.harness.gbcs import envelope, security
from hubrig.harness.gbcs.content import build_content, decode_content
from hubrig.harness.gbcs.keystore import KeyStore


@pytest.fixture(scope="module")
def messages(rtds):
    """(fact, parsed envelope) for every RTDS message."""
    out = []
    for line in (rtds / "facts.jsonl").read_text().splitlines():
        fact = json.loads(line)
        data = bytes.fromhex("".join((rtds / "messages" / fact["file"]).read_text().split()))
        out.append((fact, envelope.parse(data)))
    assert len(out) == 1275
    return out


def _decode(msg):
    return decode_content(msg.message_code, msg.cra, msg.content)


def _one(messages, name):
    return next(msg for fact, msg in messages if fact["file"].endswith(name))


def test_every_message_decodes_to_json_and_alert_codes_match_the_facts(messages):
    kinds = Counter()
    checked = 0  # alerts whose code was compared with an independent source
    for fact, msg in messages:
        decoded = _decode(msg)
        json.dumps(decoded)
        kinds[decoded["kind"]] += 1
        if msg.cra == "alert":
            # four alerts have no alert_code fact; their file names carry it (..._8F66_...)
            named = re.findall(r"_([0-9A-F]{4})_", fact["file"].rsplit("/", 1)[-1])
            want = [fact["alert_code"]] if "alert_code" in fact else named
            assert decoded["alert_code"] in want, fact["file"]
            assert re.fullmatch(r"[0-9A-F]{4}", decoded["alert_code"]), fact["file"]
            checked += 1
    assert checked == 93
    assert set(kinds) == {"dlms-data-notification", "dlms-access-request",
                          "dlms-access-response", "gbz", "asn1"}


def test_every_message_builds_back_to_its_bytes(messages):
    for fact, msg in messages:
        assert build_content(msg.message_code, msg.cra, _decode(msg)) == msg.content, fact["file"]


def test_deep_decoders_cover_the_use_cases_the_harness_uses(messages):
    deep = Counter()
    for _, msg in messages:
        decoded = _decode(msg)
        if "decoded_as" in decoded:
            deep[decoded["decoded_as"], msg.cra] += 1
    for use_case in ("CCS01", "CCS02", "CCS03", "CCS06", "CCS07", "ECS70", "ECS25a", "ECS25a3", "ECS25r1", "ECS35a"):
        assert deep[use_case, "command"] >= 2 and deep[use_case, "response"] >= 2, use_case
    for use_case in ("ECS80", "CS14", "CCS08"):
        assert deep[use_case, "alert"] == 1, use_case


def test_ecs80_8f36_worked_example(messages):
    decoded = _decode(_one(messages, "ECS80_NA_8F36_ALERT_GBCS.HEX"))
    assert decoded["alert_code"] == "8F36"
    assert decoded["invoke_id"] == 2003
    assert decoded["interruption"] == "2014-12-31T23:50:00+00:00"
    assert decoded["restoration"] == "2014-12-31T23:59:00+00:00"


def test_ccs06_response_device_log_entries(messages):
    decoded = _decode(_one(messages, "CCS06_8.9_SUCCESS_RESPONSE_GBCS.HEX"))
    entries = decoded["active_devices"]
    assert [e["mac_address"] for e in entries] == ["00DB1234567890A0", "00DB1234567890A1"]
    first = entries[0]
    assert len(first) == 14
    assert (first["status"], first["max_rssi"], first["avg_rssi"], first["min_rssi"]) == (
        "11001000", -35, -50, -100)
    assert first["last_communication"] == "2014-12-31T23:50:00+00:00"
    assert (first["hops"], first["tx_failures"], first["tx_successes"]) == (1, 0, 100)
    error = _decode(_one(messages, "CCS06_8.9_ERROR_RESPONSE_GBCS.HEX"))
    assert error["results"] == {"active_devices": "hardware-fault"} and error["active_devices"] is None


def test_ccs07_both_logs(messages):
    decoded = _decode(_one(messages, "CCS07_8.9_SUCCESS_RESPONSE_GBCS.HEX"))
    assert decoded["device_log"]["extended_pan_id"] == "0001020304050607"
    assert [d["mac_address"] for d in decoded["historic_device_log"]["devices"]] == [
        "00DB1234567890A3", "00DB1234567890A4"]
    assert decoded["device_log"]["devices"][0]["tc_link_key_hash"] == "83FED3407A939723A5C639B26916D506"
    command = _decode(_one(messages, "CCS07_8.9_SUCCESS_COMMAND_GBCS.HEX"))
    assert command["decoded_as"] == "CCS07"


def test_ccs01_and_cs14(messages):
    ccs01 = _decode(_one(messages, "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX"))
    assert ccs01["register_device"]["mac_address"] == "00DB1234567890A0"
    assert bytes.fromhex(ccs01["register_device"]["install_code"]) == b"0123456789ABCDEF"
    assert (ccs01["register_device"]["device_type"], ccs01["join_timeout"]) == (0, 90)
    cs14 = _decode(_one(messages, "CS14_NA_8F12_ALERT_GBCS.HEX"))
    assert len(cs14["device_log"]["devices"]) == 2


def test_ecs70_clock_read_back(messages):
    decoded = _decode(_one(messages, "ECS70_6.11_SUCCESS_RESPONSE_GBCS.HEX"))
    assert decoded["time"] == "2015-01-01T00:00:00+00:00" and decoded["status"] == 0
    error = _decode(_one(messages, "ECS70_6.11_ERROR_RESPONSE_GBCS.HEX"))
    assert error["results"]["time"] == "hardware-fault"
    assert error["results"]["status"] == "other-reason"


def test_ecs35a_event_log_read(messages):
    command = _decode(_one(messages, "ECS35a_6.13_SUCCESS_COMMAND_GBCS.HEX"))
    assert command["event_log_range"] == {"from": "2014-12-31T00:00:00+00:00",
                                          "to": "2015-01-01T00:00:00+00:00"}
    decoded = _decode(_one(messages, "ECS35a_6.13_SUCCESS_RESPONSE_GBCS.HEX"))
    log = decoded["event_log"]
    assert decoded["results"] == {"event_log": "success"} and len(log) == 33
    assert log[1] == {"timestamp": "2014-12-31T00:42:37+00:00", "event_code": "8145", "value": ""}
    assert log[2] == {"timestamp": "2014-12-31T01:39:48+00:00", "event_code": "8154", "value": "009B"}
    assert all(command["event_log_range"]["from"] <= e["timestamp"] <= command["event_log_range"]["to"]
               for e in log)
    error = _decode(_one(messages, "ECS35a_6.13_ERROR_RESPONSE_GBCS.HEX"))
    assert error["results"] == {"event_log": "hardware-fault"} and error["event_log"] is None


def test_ecs35a_builders_reproduce_the_rtds_contents(messages):
    from hubrig.harness.gbcs.content import builders

    command = _one(messages, "ECS35a_6.13_SUCCESS_COMMAND_GBCS.HEX")
    assert builders.ecs35a_command(start="2014-12-31T00:00:00+00:00", end="2015-01-01T00:00:00+00:00",
                                   invoke_id=1000) == command.content
    response = _one(messages, "ECS35a_6.13_SUCCESS_RESPONSE_GBCS.HEX")
    log = _decode(response)["event_log"]
    assert builders.ecs35a_response(event_log=log, invoke_id=1000) == response.content
    error = _one(messages, "ECS35a_6.13_ERROR_RESPONSE_GBCS.HEX")
    assert builders.ecs35a_response(event_log=None, invoke_id=1002, result="hardware-fault") == error.content


def test_ecs25a_and_ecs25r1_builders_reproduce_the_rtds_contents(messages):
    from hubrig.harness.gbcs.content import builders

    command = _one(messages, "ECS25a_6.22_SUCCESS_COMMAND_GBCS.HEX")
    alert_filter = _decode(command)["alert_filter"]
    assert builders.ecs25a_command(alert_filter=alert_filter, invoke_id=1000) == command.content
    read = _one(messages, "ECS25r1_6.2.10_SUCCESS_COMMAND_GBCS.HEX")
    assert builders.ecs25r1_command(invoke_id=1000) == read.content
    response = _decode(_one(messages, "ECS25r1_6.2.10_SUCCESS_RESPONSE_GBCS.HEX"))
    assert [len(response[name]) for name in builders.ECS25R1_OBJECTS] == [256] * 4
    assert builders.ecs25r1_response(behaviours=response, invoke_id=1000) == \
        _one(messages, "ECS25r1_6.2.10_SUCCESS_RESPONSE_GBCS.HEX").content


def test_every_rtds_behaviour_write_is_a_change_mask_then_values(messages):
    """ECS25a, ECS25a1 and ECS25a2 write 512 bits: every bit set in the second 256 is also set in the
    first 256 (a change mask, then the new values): a write changes only the bits it masks."""
    writes = [(fact["file"], _decode(msg)) for fact, msg in messages
              if fact["file"].endswith("SUCCESS_COMMAND_GBCS.HEX") and fact.get("message_code") in ("00AC", "00EA", "00EB")]
    assert len(writes) == 3
    for name, decoded in writes:
        bits = decoded["alert_filter"] if "decoded_as" in decoded else decoded["requests"][0]["data"]["value"]
        mask, values = bits[:256], bits[256:]
        assert all(m == "1" for m, v in zip(mask, values) if v == "1"), name


def _decrypted_nodes(node):
    if isinstance(node, dict):
        if "decrypted" in node:
            yield node
        for value in node.values():
            yield from _decrypted_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _decrypted_nodes(value)


def test_encrypted_parts_decrypt_with_the_test_keys(rtds, messages):
    keys = KeyStore(rtds / "keystore")
    for name in ("ECS68_NA_8F0A_SINGLE_ALERT_GBCS.HEX", "ECS21a_4.6.1_SINGLE_SUCCESS_RESPONSE_GBCS.HEX"):
        msg = _one(messages, name)
        decoded = decode_content(msg.message_code, msg.cra, msg.content,
                                 decrypt=lambda block, m=msg: security.decrypt_block(m, keys, block))
        nodes = list(_decrypted_nodes(decoded))
        assert len(nodes) == 1 and nodes[0]["decrypted"]["type"] == "structure", name
        assert build_content(msg.message_code, msg.cra, decoded) == msg.content
    msg = _one(messages, "GCS16a_4.6.1_SUCCESS_RESPONSE_GBCS.HEX")
    decoded = decode_content(msg.message_code, msg.cra, msg.content,
                             decrypt=lambda block: security.decrypt_block(msg, keys, block))
    encrypted = [c for c in decoded["components"] if c["control"] & 0x02]
    assert len(encrypted) == 2 and all(c["decrypted_payload"] for c in encrypted)
    without_keys = decode_content(msg.message_code, msg.cra, msg.content,
                                  decrypt=lambda block: security.decrypt_block(msg, None, block))
    assert all(c["decrypted_payload"] is None for c in without_keys["components"]
               if c["control"] & 0x02)


def test_ecs35e_power_event_log_read_and_builders_reproduce_the_rtds_contents(messages):
    """ECS35e (0x00B9): a range read of 0-0:99.98.4.255 answered by a compact array of {UTC time stamp,
    event code, counter}; the builders give the RTDS bytes back, command, response and error."""
    from hubrig.harness.gbcs.content import builders

    command = _one(messages, "ECS35e_6.13_SUCCESS_COMMAND_GBCS.HEX")
    assert _decode(command)["power_event_log_range"] == {"from": "2014-12-31T00:00:00+00:00",
                                                         "to": "2015-01-01T00:00:00+00:00"}
    assert builders.ecs35e_command(start="2014-12-31T00:00:00+00:00", end="2015-01-01T00:00:00+00:00",
                                   invoke_id=1000) == command.content
    response = _one(messages, "ECS35e_6.13_SUCCESS_RESPONSE_GBCS.HEX")
    decoded = _decode(response)
    log = decoded["power_event_log"]
    assert decoded["results"] == {"power_event_log": "success"} and len(log) == 33
    assert log[0] == {"timestamp": "2014-12-31T00:00:00+00:00", "event_code": "8002", "counter": 1}
    assert [e["event_code"] for e in log[24:]] == ["8F35", "8F36", "8F37", "8F38", "8F39", "8F3A", "8F3B",
                                                  "8F3C", "8F58"]
    assert [e["counter"] for e in log] == list(range(1, 34))
    assert builders.ecs35e_response(power_event_log=log, invoke_id=1000) == response.content
    error = _one(messages, "ECS35e_6.13_ERROR_RESPONSE_GBCS.HEX")
    assert _decode(error)["power_event_log"] is None
    assert builders.ecs35e_response(power_event_log=None, invoke_id=1002, result="hardware-fault") == error.content
