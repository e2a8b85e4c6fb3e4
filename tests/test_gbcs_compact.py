"""Compact arrays through their type description: a hand-read RTDS fact, every RTDS message, properties."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs.content import axdr, compact
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore

ACB = "90B3D51F30000002"


def _compact_nodes(value, out):
    if isinstance(value, dict):
        if value.get("type") == "compact-array":
            out.append(value)
        for item in value.values():
            _compact_nodes(item, out)
    elif isinstance(value, list):
        for item in value:
            _compact_nodes(item, out)
    return out


def test_ecs66_daily_log_hand_read(rtds):
    data = bytes.fromhex("".join((rtds / "messages/4.17_ECS66/ECS66_4.17_SUCCESS_RESPONSE_GBCS.HEX").read_text().split()))
    [node] = _compact_nodes(decode_record(data, KeyStore(rtds / "keystore"), ACB)["body"], [])
    # 02 02 06 06 | 20 | 1C0FBD80 0000005F | 1C110F00 000000CB | 1C126080 000000F3 | 1C13B200 0000002E
    assert node["element_type"] == {"structure": ["double-long-unsigned", "double-long-unsigned"]}
    assert node["elements"] == [[0x1C0FBD80, 95], [0x1C110F00, 203], [0x1C126080, 243], [0x1C13B200, 46]]


def test_every_rtds_compact_array_decodes_and_rebuilds_from_its_elements(rtds):
    keys = KeyStore(rtds / "keystore")
    arrays = elements = 0
    for line in (rtds / "facts.jsonl").read_text().splitlines():
        fact = json.loads(line)
        data = bytes.fromhex("".join((rtds / "messages" / fact["file"]).read_text().split()))
        for node in _compact_nodes(decode_record(data, keys, ACB)["body"], []):
            assert "elements_error" not in node, fact["file"]
            assert compact.encode(node["element_type"], node["elements"]).hex().upper() == node["value"]
            arrays += 1
            elements += len(node["elements"])
    assert arrays >= 30 and elements > 700


_LEAVES = {"double-long-unsigned": st.integers(0, 2**32 - 1), "long": st.integers(-2**15, 2**15 - 1),
           "enum": st.integers(0, 255), "boolean": st.booleans(),
           "octet-string": st.binary(max_size=10).map(lambda b: b.hex().upper()),
           "visible-string": st.text(st.characters(max_codepoint=255), max_size=8),
           "bit-string": st.text("01", max_size=12), "long64": st.integers(-2**63, 2**63 - 1)}


def _values(element_type):
    if isinstance(element_type, str):
        return _LEAVES[element_type]
    if "structure" in element_type:
        return st.tuples(*map(_values, element_type["structure"])).map(list)
    return st.lists(_values(element_type["of"]), min_size=element_type["array"], max_size=element_type["array"])


_TYPES = st.recursive(st.sampled_from(sorted(_LEAVES)),
                      lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=4).map(lambda t: {"structure": t}),
                                              st.builds(lambda n, t: {"array": n, "of": t}, st.integers(1, 3), inner)),
                      max_leaves=6)


@given(_TYPES.flatmap(lambda t: st.tuples(st.just(t), st.lists(_values(t), max_size=5))))
@settings(max_examples=300, deadline=None)
def test_compact_arrays_round_trip_through_a_data_value(case):
    element_type, elements = case
    node = {"type": "compact-array", "value": None, "element_type": element_type, "elements": elements}
    raw = axdr.encode_data(node)
    again = axdr.decode_data_exact(raw)
    assert again["element_type"] == element_type and again["elements"] == elements
    assert axdr.encode_data(again) == raw


@given(st.binary(max_size=80))
@settings(max_examples=500, deadline=None)
def test_compact_array_bytes_never_raise_anything_but_gbcs_error(raw):
    try:
        axdr.decode_data(b"\x13" + raw, 0, len(raw) + 1)
    except GbcsError:
        pass
    try:
        compact.decode(raw, min(len(raw), 3))
    except GbcsError:
        pass


def test_a_zero_size_element_type_with_contents_is_an_error_not_a_hang():
    node = axdr.decode_data_exact(bytes.fromhex("13" "010000" "06" "02" "AABB"))
    assert "zero size" in node["elements_error"] and node["value"] == "01000006" "02AABB"
