"""One GBCS message to one JSON-ready record: envelope, security verdicts and decoded content.

This is what the ITCH driver calls on every captured frame and what ``hubrig gbcs decode``
prints. Malformed bytes raise only :class:`GbcsError` (offsets are into the whole message); an
unreadable key-store file raises :class:`~hubrig.harness.gbcs.keystore.KeyStoreError` naming the file.
"""

from __future__ import annotations

from typing import Any

from hubrig.harness.gbcs import envelope, security
from hubrig.harness.gbcs.clockstatus import NOT_SPECIFIED, decode_clock_status
from hubrig.harness.gbcs.content import decode_content
from hubrig.harness.gbcs.errors import GbcsError
from hubrig.harness.gbcs.keystore import KeyStore, normalise_eui
from hubrig.harness.gbcs.tables import alert_info, use_case_name

_SUPPLEMENTARY = ("supplementary_remote_party_id", "supplementary_remote_party_counter",
                  "supplementary_originator_counter")


def decode_record(data: bytes, keys: KeyStore | None = None, acb: str | None = None) -> dict:
    """Decode and verify one message. ``acb`` (the Access Control Broker's EUI) lets command
    MACs be checked; ``keys`` supplies certificates and the private KA keys for MACs.

    Fields: ``cra``, ``message_code`` (4 hex digits), ``use_case`` (``None`` if unknown),
    ``originator``, ``recipient``, ``originator_counter``, ``general_ciphering``, ``date_time``
    (ISO 8601 or ``None``), ``date_time_status`` (only when the date-time's clock status byte is
    specified, see :mod:`.clockstatus`), ``signature_valid`` (one bool per checked signature; a signature
    whose key is missing adds ``"signature": "unknown"``), ``mac`` (General-Ciphering only),
    supplementary fields when present, ``alert_code``/``alert_name`` for alerts, and ``body``
    (the decoded content, encrypted parts decrypted beside their ciphertext when the keys allow).
    """
    msg = envelope.parse(data)
    if acb is not None:
        try:
            acb = normalise_eui(acb)
        except ValueError as exc:
            raise GbcsError(f"ACB: {exc}", 0) from None
    record: dict[str, Any] = {
        "cra": msg.cra,
        "message_code": f"{msg.message_code:04X}",
        "use_case": use_case_name(msg.message_code),
        "originator": msg.originator,
        "recipient": msg.recipient,
        "originator_counter": msg.originator_counter,
        "general_ciphering": msg.general_ciphering,
        "date_time": msg.date_time.isoformat() if msg.date_time else None,
    }
    if msg.date_time_raw is not None and msg.date_time_raw[-1] != NOT_SPECIFIED:
        record["date_time_status"] = decode_clock_status(msg.date_time_raw[-1])
    checked = security.verify_signature(msg, keys)
    record["signature_valid"] = [] if checked is None else [checked]
    if msg.signature and checked is None:
        record["signature"] = security.UNKNOWN
    if msg.general_ciphering:
        record["mac"] = security.verify_mac(msg, keys, acb)
    for name in _SUPPLEMENTARY:
        value = getattr(msg, name)
        if value is not None:
            record[name] = value
    try:
        body = decode_content(msg.message_code, msg.cra, msg.content,
                              decrypt=lambda block: security.decrypt_block(msg, keys, block))
    except GbcsError as exc:
        raise GbcsError(f"content: {exc}", msg.content_offset + exc.offset) from None
    except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
        # A content decoder bug must not escape the capture loop as anything but GbcsError; it is
        # chained (``__cause__``) so the fuzz tests, and a debugger, can tell it from bad bytes.
        raise GbcsError(f"content: {type(exc).__name__}: {exc}", msg.content_offset) from exc
    if msg.cra == "alert" and "alert_code" in body:
        code = body["alert_code"]
        record["alert_code"] = code
        info = alert_info(int(code, 16))
        record["alert_name"] = info.name if info is not None else None
    record["body"] = body
    return record
