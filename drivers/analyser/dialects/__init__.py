"""Spectrum-analyser dialects: the SCPI each analyser family understands, as data.

A dialect is command templates with ``{value}`` (a number, Hz / dB / dBm / count), ``{word}`` (a
vendor keyword looked up in the dialect's own tables) and ``{trace}`` (the trace number) fields,
plus how the family formats traces (ASCII with or without a block header or trailing comma,
binary REAL,32/REAL,64 with a byte-order command and query). The driver
(:mod:`hubrig.drivers.analyser.analyser`) speaks any dialect; the virtual analyser
(:mod:`hubrig.harness.virtual.analyser`) parses the same templates, so the two cannot drift apart.
Each vendor module cites the programming manual its commands come from.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Mapping

if TYPE_CHECKING:  # the trace module needs numpy; rig files load without it
    from hubrig.drivers.analyser.trace import TraceFormat

Encoding = Literal["ascii", "real32", "real64"]
ByteOrder = Literal["big", "little"]
Header = Literal["none", "optional", "required"]

Detector = Literal["peak", "sample", "average", "rms", "negative", "quasi-peak"]
TraceMode = Literal["write", "max-hold", "average"]
DETECTORS: tuple[Detector, ...] = ("peak", "sample", "average", "rms", "negative", "quasi-peak")
TRACE_MODES: tuple[TraceMode, ...] = ("write", "max-hold", "average")


@dataclass(frozen=True)
class Dialect:
    """The command set of one analyser family (see the package docstring for the fields)."""

    name: str
    title: str
    manual: str
    idn_pattern: str
    """Regular expression an ``*IDN?`` answer of this family matches (``rig check`` warns otherwise)."""
    idn: str
    """What the virtual analyser answers to ``*IDN?`` in this dialect."""
    detector: str
    detectors: Mapping[Detector, str]
    trace_mode: str
    trace_modes: Mapping[TraceMode, str]
    average_count: str
    trace_query: str
    formats: Mapping[Encoding, str]
    """Trace encodings the family offers -> the ``{word}`` of :attr:`format_command`."""
    format_command: str
    ascii_header: Header = "none"
    ascii_trailing_separator: bool = False
    ascii_separator: str = ","
    """What the instrument puts between ASCII values (the virtual analyser sends it; the parser
    accepts blanks around commas anyway)."""
    byte_order_command: str | None = None
    byte_order_query: str | None = None
    byte_orders: Mapping[ByteOrder, str] = field(default_factory=lambda: {"big": "NORM", "little": "SWAP"})
    reset_byte_order: ByteOrder = "big"
    """The byte order after ``*RST`` (what the virtual analyser starts with)."""
    preferred_encoding: Encoding = "real32"
    center: str = ":FREQ:CENT {value}"
    span: str = ":FREQ:SPAN {value}"
    start: str = ":FREQ:STAR {value}"
    stop: str = ":FREQ:STOP {value}"
    start_query: str = ":FREQ:STAR?"
    stop_query: str = ":FREQ:STOP?"
    points: str | None = ":SWE:POIN {value}"
    points_query: str | None = ":SWE:POIN?"
    fixed_points: int | None = None
    """Analysers whose sweep has a fixed number of points (no points command)."""
    rbw: str = ":BAND {value}"
    vbw: str = ":BAND:VID {value}"
    reference_level: str = ":DISP:WIND:TRAC:Y:RLEV {value}"
    attenuation: str = ":POW:ATT {value}"
    sweep_time_query: str = ":SWE:TIME?"
    continuous_off: str = ":INIT:CONT OFF"
    single_sweep: str = ":INIT:IMM"
    opc_query: str = "*OPC?"
    x_axis_query: str | None = None
    """A query for the frequency of every point; without one the axis is start..stop over the points."""
    error_query: str = ":SYST:ERR?"
    no_error_reply: str = '0,"No error"'
    trace: int = 1
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each command comes from: a :meth:`commands` name -> the public document (title,
    section/page, address) that gives it. Every command and keyword table the dialect has is cited."""
    unchecked: frozenset[str] = frozenset()
    """Commands whose cited manual section was not seen in a public copy: taken from the cited
    manual's title and SCPI's forms, to be confirmed with ``hubrig rig check`` on the instrument."""

    def commands(self) -> dict[str, str]:
        """Every command template and keyword table this dialect has, by field name (unset omitted);
        a keyword table reads as its words joined by ``|``."""
        templates: dict[str, str | None] = {
            "center": self.center, "span": self.span, "start": self.start, "stop": self.stop,
            "start_query": self.start_query, "stop_query": self.stop_query, "points": self.points,
            "points_query": self.points_query, "rbw": self.rbw, "vbw": self.vbw,
            "reference_level": self.reference_level, "attenuation": self.attenuation,
            "detector": self.detector, "detectors": "|".join(self.detectors.values()),
            "trace_mode": self.trace_mode, "trace_modes": "|".join(self.trace_modes.values()),
            "average_count": self.average_count, "continuous_off": self.continuous_off,
            "single_sweep": self.single_sweep, "opc_query": self.opc_query,
            "sweep_time_query": self.sweep_time_query, "trace_query": self.trace_query,
            "x_axis_query": self.x_axis_query, "format_command": self.format_command,
            "formats": "|".join(self.formats.values()), "byte_order_command": self.byte_order_command,
            "byte_order_query": self.byte_order_query,
            "byte_orders": "|".join(self.byte_orders.values()) if self.byte_order_command else None,
            "error_query": self.error_query,
        }
        return {name: text for name, text in templates.items() if text}

    def command(self, template: str, *, value: float | None = None, word: str = "") -> str:
        """Fill a template: ``dialect.command(dialect.rbw, value=100e3)`` -> ``:BAND 100000``."""
        return template.format(value="" if value is None else format_number(value), word=word, trace=self.trace)

    def supports_binary(self) -> bool:
        """Binary traces need a byte order read from the instrument: a byte-order query."""
        return self.byte_order_query is not None and any(e != "ascii" for e in self.formats)

    def trace_format(self, encoding: Encoding, byte_order: ByteOrder | None = None) -> "TraceFormat":
        """How this family sends a trace in ``encoding`` (binary: in ``byte_order`` as read back)."""
        from hubrig.drivers.analyser.trace import TraceFormat

        if encoding == "ascii":
            return TraceFormat("ascii", header=self.ascii_header, trailing_separator=self.ascii_trailing_separator)
        return TraceFormat(encoding, byte_order=byte_order)

    def matches_identity(self, idn: str) -> bool:
        return re.match(self.idn_pattern, idn) is not None


def format_number(value: float) -> str:
    """A setting as plain decimal text: 2.44e9 -> '2440000000', -10.5 -> '-10.5'."""
    if not math.isfinite(value):
        raise ValueError(f"setting {value!r} is not a finite number")
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.9g}"


MODULES = {
    "keysight-x": "keysight_x",
    "rs-fsx": "rs_fsx",
    "rigol-dsa": "rigol",
    "rigol-rsa": "rigol",
    "siglent-ssa3000x": "siglent_ssa3000x",
}


class UnknownDialectError(ValueError):
    """The rig file names an analyser dialect hubrig does not have."""


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (as written in the rig file), or a clear error listing them."""
    module = MODULES.get(name)
    if module is None:
        raise UnknownDialectError(f"unknown analyser dialect {name!r}; known dialects: {', '.join(sorted(MODULES))}")
    dialects: Mapping[str, Dialect] = importlib.import_module(f"{__name__}.{module}").DIALECTS
    return dialects[name]


def all_dialects() -> list[Dialect]:
    """Every shipped dialect, in a stable order."""
    return [get_dialect(name) for name in MODULES]
