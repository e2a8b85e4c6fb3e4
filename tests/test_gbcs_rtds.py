"""The codec against the DCC's RTDS 4.5.0 vectors: every message, every signature and MAC.

Skips (with the reason) when ../shared/vectors is absent; test_gbcs_security.py proves the same
codec on messages the project builds itself.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import builder, envelope, security
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore
from hubrig.harness.gbcs.tables import use_case_name, use_case_source

ACB = "90B3D51F30000002"
HEADER_FACTS = ("cra", "general_ciphering", "originator_counter", "originator", "recipient", "message_code")


@lru_cache(maxsize=None)
def _vectors(root: Path) -> tuple[list[dict], list[bytes], KeyStore]:
    facts = [json.loads(line) for line in (root / "facts.jsonl").read_text().splitlines() if line.strip()]
    messages = [bytes.fromhex("".join((root / "messages" / f["file"]).read_text().split())) for f in facts]
    return facts, messages, KeyStore(root / "keystore")


@pytest.fixture(scope="module")
def vectors(rtds):
    return _vectors(rtds)


def test_there_are_1275_messages(vectors):
    facts, messages, _ = vectors
    assert len(facts) == len(messages) == 1275
    assert {f["cra"] for f in facts} == {"command", "response", "alert"}


def test_every_message_decodes_with_header_signature_and_mac_facts(vectors):
    facts, messages, keys = vectors
    mismatches = []
    for fact, data in zip(facts, messages):
        record = decode_record(data, keys, ACB)
        want = {k: fact[k] for k in HEADER_FACTS}
        want["signature_valid"] = fact.get("signature_valid", [])
        # No "mac" fact: the MAC keys are device keys whose private halves are not published.
        want["mac"] = fact.get("mac", "unknown") if fact["general_ciphering"] else None
        got = {k: record.get(k) for k in want}
        if got != want:
            mismatches.append((fact["file"], got, want))
    assert not mismatches, mismatches[:3]


def test_use_case_names_match_facts(vectors):
    facts, messages, keys = vectors
    wrong = [(f["file"], r["use_case"], f["use_case"]) for f, d in zip(facts, messages)
             if f["use_case"] and (r := decode_record(d, keys, ACB))["use_case"] != f["use_case"]]
    assert not wrong, wrong[:5]


def test_every_rtds_message_code_is_named_with_a_source_and_the_folder_agrees(vectors):
    """The facts leave 18 message codes unnamed (""); each must still have a name whose use-case ID
    is the one the RTDS folder names (``8.9_CCS05CCS04`` -> ``CCS05CCS04 ...``), and a source."""
    facts, messages, keys = vectors
    unnamed, wrong = set(), []
    for fact, data in zip(facts, messages):
        if fact["use_case"]:
            continue
        code = int(fact["message_code"], 16)
        unnamed.add(code)
        name, source = use_case_name(code), use_case_source(code)
        folder_use_case = fact["file"].split("/")[0].split("_", 1)[1]
        if not name or not source or not folder_use_case.startswith(name.split()[0]):
            wrong.append((fact["file"], name, source))
        elif decode_record(data, keys, ACB)["use_case"] != name:
            wrong.append((fact["file"], "record", name))
    assert not wrong, wrong[:5]
    assert len(unnamed) == 16 and 0x0004 in unnamed


def test_alert_codes_and_names_match_facts(vectors):
    facts, messages, keys = vectors
    wrong = []
    for fact, data in zip(facts, messages):
        if "alert_code" not in fact:
            continue
        record = decode_record(data, keys, ACB)
        # facts write an alert without a published name as ""; decode_record writes None
        if (record.get("alert_code"), record.get("alert_name") or "") != (fact["alert_code"], fact["alert_name"]):
            wrong.append((fact["file"], record.get("alert_code"), fact["alert_code"]))
    assert not wrong, wrong[:5]


def test_encode_of_parse_is_identity_for_every_message(vectors):
    _, messages, _ = vectors
    assert [i for i, data in enumerate(messages) if envelope.encode(envelope.parse(data)) != data] == []


def test_worked_example_ecs80_8f36(rtds, vectors):
    _, _, keys = vectors
    data = bytes.fromhex((rtds / "messages/NA_ECS80/ECS80_NA_8F36_ALERT_GBCS.HEX").read_text().strip())
    msg = envelope.parse(data)
    assert (msg.cra, msg.originator, msg.originator_counter, msg.message_code) == \
        ("alert", "00DB1234567890A0", 2003, 0x0067)
    assert msg.content[0] == 0x0F and msg.content[8:11] == b"\x12\x8f\x36"  # 0F id(4) 00 02 04 12 8F36
    assert security.verify_signature(msg, keys) is True


def test_builder_reproduces_every_unsigned_maced_message_exactly(vectors):
    facts, messages, keys = vectors
    rebuilt = 0
    for fact, data in zip(facts, messages):
        if fact.get("mac") != "valid" or fact.get("signature_valid"):
            continue
        msg = envelope.parse(data)
        again = builder.build_message(
            cra=msg.cra, originator=msg.originator, recipient=msg.recipient,
            counter=msg.originator_counter, message_code=msg.message_code, content=msg.content,
            date_time=msg.date_time_raw, keys=keys, general_ciphering=True, sign=False, acb=ACB,
            supplementary_remote_party_id=msg.supplementary_remote_party_id,
            supplementary_remote_party_counter=msg.supplementary_remote_party_counter,
            supplementary_originator_counter=msg.supplementary_originator_counter,
            remote_party_ka_certificate=msg.remote_party_ka_certificate)
        assert again == data, fact["file"]
        rebuilt += 1
    assert rebuilt > 600


def test_builder_re_signs_signed_messages_so_they_verify(vectors):
    facts, messages, keys = vectors
    checked = 0
    for fact, data in zip(facts, messages):
        msg = envelope.parse(data)
        if not msg.signature or not keys.has_private(msg.originator, "ds"):
            continue
        again = builder.build_message(
            cra=msg.cra, originator=msg.originator, recipient=msg.recipient,
            counter=msg.originator_counter, message_code=msg.message_code, content=msg.content,
            date_time=msg.date_time_raw, keys=keys, general_ciphering=msg.general_ciphering, sign=True,
            acb=ACB, supplementary_remote_party_id=msg.supplementary_remote_party_id,
            supplementary_remote_party_counter=msg.supplementary_remote_party_counter,
            supplementary_originator_counter=msg.supplementary_originator_counter,
            remote_party_ka_certificate=msg.remote_party_ka_certificate)
        record = decode_record(again, keys, ACB)
        assert record["signature_valid"] == [True] and record.get("mac", "valid") == "valid", fact["file"]
        assert envelope.parse(again).signed_span == msg.signed_span
        checked += 1
    assert checked > 100


def test_encrypted_response_content_decrypts(rtds, vectors):
    """ECS17b's register values travel encrypted to the supplier (security control 0x31)."""
    _, _, keys = vectors
    data = bytes.fromhex((rtds / "messages/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE_GBCS.HEX")
                         .read_text().strip())
    msg = envelope.parse(data)
    at = msg.content.index(b"\x31\x00\x00\x00\x00")
    block = msg.content[at:at + msg.content[at - 1]]
    plain = security.decrypt_block(msg, keys, block)
    assert plain is not None and len(plain) == len(block) - 17
    assert plain[:2] == b"\x02\x01"  # a DLMS structure
    assert security.decrypt_block(msg, keys, block[:-1] + bytes([block[-1] ^ 1])) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_flipping_any_byte_of_a_signed_rtds_message_is_detected(vectors, data):
    facts, messages, keys = vectors
    signed = [i for i, f in enumerate(facts) if f.get("signature_valid") or f.get("mac") == "valid"]
    index = data.draw(st.sampled_from(signed), label="message")
    message = messages[index]
    at = data.draw(st.integers(0, len(message) - 1), label="offset")
    mutated = message[:at] + bytes([message[at] ^ data.draw(st.integers(1, 255), label="xor")]) + message[at + 1:]
    try:
        record = decode_record(mutated, keys, ACB)
    except GbcsError:
        return
    fully_verified = record["signature_valid"] == [True] and record.get("mac", "valid") == "valid"
    assert not fully_verified, (facts[index]["file"], at)
