"""The GBCS envelope codec on its own: fields in, bytes out, and back, strictly."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.envelope import Message
from hubrig.harness.gbcs.errors import GbcsError

ESME = "00DB1234567890A0"
SUPPLIER = "90B3D51F30010000"

euis = st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())
utc_datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                             timezones=st.just(timezone.utc)).map(
    lambda d: d.replace(microsecond=d.microsecond // 10_000 * 10_000))


@st.composite
def messages(draw) -> Message:
    """Any encodable message: every other-information variant, date-time, signature and length form."""
    general_ciphering = draw(st.booleans())
    msg = Message(
        cra=draw(st.sampled_from(["command", "response", "alert"])),
        originator_counter=draw(st.integers(0, (1 << 64) - 1)),
        originator=draw(euis), recipient=draw(euis),
        message_code=draw(st.integers(0, 0xFFFF)),
        content=draw(st.binary(max_size=400)),
        date_time=draw(st.none() | utc_datetimes),
        general_ciphering=general_ciphering,
        mac=draw(st.binary(min_size=12, max_size=12)) if general_ciphering else None,
        invocation_counter=draw(st.integers(0, (1 << 32) - 1)) if general_ciphering else 0,
    )
    sig = draw(st.sampled_from(["none", "empty", "64"]))
    msg.signature = {"none": None, "empty": b"", "64": draw(st.binary(min_size=64, max_size=64))}[sig]
    if general_ciphering and msg.signature is None:
        msg.signature = b""
    variant = draw(st.integers(0, 4))
    if variant >= 1:
        msg.supplementary_remote_party_id = draw(euis)
    if variant >= 2:
        msg.supplementary_remote_party_counter = draw(st.integers(0, (1 << 64) - 1))
    if variant == 3:
        msg.supplementary_originator_counter = draw(st.integers(0, (1 << 64) - 1))
    if variant == 4:
        body = draw(st.binary(min_size=7, max_size=300))
        msg.remote_party_ka_certificate = b"\x30" + envelope.encode_length(len(body)) + body
    if draw(st.booleans()):
        msg.length_forms = {"content": draw(st.integers(2, 5))}
    return msg


def comparable(msg: Message) -> Message:
    """The fields a parse recovers: the raw date-time is a parse by-product, and a length form
    is recorded only where the encoder really wrote a non-minimal one."""
    size = len(msg.content)
    used = len(envelope.encode_length(size, msg.length_forms.get("content")))
    forms = {"content": used} if used != len(envelope.encode_length(size)) else {}
    return replace(msg, date_time_raw=None, length_forms=forms)


@settings(max_examples=300, deadline=None)
@given(messages())
def test_parse_recovers_every_encoded_field(msg):
    data = envelope.encode(msg)
    parsed = envelope.parse(data)
    assert comparable(parsed) == comparable(msg)
    assert envelope.encode(parsed) == data


@settings(max_examples=200, deadline=None)
@given(messages())
def test_signed_span_is_everything_after_the_df_tag_to_the_end_of_content(msg):
    parsed = envelope.parse(envelope.encode(msg))
    assert parsed.signed_span == envelope.encode_signed_part(msg)
    assert parsed.signed_span.endswith(msg.content)
    assert parsed.signed_span[:10] == b"\x09" + parsed.transaction_id


def worked_example() -> bytes:
    """The ECS80 8F36 alert layout from the domain brief (content shortened, no signature)."""
    msg = Message(cra="alert", originator_counter=2003, originator=ESME, recipient=SUPPLIER,
                  message_code=0x0067, content=bytes.fromhex("0F000007D3000202128F36"),
                  signature=b"")
    return envelope.encode(msg)


def test_worked_example_bytes_follow_the_documented_layout():
    data = worked_example()
    assert data[:3] == bytes([0xDF, 0x09, 0x03])
    assert int.from_bytes(data[3:11], "big") == 2003
    assert data[11:20] == b"\x08" + bytes.fromhex(ESME)
    assert data[20:29] == b"\x08" + bytes.fromhex(SUPPLIER)
    assert data[29] == 0  # no date-time
    assert data[30:33] == bytes([2, 0x00, 0x67])  # other-info: message code only
    assert data[33] == 11 and data[34:45] == bytes.fromhex("0F000007D3000202128F36")
    assert data[45:] == b"\x00"  # zero-length signature


@pytest.mark.parametrize("size, prefix", [(0x7F, b"\x7f"), (0x80, b"\x81\x80"), (0xFF, b"\x81\xff"),
                                          (0x100, b"\x82\x01\x00"), (0x10000, b"\x83\x01\x00\x00")])
def test_length_forms(size, prefix):
    assert envelope.encode_length(size) == prefix
    msg = Message(cra="response", originator_counter=1, originator=ESME, recipient=SUPPLIER,
                  message_code=1, content=bytes(size))
    data = envelope.encode(msg)
    assert prefix + bytes(size) in data
    assert envelope.parse(data).content == bytes(size)


def test_non_minimal_length_is_accepted_and_reproduced():
    data = bytearray(worked_example())
    data[33:34] = b"\x82\x00\x0b"  # content length 11 written in the long form
    parsed = envelope.parse(bytes(data))
    assert parsed.length_forms == {"content": 3}
    assert envelope.encode(parsed) == bytes(data)


def test_pre_command_has_no_signature_field():
    msg = Message(cra="command", originator_counter=5, originator=SUPPLIER, recipient=ESME,
                  message_code=0x0062, content=b"\xd9\x20")
    data = envelope.encode(msg)
    assert data.endswith(b"\x02\xd9\x20")
    assert envelope.parse(data).signature is None


def test_date_time_present_is_decoded_to_utc():
    when = datetime(2015, 1, 1, 12, 30, 5, tzinfo=timezone.utc)
    msg = Message(cra="command", originator_counter=5, originator=SUPPLIER, recipient=ESME,
                  message_code=0x0062, content=b"", date_time=when, signature=b"")
    data = envelope.encode(msg)
    assert b"\x0c\x07\xdf\x01\x01\xff\x0c\x1e\x05\x00\x80\x00\xff" in data
    assert envelope.parse(data).date_time == when


def test_cosem_datetime_unspecified_fields_give_none_but_survive_encoding():
    raw = bytes.fromhex("07DF0101FF" "FF0000" "00" "8000" "FF")  # hour not specified
    assert envelope.decode_cosem_datetime(raw) is None
    msg = replace(envelope.parse(worked_example()), date_time_raw=raw)
    assert envelope.parse(envelope.encode(msg)).date_time_raw == raw


def test_cosem_deviation_means_utc_is_local_plus_deviation():
    raw = bytes.fromhex("07DF060F FF 0C0000 00 FFC4 00".replace(" ", ""))  # deviation -60 min
    when = envelope.decode_cosem_datetime(raw)
    assert when.utcoffset() == timedelta(hours=1)
    assert when.astimezone(timezone.utc).hour == 11


@settings(max_examples=200, deadline=None)
@given(utc_datetimes)
def test_cosem_datetime_round_trip(when):
    assert envelope.decode_cosem_datetime(envelope.encode_cosem_datetime(when)) == when


def test_general_ciphering_layout():
    msg = replace(envelope.parse(worked_example()), general_ciphering=True, mac=bytes(range(12)))
    data = envelope.encode(msg)
    inner = envelope.encode_general_signing(msg)
    assert data[:7] == bytes([0xDD, 0, 0, 0, 0, 0, 0])
    assert data[7] == 5 + len(inner) + 12
    assert data[8:13] == bytes([0x11, 0, 0, 0, 0])
    assert data[13:-12] == inner and data[-12:] == bytes(range(12))
    parsed = envelope.parse(data)
    assert parsed.general_ciphering and parsed.mac == bytes(range(12))
    assert parsed.general_signing_span == inner


def test_encode_refuses_general_ciphering_without_mac():
    msg = replace(envelope.parse(worked_example()), general_ciphering=True)
    with pytest.raises(ValueError, match="mac"):
        envelope.encode(msg)


def _with(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


@pytest.mark.parametrize("mutate, offset, text", [
    (lambda d: b"", 0, "empty"),
    (lambda d: b"\x42" + d[1:], 0, "first byte 0x42"),
    (lambda d: _with(d, 1, b"\x08"), 1, "transaction-id length"),
    (lambda d: _with(d, 2, b"\x07"), 2, "CRA flag 0x07"),
    (lambda d: _with(d, 11, b"\x07"), 11, "originator system title length"),
    (lambda d: _with(d, 29, b"\x05"), 29, "date-time length 5"),
    (lambda d: _with(d, 30, b"\x03"), 31, "other-information of 3 bytes"),
    (lambda d: _with(d, 33, b"\x85"), 33, "unsupported length form"),
    (lambda d: _with(d, 33, b"\x20"), 34, "content: needs 32 bytes"),
    (lambda d: d + b"\x00", 46, "unexpected bytes after the signature"),
    (lambda d: d[:20], 20, "ends early"),
])
def test_malformed_messages_raise_gbcs_error_at_the_right_offset(mutate, offset, text):
    with pytest.raises(GbcsError, match=text) as info:
        envelope.parse(mutate(worked_example()))
    assert info.value.offset == offset


def test_general_ciphering_length_must_match_the_bytes_that_follow():
    msg = replace(envelope.parse(worked_example()), general_ciphering=True, mac=bytes(12))
    data = envelope.encode(msg)
    with pytest.raises(GbcsError, match="ciphered service length") as info:
        envelope.parse(data[:-1])
    assert info.value.offset == 7
    with pytest.raises(GbcsError, match="security control"):
        envelope.parse(_with(data, 8, b"\x31"))
    with pytest.raises(GbcsError, match="General-Ciphering header"):
        envelope.parse(_with(data, 3, b"\x01"))


def test_certificate_in_other_information_must_be_one_der_sequence():
    msg = envelope.parse(worked_example())
    msg.supplementary_remote_party_id, msg.supplementary_remote_party_counter = SUPPLIER, 7
    cert = b"\x30\x0a\x04\x08" + bytes(range(8))
    msg.remote_party_ka_certificate = cert
    assert envelope.parse(envelope.encode(msg)).remote_party_ka_certificate == cert
    msg.remote_party_ka_certificate = b"\x30\x0b" + cert[2:]  # DER says 13 bytes, 12 present
    with pytest.raises(GbcsError, match="certificate"):
        envelope.parse(envelope.encode(msg))
    msg.remote_party_ka_certificate = cert[:8]
    with pytest.raises(ValueError, match="longer than 8"):
        envelope.encode(msg)
