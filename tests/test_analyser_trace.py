"""The trace parser: each dialect's formats as hand-made byte vectors (laid out as the programming
manuals describe them, values our own), malformed blocks, byte order, a round trip through the
virtual analyser's encoder, and fuzzing (arbitrary bytes only ever raise TraceFormatError)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.drivers.analyser.dialects import all_dialects, get_dialect
from hubrig.drivers.analyser.trace import (MAX_POINTS, TraceFormat, TraceFormatError, encode_trace,
                                           parse_trace)

LEVELS = [-87.25, -90.5, -43.0]


def block(payload: bytes) -> bytes:
    n = str(len(payload))
    return b"#" + str(len(n)).encode() + n.encode() + payload


# -- each dialect's documented shape, written by hand ------------------------------------------------

def test_keysight_real32_normal_byte_order_is_big_endian_block():
    payload = struct.pack(">3f", *LEVELS)
    data = b"#212" + payload + b"\n"
    fmt = get_dialect("keysight-x").trace_format("real32", "big")
    assert parse_trace(data, fmt).tolist() == LEVELS


def test_keysight_real64_swapped_is_little_endian():
    data = block(struct.pack("<3d", *LEVELS)) + b"\n"
    assert parse_trace(data, TraceFormat("real64", "little")).tolist() == LEVELS


def test_rs_real32_swapped_default():
    data = b"#212" + struct.pack("<3f", *LEVELS) + b"\n"
    fmt = get_dialect("rs-fsx").trace_format("real32", "little")
    assert parse_trace(data, fmt).tolist() == LEVELS


def test_byte_order_matters_same_bytes_read_the_other_way_are_other_values():
    data = b"#212" + struct.pack(">3f", *LEVELS)
    assert parse_trace(data, TraceFormat("real32", "big")).tolist() == LEVELS
    assert parse_trace(data, TraceFormat("real32", "little")).tolist() != LEVELS


def test_keysight_and_rs_ascii_without_header():
    data = b"-8.725000E+01,-9.050000E+01,-4.300000E+01\n"
    for name in ("keysight-x", "rs-fsx"):
        assert parse_trace(data, get_dialect(name).trace_format("ascii")).tolist() == LEVELS


def test_rigol_ascii_inside_a_nine_digit_block_header_with_blanks():
    body = b"-8.725000e+01, -9.050000e+01, -4.300000e+01"
    data = b"#9" + f"{len(body):09d}".encode() + body + b"\n"
    fmt = get_dialect("rigol-dsa").trace_format("ascii")
    assert parse_trace(data, fmt).tolist() == LEVELS
    with pytest.raises(TraceFormatError, match="inside a '#' block"):
        parse_trace(body + b"\n", fmt)


def test_siglent_ascii_with_trailing_comma_and_nul_padding():
    data = b"-87.25,-90.5,-43,\n\x00\x00\x00"
    fmt = get_dialect("siglent-ssa3000x").trace_format("ascii")
    assert parse_trace(data, fmt).tolist() == LEVELS
    with pytest.raises(TraceFormatError, match="ends with a separator"):
        parse_trace(data, TraceFormat("ascii"))


def test_optional_header_takes_both():
    fmt = TraceFormat("ascii", header="optional")
    assert parse_trace(block(b"-1,-2"), fmt).tolist() == [-1, -2]
    assert parse_trace(b"-1,-2\r\n", fmt).tolist() == [-1, -2]


# -- malformed ---------------------------------------------------------------------------------------

BIG32 = TraceFormat("real32", "big")


@pytest.mark.parametrize("data, message", [
    (b"#213" + b"\0" * 12, "only 12 arrived"),
    (b"#211" + b"\0" * 11, "not a whole number"),
    (b"#14" + b"\0" * 4 + b"xyz", "unexpected bytes after"),
    (b"#0" + b"\0" * 4 + b"\n", "indefinite-length"),
    (b"#A12", "followed by a digit"),
    (b"#3 12", "length digits"),
    (b"-1,-2", "expected an IEEE 488.2 block"),
    (b"", "expected an IEEE 488.2 block"),
    (b"#10", "no points"),
])
def test_malformed_blocks_are_refused(data, message):
    with pytest.raises(TraceFormatError, match=message):
        parse_trace(data, BIG32)


def test_indefinite_block_only_where_allowed():
    fmt = TraceFormat("real32", "big", indefinite=True)
    assert parse_trace(b"#0" + struct.pack(">2f", -1, -2) + b"\n", fmt).tolist() == [-1, -2]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 9.91e37])
def test_nan_inf_and_scpi_overflow_are_refused(value):
    data = block(struct.pack(">2f", -80.0, value))
    with pytest.raises(TraceFormatError, match="point 1 .* not a finite level"):
        parse_trace(data, BIG32)


@pytest.mark.parametrize("text", [b"-1,nan", b"-1,inf", b"-1,,2", b"1_0,2", b"-1;-2", b"0x10", b"-1 -2", b"abc"])
def test_ascii_garbage_is_refused(text):
    with pytest.raises(TraceFormatError):
        parse_trace(text, TraceFormat("ascii", header="optional", trailing_separator=True))


def test_wrong_point_count_is_refused():
    with pytest.raises(TraceFormatError, match="3 points, the sweep has 4"):
        parse_trace(b"-1,-2,-3", TraceFormat("ascii"), expected_points=4)


def test_binary_format_without_a_byte_order_cannot_be_made():
    with pytest.raises(ValueError, match="byte order"):
        TraceFormat("real32")


def test_too_many_points_refused():
    data = block(b"\0" * 4 * (MAX_POINTS + 1))
    with pytest.raises(TraceFormatError, match="no analyser sweeps more"):
        parse_trace(data, BIG32)


# -- round trip and fuzz -----------------------------------------------------------------------------

def formats() -> list[TraceFormat]:
    out = []
    for d in all_dialects():
        for encoding in d.formats:
            if encoding == "ascii":
                out.append(d.trace_format("ascii"))
            elif d.supports_binary():
                out += [d.trace_format(encoding, "big"), d.trace_format(encoding, "little")]
    return out


levels = st.lists(st.floats(min_value=-200, max_value=30, allow_nan=False, width=32), min_size=1, max_size=300)


@given(values=levels, fmt=st.sampled_from(formats()))
@settings(max_examples=200, deadline=None)
def test_round_trip_through_the_virtual_analysers_encoder(values, fmt):
    got = parse_trace(encode_trace(values, fmt), fmt, expected_points=len(values))
    tolerance = 1e-6 if fmt.encoding == "ascii" else 0.0
    assert np.allclose(got, np.asarray(values, dtype=np.float32), rtol=tolerance, atol=1e-5)


@given(data=st.binary(max_size=200), fmt=st.sampled_from(formats() + [TraceFormat("real32", "big", indefinite=True)]))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_only_raise_the_parsers_error(data, fmt):
    try:
        values = parse_trace(data, fmt)
    except TraceFormatError:
        return
    assert values.size >= 1 and np.isfinite(values).all()


@given(data=st.binary(max_size=60), prefix=st.sampled_from([b"#", b"#1", b"#2", b"#9", b"-1,", b"#0"]))
@settings(max_examples=300, deadline=None)
def test_near_miss_headers_only_raise_the_parsers_error(data, prefix):
    for fmt in (BIG32, TraceFormat("ascii", header="optional", trailing_separator=True)):
        try:
            parse_trace(prefix + data, fmt)
        except TraceFormatError:
            pass


NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
STRICT = __import__("re").compile(rf"[ \t]*{NUMBER}(?:[ \t]*,[ \t]*{NUMBER})*[ \t]*")


@given(st.text(alphabet="0123456789+-.eE, \t", max_size=40))
@settings(max_examples=1500, deadline=None)
def test_ascii_accepts_exactly_comma_separated_decimal_numbers(text):
    """The fast path (allowed characters, then conversion) takes what the strict grammar takes."""
    fmt = TraceFormat("ascii")
    data = text.encode()
    grammar = STRICT.fullmatch(text.rstrip(" \t")) is not None
    try:
        values = parse_trace(data, fmt)
    except TraceFormatError as exc:
        assert not grammar or "not a finite level" in str(exc), (text, exc)  # 1e999, 10001: numbers, no levels
        return
    assert grammar, text
    assert values.size == text.count(",") + 1
