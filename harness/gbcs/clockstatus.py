"""COSEM clock status (the last byte of a date-time) and the refusal of a doubtful time stamp.

The clock status bits are IEC 62056-6-2's (the DLMS "Blue Book", interface class 8 clock;
also Gurux's public ``DLMS_CLOCK_STATUS``): bit 0 invalid value, bit 1 doubtful value, bit 2
different clock base, bit 3 invalid clock status, bit 7 daylight saving active; 0xFF means "not
specified", which is what GBCS writes for times from a clock that needs no qualification.
In RTDS 4.5.0 the GSME readings the GPF answers for carry 0x02 in their envelope date-time when
the GPF's copy is unreliable (the ``..._UNRELIABLE_...`` responses) and 0x04 when the time is the
GSME's own clock (``..._RELIABLE_GSME_...``).
"""

from __future__ import annotations

from datetime import datetime

NOT_SPECIFIED = 0xFF
_BITS = (("invalid_value", 0x01), ("doubtful_value", 0x02), ("different_clock_base", 0x04),
         ("invalid_clock_status", 0x08), ("daylight_saving_active", 0x80))
UNTRUSTED = 0x01 | 0x02 | 0x08
"""Bits that say the device itself does not vouch for the time: invalid, doubtful, invalid status."""


class DoubtfulTime(ValueError):
    """A time stamp the device itself marks as invalid or doubtful."""


def decode_clock_status(status: int) -> dict[str, int | bool] | None:
    """``{"raw": n, "invalid_value": bool, ...}`` for a specified status byte, None for 0xFF."""
    if status == NOT_SPECIFIED:
        return None
    out: dict[str, int | bool] = {"raw": status}
    for name, bit in _BITS:
        out[name] = bool(status & bit)
    return out


def doubtful_marks(status: int) -> list[str]:
    """The names of the bits of ``status`` by which a device disowns its time (empty: none)."""
    if status == NOT_SPECIFIED:
        return []
    return [name for name, bit in _BITS if bit & UNTRUSTED and status & bit]


def trusted_cosem_time(value: str | dict, what: str = "time") -> datetime:
    """A date-time from decoded content (ISO text, or the raw fields :mod:`.content.axdr` keeps
    when it is not plain UTC), refusing one the device marks doubtful or invalid, or one that is
    not a complete date-time."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    marks = doubtful_marks(int(value.get("clock_status", NOT_SPECIFIED)))
    if marks:
        raise DoubtfulTime(f"{what} is marked {', '.join(marks)} by the device (clock status "
                           f"0x{value['clock_status']:02X})")
    from hubrig.harness.gbcs.content.axdr import encode_datetime  # noqa: PLC0415 - content codec, on demand
    from hubrig.harness.gbcs.envelope import decode_cosem_datetime  # noqa: PLC0415
    when = decode_cosem_datetime(encode_datetime(value))
    if when is None:
        raise DoubtfulTime(f"{what} is not a complete date-time: {value}")
    return when


def trusted_time(record: dict, field: str = "date_time") -> datetime | None:
    """The record's ``field`` time as a datetime, refusing one its clock status marks untrusted.

    ``record`` is a :func:`~hubrig.harness.gbcs.decode.decode_record` record (its ``<field>_status``
    carries the status); raises :class:`DoubtfulTime` naming the bits when the device says the
    time is invalid or doubtful; None when the record has no such time.
    """
    value = record.get(field)
    status = record.get(f"{field}_status")
    marks = doubtful_marks(status["raw"]) if status is not None else []
    if marks:
        raise DoubtfulTime(f"{field} {value} is marked {', '.join(marks)} by the device "
                           f"(clock status 0x{status['raw']:02X})")
    return datetime.fromisoformat(value) if isinstance(value, str) else None
