"""ZCL attribute records and command fields: hand-read facts, every RTDS GBZ message, properties."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs.content import build_content, decode_content, gbz, zcl
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore

FACTS = json.loads((Path(__file__).parent / "gbcs_zcl_facts.json").read_text())["facts"]
ACB = "90B3D51F30000002"


def _record(rtds: Path, name: str, keys: KeyStore) -> dict:
    return decode_record(bytes.fromhex("".join((rtds / "messages" / name).read_text().split())), keys, ACB)


def test_hand_read_facts_one_per_cluster(rtds):
    keys = KeyStore(rtds / "keystore")
    assert {f["cluster"] for f in FACTS} == {"0000", "0700", "0702", "0705", "0707", "0708", "0709"}
    for fact in FACTS:
        comp = _record(rtds, fact["file"], keys)["body"]["components"][fact["component"]]
        payload, view = ("decrypted_payload", "decrypted_zcl") if fact.get("decrypted") else ("payload", "zcl")
        assert (comp["cluster_id"], comp[payload]) == (fact["cluster"], fact["payload"]), fact["file"]
        assert comp[view] == fact["zcl"], fact["file"]


def test_every_rtds_gbz_component_gets_a_view_or_stays_hex_and_round_trips(rtds):
    keys = KeyStore(rtds / "keystore")
    named = values = 0
    for line in (rtds / "facts.jsonl").read_text().splitlines():
        fact = json.loads(line)
        data = bytes.fromhex("".join((rtds / "messages" / fact["file"]).read_text().split()))
        record = decode_record(data, keys, ACB)
        body = record["body"]
        if body["kind"] != "gbz":
            continue
        for comp in body.get("components", []):
            assert "zcl_error" not in comp and "decrypted_zcl_error" not in comp, fact["file"]
            view = comp.get("zcl") or comp.get("decrypted_zcl")
            if view is None:
                continue
            assert "rest" not in view, (fact["file"], view["command"])  # every layout fits its payload
            named += 1
            for rec in view.get("records", []):
                values += "value" in rec
                if "value" in rec:  # the record's bytes are in the payload, little-endian id first
                    payload = comp.get("decrypted_payload") or comp["payload"]
                    assert int(rec["id"], 16).to_bytes(2, "little").hex().upper() in payload
            values += len(view.get("fields", {}))
    assert named > 1100 and values > 1000


@given(st.binary(max_size=64), st.sampled_from(["0000", "0700", "0702", "0705", "0707", "0708", "0709", "FFFF"]),
       st.integers(0, 255), st.integers(0, 255))
@settings(max_examples=500, deadline=None)
def test_zcl_decode_never_raises_anything_but_gbcs_error(payload, cluster, frame_control, command_id):
    try:
        zcl.decode(cluster, frame_control, command_id, payload)
    except GbcsError:
        pass


_VALUES = st.one_of(
    st.tuples(st.just("uint8"), st.integers(0, 255)), st.tuples(st.just("uint48"), st.integers(0, 2**48 - 1)),
    st.tuples(st.just("int32"), st.integers(-2**31, 2**31 - 1)), st.tuples(st.just("map16"), st.integers(0, 65535)),
    st.tuples(st.just("enum8"), st.integers(0, 255)), st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("octstr"), st.binary(max_size=20).map(lambda b: b.hex().upper())),
    st.tuples(st.just("string"), st.text(st.characters(max_codepoint=255), max_size=20)),
    st.tuples(st.just("UTC"), st.integers(1, 2**32 - 2).map(zcl._utc)),
    st.tuples(st.just("EUI64"), st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())))


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), _VALUES), max_size=6))
@settings(max_examples=300, deadline=None)
def test_read_attributes_response_round_trips_through_a_built_component(items):
    records = [{"id": f"{i:04X}", "status": "SUCCESS", "type": t, "value": v} for i, (t, v) in items]
    comp = {"control": 0, "cluster_id": "0702", "frame_control": 0x08, "sequence": 1, "command_id": 1,
            "zcl": {"records": records}}
    content = build_content(0x0099, "response", {"kind": "gbz", "components": [comp]})
    again = decode_content(0x0099, "response", content)["components"][0]["zcl"]["records"]
    assert [{k: r[k] for k in ("id", "status", "type", "value")} for r in again] == records
    assert build_content(0x0099, "response", decode_content(0x0099, "response", content)) == content


def test_an_unknown_attribute_type_stays_typed_raw_bytes():
    payload = bytes.fromhex("0000" "00" "20" "07" + "0100" "00" "4C" "0200AABB")  # uint8 7, then a structure
    view = zcl.decode("0702", 0x08, 0x01, payload)
    assert view["records"] == [
        {"id": "0000", "name": "Current Summation Delivered", "status": "SUCCESS", "type": "uint8", "value": 7},
        {"id": "0001", "status": "SUCCESS", "type": "0x4C", "raw": "0200AABB"}]
    assert zcl.encode_records(0x01, view["records"]) == payload


def test_a_truncated_record_is_a_gbcs_error_in_the_component_not_an_exception():
    content = gbz.PROFILE + b"\x01" + bytes.fromhex("00" "0702" "0007" "080001" "000000" "23")
    comp = decode_content(0x0099, "response", content)["components"][0]
    assert "truncated" in comp["zcl_error"] and comp["payload"] == "00000023"


def test_a_counted_group_stops_at_its_count_and_keeps_the_rest():
    # Publish Block Thresholds with one threshold announced and two present
    head = bytes.fromhex("01000000" "02000000" "03000000" "04000000" "00" "01" "01" "01")
    view = zcl.decode("0700", 0x09, 0x06, head + bytes.fromhex("0A0000000000" "0B0000000000"))
    assert view["fields"]["entries"] == [{"block_threshold": 10}] and view["rest"] == "0B0000000000"
    assert view["fields"]["provider_id"] == 1 and view["fields"]["issuer_tariff_id"] == 4
