"""One GBCS message to one JSON-ready record: envelope, security verdicts and decoded content.

This is what the ITCH driver calls on every captured frame and what ``hubrig gbcs decode``
prints. It raises only :class:`GbcsError` (offsets are into the whole message).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

from harness.gbcs import envelope, security
from harness.gbcs.errors import GbcsError
from harness.gbcs.keystore import KeyStore, normalise_eui

_content: dict[str, Any] = {}


def _content_layer() -> tuple[Callable | None, bool, Callable | None, Callable | None]:
    """The content layer's entry points, imported once (it may not be installed yet)."""
    if not _content:
        decode_content = use_case_name = alert_info = None
        try:
            decode_content = importlib.import_module("harness.gbcs.content").decode_content
        except (ImportError, AttributeError):
            pass
        try:
            tables = importlib.import_module("harness.gbcs.tables")
            use_case_name, alert_info = tables.use_case_name, tables.alert_info
        except (ImportError, AttributeError):
            pass
        takes_decrypt = decode_content is not None and \
            "decrypt" in inspect.signature(decode_content).parameters
        _content.update(decode=decode_content, decrypt=takes_decrypt,
                        use_case=use_case_name, alert=alert_info)
    return _content["decode"], _content["decrypt"], _content["use_case"], _content["alert"]


def decode_record(data: bytes, keys: KeyStore | None = None, acb: str | None = None) -> dict:
    """Decode and verify one message. ``acb`` (the Access Control Broker's EUI) lets command
    MACs be checked; ``keys`` supplies certificates and the private KA keys for MACs.

    Fields: ``cra``, ``message_code`` (4 hex digits), ``use_case`` (``None`` if unknown),
    ``originator``, ``recipient``, ``originator_counter``, ``general_ciphering``, ``date_time``
    (ISO 8601 or ``None``), ``signature_valid`` (one bool per checked signature; a signature
    whose key is missing adds ``"signature": "unknown"``), ``mac`` (General-Ciphering only),
    supplementary fields when present, ``alert_code``/``alert_name`` for alerts, and ``body``
    (the content layer's decoded content, ``None`` until that layer is installed).
    """
    msg = envelope.parse(data)
    if acb is not None:
        try:
            acb = normalise_eui(acb)
        except ValueError as exc:
            raise GbcsError(f"ACB: {exc}", 0) from None
    decode_content, takes_decrypt, use_case_name, alert_info = _content_layer()
    record: dict[str, Any] = {
        "cra": msg.cra,
        "message_code": f"{msg.message_code:04X}",
        "use_case": use_case_name(msg.message_code) if use_case_name else None,
        "originator": msg.originator,
        "recipient": msg.recipient,
        "originator_counter": msg.originator_counter,
        "general_ciphering": msg.general_ciphering,
        "date_time": msg.date_time.isoformat() if msg.date_time else None,
    }
    checked = security.verify_signature(msg, keys)
    record["signature_valid"] = [] if checked is None else [checked]
    if msg.signature and checked is None:
        record["signature"] = security.UNKNOWN
    if msg.general_ciphering:
        record["mac"] = security.verify_mac(msg, keys, acb)
    for name in ("supplementary_remote_party_id", "supplementary_remote_party_counter",
                 "supplementary_originator_counter"):
        value = getattr(msg, name)
        if value is not None:
            record[name] = value
    body = None
    if decode_content is not None:
        kwargs = {"decrypt": lambda block: security.decrypt_block(msg, keys, block)} if takes_decrypt else {}
        try:
            body = decode_content(msg.message_code, msg.cra, msg.content, **kwargs)
        except GbcsError as exc:
            raise GbcsError(f"content: {exc}", msg.content_offset + exc.offset) from None
        except (ValueError, IndexError, KeyError, TypeError, OverflowError) as exc:
            # A content decoder bug must not escape the capture loop as anything but GbcsError.
            raise GbcsError(f"content: {type(exc).__name__}: {exc}", msg.content_offset) from None
    if msg.cra == "alert" and isinstance(body, dict) and body.get("alert_code"):
        code = str(body["alert_code"]).upper()
        if len(code) != 4 or any(c not in "0123456789ABCDEF" for c in code):
            raise GbcsError(f"content: alert code {code!r} is not 4 hex digits", msg.content_offset)
        record["alert_code"] = code
        info = alert_info(int(code, 16)) if alert_info else None
        record["alert_name"] = info.name if info is not None else None
    record["body"] = body
    return record
