"""The GBCS message envelope: General-Signing (``DF``) and General-Ciphering (``DD``) framing.

::

    General-Signing:   DF | 09 CRA counter(8) | 08 originator(8) | 08 recipient(8)
                       | date-time (00, or 0C + 12-byte COSEM date-time)
                       | other-info length | message code(2) [+ supplementary fields]
                       | content length | content | [signature length | signature]
    General-Ciphering: DD 00 00 00 00 00 00 | length | 11 invocation-counter(4)
                       | General-Signing message | MAC(12)

Lengths are one byte, or ``81``/``82``/``83``/``84`` followed by that many length bytes. A
message with no signature-length field at all is a *pre-command* (not yet signed). Other
information is 2 bytes (message code), 10 (+ supplementary remote party id), 18 (+ its counter),
26 (+ supplementary originator counter) or more (+ the remote party's KA certificate, DER).

:func:`parse` is strict and raises only :class:`GbcsError`; :func:`encode` is its inverse, so
``encode(parse(x)) == x`` for every well-formed message, non-minimal length forms included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from hubrig.harness.gbcs.content import axdr
from hubrig.harness.gbcs.errors import GbcsError

GENERAL_SIGNING = 0xDF
GENERAL_CIPHERING = 0xDD
CRA_NAMES = {1: "command", 2: "response", 3: "alert"}
CRA_CODES = {name: code for code, name in CRA_NAMES.items()}
SECURITY_CONTROL_AUTH_ONLY = 0x11
MAC_LENGTH = 12
GC_HEADER_FIELDS = bytes(6)  # transaction-id, originator, recipient, date-time, other-info, key-info
_COSEM_UNSPECIFIED_DEVIATION = 0x8000


@dataclass
class Message:
    """One GBCS message, as fields. EUIs are 16 uppercase hex digits.

    ``signature`` is ``None`` when the message has no signature-length field (a pre-command) and
    ``b""`` when the field is present with length 0. ``mac`` is set for General-Ciphering.
    ``date_time_raw`` keeps the 12 received COSEM bytes (unspecified fields included);
    ``length_forms`` records any non-minimal length encodings so :func:`encode` reproduces them.
    The ``*_span`` fields are the exact bytes the signature and MAC cover, as received
    (``None`` for a message built in memory: :mod:`hubrig.harness.gbcs.security` then encodes them).
    """

    cra: str
    originator_counter: int
    originator: str
    recipient: str
    message_code: int
    content: bytes
    date_time: datetime | None = None
    general_ciphering: bool = False
    signature: bytes | None = None
    mac: bytes | None = None
    invocation_counter: int = 0
    supplementary_remote_party_id: str | None = None
    supplementary_remote_party_counter: int | None = None
    supplementary_originator_counter: int | None = None
    remote_party_ka_certificate: bytes | None = None
    date_time_raw: bytes | None = None
    length_forms: dict[str, int] = field(default_factory=dict)
    signed_span: bytes | None = field(default=None, repr=False, compare=False)
    general_signing_span: bytes | None = field(default=None, repr=False, compare=False)
    content_offset: int = field(default=0, repr=False, compare=False)

    @property
    def cra_flag(self) -> int:
        """The CRA flag byte (1 command, 2 response, 3 alert)."""
        return CRA_CODES[self.cra]

    @property
    def transaction_id(self) -> bytes:
        """CRA flag and originator counter: the 9 bytes that identify the transaction."""
        return bytes([self.cra_flag]) + self.originator_counter.to_bytes(8, "big")


# ---------------------------------------------------------------- COSEM date-time

def decode_cosem_datetime(raw: bytes) -> datetime | None:
    """A 12-byte COSEM date-time as an aware datetime, or ``None`` unless fully specified.

    Hundredths of 0xFF count as 0. A deviation of 0x8000 (unspecified, the GBCS norm) means UTC;
    otherwise UTC = local time + deviation minutes (IEC 62056-62).
    """
    if len(raw) != 12:
        return None
    year = int.from_bytes(raw[0:2], "big")
    month, day, _dow, hour, minute, second, hundredths = raw[2:9]
    deviation = int.from_bytes(raw[9:11], "big")
    if year == 0xFFFF or 0xFF in (month, day, hour, minute, second):
        return None
    if hundredths == 0xFF:
        hundredths = 0
    if deviation == _COSEM_UNSPECIFIED_DEVIATION:
        tz = timezone.utc
    else:
        signed = deviation - 0x10000 if deviation & 0x8000 else deviation
        if not -720 <= signed <= 720:
            return None
        tz = timezone(timedelta(minutes=-signed))
    try:
        return datetime(year, month, day, hour, minute, second, hundredths * 10_000, tzinfo=tz)
    except ValueError:
        return None


def encode_cosem_datetime(when: datetime) -> bytes:
    """An aware (or UTC-naive) datetime as GBCS writes it: UTC, day-of-week and deviation unspecified."""
    return axdr.encode_datetime(when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc))


# ---------------------------------------------------------------- lengths

def encode_length(value: int, width: int | None = None) -> bytes:
    """A GBCS length: one byte below 0x80, else ``8n`` and n big-endian bytes (n <= 4).

    ``width`` asks for a specific total encoded size (to reproduce a non-minimal form); it is
    ignored when the value does not fit.
    """
    if value < 0:
        raise ValueError(f"negative length {value}")
    minimal = 1 if value < 0x80 else 1 + (value.bit_length() + 7) // 8
    if minimal > 5:
        raise ValueError(f"length {value} too large for GBCS")
    size = width if width is not None and minimal <= width <= 5 and (width > 1 or value < 0x80) else minimal
    if size == 1:
        return bytes([value])
    return bytes([0x80 | (size - 1)]) + value.to_bytes(size - 1, "big")


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int, end: int):
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise GbcsError(f"{what}: needs {n} bytes, {self.end - self.pos} left", self.pos)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def byte(self, what: str) -> int:
        if self.pos >= self.end:
            raise GbcsError(f"{what}: message ends early", self.pos)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def length(self, what: str, forms: dict[str, int]) -> int:
        start = self.pos
        first = self.byte(f"{what} length")
        if first < 0x80:
            return first
        n = first & 0x7F
        if not 1 <= n <= 4:
            raise GbcsError(f"{what} length: unsupported length form 0x{first:02X}", start)
        value = int.from_bytes(self.take(n, f"{what} length"), "big")
        if len(encode_length(value)) != 1 + n:
            forms[what] = 1 + n
        return value

    def fixed(self, expected: int, what: str) -> None:
        at = self.pos
        got = self.byte(what)
        if got != expected:
            raise GbcsError(f"{what}: expected 0x{expected:02X}, found 0x{got:02X}", at)


# ---------------------------------------------------------------- parse

def parse(data: bytes) -> Message:
    """Parse one whole GBCS message; raises :class:`GbcsError` (with the offset) if malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GbcsError(f"expected bytes, got {type(data).__name__}", 0)
    data = bytes(data)
    if not data:
        raise GbcsError("empty message", 0)
    forms: dict[str, int] = {}
    if data[0] == GENERAL_CIPHERING:
        r = _Reader(data, 1, len(data))
        header = r.take(6, "General-Ciphering header")
        if header != GC_HEADER_FIELDS:
            raise GbcsError("General-Ciphering header: only empty transaction-id, system titles, "
                            "date-time, other-information and key-info are used by GBCS", 1)
        length = r.length("ciphered service", forms)
        if length != r.end - r.pos:
            raise GbcsError(f"ciphered service length {length} but {r.end - r.pos} bytes follow", 7)
        if length < 5 + MAC_LENGTH:
            raise GbcsError(f"ciphered service of {length} bytes is too short", 7)
        r.fixed(SECURITY_CONTROL_AUTH_ONLY, "security control byte")
        invocation = int.from_bytes(r.take(4, "invocation counter"), "big")
        gs_start, gs_end = r.pos, r.end - MAC_LENGTH
        msg = _parse_general_signing(data, gs_start, gs_end, forms)
        msg.general_ciphering = True
        msg.invocation_counter = invocation
        msg.mac = data[gs_end:]
        msg.general_signing_span = data[gs_start:gs_end]
        return msg
    if data[0] == GENERAL_SIGNING:
        return _parse_general_signing(data, 0, len(data), forms)
    raise GbcsError(f"not a GBCS message: first byte 0x{data[0]:02X} (expected DF or DD)", 0)


def _eui(raw: bytes) -> str:
    return raw.hex().upper()


def _parse_general_signing(data: bytes, start: int, end: int, forms: dict[str, int]) -> Message:
    head = data[start:start + 29]
    if (len(head) == 29 and head[0] == GENERAL_SIGNING and head[1] == 9 and head[2] in CRA_NAMES
            and head[11] == 8 and head[20] == 8 and end - start > 30):
        # the fixed header as GBCS always writes it, read in one go; anything else takes the
        # byte-by-byte path below, which says exactly what is wrong and where
        r = _Reader(data, start + 29, end)
        cra_flag = head[2]
        counter = int.from_bytes(head[3:11], "big")
        originator, recipient = head[12:20].hex().upper(), head[21:29].hex().upper()
    else:
        r = _Reader(data, start, end)
        cra_flag, counter, originator, recipient = _general_signing_header(r)
    at = r.pos
    dt_len = r.byte("date-time length")
    if dt_len not in (0, 12):
        raise GbcsError(f"date-time length {dt_len} (expected 0 or 12)", at)
    dt_raw = r.take(12, "date-time") if dt_len else None
    at = r.pos
    other_len = r.length("other-information", forms)
    other_start = r.pos
    other = r.take(other_len, "other-information")
    msg = Message(cra=CRA_NAMES[cra_flag], originator_counter=counter, originator=originator,
                  recipient=recipient, message_code=0, content=b"", date_time_raw=dt_raw,
                  date_time=decode_cosem_datetime(dt_raw) if dt_raw else None, length_forms=forms)
    _parse_other_information(msg, other, other_start)
    content_len = r.length("content", forms)
    msg.content_offset = r.pos
    msg.content = r.take(content_len, "content")
    msg.signed_span = data[start + 1:r.pos]
    if r.pos < r.end:
        sig_len = r.length("signature", forms)
        msg.signature = r.take(sig_len, "signature")
        if r.pos != r.end:
            raise GbcsError(f"{r.end - r.pos} unexpected bytes after the signature", r.pos)
    return msg


def _general_signing_header(r: _Reader) -> tuple[int, int, str, str]:
    """CRA flag, originator counter, originator and recipient, checked field by field."""
    r.fixed(GENERAL_SIGNING, "General-Signing tag")
    r.fixed(9, "transaction-id length")
    at = r.pos
    cra_flag = r.byte("CRA flag")
    if cra_flag not in CRA_NAMES:
        raise GbcsError(f"CRA flag 0x{cra_flag:02X} is not 1, 2 or 3", at)
    counter = int.from_bytes(r.take(8, "originator counter"), "big")
    r.fixed(8, "originator system title length")
    originator = _eui(r.take(8, "originator system title"))
    r.fixed(8, "recipient system title length")
    recipient = _eui(r.take(8, "recipient system title"))
    return cra_flag, counter, originator, recipient


def _parse_other_information(msg: Message, other: bytes, offset: int) -> None:
    size = len(other)
    if size < 2 or (size < 26 and size not in (2, 10, 18)):
        raise GbcsError(f"other-information of {size} bytes (expected 2, 10, 18, 26 or a "
                        "certificate after 18)", offset)
    msg.message_code = int.from_bytes(other[0:2], "big")
    if size >= 10:
        msg.supplementary_remote_party_id = _eui(other[2:10])
    if size >= 18:
        msg.supplementary_remote_party_counter = int.from_bytes(other[10:18], "big")
    if size == 26:
        msg.supplementary_originator_counter = int.from_bytes(other[18:26], "big")
    elif size > 26:
        cert = other[18:]
        _check_der_sequence(cert, offset + 18)
        msg.remote_party_ka_certificate = cert


def _check_der_sequence(der: bytes, offset: int) -> None:
    """The remote party KA certificate must be exactly one DER SEQUENCE."""
    if der[0] != 0x30:  # other-information longer than 26 bytes: the certificate has 9 or more
        raise GbcsError("supplementary remote party KA certificate is not a DER SEQUENCE", offset)
    first = der[1]
    if first < 0x80:
        length, head = first, 2
    else:
        n = first & 0x7F
        if not 1 <= n <= 3 or len(der) < 2 + n:
            raise GbcsError("supplementary remote party KA certificate: bad DER length", offset + 1)
        length, head = int.from_bytes(der[2:2 + n], "big"), 2 + n
    if head + length != len(der):
        raise GbcsError(f"supplementary remote party KA certificate: DER says {head + length} "
                        f"bytes, other-information holds {len(der)}", offset)


# ---------------------------------------------------------------- encode

def _other_information(msg: Message) -> bytes:
    out = msg.message_code.to_bytes(2, "big")
    extras = (msg.supplementary_remote_party_id, msg.supplementary_remote_party_counter,
              msg.supplementary_originator_counter, msg.remote_party_ka_certificate)
    if all(x is None for x in extras):
        return out
    if msg.supplementary_remote_party_id is None:
        raise ValueError("supplementary fields need supplementary_remote_party_id")
    out += bytes.fromhex(msg.supplementary_remote_party_id)
    if msg.supplementary_remote_party_counter is None:
        if extras[2] is not None or extras[3] is not None:
            raise ValueError("supplementary originator counter / certificate need "
                             "supplementary_remote_party_counter")
        return out
    out += msg.supplementary_remote_party_counter.to_bytes(8, "big")
    if msg.supplementary_originator_counter is not None and msg.remote_party_ka_certificate is not None:
        raise ValueError("other-information holds a supplementary originator counter or a "
                         "certificate, not both")
    if msg.supplementary_originator_counter is not None:
        out += msg.supplementary_originator_counter.to_bytes(8, "big")
    elif msg.remote_party_ka_certificate is not None:
        if len(msg.remote_party_ka_certificate) <= 8:  # would read back as a counter
            raise ValueError("remote party KA certificate must be longer than 8 bytes")
        out += msg.remote_party_ka_certificate
    return out


def _check_eui(name: str, value: str) -> bytes:
    raw = bytes.fromhex(value) if len(value) == 16 else b""
    if len(raw) != 8:
        raise ValueError(f"{name} {value!r} is not 16 hex digits")
    return raw


def _date_time_bytes(msg: Message) -> bytes:
    if msg.date_time_raw is not None and (
            msg.date_time is None or decode_cosem_datetime(msg.date_time_raw) == msg.date_time):
        return msg.date_time_raw
    if msg.date_time is not None:
        return encode_cosem_datetime(msg.date_time)
    return b""


def encode_signed_part(msg: Message) -> bytes:
    """The bytes a signature covers: everything after the ``DF`` tag up to the end of the content."""
    if msg.cra not in CRA_CODES:
        raise ValueError(f"cra {msg.cra!r} is not one of {sorted(CRA_CODES)}")
    forms = msg.length_forms
    dt = _date_time_bytes(msg)
    other = _other_information(msg)
    return b"".join((
        b"\x09", msg.transaction_id,
        b"\x08", _check_eui("originator", msg.originator),
        b"\x08", _check_eui("recipient", msg.recipient),
        bytes([len(dt)]), dt,
        encode_length(len(other), forms.get("other-information")), other,
        encode_length(len(msg.content), forms.get("content")), msg.content,
    ))


def encode_general_signing(msg: Message) -> bytes:
    """The General-Signing message (``DF`` ...), signature field included when present."""
    out = b"\xdf" + encode_signed_part(msg)
    if msg.signature is not None:
        out += encode_length(len(msg.signature), msg.length_forms.get("signature")) + msg.signature
    return out


def general_ciphering_prefix(msg: Message, general_signing_length: int) -> bytes:
    """``DD`` header, ciphered-service length and security header for a General-Signing body."""
    length = 5 + general_signing_length + MAC_LENGTH
    return (bytes([GENERAL_CIPHERING]) + GC_HEADER_FIELDS
            + encode_length(length, msg.length_forms.get("ciphered service"))
            + bytes([SECURITY_CONTROL_AUTH_ONLY]) + msg.invocation_counter.to_bytes(4, "big"))


def encode(msg: Message) -> bytes:
    """Encode a message; General-Ciphering needs its 12-byte ``mac`` already set."""
    body = encode_general_signing(msg)
    if not msg.general_ciphering:
        return body
    if msg.mac is None or len(msg.mac) != MAC_LENGTH:
        raise ValueError("a General-Ciphering message needs a 12-byte mac (use hubrig.harness.gbcs.builder)")
    return general_ciphering_prefix(msg, len(body)) + body + msg.mac
