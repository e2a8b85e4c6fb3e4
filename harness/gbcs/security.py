"""GBCS message security: ECDSA P-256 signatures, the GBCS KDF, AES-128-GCM MACs and decryption.

- Signature: ECDSA P-256 / SHA-256, raw ``r || s`` (64 bytes), over the bytes after the ``DF``
  tag up to the end of the content (:attr:`Message.signed_span`), by the originator's DS key.
- General-Ciphering MAC: the first 12 bytes of an AES-128-GCM tag with no plaintext;
  IV = originator system title || invocation counter; AAD = security control byte || the five
  (empty) General-Ciphering header fields || the whole General-Signing message.
- Key: SHA-256 concatenation KDF (NIST SP 800-56A, one round) over the ECDH shared secret
  ``Z`` of the two parties' KA keys: ``SHA-256(00000001 || Z || otherInfo)[:16]`` with
  ``otherInfo = 60857406080300 || originator || 09 || CRA flag || counter || recipient``.
  The parties are the device and the ACB for commands (the ACB applies the MAC), and the
  originator and recipient for responses and alerts. Device-to-device commands (PCS01/PCS02,
  PPMID to GSME) are MACed between originator and recipient.
- Encrypted content blocks (security control 0x31): same KDF with CRA flag 04, the supplementary
  originator counter and supplementary remote party (when present); AAD = the security control
  byte; the 12-byte tag follows the ciphertext.

Every step was checked against the RTDS 4.5.0 vectors (all 811 MACs and 472 signatures).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hubrig.harness.gbcs import envelope
from hubrig.harness.gbcs.envelope import MAC_LENGTH, Message
from hubrig.harness.gbcs.keystore import KeyStore, KeyStoreError

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
ENCRYPTION_FLAG = 0x04
SIGNATURE_LENGTH = 64
# PCS01 (0x009B) and PCS02 (0x0090): PPMID -> GSME commands, MACed with the devices' own keys
# (GBCS use-case table), not by the ACB.
DEVICE_ORIGINATED_COMMANDS = frozenset({0x009B, 0x0090})
_ECDSA = ec.ECDSA(hashes.SHA256())
# RFC 6979 nonces: the same key and bytes give the same signature, so a seeded virtual rig
# produces byte-identical frames and journals run after run.
_ECDSA_SIGN = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"


# ---------------------------------------------------------------- signatures

def sign_bytes(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature of ``data`` as raw 64-byte ``r || s`` (deterministic, RFC 6979)."""
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SIGN))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_bytes(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (raw ``r || s``) signs ``data``; malformed signatures are just invalid."""
    if len(signature) != SIGNATURE_LENGTH:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (r and s):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), data, _ECDSA)
    except InvalidSignature:
        return False
    return True


def signed_data(msg: Message) -> bytes:
    """The bytes the signature covers (as received, or encoded for a message built in memory)."""
    return msg.signed_span if msg.signed_span is not None else envelope.encode_signed_part(msg)


def verify_signature(msg: Message, keys: KeyStore | None) -> bool | None:
    """``True``/``False`` for a signature checked against the originator's DS key, ``None`` when
    the message carries no signature or the key store has no DS key for the originator."""
    if not msg.signature or keys is None:
        return None
    public = keys.ds_public(msg.originator)
    if public is None:
        return None
    return verify_bytes(public, signed_data(msg), msg.signature)


# ---------------------------------------------------------------- KDF and MAC

def kdf(shared_secret: bytes, other_info: bytes) -> bytes:
    """GBCS key derivation: one SHA-256 round of the SP 800-56A concatenation KDF, 128 bits."""
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared_secret + other_info).digest()[:16]


def kdf_other_info(msg: Message, *, encryption: bool = False) -> bytes:
    """``otherInfo`` for the MAC key (CRA flag) or a content-encryption key (flag 04)."""
    if encryption:
        flag = ENCRYPTION_FLAG
        counter = msg.supplementary_originator_counter
        if counter is None:
            counter = msg.originator_counter
        recipient = msg.supplementary_remote_party_id or msg.recipient
    else:
        flag, counter, recipient = msg.cra_flag, msg.originator_counter, msg.recipient
    return (KDF_ALGORITHM_ID + bytes.fromhex(msg.originator) + bytes([9, flag])
            + counter.to_bytes(8, "big") + bytes.fromhex(recipient))


def mac_parties(msg: Message, acb: str | None) -> tuple[str, str] | None:
    """The two parties whose KA keys make the MAC key, or ``None`` if a command lacks its ACB."""
    if msg.cra == "command" and msg.message_code not in DEVICE_ORIGINATED_COMMANDS:
        return (acb, msg.recipient) if acb else None
    return msg.originator, msg.recipient


def mac_key(msg: Message, keys: KeyStore | None, acb: str | None) -> bytes | None:
    """The AES-128 MAC key, or ``None`` when the key store cannot make it."""
    parties = mac_parties(msg, acb) if keys is not None else None
    if parties is None:
        return None
    secret = keys.shared_secret(*parties)
    return None if secret is None else kdf(secret, kdf_other_info(msg))


def mac_input(general_signing: bytes) -> bytes:
    """GCM additional authenticated data for a General-Signing body."""
    return (bytes([envelope.SECURITY_CONTROL_AUTH_ONLY]) + envelope.GC_HEADER_FIELDS[:5]
            + general_signing)


def compute_mac(key: bytes, msg: Message, general_signing: bytes) -> bytes:
    """The 12-byte MAC of a General-Signing body sent by ``msg.originator``."""
    iv = bytes.fromhex(msg.originator) + msg.invocation_counter.to_bytes(4, "big")
    return AESGCM(key).encrypt(iv, b"", mac_input(general_signing))[:MAC_LENGTH]


def verify_mac(msg: Message, keys: KeyStore | None, acb: str | None = None) -> str | None:
    """``"valid"``, ``"invalid"`` or ``"unknown"`` (keys missing); ``None`` without a MAC."""
    if not msg.general_ciphering or msg.mac is None:
        return None
    key = mac_key(msg, keys, acb)
    if key is None:
        return UNKNOWN
    body = msg.general_signing_span
    if body is None:
        body = envelope.encode_general_signing(msg)
    return VALID if hmac.compare_digest(compute_mac(key, msg, body), msg.mac) else INVALID


# ---------------------------------------------------------------- encrypted content

def decrypt_block(msg: Message, keys: KeyStore | None, block: bytes) -> bytes | None:
    """Decrypt an encrypted content block: security header (5) || ciphertext || tag (12).

    Returns the plaintext, or ``None`` when the keys are missing or the tag does not verify.
    """
    if keys is None or len(block) < 5 + MAC_LENGTH:
        return None
    recipient = msg.supplementary_remote_party_id or msg.recipient
    secret = keys.shared_secret(msg.originator, recipient)
    if secret is None:
        return None
    key = kdf(secret, kdf_other_info(msg, encryption=True))
    iv = bytes.fromhex(msg.originator) + block[1:5]
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, block[-MAC_LENGTH:], min_tag_length=MAC_LENGTH)).decryptor()
    decryptor.authenticate_additional_data(block[:1])
    try:
        return decryptor.update(block[5:-MAC_LENGTH]) + decryptor.finalize()
    except InvalidTag:
        return None


def encrypt_block(msg: Message, keys: KeyStore, plaintext: bytes, invocation_counter: int = 0) -> bytes:
    """Inverse of :func:`decrypt_block` (for building responses with encrypted content)."""
    recipient = msg.supplementary_remote_party_id or msg.recipient
    secret = keys.shared_secret(msg.originator, recipient)
    if secret is None:
        raise KeyStoreError(f"no KA key pair for {msg.originator} and {recipient} in {keys}")
    key = kdf(secret, kdf_other_info(msg, encryption=True))
    header = b"\x31" + invocation_counter.to_bytes(4, "big")
    encryptor = Cipher(algorithms.AES(key), modes.GCM(bytes.fromhex(msg.originator) + header[1:])).encryptor()
    encryptor.authenticate_additional_data(header[:1])
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return header + ciphertext + encryptor.tag[:MAC_LENGTH]
