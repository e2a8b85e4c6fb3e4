"""The virtual spectrum analyser: an emulated SCPI analyser speaking any shipped dialect.

It understands exactly the commands of a :mod:`hubrig.drivers.analyser.dialects` dialect (the
same templates the driver fills, in short or long SCPI forms, optional nodes left out), keeps
the instrument's settings and an error queue with the standard SCPI codes, and sweeps: a single
sweep takes the sweep time once per counted sweep on the scheduler's time line, each sweep
drawing the ambient noise floor plus what the ESME radiates *at that instant* (spurs and noise
bands while the supply's output is on, some only in one operating state). ``*OPC?`` answers
once the sweeps are done. Traces are encoded with the driver's own encoder
(:func:`hubrig.drivers.analyser.trace.encode_trace`) in the format and byte order set.

Ground truth: :attr:`VirtualAnalyser.radiated` records every sweep (instant, ESME powered,
operating state, the spurs and noise bands it radiated); tests compare the plan's findings with it.

In process the analyser *is* the endpoint (``write``/``query``/``read``/``read_bytes``/``close``);
:func:`serve_tcp` puts it behind a loopback TCP socket for pyvisa-py.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hubrig.drivers.analyser.dialects import Dialect, get_dialect
from hubrig.drivers.analyser.trace import ByteOrder, Encoding, encode_trace
from hubrig.harness.clock import NS_PER_S, Scheduler, VirtualClock
from hubrig.harness.virtual.rfparams import NoiseBand, RfParams, Spur
from hubrig.harness.virtual.scpi import ScpiServer, canonical

LONG_FORMS = {
    "FREQUENCY": "FREQ", "CENTER": "CENT", "START": "STAR", "SWEEP": "SWE", "POINTS": "POIN",
    "BANDWIDTH": "BAND", "BWIDTH": "BAND", "BWID": "BAND", "RESOLUTION": "RES", "VIDEO": "VID",
    "DISPLAY": "DISP", "WINDOW": "WIND", "WIN": "WIND", "TRACE": "TRAC", "SCALE": "SCAL",
    "RLEVEL": "RLEV", "POWER": "POW", "ATTENUATION": "ATT", "DETECTOR": "DET", "FUNCTION": "FUNC",
    "AVERAGE": "AVER", "COUNT": "COUN", "INITIATE": "INIT", "CONTINUOUS": "CONT", "IMMEDIATE": "IMM",
    "FORMAT": "FORM", "BORDER": "BORD", "SYSTEM": "SYST", "ERROR": "ERR", "INPUT": "INP", "SENSE": "SENS",
}
OPTIONAL_NODES = {"SENS", "IMM", "RES", "SCAL", "FUNC", "RF", "DATA", "NEXT"}
_NUMBER = r"(?P<value>[+-]?(?:\d+\.?\d*|\.\d+)(?:E[+-]?\d+)?)\s*(?P<unit>GHZ|MHZ|KHZ|HZ|DBM|DB|MS|S)?"
_UNITS = {"GHZ": 1e9, "MHZ": 1e6, "KHZ": 1e3, "MS": 1e-3}

UNDEFINED_HEADER = (-113, "Undefined header")
ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
DATA_OUT_OF_RANGE = (-222, "Data out of range")
QUEUE_OVERFLOW = (-350, "Queue overflow")
QUERY_INTERRUPTED = (-410, "Query INTERRUPTED")
QUERY_UNTERMINATED = (-420, "Query UNTERMINATED")
MAX_MESSAGE = 4096
STATES = ("idle", "active")


def normalise(message: str) -> str:
    """A command in canonical short form: ``:SENSe:FREQuency:CENTer 2.44E9`` -> ``FREQ:CENT 2.44E9``."""
    return canonical(message, LONG_FORMS, OPTIONAL_NODES)


def _pattern(template: str) -> re.Pattern[str]:
    marked = template.replace("{value}", "\0").replace("{word}", "\1").replace("{trace}", "\2")
    text = re.escape(normalise(marked)).replace("\0", _NUMBER).replace("\1", r"(?P<word>[A-Z0-9,]+)")
    return re.compile(text.replace("\2", r"(?P<trace>\d+)").replace(r"\ ", r"\s+"))


@dataclass(frozen=True)
class Radiated:
    """Ground truth of one sweep: when it ended, whether the ESME was powered and in which state,
    and what it radiated then."""

    t_ns: int
    start_hz: float
    stop_hz: float
    powered: bool
    state: str
    spurs: tuple[Spur, ...]
    noise_bands: tuple[NoiseBand, ...]


class Settings:
    """The analyser's settings (as after ``*RST``)."""

    def __init__(self, dialect: Dialect):
        self.start_hz, self.stop_hz = 0.0, 3.0e9
        self.points = dialect.fixed_points or 1001
        self.rbw_hz, self.vbw_hz = 1.0e6, 3.0e6
        self.reference_dbm, self.attenuation_db = 0.0, 10.0
        self.detector, self.mode = "peak", "write"
        self.average_count = 1
        self.continuous = True
        self.encoding: Encoding = "ascii"
        self.byte_order: ByteOrder = dialect.reset_byte_order

    def sweep_time_s(self) -> float:
        """A swept analyser's time: about 2.5 span / RBW^2, within 1 ms .. 20 s."""
        return min(max(2.5 * (self.stop_hz - self.start_hz) / self.rbw_hz ** 2, 1e-3), 20.0)

    def axis(self) -> np.ndarray:
        return np.linspace(self.start_hz, self.stop_hz, self.points)


class VirtualAnalyser:
    """An emulated analyser (see the module docstring). ``powered()`` says whether the ESME has
    mains (the virtual supply's output), ``last_command_ns()`` when it last handled a command."""

    def __init__(self, scheduler: Scheduler, *, dialect: str, rf: RfParams, spurs: list[Spur],
                 noise_bands: list[NoiseBand], powered: Callable[[], bool],
                 last_command_ns: Callable[[], int | None], seed: int = 1, idn: str | None = None,
                 max_freq_hz: float = 7.5e9, queue_size: int = 10):
        self.scheduler = scheduler
        self.dialect = get_dialect(dialect)
        self.idn = idn or self.dialect.idn
        self.rf, self.spurs, self.noise_bands = rf, list(spurs), list(noise_bands)
        self._powered, self._last_command_ns = powered, last_command_ns
        self.rng = np.random.default_rng(seed)
        self.max_freq_hz = max_freq_hz
        self.queue_size = queue_size
        self.settings = Settings(self.dialect)
        self.trace = np.full(self.settings.points, -150.0)
        self.radiated: list[Radiated] = []
        """Ground truth: every sweep, with what the ESME radiated during it."""
        self.commands: list[str] = []
        self.errors: list[tuple[int, str]] = []
        self.ese = 0
        """The standard event status enable register (``*ESE``)."""
        self.closed = False
        self.timeout: float | None = None
        """pyvisa's timeout attribute (ms); in process the scheduler's time line is the clock."""
        self._out = bytearray()
        self._remaining = 0
        self._lock = threading.RLock()
        self._done = threading.Condition(self._lock)
        self._grammar = self._build_grammar()

    # -- ground truth of the ESME's state ------------------------------------------------------
    def operating_state(self, t_ns: int) -> str:
        """``off`` without mains, ``active`` within ``rf.active_window_s`` of a command, else ``idle``."""
        if not self._powered():
            return "off"
        last = self._last_command_ns()
        window_ns = self.rf.active_window_s * NS_PER_S
        return "active" if last is not None and t_ns - last <= window_ns else "idle"

    # -- pyvisa-like endpoint ---------------------------------------------------------------
    def write(self, message: str) -> int:
        with self._lock:
            if self._out:
                self._out.clear()
                self._error(QUERY_INTERRUPTED)
            if len(message) > MAX_MESSAGE:
                self._error(UNDEFINED_HEADER)
                return len(message)
            for unit in message.split(";"):
                if unit.strip():
                    self.commands.append(unit.strip())
                    self._execute(unit)
        return len(message)

    def read(self) -> str:
        """The next reply line (text replies); an empty buffer behaves like a VISA timeout."""
        with self._lock:
            end = self._out.find(b"\n")
            if end < 0:
                self._timeout()
            line = bytes(self._out[:end])
            del self._out[:end + 1]
        return line.decode("ascii", errors="replace")

    def read_bytes(self, count: int) -> bytes:
        """Exactly ``count`` bytes of the reply (binary blocks)."""
        with self._lock:
            if len(self._out) < count:
                self._timeout()
            data = bytes(self._out[:count])
            del self._out[:count]
        return data

    def read_raw(self) -> bytes:
        """The reply up to and including the terminator (LF)."""
        with self._lock:
            end = self._out.find(b"\n")
            if end < 0:
                self._timeout()
            data = bytes(self._out[:end + 1])
            del self._out[:end + 1]
        return data

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def take_output(self) -> bytes:
        """Everything waiting in the output buffer (the TCP server sends it at once)."""
        with self._lock:
            data, self._out = bytes(self._out), bytearray()
            return data

    def clear(self) -> None:
        """Device clear: pending output is dropped (IEEE 488.2 section 5.8)."""
        with self._lock:
            self._out.clear()

    def close(self) -> None:
        self.closed = True

    def _timeout(self) -> None:
        self._error(QUERY_UNTERMINATED)
        from pyvisa import constants, errors

        raise errors.VisaIOError(constants.StatusCode.error_timeout)

    # -- commands ---------------------------------------------------------------------------
    def _build_grammar(self) -> list[tuple[str, re.Pattern[str]]]:
        d = self.dialect
        kinds = {
            "center": d.center, "span": d.span, "start": d.start, "stop": d.stop,
            "start?": d.start_query, "stop?": d.stop_query, "points": d.points, "points?": d.points_query,
            "rbw": d.rbw, "vbw": d.vbw, "reference": d.reference_level, "attenuation": d.attenuation,
            "detector": d.detector, "mode": d.trace_mode, "count": d.average_count,
            "sweep_time?": d.sweep_time_query, "continuous_off": d.continuous_off, "single": d.single_sweep,
            "trace?": d.trace_query, "x?": d.x_axis_query, "format": d.format_command,
            "border": d.byte_order_command, "border?": d.byte_order_query, "error?": d.error_query,
        }
        # Queries first: "TRAC:X?" must not be read as a trace query with a word.
        ordered = sorted(((k, t) for k, t in kinds.items() if t), key=lambda kt: not kt[0].endswith("?"))
        return [(kind, _pattern(template)) for kind, template in ordered]

    def _execute(self, unit: str) -> None:
        command = normalise(unit)
        common = {"*IDN?": lambda: self._reply(self.idn), "*OPC?": self._opc, "*OPC": lambda: None,
                  "*WAI": self._wait_done, "*RST": self._reset, "*CLS": self.errors.clear}
        if command in common:
            common[command]()
            return
        ese = re.fullmatch(r"\*ESE (\d{1,3})", command)
        if ese or command == "*ESE?":  # the SCPI session's resynchronisation markers
            if ese:
                self.ese = int(ese.group(1)) & 0xFF
            else:
                self._reply(str(self.ese))
            return
        for kind, pattern in self._grammar:
            found = pattern.fullmatch(command)
            if found:
                fields = found.groupdict()
                value = None
                if fields.get("value") is not None:
                    value = float(fields["value"]) * _UNITS.get(fields.get("unit") or "", 1.0)
                self._dispatch(kind, value, fields.get("word"))
                return
        self._error(UNDEFINED_HEADER)

    def _dispatch(self, kind: str, value: float | None, word: str | None) -> None:
        s, d = self.settings, self.dialect
        if kind in ("center", "span", "start", "stop"):
            self._frequency(kind, value)
        elif kind == "start?":
            self._reply(f"{s.start_hz:.6e}")
        elif kind == "stop?":
            self._reply(f"{s.stop_hz:.6e}")
        elif kind == "points?":
            self._reply(str(s.points))
        elif kind == "sweep_time?":
            self._reply(f"{s.sweep_time_s():.6e}")
        elif kind == "error?":
            self._reply(self._next_error())
        elif kind == "border?":
            self._reply(d.byte_orders[s.byte_order])
        elif kind == "trace?":
            self._send_trace()
        elif kind == "x?":
            self._out += encode_trace(s.axis(), d.trace_format(s.encoding, s.byte_order), separator=d.ascii_separator)
        elif kind == "continuous_off":
            s.continuous = False
        elif kind == "single":
            self._start_sweeps()
        elif kind in ("detector", "mode", "format", "border"):
            self._keyword(kind, word or "")
        elif kind == "points" and self._in_range(value, 11, 100_001):
            s.points = int(value)
        elif kind == "rbw" and self._in_range(value, 1.0, 10e6):
            s.rbw_hz = value
        elif kind == "vbw" and self._in_range(value, 1.0, 50e6):
            s.vbw_hz = value
        elif kind == "reference" and self._in_range(value, -170.0, 30.0):
            s.reference_dbm = value
        elif kind == "attenuation" and self._in_range(value, 0.0, 70.0):
            s.attenuation_db = value
        elif kind == "count" and self._in_range(value, 1, 10_000):
            s.average_count = int(value)

    def _keyword(self, kind: str, word: str) -> None:
        d, s = self.dialect, self.settings
        tables = {"detector": d.detectors, "mode": d.trace_modes, "format": d.formats, "border": d.byte_orders}
        for name, vendor in tables[kind].items():
            short = vendor.upper()  # SCPI takes the short form or the whole long form (MAXH, MAXHOLD)
            if word == short or (word.isalpha() and short.isalpha() and word.startswith(short)):
                if kind == "detector":
                    s.detector = name
                elif kind == "mode":
                    s.mode = name
                elif kind == "format":
                    s.encoding = name
                else:
                    s.byte_order = name
                return
        self._error(ILLEGAL_PARAMETER)

    def _frequency(self, kind: str, value: float | None) -> None:
        s = self.settings
        if not self._in_range(value, 0.0, self.max_freq_hz):
            return
        centre, span = (s.start_hz + s.stop_hz) / 2, s.stop_hz - s.start_hz
        if kind == "center":
            centre = value
        elif kind == "span":
            span = value
        if kind in ("center", "span"):
            start, stop = centre - span / 2, centre + span / 2
        elif kind == "start":  # like a real analyser, a start above the stop drags the stop along
            start, stop = value, max(value, s.stop_hz)
        else:
            start, stop = min(value, s.start_hz), value
        if start < 0 or stop > self.max_freq_hz or stop < start:
            self._error(DATA_OUT_OF_RANGE)
            return
        s.start_hz, s.stop_hz = start, stop

    def _in_range(self, value: float | None, low: float, high: float) -> bool:
        if value is None or not math.isfinite(value) or not low <= value <= high:
            self._error(DATA_OUT_OF_RANGE)
            return False
        return True

    def _reply(self, text: str) -> None:
        self._out += text.encode("ascii") + b"\n"

    def _send_trace(self) -> None:
        d, s = self.dialect, self.settings
        self._out += encode_trace(self.trace, d.trace_format(s.encoding, s.byte_order), separator=d.ascii_separator)

    def _error(self, error: tuple[int, str]) -> None:
        if len(self.errors) >= self.queue_size:
            self.errors[-1] = QUEUE_OVERFLOW
        else:
            self.errors.append(error)

    def _next_error(self) -> str:
        if not self.errors:
            return self.dialect.no_error_reply
        code, text = self.errors.pop(0)
        return f'{code},"{text}"'

    def _reset(self) -> None:
        self.settings = Settings(self.dialect)
        self.trace = np.full(self.settings.points, -150.0)

    # -- sweeping ---------------------------------------------------------------------------
    def _start_sweeps(self) -> None:
        s = self.settings
        count = s.average_count if s.mode in ("max-hold", "average") else 1
        self._remaining = count
        self._accumulated: list[np.ndarray] = []
        self.scheduler.call_later(s.sweep_time_s(), self._one_sweep)

    def _one_sweep(self) -> None:
        t_ns = self.scheduler.now_ns()
        with self._lock:
            s = self.settings
            freq = s.axis()
            state = self.operating_state(t_ns)
            powered = state != "off"
            spurs = tuple(sp for sp in self.spurs if powered and state in sp.states)
            bands = tuple(b for b in self.noise_bands if powered and state in b.states)
            self.radiated.append(Radiated(t_ns, s.start_hz, s.stop_hz, powered, state, spurs, bands))
            self._accumulated.append(self._draw(freq, spurs, bands))
            self._remaining -= 1
            if self._remaining > 0:
                self.scheduler.call_later(s.sweep_time_s(), self._one_sweep)
                return
            stack = np.vstack(self._accumulated)
            if s.mode == "max-hold":
                self.trace = stack.max(axis=0)
            elif s.mode == "average":
                self.trace = 10 * np.log10(np.mean(np.power(10.0, stack / 10), axis=0))
            else:
                self.trace = stack[-1]
            self._done.notify_all()

    def _draw(self, freq: np.ndarray, spurs: tuple[Spur, ...], bands: tuple[NoiseBand, ...]) -> np.ndarray:
        """One sweep's levels (dBm): the floor (with its spread) plus the emissions, as powers."""
        s = self.settings
        floor = self.rf.ambient_dbm_hz + 10 * math.log10(s.rbw_hz) + (s.attenuation_db - 10.0)
        power = np.power(10.0, (floor + self.rf.ambient_sigma_db * self.rng.standard_normal(freq.size)) / 10)
        for spur in spurs:  # a Gaussian RBW filter: 3 dB down at +-RBW/2
            offset = 2 * (freq - spur.freq_mhz * 1e6) / s.rbw_hz
            power += np.power(10.0, (spur.level_dbm - 3.0 * offset ** 2) / 10)
        for band in bands:
            inside = (freq >= band.start_mhz * 1e6) & (freq <= band.stop_mhz * 1e6)
            power[inside] += 10 ** ((band.density_dbm_hz + 10 * math.log10(s.rbw_hz)) / 10)
        return 10 * np.log10(power)

    def _wait_done(self) -> None:
        s = self.settings
        timeout = s.sweep_time_s() * max(self._remaining, 1) + 5.0
        if isinstance(self.scheduler, VirtualClock):
            self.scheduler.wait_until(lambda: self._remaining == 0, timeout)
        else:
            self._done.wait_for(lambda: self._remaining == 0, timeout)

    def _opc(self) -> None:
        self._wait_done()
        self._reply("1" if self._remaining == 0 else "0")


def serve_tcp(analyser: VirtualAnalyser, host: str = "127.0.0.1", port: int = 0) -> ScpiServer:
    """Serve ``analyser`` on a TCP socket (``port=0``: any free port; see ``.port``, ``.close()``)."""

    def respond(message: str) -> bytes:
        analyser.write(message)
        return analyser.take_output()

    return ScpiServer(respond, name="hubrig-virtual-analyser", host=host, port=port, max_message=MAX_MESSAGE)
