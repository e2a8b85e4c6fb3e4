"""Signatures, MACs, encryption and the key store, on messages built with fresh test keys.

Nothing here needs ../shared: the project proves its own codec end to end.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubrig.harness.gbcs import builder, envelope, security
from hubrig.harness.gbcs.content import builders as content
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore, KeyStoreError

ACB = "90B3D51F30000002"
SUPPLIER = "90B3D51F30010000"
ESME = "00DB1234567890A0"
CHF = "00DB1234567890A2"
PPMID = "00DB1234567890A4"
GSME = "00DB1234567890A1"
ROLES = {ACB: "acb", SUPPLIER: "supplier", ESME: "esme", CHF: "chf", PPMID: "ppmid", GSME: "gsme"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> KeyStore:
    return KeyStore.generate(tmp_path_factory.mktemp("keys"), ROLES)


def ecs80_alert(keys: KeyStore, counter: int = 2003) -> bytes:
    body = content.ecs80_alert(timestamp="2024-01-01T00:05:00Z", interruption="2024-01-01T00:00:00Z",
                               restoration="2024-01-01T00:05:00Z", invoke_id=counter)
    return builder.build_alert(originator=ESME, recipient=SUPPLIER, counter=counter,
                               message_code=0x0067, content=body, keys=keys)


def verdicts(data: bytes, keys: KeyStore, acb: str | None = ACB) -> tuple[bool | None, str | None]:
    """Envelope and security only (any content bytes): (signature verdict, MAC verdict)."""
    msg = envelope.parse(data)
    return security.verify_signature(msg, keys), security.verify_mac(msg, keys, acb)


def test_signed_alert_verifies_with_the_originators_ds_key(keys):
    record = decode_record(ecs80_alert(keys), keys)
    assert record["signature_valid"] == [True]
    assert (record["cra"], record["message_code"], record["originator_counter"]) == ("alert", "0067", 2003)
    assert record["alert_code"] == "8F36" and record["body"]["restoration"] == "2024-01-01T00:05:00+00:00"
    assert "mac" not in record


def test_signature_by_another_key_is_invalid(keys):
    msg = envelope.parse(ecs80_alert(keys))
    msg.signature = security.sign_bytes(keys.ds_private(SUPPLIER), msg.signed_span)
    assert security.verify_signature(envelope.parse(envelope.encode(msg)), keys) is False


def test_signature_without_a_certificate_is_unknown_not_valid(keys, tmp_path):
    other = KeyStore.generate(tmp_path, {SUPPLIER: "supplier"})
    record = decode_record(ecs80_alert(keys), other)
    assert record["signature_valid"] == [] and record["signature"] == "unknown"


@pytest.mark.parametrize("signature", [bytes(64), b"\x01" * 63, b"\xff" * 64])
def test_malformed_signatures_are_invalid_not_errors(keys, signature):
    msg = envelope.parse(ecs80_alert(keys))
    msg.signature = signature
    assert security.verify_signature(envelope.parse(envelope.encode(msg)), keys) is False


def test_command_mac_needs_the_acb_and_verifies_from_either_side(keys, tmp_path):
    data = builder.build_command(originator=SUPPLIER, recipient=ESME, counter=1000, message_code=0x0062,
                                 content=b"any content bytes", keys=keys, acb=ACB)
    msg = envelope.parse(data)
    assert msg.general_ciphering and len(msg.mac) == 12 and msg.signature == b""
    assert security.verify_mac(msg, keys, ACB) == "valid"
    assert security.verify_mac(msg, keys, None) == "unknown"
    assert security.verify_mac(msg, keys, SUPPLIER) == "invalid"
    # The device's own view: its KA private key and the ACB's certificate make the same key.
    device_side = tmp_path / "device"
    device_side.mkdir()
    for name in (f"{ESME.lower()}-ka.key", f"{ACB.lower()}-ka.pem"):
        (device_side / name).write_bytes((keys.path / name).read_bytes())
    assert security.verify_mac(msg, KeyStore(device_side), ACB) == "valid"


def test_critical_command_is_signed_by_the_originator_and_maced_by_the_acb(keys):
    when = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    body = content.ecs70_command(validity_interval_start="2024-03-01T11:55:00Z",
                                 validity_interval_end="2024-03-01T12:05:00Z", invoke_id=1001)
    data = builder.build_command(originator=SUPPLIER, recipient=ESME, counter=1001, message_code=0x0062,
                                 content=body, keys=keys, acb=ACB, sign=True, date_time=when)
    record = decode_record(data, keys, ACB)
    assert record["signature_valid"] == [True] and record["mac"] == "valid"
    assert record["date_time"] == "2024-03-01T12:00:00+00:00"
    assert record["body"]["decoded_as"] == "ECS70"


def test_response_and_alert_macs_are_between_originator_and_recipient(keys):
    response = builder.build_response(originator=CHF, recipient=ACB, counter=1000, message_code=0x010F,
                                      content=content.ccs06_response(active_devices=[], invoke_id=1000),
                                      keys=keys)
    assert decode_record(response, keys)["mac"] == "valid"
    body = content.cs14_alert(timestamp="2024-01-01T00:00:00Z", log_time="2024-01-01T00:00:00Z",
                              extended_pan_id="0123456789ABCDEF", devices=[], invoke_id=9)
    alert = builder.build_message(cra="alert", originator=CHF, recipient=SUPPLIER, counter=9,
                                  message_code=0x0018, content=body, keys=keys,
                                  general_ciphering=True, sign=False)
    record = decode_record(alert, keys)
    assert record["mac"] == "valid" and record["alert_code"] == "8F12"


def test_device_to_device_commands_are_maced_by_the_devices(keys):
    data = builder.build_message(cra="command", originator=PPMID, recipient=GSME, counter=10000,
                                 message_code=0x009B, content=b"\x01\x09", keys=keys,
                                 general_ciphering=True, sign=False)
    msg = envelope.parse(data)
    assert security.mac_parties(msg, ACB) == (PPMID, GSME)
    assert security.verify_mac(msg, keys, ACB) == "valid"


def test_builder_names_the_missing_key(keys, tmp_path):
    empty = KeyStore.generate(tmp_path, {})
    with pytest.raises(KeyStoreError, match=f"no DS private key for originator {ESME}"):
        ecs80_alert(empty)
    with pytest.raises(KeyStoreError, match="ACB"):
        builder.build_message(cra="command", originator=SUPPLIER, recipient=ESME, counter=1,
                              message_code=1, content=b"", keys=keys, general_ciphering=True, sign=False)


def test_encrypted_block_round_trip_and_tamper(keys):
    msg = envelope.parse(builder.build_response(originator=ESME, recipient=SUPPLIER, counter=77,
                                                message_code=0x0027, content=b"", keys=keys))
    block = security.encrypt_block(msg, keys, b"secret register values")
    assert block[0] == 0x31 and len(block) == 5 + 22 + 12
    assert security.decrypt_block(msg, keys, block) == b"secret register values"
    tampered = block[:10] + bytes([block[10] ^ 1]) + block[11:]
    assert security.decrypt_block(msg, keys, tampered) is None
    assert security.decrypt_block(msg, None, block) is None


def test_decode_record_shows_encrypted_content_in_clear_only_with_the_keys(keys, tmp_path):
    # An ECS68-like alert: protection parameters, then the protected block (0x31 || IC ||
    # ciphertext || tag) encrypted for the recipient with the content-encryption KDF (flag 04).
    header = envelope.Message(cra="alert", originator_counter=78, originator=ESME, recipient=SUPPLIER,
                              message_code=0x0061, content=b"")
    block = security.encrypt_block(header, keys, b"\x12\x00\x2a")  # long-unsigned 42
    body = (bytes.fromhex("0F200000010002041280AA090C07DF0101FF000000008000FF" "0101" "0202" "1602" "0200")
            + b"\x09" + bytes((len(block),)) + block)
    data = builder.build_alert(originator=ESME, recipient=SUPPLIER, counter=78, message_code=0x0061,
                               content=body, keys=keys)
    protected = decode_record(data, keys)["body"]["body"][1]
    assert protected["value"] == block.hex().upper()
    assert protected["decrypted"] == {"type": "long-unsigned", "value": 42}
    assert decode_record(data, None)["body"]["body"][1]["decrypted"] is None
    strangers = KeyStore.generate(tmp_path, {ESME: "esme", SUPPLIER: "supplier"})
    assert decode_record(data, strangers)["body"]["body"][1]["decrypted"] is None


def test_kdf_is_one_sha256_round_over_counter_secret_and_other_info(keys):
    msg = envelope.parse(ecs80_alert(keys))
    info = security.kdf_other_info(msg)
    assert info == (bytes.fromhex("60857406080300") + bytes.fromhex(ESME) + b"\x09\x03"
                    + (2003).to_bytes(8, "big") + bytes.fromhex(SUPPLIER))
    assert security.kdf(b"Z" * 32, info) == hashlib.sha256(b"\0\0\0\1" + b"Z" * 32 + info).digest()[:16]
    assert security.kdf_other_info(msg, encryption=True)[15:17] == b"\x09\x04"


field_sets = st.fixed_dictionaries({
    "cra": st.sampled_from(["command", "response", "alert"]),
    "counter": st.integers(0, (1 << 64) - 1),
    "message_code": st.integers(0, 0xFFFF).filter(lambda c: c not in security.DEVICE_ORIGINATED_COMMANDS),
    "content": st.binary(max_size=300),
    "sign": st.booleans(),
    "general_ciphering": st.booleans(),
    "date_time": st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                                          timezones=st.just(timezone.utc)).map(lambda d: d.replace(microsecond=0)),
})


def _parties(cra: str) -> tuple[str, str]:
    return (SUPPLIER, ESME) if cra == "command" else (ESME, SUPPLIER)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field_sets)
def test_parse_of_build_gives_back_the_fields_and_verifies(keys, fields):
    originator, recipient = _parties(fields["cra"])
    data = builder.build_message(originator=originator, recipient=recipient, keys=keys, acb=ACB, **fields)
    msg = envelope.parse(data)
    assert (msg.cra, msg.originator, msg.recipient) == (fields["cra"], originator, recipient)
    assert (msg.originator_counter, msg.message_code) == (fields["counter"], fields["message_code"])
    assert (msg.content, msg.date_time) == (fields["content"], fields["date_time"])
    assert msg.general_ciphering == fields["general_ciphering"]
    assert verdicts(data, keys) == (True if fields["sign"] else None,
                                    "valid" if fields["general_ciphering"] else None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_flipping_any_byte_of_an_authenticated_message_is_detected(keys, data):
    gc = data.draw(st.booleans(), label="general_ciphering")
    message = builder.build_message(cra="command" if gc else "alert", originator=SUPPLIER if gc else ESME,
                                    recipient=ESME if gc else SUPPLIER, counter=5, message_code=0x0067,
                                    content=bytes(range(40)), keys=keys, general_ciphering=gc,
                                    sign=True, acb=ACB)
    at = data.draw(st.integers(0, len(message) - 1), label="offset")
    flip = data.draw(st.integers(1, 255), label="xor")
    mutated = message[:at] + bytes([message[at] ^ flip]) + message[at + 1:]
    try:
        signature, mac = verdicts(mutated, keys)
    except GbcsError:
        return
    assert not (signature is True and mac in (None, "valid"))


def test_key_store_never_shows_private_material(keys, caplog):
    caplog.set_level(logging.DEBUG)
    pem_body = "".join((keys.path / f"{ESME.lower()}-ds.key").read_text().splitlines()[1:-1])
    scalar = keys.ds_private(ESME).private_numbers().private_value
    # the PEM's first ~48 characters are the same PKCS#8 header for every P-256 key: look at its end
    secrets = (pem_body[-40:], f"{scalar:x}", f"{scalar:X}", str(scalar), f"{scalar:064x}"[:16])
    with pytest.raises(KeyStoreError) as no_acb:
        builder.build_message(cra="command", originator=ESME, recipient=SUPPLIER, counter=1,
                              message_code=1, content=b"", keys=keys, general_ciphering=True, sign=True)
    with pytest.raises(KeyStoreError) as no_key:
        builder.build_alert(originator="FFFFFFFFFFFFFFFF", recipient=ESME, counter=1,
                            message_code=0x0067, content=b"", keys=keys)
    texts = (repr(keys), str(keys), repr(keys.ds_private(ESME)), str(no_acb.value), str(no_key.value),
             caplog.text)
    assert str(keys.path) in str(no_acb.value)  # errors name the store, and only that
    for text in texts:
        assert "PRIVATE" not in text and not any(secret in text for secret in secrets), text


def test_unreadable_private_key_error_names_the_file_not_its_content(tmp_path):
    leaked = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" + "A" * 40
    (tmp_path / f"{ESME.lower()}-ds.key").write_text(
        f"-----BEGIN PRIVATE KEY-----\n{leaked}\n-----END PRIVATE KEY-----\n")
    store = KeyStore(tmp_path)
    with pytest.raises(KeyStoreError) as info:
        store.ds_private(ESME)
    assert f"{ESME.lower()}-ds.key" in str(info.value)
    assert leaked[:20] not in str(info.value) and leaked[-20:] not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_key_on_another_curve_is_refused_naming_the_file(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / f"{ESME.lower()}-ds.key").write_bytes(pem)
    store = KeyStore(tmp_path)
    for lookup in (store.ds_private, store.ds_public):  # the public key falls back to the private one
        with pytest.raises(KeyStoreError, match=f"{ESME.lower()}-ds.key: not a P-256 key"):
            lookup(ESME)


def test_generate_keeps_existing_keys_and_writes_private_keys_0600(tmp_path):
    first = KeyStore.generate(tmp_path, [ESME])
    before = first.ds_public(ESME).public_numbers()
    again = KeyStore.generate(tmp_path, {ESME: "esme", GSME: "gsme"})
    assert again.ds_public(ESME).public_numbers() == before
    assert again.ka_private(GSME) is not None
    assert (tmp_path / f"{ESME.lower()}-ka.key").stat().st_mode & 0o777 == 0o600
    assert again.euis() == {ESME, GSME}
    assert KeyStore.generate(tmp_path, [ESME], overwrite=True).ds_public(ESME).public_numbers() != before


def test_key_caches_hold_only_parties_the_store_knows_whatever_euis_a_device_sends(keys):
    store = KeyStore(keys.path)
    alert = envelope.parse(ecs80_alert(keys))
    for n in range(300):
        alert.originator = f"{n:016X}"  # as if a device sent 300 different originators
        assert security.verify_signature(alert, store) is None
        assert store.shared_secret(alert.originator, SUPPLIER) is None
        assert security.decrypt_block(alert, store, bytes(40)) is None
    assert store.shared_secret(ESME, SUPPLIER) is not None
    cached = ({k[0] for k in store._public} | {k[0] for k in store._private}
              | {eui for pair in store._secrets for eui in pair[:2]})
    assert cached == {ESME, SUPPLIER}


def test_key_store_lookups_are_case_insensitive_and_absent_keys_are_none(keys):
    assert keys.ds_public(ESME.lower()) is not None
    assert keys.ka_public("FFFFFFFFFFFFFFFF") is None and keys.ka_private("FFFFFFFFFFFFFFFF") is None
    assert keys.shared_secret(ESME, "FFFFFFFFFFFFFFFF") is None
    assert keys.shared_secret(ESME, SUPPLIER) == keys.shared_secret(SUPPLIER, ESME)
    with pytest.raises(KeyStoreError, match="not a directory"):
        KeyStore(keys.path / "missing")
