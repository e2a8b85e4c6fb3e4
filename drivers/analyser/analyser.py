"""The spectrum-analyser driver: one class for every SCPI analyser, speaking a vendor dialect.

:func:`open_analyser` reaches the instrument through pyvisa (pyvisa-py by default), or takes an
in-process ``endpoint`` (the virtual rig's analyser). :class:`Analyser` refuses settings outside
the rig's analyser safety limits before anything is sent, reads the error queue after every
change, runs single sweeps whose ``*OPC?`` timeout comes from the instrument's sweep time and the
sweep count plus a margin, and reads traces defensively (:mod:`hubrig.drivers.analyser.trace`):
a binary trace is decoded in the byte order the instrument reports, never an assumed one.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from hubrig.drivers.analyser.config import AnalyserConfig
from hubrig.drivers.analyser.dialects import Detector, Dialect, TraceMode, UnknownDialectError, get_dialect
from hubrig.drivers.analyser.errors import AnalyserConfigError, AnalyserInstrumentError, AnalyserSafetyError
from hubrig.drivers.analyser.trace import (MAX_FREQUENCY_HZ, ByteOrder, Encoding, TraceFormatError,
                                           parse_trace, read_block_header)
from hubrig.drivers.psu.replies import ReplyError, clean, excerpt, parse_identity, parse_opc, parse_scpi_error
from hubrig.harness.clock import Clock

FIELD = "instruments.analyser"
MAX_ERROR_READS = 20
MAX_BLOCK_BYTES = 16 * 1024 * 1024
"""A trace block longer than this is refused before it is read (100,001 REAL,64 points is 0.8 MB)."""
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

T = TypeVar("T")


class Endpoint(Protocol):
    """What the driver needs of an instrument connection (a pyvisa MessageBasedResource)."""

    timeout: float | None

    def write(self, message: str) -> int: ...

    def query(self, message: str) -> str: ...

    def read_bytes(self, count: int) -> bytes: ...

    def read_raw(self) -> bytes: ...

    def close(self) -> None: ...


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
        self._endpoint = endpoint
        self._on_close = on_close
        self._lock = threading.RLock()

    # -- identity ---------------------------------------------------------------------------------
    def identify(self) -> str:
        with self._lock:
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
        with self._lock:
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
        fmt = d.trace_format(self.encoding, byte_order)
        query = d.command(d.trace_query)
        data = self._read_bytes_reply(query)
        try:
            return parse_trace(data, fmt, expected_points=expected_points)
        except TraceFormatError as exc:
            raise AnalyserInstrumentError(f"{self.description}: bad trace in reply to {query!r} "
                                          f"(expected {fmt.describe()}): {exc}") from exc

    def frequency_axis(self, byte_order: ByteOrder | None) -> NDArray[np.float64]:
        """The frequency (Hz) of every point: the instrument's X query, else start..stop over the points."""
        d = self.dialect
        if d.x_axis_query is not None:
            query = d.command(d.x_axis_query)
            data = self._read_bytes_reply(query)
            try:
                return parse_trace(data, d.trace_format(self.encoding, byte_order), max_abs=MAX_FREQUENCY_HZ)
            except TraceFormatError as exc:
                raise AnalyserInstrumentError(f"{self.description}: bad frequency axis from {query!r}: {exc}") from exc
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
        errors = []
        with self._lock:
            for _ in range(MAX_ERROR_READS):
                code, text = self._ask(self.dialect.error_query, parse_scpi_error)
                if code == 0:
                    break
                errors.append(f'{code},"{text}"')
            else:
                errors.append(f"(error queue still not empty after {MAX_ERROR_READS} reads)")
        if errors:
            sent = f" after {', '.join(repr(c) for c in after)}" if after else ""
            raise AnalyserInstrumentError(f"{self.description} reported {'; '.join(errors)}{sent}")

    def close(self) -> None:
        with self._lock:
            try:
                self._endpoint.close()
            finally:
                if self._on_close is not None:
                    self._on_close()

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
        previous = self._endpoint.timeout
        self._endpoint.timeout = max(timeout_s, self.cfg.timeout_s) * 1000
        try:
            self._ask(d.opc_query, parse_opc)
        finally:
            self._endpoint.timeout = previous

    def _read_bytes_reply(self, query: str) -> bytes:
        """Send ``query`` and read its reply as bytes: a definite-length block by its header (so
        binary bytes equal to LF do not end it), anything else up to the terminator."""
        self._send(query)
        try:
            head = self._endpoint.read_bytes(2)
            if head[:1] == b"#" and head[1:2].isdigit() and head[1:2] != b"0":
                digits = self._endpoint.read_bytes(int(head[1:2]))
                try:
                    _, length = read_block_header(head + digits)
                except TraceFormatError as exc:
                    raise AnalyserInstrumentError(f"{self.description}: bad block header in reply to {query!r}: {exc}") from exc
                if length is None or length > MAX_BLOCK_BYTES:
                    raise AnalyserInstrumentError(f"{self.description}: reply to {query!r} declares a block of "
                                                  f"{length} bytes (more than {MAX_BLOCK_BYTES}); refused")
                return head + digits + self._endpoint.read_bytes(length + 1)
            return head if head.endswith(b"\n") else head + self._endpoint.read_raw()
        except AnalyserInstrumentError:
            raise
        except Exception as exc:
            raise AnalyserInstrumentError(f"{self.description}: no reply to {query!r}: {exc}") from exc

    def _send(self, command: str) -> None:
        try:
            self._endpoint.write(command)
        except Exception as exc:  # pyvisa and socket errors all end here
            raise AnalyserInstrumentError(f"{self.description}: sending {command!r} failed: {exc}") from exc

    def _ask(self, command: str, parse: Callable[[str], T]) -> T:
        try:
            reply = self._endpoint.query(command)
        except Exception as exc:
            raise AnalyserInstrumentError(f"{self.description}: no reply to {command!r}: {exc}") from exc
        try:
            return parse(reply)
        except ReplyError as exc:
            raise AnalyserInstrumentError(f"{self.description}: bad reply to {command!r}: {exc}") from exc


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
    import pyvisa

    library = cfg.visa_library
    where = "pyvisa-py" if library == "@py" else (library or "the system VISA")
    try:
        manager = pyvisa.ResourceManager(library)
    except (OSError, ValueError, pyvisa.errors.Error) as exc:
        raise AnalyserConfigError(f"{FIELD}.visa_library: cannot load {where}: {exc}") from exc
    try:
        resource = manager.open_resource(cfg.resource)
        resource.read_termination = "\n"
        resource.write_termination = "\n"
        resource.timeout = round(cfg.timeout_s * 1000)
    except Exception as exc:
        manager.close()
        raise AnalyserInstrumentError(f"analyser at {cfg.resource}: cannot open it through {where}: {exc}; "
                                      f"check {FIELD}.resource and that the instrument is connected") from exc
    return Analyser(cfg, clock, resource, on_close=manager.close)
