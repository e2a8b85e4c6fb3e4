"""Encrypted parts of a content: DLMS protected attributes and encrypted GBZ components.

GBCS encrypts some response and alert data (e.g. ECS68, ECS17b, GCS15c): in DLMS as an
octet string (security header 0x31 || invocation counter || ciphertext || 12-byte tag) right
after its protection-parameters array; in GBZ as a component with control bit 0x02, whose ZCL
payload is a 2-byte length then such a block. :func:`reveal` adds the plaintext beside the
ciphertext (``decrypted``: typed DLMS data, or ``decrypted_hex`` when it is not DLMS data;
``decrypted_payload`` for GBZ), or None where ``decrypt`` could not (no keys, bad tag). The
ciphertext stays, so building the content again gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from hubrig.harness.gbcs.content.axdr import decode_data_exact
from hubrig.harness.gbcs.content.gbz import ENCRYPTED, name_payload
from hubrig.harness.gbcs.errors import GbcsError

Decrypt = Callable[[bytes], "bytes | None"]
SECURITY_HEADER = 0x31
_MIN_BLOCK = 5 + 12


def _is_protection_parameters(node: dict) -> bool:
    items = node["value"] if node["type"] == "array" else None
    if not items or items[0]["type"] != "structure":
        return False
    first = items[0]["value"]
    return bool(first) and first[0]["type"] == "enum"


def _reveal_dlms(items: list, decrypt: Decrypt) -> None:
    for index, node in enumerate(items):
        kind = node["type"]
        if kind in ("array", "structure"):
            _reveal_dlms(node["value"], decrypt)
        elif (kind == "octet-string" and index and len(node["value"]) >= 2 * _MIN_BLOCK
              and node["value"][:2] == f"{SECURITY_HEADER:02X}"
              and _is_protection_parameters(items[index - 1])):
            plain = decrypt(bytes.fromhex(node["value"]))
            if plain is None:
                node["decrypted"] = None
                continue
            try:
                node["decrypted"] = decode_data_exact(plain)
            except GbcsError:
                node["decrypted_hex"] = plain.hex().upper()


def _reveal_gbz(components: list, decrypt: Decrypt) -> None:
    for comp in components:
        if not comp["control"] & ENCRYPTED:
            continue
        payload = bytes.fromhex(comp["payload"])
        size = int.from_bytes(payload[:2], "big")
        block = payload[2:2 + size]
        plain = decrypt(block) if len(payload) >= 2 and len(block) == size >= _MIN_BLOCK else None
        comp["decrypted_payload"] = None if plain is None else plain.hex().upper()
        if plain is not None:
            name_payload(comp, plain, "decrypted_zcl")


def reveal(decoded: dict, decrypt: Decrypt) -> None:
    """Decrypt, in place, every encrypted part of a generically decoded content."""
    kind = decoded["kind"]
    if kind == "gbz":
        _reveal_gbz(decoded.get("components", []), decrypt)
    elif kind == "dlms-data-notification":
        _reveal_dlms(decoded["body"] if "body" in decoded else [decoded["notification"]], decrypt)
    elif kind == "dlms-access-request":
        _reveal_dlms([entry["data"] for entry in decoded["requests"]], decrypt)
    elif kind == "dlms-access-response":
        _reveal_dlms([entry["data"] for entry in decoded["responses"]], decrypt)
