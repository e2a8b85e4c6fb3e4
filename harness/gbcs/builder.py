"""Build authenticated GBCS messages: sign with the originator's DS key, MAC with KA keys.

Virtual devices (ESME alerts, Comms Hub responses) and the command sender call
:func:`build_message` with content bytes from :mod:`hubrig.harness.gbcs.content`. The result parses
back (:func:`hubrig.harness.gbcs.envelope.parse`) to the same fields and verifies with the same keys.

A message that is neither signed nor General-Ciphered is built as a *pre-command* (no signature
field), as the RTDS ``PRECOMMAND`` vectors are; a General-Ciphered message always carries the
signature-length field (0 when unsigned).
"""

from __future__ import annotations

from datetime import datetime

from hubrig.harness.gbcs import envelope, security
from hubrig.harness.gbcs.envelope import Message
from hubrig.harness.gbcs.keystore import KeyStore, KeyStoreError, normalise_eui


def build_message(*, cra: str, originator: str, recipient: str, counter: int, message_code: int,
                  content: bytes, date_time: datetime | bytes | None = None, keys: KeyStore | None,
                  general_ciphering: bool, sign: bool, acb: str | None = None,
                  supplementary_remote_party_id: str | None = None,
                  supplementary_remote_party_counter: int | None = None,
                  supplementary_originator_counter: int | None = None,
                  remote_party_ka_certificate: bytes | None = None) -> bytes:
    """Encode one message, signed (originator's DS key) and/or General-Ciphered (MAC).

    ``date_time`` is an aware datetime (written as GBCS does: UTC, unspecified day-of-week and
    deviation) or the 12 raw COSEM bytes. ``acb`` is the Access Control Broker's EUI, needed to
    MAC commands. Raises
    :class:`KeyStoreError` when a needed key is not in ``keys`` and :class:`ValueError` for
    fields that cannot be encoded.
    """
    if cra not in envelope.CRA_CODES:
        raise ValueError(f"cra {cra!r} is not one of {sorted(envelope.CRA_CODES)}")
    for name, value in (("counter", counter),
                        ("supplementary_remote_party_counter", supplementary_remote_party_counter),
                        ("supplementary_originator_counter", supplementary_originator_counter)):
        if value is not None and not 0 <= value < 1 << 64:
            raise ValueError(f"{name} {value} does not fit 8 bytes")
    if not 0 <= message_code <= 0xFFFF:
        raise ValueError(f"message code {message_code} does not fit 2 bytes")
    raw_date_time = None
    if isinstance(date_time, (bytes, bytearray)):
        if len(date_time) != 12:
            raise ValueError(f"a raw COSEM date-time is 12 bytes, not {len(date_time)}")
        raw_date_time, date_time = bytes(date_time), None
    msg = Message(
        cra=cra, originator_counter=counter, originator=normalise_eui(originator),
        recipient=normalise_eui(recipient), message_code=message_code, content=bytes(content),
        date_time=date_time, date_time_raw=raw_date_time, general_ciphering=general_ciphering,
        supplementary_remote_party_id=(normalise_eui(supplementary_remote_party_id)
                                       if supplementary_remote_party_id else None),
        supplementary_remote_party_counter=supplementary_remote_party_counter,
        supplementary_originator_counter=supplementary_originator_counter,
        remote_party_ka_certificate=remote_party_ka_certificate,
    )
    if sign:
        sign_message(msg, keys)
    elif general_ciphering:
        msg.signature = b""
    return authenticate(msg, keys, acb)


def sign_message(msg: Message, keys: KeyStore | None) -> Message:
    """Set ``msg.signature`` with the originator's DS private key."""
    private = keys.ds_private(msg.originator) if keys is not None else None
    if private is None:
        raise KeyStoreError(f"cannot sign: no DS private key for originator {msg.originator} "
                            f"in {keys if keys is not None else 'no key store'}")
    msg.signature = security.sign_bytes(private, envelope.encode_signed_part(msg))
    return msg


def authenticate(msg: Message, keys: KeyStore | None, acb: str | None = None) -> bytes:
    """Encode ``msg``, computing its MAC first when it is General-Ciphered."""
    if not msg.general_ciphering:
        return envelope.encode(msg)
    key = security.mac_key(msg, keys, normalise_eui(acb) if acb else None)
    if key is None:
        parties = security.mac_parties(msg, acb)
        need = "an ACB EUI (acb=...)" if parties is None else \
            f"a KA private key of {parties[0]} or {parties[1]} and the other's KA key"
        raise KeyStoreError(f"cannot MAC {msg.cra} 0x{msg.message_code:04X}: needs {need} in "
                            f"{keys if keys is not None else 'a key store'}")
    body = envelope.encode_general_signing(msg)
    msg.mac = security.compute_mac(key, msg, body)
    return envelope.general_ciphering_prefix(msg, len(body)) + body + msg.mac


def build_alert(*, originator: str, recipient: str, counter: int, message_code: int, content: bytes,
                keys: KeyStore, sign: bool = True, general_ciphering: bool = False,
                date_time: datetime | None = None) -> bytes:
    """A device alert: signed General-Signing by default (critical alerts such as ECS80)."""
    return build_message(cra="alert", originator=originator, recipient=recipient, counter=counter,
                         message_code=message_code, content=content, date_time=date_time,
                         keys=keys, general_ciphering=general_ciphering, sign=sign)


def build_response(*, originator: str, recipient: str, counter: int, message_code: int,
                   content: bytes, keys: KeyStore, sign: bool = False,
                   general_ciphering: bool = True, date_time: datetime | None = None) -> bytes:
    """A device response: General-Ciphered (MAC to the recipient) by default, as CHF responses are.

    ``counter`` is the originator counter of the command being answered.
    """
    return build_message(cra="response", originator=originator, recipient=recipient,
                         counter=counter, message_code=message_code, content=content,
                         date_time=date_time, keys=keys, general_ciphering=general_ciphering,
                         sign=sign)


def build_command(*, originator: str, recipient: str, counter: int, message_code: int,
                  content: bytes, keys: KeyStore, acb: str, sign: bool = False,
                  date_time: datetime | None = None) -> bytes:
    """A remote-party command, General-Ciphered by the ACB and optionally signed (critical)."""
    return build_message(cra="command", originator=originator, recipient=recipient,
                         counter=counter, message_code=message_code, content=content,
                         date_time=date_time, keys=keys, general_ciphering=True, sign=sign,
                         acb=acb)
