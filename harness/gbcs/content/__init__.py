"""GBCS message content: DLMS (A-XDR), GBZ (ZigBee) and ASN.1 DER, generic and per use case.

``decode_content`` turns a message's content into a JSON-ready dict (``kind`` says which
structure; alerts carry ``alert_code`` as 4 uppercase hex digits). Use cases with a layout in
:mod:`.usecases` come back with every field named and ``decoded_as`` set; all others keep the
lossless generic structure. ``build_content`` is the inverse of both forms, so
``build_content(mc, cra, decode_content(mc, cra, content)) == content``.
"""

from __future__ import annotations

from collections.abc import Callable

from hubrig.harness.gbcs.content import asn1, asn1_names, dlms, gbz, protected, usecases
from hubrig.harness.gbcs.content.usecases import message_code_for_alert
from hubrig.harness.gbcs.errors import GbcsError

__all__ = ["CRAS", "build_content", "decode_content", "message_code_for_alert"]

CRAS = ("command", "response", "alert")
SECURITY_HEADER_BYTE = bytes((protected.SECURITY_HEADER,))
_DLMS_DECODERS = {dlms.NOTIFICATION: dlms.decode_notification, dlms.REQUEST: dlms.decode_request,
                  dlms.RESPONSE: dlms.decode_response}
_GENERIC_ENCODERS = {"dlms-data-notification": dlms.encode_notification,
                     "dlms-access-request": dlms.encode_request,
                     "dlms-access-response": dlms.encode_response,
                     "gbz": gbz.encode, "asn1": asn1.encode}


def decode_content(message_code: int, cra: str, content: bytes,
                   decrypt: Callable[[bytes], bytes | None] | None = None) -> dict:
    """Decode one message's content; raises only :class:`GbcsError` (offset within content).

    ``decrypt`` (security header || ciphertext || tag -> plaintext or None) lets encrypted
    parts be shown in clear beside their ciphertext (see :mod:`.protected`).
    """
    if cra not in CRAS:
        raise GbcsError(f"CRA must be one of {CRAS}, not {cra!r}")
    content = bytes(content)
    if not content:
        raise GbcsError("empty content", 0)
    first = content[0]
    decode = _DLMS_DECODERS.get(first)
    if decode is not None:
        generic = decode(content)
    elif first == 0x01 and content[1:2] == b"\x09":
        generic = gbz.decode(content, cra == "alert")
    else:
        generic = asn1.decode(content, cra == "alert")
        asn1_names.annotate(message_code, cra, generic)
    if decrypt is not None and SECURITY_HEADER_BYTE in content:  # no 0x31 byte: nothing is encrypted
        protected.reveal(generic, decrypt)
    deep = usecases.deepen(message_code, cra, generic)
    return generic if deep is None else deep


def build_content(message_code: int, cra: str, fields: dict) -> bytes:
    """Content bytes from decoded fields (deep when ``decoded_as`` is set, else generic)."""
    if cra not in CRAS:
        raise GbcsError(f"CRA must be one of {CRAS}, not {cra!r}")
    if "decoded_as" in fields:
        expected = usecases.layout_name(message_code, cra)
        if fields["decoded_as"] != expected:
            raise GbcsError(f"{fields['decoded_as']} is not the {cra} layout of message code "
                            f"0x{message_code:04X} ({expected or 'none'})")
        return usecases.build(cra, fields)
    encode = _GENERIC_ENCODERS.get(fields.get("kind"))
    if encode is None:
        raise GbcsError(f"unknown content kind {fields.get('kind')!r}")
    return usecases.run_encoder(encode, fields, f"{fields.get('kind')} content")
