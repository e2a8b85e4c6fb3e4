"""Named ASN.1 fields: hand-read facts, every RTDS ASN.1 content named whole, never-raises property."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.content import asn1, asn1_names, build_content, decode_content
from hubrig.harness.gbcs.errors import GbcsError

FACTS = json.loads((Path(__file__).parent / "gbcs_asn1_facts.json").read_text())["facts"]


def _leaves(node: dict, out: list) -> list:
    if "children" in node:
        for child in node["children"]:
            _leaves(child, out)
    elif "name" in node:
        out.append([node["name"], node.get("value", node["hex"])])
    return out


def _content(rtds: Path, name: str) -> envelope.Message:
    return envelope.parse(bytes.fromhex("".join((rtds / "messages" / name).read_text().split())))


def test_hand_read_facts(rtds):
    for fact in FACTS:
        msg = _content(rtds, fact["file"])
        assert msg.content.hex().upper() == fact["content"]
        body = decode_content(msg.message_code, msg.cra, msg.content)
        assert body["schema"] == fact["schema"] and _leaves(body["der"], []) == fact["leaves"], fact["file"]


def _asn1_contents(rtds: Path):
    """(file, message, decoded content) of every RTDS message whose content is an ASN.1 tree."""
    for line in (rtds / "facts.jsonl").read_text().splitlines():
        fact = json.loads(line)
        msg = _content(rtds, fact["file"])
        body = decode_content(msg.message_code, msg.cra, msg.content)
        if body["kind"] == "asn1" and "der" in body:
            yield fact["file"], msg, body


def test_every_rtds_asn1_content_is_named_whole_and_still_rebuilds(rtds):
    named = 0
    for name, msg, body in _asn1_contents(rtds):
        assert "schema" in body, name
        assert build_content(msg.message_code, msg.cra, body) == msg.content
        named += 1
    assert named >= 170


@given(st.binary(min_size=2, max_size=80), st.sampled_from(sorted(asn1_names.SCHEMAS)))
@settings(max_examples=600, deadline=None)
def test_naming_never_raises_and_never_changes_the_bytes(raw, key):
    try:
        node, end = asn1.decode_node(raw, 0, len(raw))
    except GbcsError:
        return
    content = {"kind": "asn1", "der": node}
    asn1_names.annotate(*key, content)
    assert asn1.encode_node(content["der"]) == raw[:end]


def test_a_tree_of_the_wrong_shape_gets_no_schema():
    content = {"kind": "asn1", "der": {"tag": "30", "children": [{"tag": "02", "hex": "00"}]}}
    asn1_names.annotate(0x007F, "response", content)
    assert "schema" not in content


def _certificates(node: dict, out: list) -> list:
    if node.get("name") == "certificate" and "children" in node:
        out.append(node)
    for child in node.get("children", []):
        _certificates(child, out)
    return out


def _child(node: dict, name: str) -> dict:
    return next(c for c in node["children"] if c.get("name") == name)


def test_every_rtds_certificate_is_named_as_cryptography_reads_it(rtds):
    """Independent path: the certificate's bytes parsed by ``cryptography``'s X.509 reader."""
    from cryptography import x509

    checked = 0
    for _, _, body in _asn1_contents(rtds):
        for cert in _certificates(body["der"], []):
            parsed = x509.load_der_x509_certificate(asn1.encode_node(cert))
            tbs = _child(cert, "tbs_certificate")
            assert _child(tbs, "serial_number")["value"] == parsed.serial_number
            validity = _child(tbs, "validity")["children"]
            assert [v["value"] for v in validity] == [parsed.not_valid_before_utc.isoformat(),
                                                      parsed.not_valid_after_utc.isoformat()]
            extensions = [e for e in tbs["children"] if e.get("name") == "extensions"]
            names = [ext["children"][0]["value"] for ext in extensions[0]["children"][0]["children"]] \
                if extensions else []
            assert names == [ext.oid.dotted_string for ext in parsed.extensions]
            assert _child(_child(cert, "signature_algorithm"), "algorithm")["value"] == \
                parsed.signature_algorithm_oid.dotted_string
            checked += 1
    assert checked > 50
