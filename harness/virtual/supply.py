"""The virtual supply: an emulated SCPI instrument speaking the same dialect as the real one.

It understands exactly the commands of a :mod:`hubrig.drivers.psu.dialects` dialect (plus the IEEE 488.2
common commands and the usual SCPI long forms and optional nodes), keeps the instrument's state
(per-channel output, voltage, current limit; frequency) and an error queue with the standard SCPI
codes (or, for register-style instruments such as Aim-TTi, ``EER?`` and ``*ESR?``).

An output change takes effect ``settle_s`` after the command (on the scheduler's time line), and
``*OPC?`` answers only once it has: that is the instant the driver records. Callbacks registered
with :meth:`VirtualSupply.on_output` are told ``(on, t_ns)`` when the mains channel's output really
changes; this is how mains reaches the virtual ESME. A three-phase dialect with a per-phase set-point
(``phase_voltage``) keeps one rms set-point per phase: the voltage command sets all of them, the
per-phase command one; a phase is live while the output is on and its set-point is above 0 V, and
:meth:`VirtualSupply.on_phase` callbacks are told ``(phase, live, t_ns)`` when one phase alone changes.

In process, the supply *is* the endpoint (pyvisa-like ``write``/``query``/``read``/``close``).
:func:`serve_tcp` puts it behind a loopback TCP socket so the real driver stack reaches it as
``TCPIP0::127.0.0.1::<port>::SOCKET`` through pyvisa-py. Limits: each ``;``-separated command is
parsed from the root of the command tree (no SCPI header-path carry-over).
"""

from __future__ import annotations

import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable

from hubrig.drivers.psu.dialects import ERROR_REGISTER, Dialect, get_dialect
from hubrig.harness.clock import Scheduler
from hubrig.harness.virtual.scpi import TcpServer, canonical
from hubrig.harness.virtual.faults import BenchServe, CommandFault, DroppedSocket

OutputCallback = Callable[[bool, int], None]
PhaseCallback = Callable[[int, bool, int], None]

LONG_FORMS = {
    "OUTPUT": "OUTP", "VOLTAGE": "VOLT", "CURRENT": "CURR", "FREQUENCY": "FREQ", "MEASURE": "MEAS",
    "FETCH": "MEAS", "FETC": "MEAS", "SYSTEM": "SYST", "ERROR": "ERR", "INSTRUMENT": "INST",
    "NSELECT": "NSEL", "SOURCE": "SOUR", "STATE": "STAT", "LIMIT": "LIM", "LEVEL": "LEV",
    "IMMEDIATE": "IMM", "AMPLITUDE": "AMPL", "SCALAR": "SCAL",
}
OPTIONAL_NODES = {"STAT", "LEV", "IMM", "AMPL", "SCAL", "NEXT", "SOUR", "DC", "RMS"}
"""Nodes SCPI lets a command leave out (``[:STATe]``, ``[SOURce:]`` ...), dropped before matching."""
_NUMBER = r"(?P<value>[+-]?(?:\d+\.?\d*|\.\d+)(?:E[+-]?\d+)?)\s*(?:V|A|HZ)?"

# Standard SCPI error codes (SCPI-1999 Vol. 2, ch. 21.8).
UNDEFINED_HEADER = (-113, "Undefined header")
HEADER_SUFFIX = (-114, "Header suffix out of range")
DATA_OUT_OF_RANGE = (-222, "Data out of range")
QUEUE_OVERFLOW = (-350, "Queue overflow")
QUERY_INTERRUPTED = (-410, "Query INTERRUPTED")
QUERY_UNTERMINATED = (-420, "Query UNTERMINATED")
ESR_QUERY_ERROR, ESR_EXECUTION_ERROR, ESR_COMMAND_ERROR = 0x04, 0x10, 0x20
MAX_MESSAGE = 4096


def normalise(message: str) -> str:
    """A command in canonical short form: ``:SOURce:VOLTage:LEVel 230`` -> ``VOLT 230``."""
    return canonical(message, LONG_FORMS, OPTIONAL_NODES)


def _pattern(template: str, numeric_booleans: bool = True) -> re.Pattern[str]:
    """A regex accepting a dialect template's command (boolean ON/OFF also as 1/0 if allowed)."""
    text = re.escape(template.lstrip(":"))
    text = text.replace(r"\{ch\}", r"(?P<ch>\d+)").replace(r"\{value\}", _NUMBER)
    text = text.replace(r"\{phase\}", r"(?P<phase>\d)")
    text = text.replace(r"\ ", r"\s+")
    for word, alternatives in (("ON", "(?:ON|1)"), ("OFF", "(?:OFF|0)")) if numeric_booleans else ():
        for separator in (r"\s+", ","):
            if text.endswith(separator + word):
                text = text[: -len(word)] + alternatives
    return re.compile(text)


@dataclass
class ChannelState:
    """One output of the instrument."""

    programmed_on: bool = False
    """What ``OUTP?`` reports: the last command."""
    on: bool = False
    """What the terminals carry: changes ``settle_s`` after the command."""
    voltage: float = 0.0
    current_limit: float = 0.0


class VirtualSupply:
    """An emulated supply/AC source (see the module docstring)."""

    def __init__(self, scheduler: Scheduler, *, dialect: str = "generic-scpi", idn: str | None = None,
                 settle_s: float = 0.0, rated_voltage: float = 300.0, rated_current: float = 20.0,
                 load_a: float = 0.0, mains_channel: int = 1, queue_size: int = 10):
        self.scheduler = scheduler
        self.dialect: Dialect = get_dialect(dialect)
        self.idn = idn or self.dialect.idn
        self.settle_s = settle_s
        self.rated_voltage = rated_voltage
        self.rated_current = rated_current
        self.load_a = load_a
        self.mains_channel = mains_channel
        self.queue_size = queue_size
        self.channels = {n: ChannelState() for n in range(1, self.dialect.channels + 1)}
        self.frequency = 50.0
        self.selected = 1
        self.errors: list[tuple[int, str]] = []
        self.eer = 0
        self.esr = 0
        self.ese = 0
        self.timeout: float | None = 5000.0
        """pyvisa's read timeout (ms); the in-process supply answers at once or not at all."""
        self.changes: list[tuple[int, int, bool]] = []
        """Ground truth: (t_ns, channel, on) for every real output change."""
        self.phase_volts = ({p: 0.0 for p in range(1, self.dialect.phases + 1)}
                            if self.dialect.phase_voltage is not None else {})
        self.phase_changes: list[tuple[int, int, bool]] = []
        """Ground truth: (t_ns, phase, live) for every real change of one phase alone."""
        self._phase_callbacks: list[PhaseCallback] = []
        self.commands: list[str] = []
        """Every command unit received, as sent."""
        self._callbacks: list[OutputCallback] = []
        self._replies: list[str] = []
        self._pending = 0
        self._lock = threading.RLock()
        self._settled = threading.Condition(self._lock)
        self._grammar = self._build_grammar()
        self.closed = False
        self.ignore_output_off = False
        """Fault: acknowledge ``OUTP OFF`` (``OUTP?`` says off) but keep the terminals live."""

    # -- what the virtual bench uses --------------------------------------------------------
    def on_output(self, callback: OutputCallback) -> None:
        """Call ``callback(on, t_ns)`` whenever the mains channel's output really changes."""
        self._callbacks.append(callback)

    def on_phase(self, callback: PhaseCallback) -> None:
        """Call ``callback(phase, live, t_ns)`` whenever one phase alone really changes."""
        self._phase_callbacks.append(callback)

    @property
    def output(self) -> bool:
        """Whether the mains channel's terminals are live."""
        return self.channels[self.mains_channel].on

    # -- pyvisa-like endpoint ---------------------------------------------------------------
    def write(self, message: str) -> int:
        """Receive one program message (``;`` separates commands)."""
        with self._lock:
            if self._replies:
                self._replies.clear()
                self._error(QUERY_INTERRUPTED, ESR_QUERY_ERROR)
            if len(message) > MAX_MESSAGE:
                self._error(UNDEFINED_HEADER, ESR_COMMAND_ERROR)
                return len(message)
            for unit in message.split(";"):
                if unit.strip():
                    self.commands.append(unit.strip())
                    self._execute(unit)
        return len(message)

    def read(self) -> str:
        """The next reply; an empty output buffer behaves like a VISA timeout."""
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
            self._error(QUERY_UNTERMINATED, ESR_QUERY_ERROR)
        from pyvisa import constants, errors

        raise errors.VisaIOError(constants.StatusCode.error_timeout)

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def take_replies(self) -> list[str]:
        """Every reply waiting in the output buffer (the TCP server sends them at once)."""
        with self._lock:
            replies, self._replies = self._replies, []
            return replies

    def clear(self) -> None:
        """Device clear: pending replies are dropped (IEEE 488.2 section 5.8)."""
        with self._lock:
            self._replies.clear()

    def close(self) -> None:
        self.closed = True

    # -- command execution --------------------------------------------------------------------
    def _build_grammar(self) -> list[tuple[str, re.Pattern[str]]]:
        d = self.dialect
        kinds = {kind: t for kind, t in d.commands().items() if kind != "opc_query"}  # *OPC? is common
        return [(kind, _pattern(normalise(t.replace("{ch}", "\0").replace("{value}", "\1").replace("{phase}", "\2"))
                                .replace("\0", "{ch}").replace("\1", "{value}").replace("\2", "{phase}"),
                                d.numeric_booleans))
                for kind, t in kinds.items() if t]

    def _execute(self, unit: str) -> None:
        command = normalise(unit)
        common = {"*IDN?": lambda: self._replies.append(self.idn), "*OPC?": self._opc,
                  "*OPC": lambda: None, "*WAI": self._wait_settled, "*RST": self._reset,
                  "*CLS": self._clear, "*ESR?": self._read_esr}
        if command in common:
            common[command]()
            return
        ese = re.fullmatch(r"\*ESE (\d{1,3})", command)
        if command == "*ESE?" or ese:
            self._event_status_enable(None if ese is None else int(ese.group(1)))
            return
        for kind, pattern in self._grammar:
            found = pattern.fullmatch(command)
            if found:
                self._dispatch(kind, found.groupdict())
                return
        self._error(UNDEFINED_HEADER, ESR_COMMAND_ERROR)

    def _dispatch(self, kind: str, fields: dict[str, str | None]) -> None:
        d = self.dialect
        ch = int(fields["ch"]) if fields.get("ch") else None
        if ch is not None and ch not in self.channels:
            self._error(HEADER_SUFFIX, ESR_EXECUTION_ERROR, register=103)
            return
        channel = ch or self.selected
        value = float(fields["value"]) if fields.get("value") else None
        if kind == "select_channel":
            self.selected = channel
        elif kind in ("output_on", "output_off"):
            targets = list(self.channels) if d.global_output and ch is None else [channel]
            self._switch(targets, kind == "output_on")
        elif kind == "output_query":
            self._replies.append(d.output_replies[self.channels[channel].programmed_on])
        elif kind == "set_voltage":
            if self._in_range(value, 0.0, self.rated_voltage):
                self.channels[channel].voltage = value
                for phase in self.phase_volts:
                    self._set_phase(phase, value)
        elif kind == "phase_voltage":
            phase = int(fields["phase"] or 0)
            if phase not in self.phase_volts:
                self._error(HEADER_SUFFIX, ESR_EXECUTION_ERROR, register=103)
            elif self._in_range(value, 0.0, self.rated_voltage):
                self._set_phase(phase, value)
        elif kind == "set_current":
            if self._in_range(value, 0.0, self.rated_current):
                self.channels[channel].current_limit = value
        elif kind == "set_frequency":
            if self._in_range(value, 40.0, 500.0):
                self.frequency = value
        elif kind == "measure_voltage":
            state = self.channels[channel]
            self._replies.append(d.volts_format.format(state.voltage if state.on else 0.0))
        elif kind == "measure_current":
            state = self.channels[channel]
            self._replies.append(d.amps_format.format(min(self.load_a, state.current_limit) if state.on else 0.0))
        elif kind == "error_query":
            self._replies.append(self._next_error())

    def _in_range(self, value: float | None, low: float, high: float) -> bool:
        if value is None or not low <= value <= high:
            self._error(DATA_OUT_OF_RANGE, ESR_EXECUTION_ERROR, register=100)
            return False
        return True

    def _error(self, error: tuple[int, str], esr_bit: int, register: int = 0) -> None:
        self.esr |= esr_bit
        if self.dialect.error_style == ERROR_REGISTER:
            self.eer = register or self.eer
            return
        if len(self.errors) >= self.queue_size:
            self.errors[-1] = QUEUE_OVERFLOW
        else:
            self.errors.append(error)

    def _next_error(self) -> str:
        if self.dialect.error_style == ERROR_REGISTER:
            code, self.eer = self.eer, 0
            return str(code)
        if not self.errors:
            return self.dialect.no_error_reply
        code, text = self.errors.pop(0)
        return f'{code},"{text}"'

    def _event_status_enable(self, value: int | None) -> None:
        if value is None:
            self._replies.append(str(self.ese))
        elif value > 255:
            self._error(DATA_OUT_OF_RANGE, ESR_EXECUTION_ERROR, register=100)
        else:
            self.ese = value

    def _read_esr(self) -> None:
        esr, self.esr = self.esr, 0
        self._replies.append(str(esr))

    def _clear(self) -> None:
        self.errors.clear()
        self.eer = self.esr = 0

    def _reset(self) -> None:
        self._switch(list(self.channels), False)
        for state in self.channels.values():
            state.voltage = state.current_limit = 0.0
        self.frequency, self.selected = 50.0, 1

    def phase_live(self, phase: int) -> bool:
        """Whether ``phase``'s terminal is live (output on and its set-point above 0 V)."""
        return self.output and self.phase_volts[phase] > 0.0

    def _set_phase(self, phase: int, volts: float) -> None:
        self._pending += 1
        self.scheduler.call_later(self.settle_s, lambda: self._settle_phase(phase, volts))

    def _settle_phase(self, phase: int, volts: float) -> None:
        t_ns = self.scheduler.now_ns()
        with self._lock:
            was = self.phase_live(phase)
            self.phase_volts[phase] = volts
            live = self.phase_live(phase)
            callbacks = list(self._phase_callbacks) if live != was else []
            if live != was:
                self.phase_changes.append((t_ns, phase, live))
        try:
            for callback in callbacks:
                callback(phase, live, t_ns)
        finally:
            with self._lock:
                self._pending -= 1
                self._settled.notify_all()

    # -- output timing ------------------------------------------------------------------------
    def _switch(self, targets: list[int], on: bool) -> None:
        for n in targets:
            self.channels[n].programmed_on = on
        if not on and self.ignore_output_off:
            return
        self._pending += 1
        self.scheduler.call_later(self.settle_s, lambda: self._settle(targets, on))

    def _settle(self, targets: list[int], on: bool) -> None:
        t_ns = self.scheduler.now_ns()
        with self._lock:
            changed = [n for n in targets if self.channels[n].on != on]
            for n in changed:
                self.channels[n].on = on
                self.changes.append((t_ns, n, on))
            callbacks = list(self._callbacks) if self.mains_channel in changed else []
        try:
            for callback in callbacks:
                callback(on, t_ns)
        finally:
            with self._lock:
                self._pending -= 1
                self._settled.notify_all()

    def _wait_settled(self) -> None:
        timeout = self.settle_s + 5.0
        if getattr(self.scheduler, "virtual", False):
            self.scheduler.wait_until(lambda: self._pending == 0, timeout)
        else:
            self._settled.wait_for(lambda: self._pending == 0, timeout)

    def _opc(self) -> None:
        self._wait_settled()
        self._replies.append("1" if self._pending == 0 else "0")


BenchLog = Callable[..., None]
"""``log(event, **fields)``: where a served supply reports what it did (``hubrig bench serve``)."""
GARBAGE = b"\xff\xfe\x00#9garbage\x80\x15"
"""What a garbage reply sends instead of the answer (then the newline)."""


def _matches(message: str, command: str) -> bool:
    return any(normalise(unit).startswith(command) for unit in message.split(";"))


class _Hits:
    """Counts the messages that match one command fault (``skip`` first, then ``times``)."""

    def __init__(self, fault: CommandFault):
        self.fault, self.command, self.seen = fault, normalise(fault.command), 0
        self.after = None if fault.after is None else normalise(fault.after)

    def hit(self, message: str, previous: str) -> bool:
        if not _matches(message, self.command) or (self.after is not None and not _matches(previous, self.after)):
            return False
        self.seen += 1
        n = self.seen - self.fault.skip
        return n >= 1 and (self.fault.times == 0 or n <= self.fault.times)


class SupplyFaults:
    """The SCPI faults of a ``bench:`` section, armed on a :class:`SupplyServer`."""

    def __init__(self, bench: BenchServe):
        self.late = [_Hits(f) for f in bench.late_replies]
        self.dropped = [_Hits(f) for f in bench.dropped_sockets]
        self.garbage = [_Hits(f) for f in bench.garbage_replies]

    def check(self, message: str, previous: str) -> tuple[float, DroppedSocket | None, bool]:
        """For one message (after ``previous`` on its connection): (reply delay in s, the
        dropped-socket fault hitting it, garbage reply?)."""
        delay = sum(h.fault.delay_s for h in self.late if h.hit(message, previous))
        dropped = [h.fault for h in self.dropped if h.hit(message, previous)]
        garbage = any([h.hit(message, previous) for h in self.garbage])
        return delay, (dropped[0] if dropped else None), garbage


class SupplyServer(TcpServer):
    """A loopback TCP SCPI server in front of a :class:`VirtualSupply` (newline terminated), with
    optional injected ``faults`` and a ground-truth ``log`` of every message, reply and fault."""

    def __init__(self, supply: VirtualSupply, host: str, port: int, *, faults: SupplyFaults | None = None,
                 log: BenchLog | None = None):
        supply_, faults_ = supply, faults
        log_: BenchLog = log or (lambda event, **fields: None)

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer = "%s:%d" % self.client_address[:2]
                log_("connect", peer=peer)
                previous = ""
                while True:
                    try:
                        line = self.rfile.readline(MAX_MESSAGE + 2)
                    except OSError:
                        line = b""
                    if not line:
                        log_("disconnect", peer=peer)
                        return
                    message = line.decode("ascii", errors="replace").rstrip("\r\n")
                    log_("command", text=message, peer=peer)
                    delay, dropped, garbage = faults_.check(message, previous) if faults_ else (0.0, None, False)
                    previous = message
                    if dropped is not None:
                        if dropped.execute:
                            supply_.write(message)
                            supply_.take_replies()
                        log_("fault", fault="dropped_socket", text=message, executed=dropped.execute,
                             how=dropped.how)
                        if dropped.how == "reset":
                            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        else:
                            self.request.shutdown(socket.SHUT_RDWR)
                        return
                    supply_.write(message)
                    replies = supply_.take_replies()
                    if not replies:
                        continue
                    data = "".join(r + "\n" for r in replies).encode("ascii", "replace")
                    if garbage:
                        data = GARBAGE + b"\n"
                        log_("fault", fault="garbage_reply", text=message)
                    if delay:
                        log_("fault", fault="late_reply", text=message, delay_s=delay)
                        time.sleep(delay)
                    try:
                        self.wfile.write(data)
                    except OSError:
                        log_("disconnect", peer=peer)
                        return
                    log_("reply", text=data.decode("ascii", "replace").rstrip("\n"), to=message)

        self.supply = supply
        super().__init__(Handler, name="hubrig-virtual-supply", host=host, port=port)


def serve_tcp(supply: VirtualSupply, host: str = "127.0.0.1", port: int = 0, *,
              faults: SupplyFaults | None = None, log: BenchLog | None = None) -> SupplyServer:
    """Serve ``supply`` on a TCP socket (``port=0``: any free port; see ``.port``, ``.close()``)."""
    return SupplyServer(supply, host, port, faults=faults, log=log)
