"""Named fields for the ASN.1 (DER) contents of the GBCS CS and GCS use cases.

:func:`annotate` walks a decoded DER tree (:mod:`.asn1`) against the use case's structure and adds,
in place, ``name`` to every element it matches and ``value`` (and ``meaning`` for enumerations)
to INTEGER, ENUMERATED, GeneralizedTime and key-usage BIT STRING elements; the ``tag``/``hex``/
``children`` it does not touch, so the tree still encodes to the same bytes. A tree that matches
the whole structure gets ``schema`` on the content; one that does not keeps the names matched so far
(each given only after its tag matched) and no ``schema``. It never raises.

The structures (element order, optional elements by tag, enumeration values) are GBCS's ASN.1
modules as the public reference parser reads them (SmartDCCInnovation/gbcs-parser ``src/asn1.ts``,
read as facts); CS02f, CS02g and CS09, which it lacks, reuse the CS02a, CS02b and CS08 alert shapes,
which their RTDS 4.5.0 messages match whole (tested).
"""

from __future__ import annotations

from typing import NamedTuple

from hubrig.harness.gbcs.content.asn1 import decode_generalized_time


class Schema(NamedTuple):
    """One element: its name, its tag (hex), what it holds, and how to read it."""

    name: str
    tag: str
    kind: str  # int | octets | time | null | bits | bool | oid | text | seq | of | any ("" tag: any tag)
    fields: tuple = ()  # seq: the elements (Opt for optional ones); of: (item,)
    meanings: dict | None = None


class Choice(NamedTuple):
    """One of several elements, chosen by tag."""

    options: tuple[Schema, ...]


class Opt(NamedTuple):
    """An optional element, present when the next element has its tag."""

    schema: Schema | Choice


def Int(name: str, meanings: dict | None = None, tag: str = "02") -> Schema:  # noqa: N802
    return Schema(name, tag, "int", (), meanings)


def Octets(name: str, tag: str = "04") -> Schema:  # noqa: N802
    return Schema(name, tag, "octets")


def Time(name: str) -> Schema:  # noqa: N802
    return Schema(name, "18", "time")


def Seq(name: str, *fields: Schema | Opt, tag: str = "30") -> Schema:  # noqa: N802
    return Schema(name, tag, "seq", fields)


def Of(name: str, item: Schema | Choice, tag: str = "30") -> Schema:  # noqa: N802
    return Schema(name, tag, "of", (item,))


def Null(name: str) -> Schema:  # noqa: N802
    return Schema(name, "05", "null")


OIDS = {"1.2.840.10045.2.1": "ecPublicKey", "1.2.840.10045.3.1.7": "prime256v1",
        "1.2.840.10045.4.3.2": "ecdsa-with-SHA256", "2.5.4.3": "commonName", "2.5.4.10": "organizationName",
        "2.5.4.11": "organizationalUnitName", "2.5.4.45": "uniqueIdentifier", "2.5.29.14": "subjectKeyIdentifier",
        "2.5.29.15": "keyUsage", "2.5.29.17": "subjectAltName", "2.5.29.19": "basicConstraints",
        "2.5.29.32": "certificatePolicies", "2.5.29.35": "authorityKeyIdentifier"}
"""Object identifiers GBCS certificates use (RFC 5280, RFC 5480, RFC 5758 names)."""


def Oid(name: str) -> Schema:  # noqa: N802
    return Schema(name, "06", "oid", (), OIDS)


def _algorithm(name: str) -> Schema:
    return Seq(name, Oid("algorithm"), Opt(Choice((Oid("parameters"), Null("parameters")))))


def _x509_name(name: str) -> Schema:
    return Of(name, Of("relative_distinguished_name",
                       Seq("attribute", Oid("type"), Schema("value", "", "text")), tag="31"))


def _x509_time(name: str) -> Choice:
    return Choice((Schema(name, "17", "time"), Time(name)))


CERTIFICATE = Seq(
    "certificate",
    Seq("tbs_certificate",
        Opt(Seq("version", Int("version", {0: "v1", 1: "v2", 2: "v3"}), tag="A0")),
        Int("serial_number"), _algorithm("signature"), _x509_name("issuer"),
        Seq("validity", _x509_time("not_before"), _x509_time("not_after")), _x509_name("subject"),
        Seq("subject_public_key_info", _algorithm("algorithm"), Octets("subject_public_key", tag="03")),
        Opt(Octets("issuer_unique_id", tag="81")), Opt(Octets("subject_unique_id", tag="82")),
        Opt(Seq("extensions", Of("extensions", Seq("extension", Oid("extn_id"), Opt(Schema("critical", "01", "bool")),
                                                   Octets("extn_value"))), tag="A3"))),
    _algorithm("signature_algorithm"), Octets("signature_value", tag="03"))
"""An X.509 certificate (RFC 5280 section 4.1), as GBCS device and organisation certificates are."""
ROLES = {0: "root", 1: "recovery", 2: "supplier", 3: "network-operator", 4: "access-control-broker",
         5: "transitional-change-of-supplier", 6: "wan-provider", 7: "issuing-authority", 127: "other"}
DEVICE_TYPES = {0: "GSME", 1: "ESME", 2: "CHF", 3: "GPF", 4: "HCALCS", 5: "PPMID", 6: "type-2"}
STATUS = {0: "success", 5: "bad-certificate", 10: "no-trust-anchor", 17: "insufficient-memory",
          25: "trust-anchor-not-found", 30: "resources-busy", 127: "other"}
MODES = {2: "supplier-by-supplier", 3: "network-operator-by-network-operator", 4: "acb-by-acb",
         5: "wan-provider-by-wan-provider", 6: "transcos-by-transcos", 7: "supplier-by-transcos",
         8: "any-except-abnormal-root-by-recovery", 9: "any-by-contingency"}
JOIN_CODES = {0: "success", 1: "invalid-message-code-for-join-method-and-role", 2: "invalid-join-method-and-role",
              3: "incompatible-with-existing-entry", 4: "device-log-full", 5: "write-failure",
              6: "key-agreement-no-resources", 7: "key-agreement-unknown-issuer",
              8: "key-agreement-unsupported-suite", 9: "key-agreement-bad-message",
              10: "key-agreement-bad-key-confirm", 11: "invalid-or-missing-certificate",
              12: "no-partner-link-key-received", 13: "no-cbke-response"}
KEY_USAGE_BITS = {0: "digitalSignature", 4: "keyAgreement", 5: "keyCertSign", 6: "cRLSign"}


def _ta_cell(name: str, tag: str = "30") -> Schema:
    return Seq(name, Int("remote_party_role", ROLES), Schema("key_usage", "03", "bits"),
               Opt(Int("cell_usage", {0: "management", 1: "prepayment-top-up"})), tag=tag)


ALERT_CODE = Int("alert_code")
SPECIALIST = Seq("specialist_seq_number", Int("seq_number_usage", {0: "prepayment-top-up"}), Int("seq_number"))
SEQ_CHANGE = Seq("remote_party_seq_number_change", Int("remote_party_role", ROLES), Int("floor_seq_number"),
                 Opt(Of("specialist_floor_seq_numbers", SPECIALIST)))
DEVICE_LOG_ENTRY = Seq("device_log_entry", Octets("device_id"), Int("device_type", DEVICE_TYPES))
CS02B_OUTCOME = Seq(
    "execution_outcome", Int("authorising_remote_party_seq_number"), Int("credentials_replacement_mode", MODES),
    Of("remote_party_seq_number_changes", SEQ_CHANGE),
    Of("replacement_outcomes", Seq("replacement_outcome", _ta_cell("affected_trust_anchor_cell"),
                                   Int("status_code", STATUS, tag="0A"), Octets("existing_subject_unique_id"),
                                   Octets("existing_subject_key_id"), Octets("replacing_subject_unique_id"),
                                   Octets("replacing_subject_key_id"))))
CS02B_COMMAND = Seq(
    "update_security_credentials_command",
    Seq("authorising_remote_party_control", Int("credentials_replacement_mode", MODES),
        Opt(Octets("plaintext_symmetric_key", tag="80")),
        Opt(Int("apply_time_based_cpv_checks", {0: "apply", 1: "disapply"}, tag="81")),
        Opt(_ta_cell("authorising_remote_party_ta_cell", tag="A2")),
        Int("authorising_remote_party_seq_number", tag="83"),
        Opt(Int("new_remote_party_floor_seq_number", tag="84")),
        Opt(Of("new_remote_party_specialist_floor_seq_numbers", SPECIALIST, tag="A5")),
        Opt(Of("other_remote_party_seq_number_changes", SEQ_CHANGE, tag="A6"))),
    Of("replacements", Seq("trust_anchor_replacement", CERTIFICATE, _ta_cell("target_trust_anchor_cell"))),
    Of("certification_path_certificates", CERTIFICATE),
    Opt(Time("execution_date_time")))
CS02B_RESPONSE = Seq("update_security_credentials_response", Null("command_accepted"), Opt(CS02B_OUTCOME))
CS02B_ALERT = Seq("update_security_credentials_alert", ALERT_CODE, Time("execution_date_time"), CS02B_OUTCOME)
CS02A_COMMAND = Seq("provide_security_credential_details_command",
                    _ta_cell("authorising_remote_party_ta_cell"),
                    Of("remote_party_roles_credentials_required", Int("remote_party_role", ROLES)))
CS02A_RESPONSE = Of("provide_security_credential_details_response", Seq(
    "remote_party_details", Int("remote_party_role", ROLES), Int("status_code", STATUS, tag="0A"),
    Opt(Int("current_seq_number")),
    Opt(Of("trust_anchor_cell_details", Seq("trust_anchor_cell_contents", Schema("key_usage", "03", "bits"),
                                            Opt(Int("cell_usage", {0: "management", 1: "prepayment-top-up"})),
                                            Octets("subject_unique_id"), Octets("subject_key_identifier"))))))
KEY_USAGE_COMMAND = Seq("command", Schema("key_usage", "03", "bits"))
JOIN_COMMAND = Seq("join_device_command",
                   Int("join_method_and_role", {0: "method-a-initiator", 1: "method-a-responder", 2: "method-b",
                                                3: "method-c"}),
                   Octets("entity_id"), Int("device_type", DEVICE_TYPES), Opt(CERTIFICATE))
FIRMWARE_OUTCOME = Seq("execution_outcome", Int("response_code", {0: "success", 1: "no-image-held",
                                                                  2: "hash-mismatch", 3: "activation-failure"}),
                       Octets("firmware_version"))
PPMID_FIRMWARE_ALERT = Seq("read_ppmid_hcalcs_firmware_version_alert", ALERT_CODE, Time("execution_date_time"),
                           Octets("firmware_version"), Int("activate_image", {0: "success", 1: "failure"}))

SCHEMAS: dict[tuple[int, str], Schema | Choice] = {
    (0x0008, "command"): CS02A_COMMAND, (0x0008, "response"): CS02A_RESPONSE,
    (0x011B, "command"): CS02A_COMMAND, (0x011B, "response"): CS02A_RESPONSE,
    (0x00CB, "alert"): CS02B_ALERT, (0x0124, "alert"): CS02B_ALERT,
    (0x000A, "command"): KEY_USAGE_COMMAND,
    (0x000A, "response"): Choice((Schema("certification_request", "30", "any"),
                                  Int("response_code", {1: "invalid-key-usage", 2: "key-pair-generation-failed",
                                                         3: "cr-production-failed"}))),
    (0x000B, "command"): CERTIFICATE,
    (0x000B, "response"): Int("response_code", {0: "success", 1: "invalid-certificate", 2: "wrong-device-identity",
                                                3: "invalid-key-usage", 4: "no-corresponding-key-pair-generated",
                                                5: "wrong-public-key", 6: "certificate-storage-failed",
                                                7: "private-key-change-failed"}),
    (0x000C, "command"): KEY_USAGE_COMMAND,
    (0x000C, "response"): Choice((CERTIFICATE, Int("response_code", {1: "invalid-key-usage", 2: "no-certificate-held",
                                                                      3: "certificate-retrieval-failure"}))),
    (0x0012, "command"): Seq("activate_firmware_command", Octets("manufacturer_image_hash"),
                             Int("originator_counter"), Opt(Time("execution_date_time"))),
    (0x0012, "response"): Choice((Null("command_accepted"), FIRMWARE_OUTCOME)),
    (0x00CA, "alert"): Seq("activate_firmware_alert", ALERT_CODE, Time("execution_date_time"),
                           Int("originator_counter"), FIRMWARE_OUTCOME),
    (0x0013, "command"): Null("read_device_join_details_command"),
    (0x0013, "response"): Seq("read_device_join_details_response",
                              Int("response_code", {0: "success", 1: "read-failure"}),
                              Opt(Of("device_log_entries", DEVICE_LOG_ENTRY))),
    (0x007F, "command"): Seq("set_time_command", Time("validity_interval_start"), Time("validity_interval_end")),
    (0x007F, "response"): Seq("set_time_response", Time("device_time"),
                              Int("device_time_status", {0: "reliable", 1: "invalid", 2: "unreliable"})),
    (0x008C, "command"): Seq("gpf_device_log_restore_command", Of("device_log_entries", DEVICE_LOG_ENTRY)),
    (0x008C, "response"): Seq("gpf_device_log_restore_response", Of("restore_outcomes", Seq(
        "restore_outcome", DEVICE_LOG_ENTRY, Int("join_response_code", JOIN_CODES)))),
    (0x00B2, "alert"): Seq("gpf_device_log_backup_alert", ALERT_CODE, Time("backup_date_time"),
                           Of("device_log_entries", DEVICE_LOG_ENTRY)),
    (0x0128, "alert"): Seq("firmware_transfer_alert", ALERT_CODE, Time("execution_date_time"), Octets("entity_id"),
                           Octets("firmware_version"),
                           Int("response_code", {0: "success", 1: "image-discarded", 2: "hardware-version-mismatch",
                                                 3: "file-transfer-failure"})),
    (0x0129, "command"): Null("read_ppmid_hcalcs_firmware_version_command"),
    (0x0129, "response"): Seq("read_ppmid_hcalcs_firmware_version_response", Octets("firmware_version"),
                              Int("response_code", {0: "read-success", 1: "read-failure"})),
    (0x0129, "alert"): PPMID_FIRMWARE_ALERT, (0x012B, "alert"): PPMID_FIRMWARE_ALERT,
}
_JOIN_RESPONSE = Int("response_code", JOIN_CODES)
_UNJOIN_RESPONSE = Int("response_code", {0: "success", 1: "not-in-device-log", 2: "other-failure"})
for _code in (0x000D, 0x00AB, 0x000E, 0x00AF):
    SCHEMAS[(_code, "command")], SCHEMAS[(_code, "response")] = JOIN_COMMAND, _JOIN_RESPONSE
for _code in (0x000F, 0x0010):
    SCHEMAS[(_code, "command")], SCHEMAS[(_code, "response")] = Octets("entity_id"), _UNJOIN_RESPONSE
for _code in (*range(0x0100, 0x010A), 0x0125, 0x0126):
    SCHEMAS[(_code, "command")], SCHEMAS[(_code, "response")] = CS02B_COMMAND, CS02B_RESPONSE


def _leaf(schema: Schema, node: dict) -> bool:
    kind = schema.kind
    if kind == "int":
        text = node["hex"]
        if not text:
            return False
        value = int(text, 16)
        if text[0] in "89ABCDEFabcdef":  # two's complement: a negative INTEGER
            value -= 1 << (4 * len(text))
        node["value"] = value
        if schema.meanings and value in schema.meanings:
            node["meaning"] = schema.meanings[value]
    elif kind == "time":
        text = bytes.fromhex(node.get("hex", "")).decode("latin-1")
        if node["tag"] == "17" and len(text) == 13:  # UTCTime: two-digit year, 50..99 = 19xx (RFC 5280)
            text = ("19" if text[:2] >= "50" else "20") + text
        node["value"] = decode_generalized_time(text)
    elif kind == "bits":
        raw = bytes.fromhex(node.get("hex", ""))
        bits = int.from_bytes(raw[1:], "big") if len(raw) > 1 else 0
        width = 8 * (len(raw) - 1)
        node["value"] = [name for bit, name in KEY_USAGE_BITS.items() if bit < width and bits >> (width - 1 - bit) & 1]
    elif kind == "null":
        return node.get("hex") == ""
    elif kind == "bool":
        node["value"] = node.get("hex") != "00"
    elif kind == "oid":
        text = _OID_TEXT.get(node["hex"])
        if text is None:
            text = _oid_text(bytes.fromhex(node["hex"]))
            if text is None:
                return False
            if len(_OID_TEXT) < 1024:
                _OID_TEXT[node["hex"]] = text
        node["value"] = text
        if text in OIDS:
            node["meaning"] = OIDS[text]
    elif kind == "text" and node["tag"] in _STRING_TAGS:
        node["value"] = bytes.fromhex(node.get("hex", "")).decode("utf-8" if node["tag"] == "0C" else "latin-1",
                                                                  "replace")
    return True


_OID_TEXT: dict[str, str] = {}
_STRING_TAGS = {"0C", "13", "14", "16", "1A"}  # UTF8String, PrintableString, T61String, IA5String, VisibleString


def _oid_text(raw: bytes) -> str | None:
    """An OBJECT IDENTIFIER's dotted form, or None when its encoding is broken."""
    if not raw or raw[-1] & 0x80:
        return None
    arcs, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, (first, arcs[0] - 40 * first, *arcs[1:])))


def _tag_fits(schema: Schema | Choice, tag: str) -> bool:
    if isinstance(schema, Choice):
        return any(option.tag == tag for option in schema.options)
    return schema.tag == tag or schema.tag == ""


_PLANS: dict[int, tuple[tuple[Schema | Choice, bool], ...]] = {}


def _plan(schema: Schema) -> tuple[tuple[Schema | Choice, bool], ...]:
    """A SEQUENCE's fields as (schema, optional) pairs, worked out once per schema."""
    plan = _PLANS.get(id(schema))
    if plan is None:
        plan = _PLANS[id(schema)] = tuple((f.schema, True) if isinstance(f, Opt) else (f, False)
                                          for f in schema.fields)
    return plan


def _match(schema: Schema | Choice, node: dict) -> bool:
    if type(schema) is Choice:
        chosen = next((option for option in schema.options if option.tag == node["tag"]), None)
        return chosen is not None and _match(chosen, node)
    if schema.tag and node["tag"] != schema.tag:
        return False
    node["name"] = schema.name
    kind = schema.kind
    if kind == "octets":
        return "hex" in node
    if kind == "seq":
        children = node.get("children")
        if children is None:
            return False
        index, size = 0, len(children)
        for target, optional in _plan(schema):
            if index < size and (not optional or _tag_fits(target, children[index]["tag"])):
                if not _match(target, children[index]):
                    return False
                index += 1
            elif not optional:
                return False
        return index == size
    if kind == "of":
        children = node.get("children")
        item = schema.fields[0]
        return children is not None and all(_match(item, child) for child in children)
    if kind == "any":
        return True
    return "hex" in node and _leaf(schema, node)


def annotate(message_code: int, cra: str, content: dict) -> None:
    """Name the DER tree of ``content`` (an ``asn1`` content) in place; sets ``schema`` when whole."""
    schema = SCHEMAS.get((message_code, cra))
    if schema is None:
        return
    try:
        whole = _match(schema, content["der"])
    except (ValueError, KeyError, TypeError):  # a malformed tree: the names so far stay, no schema
        return
    if whole:
        content["schema"] = schema.name if isinstance(schema, Schema) else content["der"]["name"]
