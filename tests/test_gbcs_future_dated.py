"""Future-dated execution alerts (0x00CC DLMS, 0x00CD GBZ): the instruction they report."""

from __future__ import annotations

import json
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.content import build_content, decode_content
from hubrig.harness.gbcs.errors import GbcsError


def test_each_alert_names_a_future_dated_command_of_its_folder(rtds):
    """Independent check: the (message code, originator counter) an alert reports is one of the
    future-dated commands in the same RTDS folder, as facts.jsonl lists them."""
    facts = [json.loads(line) for line in (rtds / "facts.jsonl").read_text().splitlines()]
    commands = defaultdict(set)
    for fact in facts:
        if fact["cra"] == "command" and "FUTURE_DATED" in fact["file"]:
            commands[fact["file"].split("/")[0]].add((fact["message_code"], fact["originator_counter"]))
    checked = 0
    for fact in facts:
        if fact["message_code"] not in ("00CC", "00CD"):
            continue
        msg = envelope.parse(bytes.fromhex("".join((rtds / "messages" / fact["file"]).read_text().split())))
        body = decode_content(msg.message_code, msg.cra, msg.content)
        assert body["decoded_as"] == ("future-dated-dlms" if fact["message_code"] == "00CC" else "future-dated-gbz")
        got = (body["instruction"]["message_code"], body["instruction"]["originator_counter"])
        assert got in commands[fact["file"].split("/")[0]], fact["file"]
        assert body["alert_code"] == fact["alert_code"]
        assert build_content(msg.message_code, msg.cra, body) == msg.content
        checked += 1
    assert checked == 56


_DLMS = st.fixed_dictionaries({
    "message_code": st.integers(0, 0xFFFF).map(lambda c: f"{c:04X}"),
    "originator_counter": st.integers(0, 2**64 - 1), "class_id": st.integers(0, 0xFFFF),
    "obis": st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda p: f"{p[0]}-{p[1]}:{p[2]}.{p[3]}.{p[4]}.{p[5]}"),
    "attribute": st.integers(-128, 127)})
_GBZ = st.fixed_dictionaries({
    "message_code": st.integers(0, 0xFFFF).map(lambda c: f"{c:04X}"), "originator_counter": st.integers(0, 2**64 - 1),
    "cluster_id": st.integers(0, 0xFFFF).map(lambda c: f"{c:04X}"), "frame_control": st.integers(0, 255),
    "command_id": st.integers(0, 255)})


@given(_DLMS, st.integers(0, 0xFFFF), st.integers(1, 2**31))
@settings(max_examples=200, deadline=None)
def test_dlms_future_dated_alert_round_trips(instruction, alert, seconds):
    stamp = f"20{seconds % 90 + 10:02d}-01-15T09:00:00+00:00"
    fields = {"decoded_as": "future-dated-dlms", "invoke_id": 7, "invoke_flags": 32, "date_time": None,
              "alert_code": f"{alert:04X}", "timestamp": stamp, "instruction": instruction}
    content = build_content(0x00CC, "alert", fields)
    again = decode_content(0x00CC, "alert", content)
    instruction_named = dict(again["instruction"])
    instruction_named.pop("use_case")
    assert instruction_named == instruction and again["alert_code"] == fields["alert_code"]
    assert build_content(0x00CC, "alert", again) == content


@given(_GBZ, st.integers(0, 0xFFFF))
@settings(max_examples=200, deadline=None)
def test_gbz_future_dated_alert_round_trips(instruction, alert):
    fields = {"decoded_as": "future-dated-gbz", "component_count": 1, "alert_code": f"{alert:04X}",
              "timestamp": "2030-01-15T09:00:00+00:00", "instruction": instruction}
    content = build_content(0x00CD, "alert", fields)
    again = decode_content(0x00CD, "alert", content)
    again["instruction"].pop("use_case")
    assert again["instruction"] == instruction
    assert build_content(0x00CD, "alert", {**again, "instruction": {**instruction}}) == content


@given(st.binary(max_size=60), st.sampled_from([0x00CC, 0x00CD]))
@settings(max_examples=400, deadline=None)
def test_arbitrary_future_dated_content_never_raises_anything_but_gbcs_error(raw, code):
    for content in (raw, b"\x01\x09" + raw, b"\x0f" + raw):
        try:
            decode_content(code, "alert", content)
        except GbcsError:
            pass
