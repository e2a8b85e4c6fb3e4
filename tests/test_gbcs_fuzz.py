"""Fuzzing: arbitrary and mutated frames only ever raise the codec's own GbcsError.

Mutations (truncate, extend, flip, splice lengths) run on messages the project builds with fresh
keys, and on the RTDS vectors when they are present.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import builder, envelope
from hubrig.harness.gbcs.content import builders as content
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore
from hubrig.harness.capture.framing import GfiFraming

ACB = "90B3D51F30000002"
SUPPLIER = "90B3D51F30010000"
ESME = "00DB1234567890A0"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> KeyStore:
    return KeyStore.generate(tmp_path_factory.mktemp("keys"), {ACB: "acb", SUPPLIER: "supplier", ESME: "esme"})


@pytest.fixture(scope="module")
def built(keys) -> list[bytes]:
    """A signed alert, a signed + MACed command and a MACed response, all with real content."""
    alert = content.ecs80_alert(timestamp="2024-01-01T00:05:00Z", interruption="2024-01-01T00:00:00Z",
                                restoration="2024-01-01T00:05:00Z", invoke_id=7)
    command = content.ecs70_command(validity_interval_start="2024-01-01T00:00:00Z",
                                    validity_interval_end="2024-01-01T00:10:00Z", invoke_id=8)
    response = content.ecs70_response(time="2024-01-01T00:00:05Z", status=0, invoke_id=8)
    return [
        builder.build_alert(originator=ESME, recipient=SUPPLIER, counter=7, message_code=0x0067,
                            content=alert, keys=keys),
        builder.build_command(originator=SUPPLIER, recipient=ESME, counter=8, message_code=0x0062,
                              content=command, keys=keys, acb=ACB, sign=True,
                              date_time=bytes.fromhex("07E80101FF000000008000FF")),
        builder.build_response(originator=ESME, recipient=SUPPLIER, counter=8, message_code=0x0062,
                               content=response, keys=keys),
    ]


def only_gbcs_errors(data: bytes, keys: KeyStore | None) -> None:
    """Parse and fully decode; anything but a record or GbcsError fails the test, and so does a
    GbcsError that only wraps a decoder bug (decode_record chains those)."""
    try:
        envelope.parse(data)
    except GbcsError as exc:
        assert 0 <= exc.offset <= len(data)
    try:
        record = decode_record(data, keys, ACB)
    except GbcsError as exc:
        assert 0 <= exc.offset <= len(data)
        assert exc.__cause__ is None, f"a content decoder bug passed off as bad bytes: {exc}"
        return
    json.dumps(record)  # what decode_record returns is JSON-ready


def _length_offsets(data: bytes) -> list[int]:
    """Offsets of the length fields of a parsed message (where splicing hurts most)."""
    msg = envelope.parse(data)
    ends = [7] if msg.general_ciphering else []
    start = len(data) - envelope.MAC_LENGTH - len(msg.general_signing_span) if msg.general_ciphering else 0
    other = start + 30 + (12 if msg.date_time_raw else 0)
    return ends + [other, msg.content_offset - 1, start + len(msg.signed_span) + 1]


@st.composite
def mutations(draw, message: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "extend", "flip", "splice", "insert", "delete"]))
    if kind == "truncate":
        return message[:draw(st.integers(0, len(message) - 1))]
    if kind == "extend":
        return message + draw(st.binary(min_size=1, max_size=40))
    if kind == "flip":
        at = draw(st.integers(0, len(message) - 1))
        return message[:at] + bytes([message[at] ^ draw(st.integers(1, 255))]) + message[at + 1:]
    if kind == "splice":
        at = draw(st.sampled_from(_length_offsets(message)))
        value = draw(st.sampled_from([b"\x00", b"\x7f", b"\x80", b"\x81\xff", b"\x82\xff\xff",
                                      b"\x84\xff\xff\xff\xff", b"\x85", b"\xff"]))
        return message[:at] + value + message[at + 1:]
    at = draw(st.integers(0, len(message)))
    if kind == "insert":
        return message[:at] + draw(st.binary(min_size=1, max_size=8)) + message[at:]
    return message[:at] + message[at + draw(st.integers(1, 8)):]


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes(keys, data):
    only_gbcs_errors(data, keys)


@FUZZ
@given(st.sampled_from([b"\xdf\x09", b"\xdd" + bytes(6)]), st.binary(max_size=300))
def test_arbitrary_bytes_behind_a_valid_tag(keys, tag, rest):
    only_gbcs_errors(tag + rest, keys)


@FUZZ
@given(st.data())
def test_mutated_built_messages(keys, built, data):
    message = data.draw(st.sampled_from(built), label="message")
    only_gbcs_errors(data.draw(mutations(message), label="mutated"), keys)


@FUZZ
@given(st.data())
def test_mutated_built_messages_without_keys(built, data):
    message = data.draw(st.sampled_from(built), label="message")
    only_gbcs_errors(data.draw(mutations(message), label="mutated"), None)


@lru_cache(maxsize=None)
def _rtds(root: Path) -> tuple[list[bytes], KeyStore]:
    facts = [json.loads(line) for line in (root / "facts.jsonl").read_text().splitlines() if line.strip()]
    return [bytes.fromhex((root / "messages" / f["file"]).read_text().strip()) for f in facts], \
        KeyStore(root / "keystore")


@FUZZ
@given(st.data())
def test_mutated_rtds_messages(rtds, data):
    messages, keys = _rtds(rtds)
    message = data.draw(st.sampled_from(messages), label="message")
    only_gbcs_errors(data.draw(mutations(message), label="mutated"), keys)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
def test_framing_never_raises_on_arbitrary_streams(stream, cuts):
    framing = GfiFraming(max_line=256, notifications={"AD1": r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"})
    last = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]:
        framing.feed(stream[last:cut])
        last = cut
        assert len(framing._buffer) <= 257
    framing.flush()
