"""The spectrum-analyser driver: one class for every SCPI analyser, speaking a vendor dialect.

:func:`open_analyser` reaches the instrument through pyvisa (pyvisa-py by default), or takes an
in-process ``endpoint`` (the virtual rig's analyser). The conversation (replies parsed
defensively, the error queue, ``*OPC?`` with its own timeout, block reads, resynchronisation after
a lost exchange) is the shared :class:`~hubrig.drivers.scpi.ScpiSession`. :class:`Analyser` adds
the safety limits (refused before anything is sent), single sweeps whose ``*OPC?`` timeout comes
from the instrument's sweep time and the sweep count plus a margin, and traces read defensively
(:mod:`hubrig.drivers.analyser.trace`): a binary trace is decoded in the byte order the instrument
reports, never an assumed one.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
from numpy.typing import NDArray

from hubrig.drivers.analyser.config import AnalyserConfig
from hubrig.drivers.analyser.dialects import Detector, Dialect, TraceMode, UnknownDialectError, get_dialect
from hubrig.drivers.analyser.errors import AnalyserConfigError, AnalyserInstrumentError, AnalyserSafetyError
from hubrig.drivers.analyser.trace import (MAX_FREQUENCY_HZ, ByteOrder, Encoding, TraceFormat, TraceFormatError,
                                           encode_block, parse_trace)
from hubrig.drivers.scpi.errors import InstrumentError
from hubrig.drivers.scpi.replies import ReplyError, clean, excerpt, parse_identity
from hubrig.drivers.scpi.session import Endpoint, ScpiSession
from hubrig.drivers.scpi.visa import connection_hint, open_visa
from hubrig.harness.clock import Clock

FIELD = "instruments.analyser"
MAX_BLOCK_BYTES = 16 * 1024 * 1024
"""A trace block longer than this is refused before it is read (100,001 REAL,64 points is 0.8 MB)."""
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

T = TypeVar("T")


@dataclass(frozen=True)
class SweepSettings:
    """What one measurement sweeps: range (Hz), bandwidths (Hz), detector, trace mode and count."""

    start_hz: float
    stop_hz: float
    rbw_hz: float
    vbw_hz: float
    detector: Detector
    mode: TraceMode = "max-hold"
    count: int = 1
    points: int | None = None


@dataclass(frozen=True)
class Trace:
    """A trace read from the analyser: levels (dBm) at frequencies (Hz), the settings it was swept
    with, and the rig-clock instants the sweep started and ``*OPC?`` confirmed it done."""

    freq_hz: NDArray[np.float64]
    levels_dbm: NDArray[np.float64]
    settings: SweepSettings
    started_ns: int
    finished_ns: int
    encoding: str


def parse_float(reply: object, limit: float) -> float:
    """A finite number no larger in magnitude than ``limit``."""
    text = clean(reply)
    if not _NUMBER.fullmatch(text):
        raise ReplyError(f"expected a number, got {excerpt(reply)}")
    value = float(text)
    if not math.isfinite(value) or abs(value) > limit:
        raise ReplyError(f"{excerpt(reply)} is out of range (|value| <= {limit:g})")
    return value


class Analyser:
    """A swept spectrum analyser (the sweep source of the RF noise plan)."""

    def __init__(self, cfg: AnalyserConfig, clock: Clock, endpoint: Endpoint, *, name: str = "analyser",
                 on_close: Callable[[], None] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.name = name
        self.dialect: Dialect = dialect_of(cfg)
        self.description = f"analyser ({self.dialect.name} at {cfg.resource})"
        self.encoding: Encoding = self._encoding()
        self.scpi = ScpiSession(endpoint, name=self.description, hint=connection_hint(FIELD), on_close=on_close)
        self._lock = threading.RLock()  # one measurement's exchanges are not interleaved with another's

    # -- identity ---------------------------------------------------------------------------------
    def identify(self) -> str:
        return self._ask("*IDN?", parse_identity)

    def describe(self) -> dict[str, str]:
        """What the results record about it."""
        return {"resource": self.cfg.resource, "dialect": self.dialect.name, "trace format": self.encoding}

    def identity_warning(self, idn: str) -> str | None:
        """Why ``idn`` does not look like the configured dialect's family, or ``None``."""
        if self.dialect.matches_identity(idn):
            return None
        return (f"*IDN? {idn!r} does not look like a {self.dialect.title} ({FIELD}.dialect: {self.dialect.name}); "
                f"check the dialect")

    # -- settings ---------------------------------------------------------------------------------
    def check_safety(self, *, reference_dbm: float, attenuation_db: float) -> None:
        """Refuse a reference level above ``safety.max_input_dbm`` or an attenuation below
        ``safety.min_attenuation_db`` (or any non-finite value); nothing is sent."""
        safety = self.cfg.safety
        for what, value in (("reference level", reference_dbm), ("attenuation", attenuation_db)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AnalyserSafetyError(f"{self.description}: {what} {value!r} is not a finite number; "
                                          "nothing was sent to the analyser")
        if reference_dbm > safety.max_input_dbm:
            raise AnalyserSafetyError(f"{self.description}: reference level {reference_dbm:g} dBm is above "
                                      f"{FIELD}.safety.max_input_dbm = {safety.max_input_dbm:g} dBm; "
                                      "nothing was sent to the analyser")
        if attenuation_db < safety.min_attenuation_db:
            raise AnalyserSafetyError(f"{self.description}: attenuation {attenuation_db:g} dB is below "
                                      f"{FIELD}.safety.min_attenuation_db = {safety.min_attenuation_db:g} dB; "
                                      "nothing was sent to the analyser")

    def configure(self, settings: SweepSettings, *, reference_dbm: float | None = None,
                  attenuation_db: float | None = None) -> None:
        """Apply ``settings`` (and the rig's, or the given, reference level and attenuation); the
        safety limits are checked first and the error queue is read afterwards."""
        d = self.dialect
        reference = self.cfg.reference_level_dbm if reference_dbm is None else reference_dbm
        attenuation = self.cfg.attenuation_db if attenuation_db is None else attenuation_db
        self.check_safety(reference_dbm=reference, attenuation_db=attenuation)
        for what, value in (("start", settings.start_hz), ("stop", settings.stop_hz), ("RBW", settings.rbw_hz),
                            ("VBW", settings.vbw_hz)):
            if not math.isfinite(value) or value < 0:
                raise AnalyserSafetyError(f"{self.description}: {what} {value!r} Hz is not a finite, non-negative "
                                          "frequency; nothing was sent")
        if settings.detector not in d.detectors:
            raise AnalyserConfigError(f"the {d.title} has no {settings.detector} detector "
                                      f"(it has {', '.join(d.detectors)}); change the mask's detector")
        commands = [d.continuous_off, d.command(d.attenuation, value=attenuation),
                    d.command(d.reference_level, value=reference),
                    d.command(d.start, value=settings.start_hz), d.command(d.stop, value=settings.stop_hz)]
        if settings.points is not None and d.points is not None:
            commands.append(d.command(d.points, value=settings.points))
        commands += [d.command(d.rbw, value=settings.rbw_hz), d.command(d.vbw, value=settings.vbw_hz),
                     d.command(d.detector, word=d.detectors[settings.detector]),
                     d.command(d.trace_mode, word=d.trace_modes[settings.mode]),
                     d.command(d.average_count, value=settings.count),
                     d.command(d.format_command, word=d.formats[self.encoding])]
        for command in commands:
            self._send(command)
        self.check_errors(after=commands)

    # -- measuring --------------------------------------------------------------------------------
    def measure(self, settings: SweepSettings) -> Trace:
        """Configure, run one single sweep (``settings.count`` sweeps for max hold / average), wait
        for it with ``*OPC?`` and read the trace and its frequency axis."""
        with self._lock:
            self.configure(settings)
            byte_order = self.read_byte_order()
            sweep_s = self._ask(self.dialect.sweep_time_query, lambda r: parse_float(r, 3600.0))
            started = self.clock.now_ns()
            self._single_sweep(sweep_s * settings.count + self.cfg.sweep_margin_s)
            finished = self.clock.now_ns()
            freq = self.frequency_axis(byte_order)
            levels = self.read_trace(byte_order, expected_points=freq.size)
            self.check_errors(after=[self.dialect.trace_query])
        peak = float(levels.max())
        if peak > self.cfg.safety.max_input_dbm:
            raise AnalyserInstrumentError(
                f"{self.description}: {peak:.1f} dBm at {freq[int(levels.argmax())] / 1e6:.3f} MHz is above "
                f"{FIELD}.safety.max_input_dbm = {self.cfg.safety.max_input_dbm:g} dBm: stop and check the set-up")
        return Trace(freq, levels, settings, started, finished, self.encoding)

    def read_trace(self, byte_order: ByteOrder | None, expected_points: int | None = None) -> NDArray[np.float64]:
        """The current trace's levels, parsed in the format set (binary: ``byte_order`` as read back)."""
        d = self.dialect
        return self._read_values(d.command(d.trace_query), d.trace_format(self.encoding, byte_order),
                                 expected_points=expected_points)

    def frequency_axis(self, byte_order: ByteOrder | None) -> NDArray[np.float64]:
        """The frequency (Hz) of every point: the instrument's X query, else start..stop over the points."""
        d = self.dialect
        if d.x_axis_query is not None:
            return self._read_values(d.command(d.x_axis_query), d.trace_format(self.encoding, byte_order),
                                     max_abs=MAX_FREQUENCY_HZ)
        start = self._ask(d.start_query, lambda r: parse_float(r, MAX_FREQUENCY_HZ))
        stop = self._ask(d.stop_query, lambda r: parse_float(r, MAX_FREQUENCY_HZ))
        if d.points_query is not None:
            points = int(self._ask(d.points_query, lambda r: parse_float(r, 1e6)))
        else:
            points = d.fixed_points or 0
        if points < 2 or stop < start:
            raise AnalyserInstrumentError(f"{self.description}: sweep of {points} points from {start:g} to "
                                          f"{stop:g} Hz has no usable frequency axis")
        return np.linspace(start, stop, points)

    def check_errors(self, after: list[str] | None = None) -> None:
        """Read the error queue; raise :class:`AnalyserInstrumentError` with its entries if any."""
        try:
            errors = self.scpi.error_queue(self.dialect.error_query)
        except InstrumentError as exc:
            raise AnalyserInstrumentError(str(exc)) from exc
        if errors:
            sent = f" after {', '.join(repr(c) for c in after)}" if after else ""
            raise AnalyserInstrumentError(f"{self.description} reported {'; '.join(errors)}{sent}")

    def close(self) -> None:
        self.scpi.close()

    def __repr__(self) -> str:
        return f"<Analyser {self.description}>"

    # -- internals ----------------------------------------------------------------------------------
    def _encoding(self) -> Encoding:
        d, wanted = self.dialect, self.cfg.trace_format
        if wanted == "ascii" or (wanted == "auto" and (d.preferred_encoding == "ascii" or not d.supports_binary())):
            return "ascii"
        if not d.supports_binary():
            raise AnalyserConfigError(f"{FIELD}.trace_format is binary but the {d.title} has no byte-order query "
                                      "to read its binary traces by; use ascii or auto")
        return "real32" if "real32" in d.formats else "real64"

    def read_byte_order(self) -> ByteOrder | None:
        """The byte order binary traces come in, as the instrument reports it (None for ASCII)."""
        d = self.dialect
        if self.encoding == "ascii" or d.byte_order_query is None:
            return None
        reply = self._ask(d.byte_order_query, clean).upper()
        for order, word in d.byte_orders.items():
            if reply == word.upper() or reply.startswith(word.upper()):
                return order
        raise AnalyserInstrumentError(f"{self.description}: {d.byte_order_query} answered {excerpt(reply)}, not "
                                      f"one of {', '.join(d.byte_orders.values())}: cannot read binary traces")

    def _single_sweep(self, timeout_s: float) -> None:
        d = self.dialect
        self._send(d.single_sweep)
        try:
            self.scpi.opc(d.opc_query, timeout_s=max(timeout_s, self.cfg.timeout_s))
        except InstrumentError as exc:
            raise AnalyserInstrumentError(str(exc)) from exc

    def _read_values(self, query: str, fmt: TraceFormat, *, expected_points: int | None = None,
                     max_abs: float | None = None) -> NDArray[np.float64]:
        """A trace (or axis) query's values: a binary block read by its header (so data bytes equal
        to LF do not end it), ASCII as one reply line; parsed by :func:`parse_trace`."""
        limits = {} if max_abs is None else {"max_abs": max_abs}

        def values(data: bytes) -> NDArray[np.float64]:
            try:
                return parse_trace(data, fmt, expected_points=expected_points, **limits)
            except TraceFormatError as exc:
                raise ReplyError(f"expected {fmt.describe()}: {exc}") from exc

        try:
            if fmt.binary:
                return values(encode_block(self.scpi.query_block(query, MAX_BLOCK_BYTES)))
            return self.scpi.query(query, lambda reply: values(reply.encode("ascii", "replace")))
        except InstrumentError as exc:
            raise AnalyserInstrumentError(str(exc)) from exc

    def _send(self, command: str) -> None:
        try:
            self.scpi.write(command)
        except InstrumentError as exc:
            raise AnalyserInstrumentError(str(exc)) from exc

    def _ask(self, command: str, parse: Callable[[str], T]) -> T:
        try:
            return self.scpi.query(command, parse)
        except InstrumentError as exc:
            raise AnalyserInstrumentError(str(exc)) from exc


def dialect_of(cfg: AnalyserConfig) -> Dialect:
    try:
        return get_dialect(cfg.dialect)
    except UnknownDialectError as exc:
        raise AnalyserConfigError(f"{FIELD}.dialect: {exc}") from exc


def open_analyser(cfg: AnalyserConfig, clock: Clock, *, endpoint: Endpoint | None = None) -> Analyser:
    """Open the rig's analyser: through pyvisa (``cfg.resource``), or the given in-process endpoint.
    Nothing is sent here; ``identify`` and ``measure`` talk to it."""
    if endpoint is not None:
        return Analyser(cfg, clock, endpoint)
    dialect_of(cfg)
    if cfg.resource == "virtual":
        raise AnalyserConfigError(f"{FIELD}.resource is 'virtual' but no virtual analyser was given: "
                                  "use the virtual rig, or a VISA resource string on a real bench")
    resource, close_manager = open_visa(cfg.resource, cfg.visa_library, cfg.timeout_s, what="analyser", field=FIELD)
    return Analyser(cfg, clock, resource, on_close=close_manager)
