"""Spectrum-analyser trace data: the parser for what an analyser answers to its trace query, and
the encoder the virtual analyser answers with (so both sides share one definition of the formats).

Formats (:class:`TraceFormat`):

* binary: an IEEE 488.2 *definite length arbitrary block* ``#<n><length><bytes>`` of IEEE 754
  ``REAL,32`` or ``REAL,64`` values in the byte order the instrument reported (its
  ``FORMat:BORDer?`` answer, never assumed), optionally followed by the response terminator (LF);
* ASCII: comma-separated decimal numbers, optionally inside a definite-length block header
  (Rigol DSA), optionally with a trailing separator (Siglent), followed by whitespace, the
  terminator and NUL padding.

Every byte is untrusted: :func:`parse_trace` returns finite float64 levels or raises
:class:`TraceFormatError` saying what was wrong and where; nothing else escapes it (fuzzed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from hubrig.drivers.analyser.dialects import ByteOrder, Encoding, Header

MAX_POINTS = 200_001
"""No analyser sweeps more points (Keysight X-series: 100,001; R&S FSW: 100,001)."""
MAX_ABS_LEVEL = 1.0e4
"""Larger magnitudes are no level an analyser reports (SCPI's 9.91E37 stands for 'not a number')."""
MAX_FREQUENCY_HZ = 1.0e12
"""The bound for a frequency axis read from the instrument (no analyser reaches 1 THz)."""
MAX_BLOCK_DIGITS = 9
_WIDTH = {"real32": 4, "real64": 8}
_ASCII_NUMBER = rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ASCII_CHARS = b"0123456789+-.eE, \t"
_TAIL = re.compile(rb"[\r\n \t]*\x00*")


class TraceFormatError(ValueError):
    """Trace data that is not in the expected format (the message says what and where)."""


@dataclass(frozen=True)
class TraceFormat:
    """How an analyser encodes a trace: ``encoding``, ``byte_order`` (binary only: as the
    instrument reported it), whether an ASCII trace comes inside a block ``header``, and whether a
    trailing separator is allowed; ``indefinite``: accept a ``#0`` indefinite-length block."""

    encoding: Encoding
    byte_order: ByteOrder | None = None
    header: Header = "none"
    trailing_separator: bool = False
    indefinite: bool = False

    def __post_init__(self) -> None:
        if self.encoding != "ascii" and self.byte_order not in ("big", "little"):
            raise ValueError(f"a {self.encoding} trace needs the instrument's byte order (big or little)")

    @property
    def binary(self) -> bool:
        return self.encoding != "ascii"

    def describe(self) -> str:
        if self.binary:
            return f"{self.encoding.upper().replace('REAL', 'REAL,')} {self.byte_order}-endian block"
        extra = {"none": "", "optional": ", block header optional", "required": " in a block"}[self.header]
        return f"ASCII{extra}" + (", trailing comma" if self.trailing_separator else "")


def _excerpt(data: bytes, at: int = 0, width: int = 24) -> str:
    return repr(data[at:at + width]) + ("..." if len(data) > at + width else "")


def read_block_header(data: bytes, *, indefinite: bool = False) -> tuple[int, int | None]:
    """Where an IEEE 488.2 block's payload starts and how long it is: ``(start, length)``;
    ``length`` is ``None`` for an allowed ``#0`` indefinite block (it runs to the terminator)."""
    if len(data) < 2 or data[0:1] != b"#":
        raise TraceFormatError(f"expected an IEEE 488.2 block starting '#<digit>', got {_excerpt(data)}")
    digit = data[1]
    if not 0x30 <= digit <= 0x39:
        raise TraceFormatError(f"block header '#' must be followed by a digit, got {_excerpt(data)}")
    n = digit - 0x30
    if n == 0:
        if not indefinite:
            raise TraceFormatError("indefinite-length block '#0' is not allowed for this instrument's traces")
        return 2, None
    digits = data[2:2 + n]
    if len(digits) < n or not digits.isdigit():
        raise TraceFormatError(f"block header '#{n}' must be followed by {n} length digits, got {_excerpt(data)}")
    return 2 + n, int(digits)


def _payload(data: bytes, fmt: TraceFormat) -> bytes:
    """The block's payload, checking the declared length against what arrived."""
    start, length = read_block_header(data, indefinite=fmt.indefinite)
    if length is None:  # indefinite: runs to the LF terminator
        end = data.rfind(b"\n")
        if end < start:
            raise TraceFormatError("indefinite-length block '#0' has no LF terminator")
        return data[start:end]
    body = data[start:start + length]
    if len(body) < length:
        raise TraceFormatError(f"block declares {length} bytes but only {len(body)} arrived (truncated)")
    tail = data[start + length:]
    if not _TAIL.fullmatch(tail):
        raise TraceFormatError(f"{len(tail)} unexpected bytes after the {length}-byte block: {_excerpt(tail)}")
    return body


def _checked(values: NDArray[np.float64], expected_points: int | None, max_abs: float) -> NDArray[np.float64]:
    if values.size == 0:
        raise TraceFormatError("the trace has no points")
    if values.size > MAX_POINTS:
        raise TraceFormatError(f"the trace has {values.size} points; no analyser sweeps more than {MAX_POINTS}")
    if expected_points is not None and values.size != expected_points:
        raise TraceFormatError(f"the trace has {values.size} points, the sweep has {expected_points}")
    bad = ~np.isfinite(values) | (np.abs(values) > max_abs)
    if bad.any():
        index = int(np.argmax(bad))
        raise TraceFormatError(f"point {index} is {values[index]!r}: not a finite level (|level| <= {max_abs:g})")
    return values


def parse_trace(data: bytes, fmt: TraceFormat, *, expected_points: int | None = None,
                max_abs: float = MAX_ABS_LEVEL) -> NDArray[np.float64]:
    """The levels in ``data`` (float64, one per sweep point), or :class:`TraceFormatError`.

    ``expected_points``: the sweep's point count, when known; a trace of another length is refused.
    ``max_abs``: the largest magnitude accepted (a frequency axis passes :data:`MAX_FREQUENCY_HZ`).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TraceFormatError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if fmt.binary:
        body = _payload(data, fmt)
        width = _WIDTH[fmt.encoding]
        if len(body) % width:
            raise TraceFormatError(f"a {fmt.describe()} of {len(body)} bytes is not a whole number of "
                                   f"{width}-byte values")
        dtype = np.dtype(("<" if fmt.byte_order == "little" else ">") + ("f4" if width == 4 else "f8"))
        values = np.frombuffer(body, dtype=dtype).astype(np.float64)
        return _checked(values, expected_points, max_abs)
    stripped = data.lstrip(b" \t")
    if stripped[:1] == b"#":
        if fmt.header == "none":
            raise TraceFormatError(f"expected an ASCII trace without a block header, got {_excerpt(data)}")
        body = _payload(stripped, fmt)
    elif fmt.header == "required":
        raise TraceFormatError(f"expected an ASCII trace inside a '#' block, got {_excerpt(data)}")
    else:
        body = data.rstrip(b"\r\n \t\x00")
    body = body.rstrip(b"\r\n \t")
    if body.endswith(b",") and fmt.trailing_separator:
        body = body[:-1]
    # Only digits, signs, points, exponents, commas and blanks pass (so no nan, inf or 1_0 reaches
    # the conversion); every token must then convert, which an empty or malformed one does not.
    if body.translate(None, _ASCII_CHARS):
        raise TraceFormatError(f"not comma-separated decimal numbers: {_excerpt(body, _first_bad(body))}")
    try:
        values = np.array(body.split(b","), dtype=np.float64)
    except ValueError:
        if body.rstrip(b" \t").endswith(b",") and not fmt.trailing_separator:
            raise TraceFormatError("the ASCII trace ends with a separator, which this instrument does not send") from None
        raise TraceFormatError(f"not comma-separated decimal numbers: {_excerpt(body, _first_bad(body))}") from None
    return _checked(values, expected_points, max_abs)


def _first_bad(body: bytes) -> int:
    """Roughly where ASCII trace text stops being numbers (for the error message)."""
    found = re.match(rb"(?:[ \t]*" + _ASCII_NUMBER + rb"[ \t]*,)*", body)
    return found.end() if found else 0


def encode_block(payload: bytes) -> bytes:
    """An IEEE 488.2 definite-length block around ``payload``."""
    length = str(len(payload)).encode()
    if len(length) > MAX_BLOCK_DIGITS:
        raise ValueError(f"a block of {len(payload)} bytes is too long for a definite-length header")
    return b"#" + str(len(length)).encode() + length + payload


def encode_trace(values: Sequence[float] | NDArray[np.float64], fmt: TraceFormat, *,
                 header: bool | None = None, terminator: bytes = b"\n", separator: str = ",") -> bytes:
    """``values`` as an analyser sends them in ``fmt`` (ASCII values as ``%.6e`` joined by
    ``separator``). ``header`` forces or omits an ASCII block header (default: when ``fmt.header``
    is ``required``)."""
    array = np.asarray(values, dtype=np.float64)
    if fmt.binary:
        dtype = np.dtype(("<" if fmt.byte_order == "little" else ">") + ("f4" if fmt.encoding == "real32" else "f8"))
        return encode_block(array.astype(dtype).tobytes()) + terminator
    text = separator.join(f"{v:.6e}" for v in array.tolist()) + ("," if fmt.trailing_separator else "")
    body = text.encode("ascii")
    with_header = fmt.header == "required" if header is None else header
    return (encode_block(body) if with_header else body) + terminator
