"""The supply driver: one class for every SCPI supply and AC source, speaking a vendor dialect.

:func:`open_supply` reaches the instrument through pyvisa (pyvisa-py by default, a system VISA
when the rig file says so), or takes an in-process ``endpoint`` (the virtual rig's supply). The
conversation itself (replies parsed defensively, error queue, ``*OPC?``, resynchronisation after a
lost exchange) is the shared :class:`~hubrig.drivers.scpi.ScpiSession`; :class:`Supply` adds what is
a supply's: it refuses set-points outside the rig's safety limits before anything is sent, reads the
errors after every change, and returns the rig-clock instant at which the instrument confirmed an
output change (never from a stale reply: the session resynchronises first).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, TypeVar

from hubrig.drivers.psu.dialects import ERROR_REGISTER, Dialect, UnknownDialectError, get_dialect
from hubrig.drivers.psu.errors import InstrumentError, SafetyLimitError, SupplyConfigError
from hubrig.drivers.scpi.replies import parse_identity, parse_number, parse_register, parse_state
from hubrig.drivers.scpi.session import Endpoint, ScpiSession
from hubrig.drivers.scpi.visa import connection_hint, open_visa
from hubrig.harness.clock import Clock
from hubrig.harness.capture.events import SUPPLY, EventBus

FIELD = "instruments.supply"
VERIFY_POLL_S = 0.05
ESR_COMMAND_ERROR, ESR_EXECUTION_ERROR, ESR_DEVICE_ERROR, ESR_QUERY_ERROR = 0x20, 0x10, 0x08, 0x04

T = TypeVar("T")


class Supply:
    """A programmable supply or AC source used as a mains switch (``name``, ``set_output``,
    ``identify``, ``close``), with safe set-points and error checking."""

    def __init__(self, cfg: Any, clock: Clock, bus: EventBus | None, endpoint: Endpoint, *,
                 name: str = "supply", on_close: Callable[[], None] | None = None):
        self.cfg = cfg
        self.clock = clock
        self.bus = bus
        self.name = name
        self.dialect: Dialect = _dialect_of(cfg)
        self.channel = _channel_of(cfg, self.dialect)
        self.description = f"supply ({self.dialect.name} at {cfg.resource})"
        self.scpi = ScpiSession(endpoint, name=self.description, hint=connection_hint(FIELD), on_close=on_close)
        self._configured = False
        self._set_voltage: float | None = None
        self._lock = threading.RLock()

    # -- mains switch -------------------------------------------------------------------------
    def identify(self) -> str:
        """The instrument's ``*IDN?`` answer."""
        with self._lock:
            return self._ask("*IDN?", parse_identity)

    def describe(self) -> dict[str, str]:
        """Resource, dialect and channel, for the results."""
        return {"resource": self.cfg.resource, "dialect": self.dialect.name, "channel": str(self.channel)}

    def set_output(self, on: bool) -> int:
        """Switch the output; return the rig-clock instant (ns) the instrument confirmed it.

        Switching on applies the rig's set-points first if :meth:`configure` has not run. The
        error queue is read afterwards; with ``verify`` set, the output voltage is measured too.
        """
        with self._lock:
            if on and not self._configured:
                self.configure()
            d = self.dialect
            command = d.command(d.output_on if on else d.output_off, self.channel)
            self.scpi.write(command)
            self.scpi.opc(d.opc_query)  # this query's own reply: a lost one resynchronised the session
            confirmed_ns = self.clock.now_ns()
            self.check_errors(after=[command])
            if self.cfg.verify:
                self._verify(on)
        if self.bus is not None:
            self.bus.publish(SUPPLY, self.name, {"output": bool(on), "instrument": self.description},
                             t_ns=confirmed_ns)
        return confirmed_ns

    @property
    def phases(self) -> int:
        """How many phases this source can program one at a time (1: it cannot cut one phase alone)."""
        return self.dialect.phases if self.dialect.phase_voltage is not None else 1

    def set_phase(self, phase: int, on: bool) -> int:
        """Cut (0 V) or restore (the rig's voltage) one phase of a three-phase source whose dialect has
        a per-phase set-point; return the rig-clock instant the instrument confirmed it."""
        with self._lock:
            if not self._configured:
                self.configure()
            nominal = self._set_voltage if self._set_voltage is not None else self.cfg.voltage
            if on and nominal is None:
                raise SupplyConfigError(f"{FIELD}.voltage is needed to restore phase {phase}")
            try:
                command = self.dialect.phase_command(phase, nominal if on else 0.0)
            except ValueError as exc:
                raise SupplyConfigError(f"{self.description}: {exc}") from None
            self.scpi.write(command)
            self.scpi.opc(self.dialect.opc_query)
            confirmed_ns = self.clock.now_ns()
            self.check_errors(after=[command])
        if self.bus is not None:
            self.bus.publish(SUPPLY, self.name, {"phase": phase, "output": bool(on),
                                                 "instrument": self.description}, t_ns=confirmed_ns)
        return confirmed_ns

    def output_state(self) -> bool:
        """Whether the output is on, as the instrument reports it."""
        d = self.dialect
        with self._lock:
            return self._ask(d.command(d.output_query, self.channel),
                             lambda r: parse_state(r, d.output_replies))

    def measure_voltage(self) -> float:
        """The measured output voltage (V; rms on AC sources)."""
        return self._measure(self.dialect.measure_voltage, self.dialect.volts_format, "V")

    def measure_current(self) -> float:
        """The measured output current (A; rms on AC sources)."""
        return self._measure(self.dialect.measure_current, self.dialect.amps_format, "A")

    def configure(self, *, voltage: float | None = None, current_limit: float | None = None,
                  frequency: float | None = None) -> None:
        """Apply the voltage, current-limit and (AC sources) frequency set-points.

        Arguments override the rig file's values. Every value is checked against
        ``instruments.supply.safety`` first: one outside refuses the whole call and nothing is sent.
        """
        cfg, d = self.cfg, self.dialect
        values = {
            "voltage": cfg.voltage if voltage is None else voltage,
            "current_limit": cfg.current_limit if current_limit is None else current_limit,
            "frequency": cfg.frequency if frequency is None else frequency,
        }
        check_safety(values, cfg.safety, overridden={k for k, v in
                     (("voltage", voltage), ("current_limit", current_limit), ("frequency", frequency))
                     if v is not None})
        if values["frequency"] is not None and d.set_frequency is None:
            raise SupplyConfigError(
                f"{FIELD}.frequency is set but the {d.title} ({d.name}) has no frequency set-point; "
                "remove it or pick an AC source dialect")
        commands = self._select()
        if values["voltage"] is not None:
            commands.append(d.command(d.set_voltage, self.channel, values["voltage"]))
        if values["current_limit"] is not None:
            commands.append(d.command(d.set_current, self.channel, values["current_limit"]))
        if values["frequency"] is not None:
            commands.append(d.command(d.set_frequency, self.channel, values["frequency"]))
        with self._lock:
            for command in commands:
                self.scpi.write(command)
            self.check_errors(after=commands)
            self._configured = True
            self._set_voltage = values["voltage"]

    def read_errors(self) -> list[str]:
        """The instrument's errors (reading empties the queue or register); [] when there are none."""
        with self._lock:
            if self.dialect.error_style == ERROR_REGISTER:
                return self._register_errors()
            return self._queue_errors()

    def check_errors(self, after: list[str] | None = None) -> None:
        """Read the instrument's errors; raise :class:`InstrumentError` with their text if any."""
        errors = self.read_errors()
        if errors:
            sent = f" after {', '.join(repr(c) for c in after)}" if after else ""
            raise InstrumentError(f"{self.description} reported {'; '.join(errors)}{sent}")

    def close(self) -> None:
        """Close the connection (the output is left as it is: restoring mains is Mains' job)."""
        with self._lock:
            self.scpi.close()

    def __repr__(self) -> str:
        return f"<Supply {self.description} channel {self.channel}>"

    # -- internals --------------------------------------------------------------------------
    def _select(self) -> list[str]:
        d = self.dialect
        return [d.command(d.select_channel, self.channel)] if d.select_channel else []

    def _measure(self, template: str, reply_format: str, unit: str) -> float:
        suffix = unit if reply_format.endswith(unit) else ""
        with self._lock:
            for command in self._select():
                self.scpi.write(command)
            return self._ask(self.dialect.command(template, self.channel),
                             lambda r: parse_number(r, suffix))

    def _verify(self, on: bool) -> None:
        cfg = self.cfg
        nominal = self._set_voltage if self._set_voltage is not None else cfg.voltage
        if on:
            limit = 0.9 * nominal if cfg.verify_on_min_v is None else cfg.verify_on_min_v
            ok: Callable[[float], bool] = lambda v: v >= limit
            want = f">= {limit:g} V"
        else:
            limit = max(0.1 * nominal, 0.5) if cfg.verify_off_max_v is None else cfg.verify_off_max_v
            ok = lambda v: v <= limit
            want = f"<= {limit:g} V"
        timeout_s = cfg.verify_timeout_s
        start = self.clock.now()
        while True:
            measured = self.measure_voltage()
            if ok(measured):
                return
            if self.clock.now() - start >= timeout_s:
                raise InstrumentError(
                    f"{self.description}: output {'on' if on else 'off'} not confirmed by "
                    f"measurement: {measured:g} V after {timeout_s:g} s, expected {want} "
                    f"({FIELD}.verify is true)")
            self.clock.sleep(VERIFY_POLL_S)

    def _queue_errors(self) -> list[str]:
        return self.scpi.error_queue(self.dialect.error_query)

    def _register_errors(self) -> list[str]:
        d, errors = self.dialect, []
        code = self._ask(d.error_query, parse_register)
        if code:
            errors.append(f"{d.error_query} {code}: {d.register_errors.get(code, 'execution error')}")
        esr = self._ask("*ESR?", parse_register)
        if esr & ESR_COMMAND_ERROR:
            errors.append("*ESR? command error: a command was not understood")
        if esr & ESR_QUERY_ERROR:
            errors.append("*ESR? query error: a reply was lost or not available")
        if esr & ESR_DEVICE_ERROR:
            errors.append("*ESR? device-dependent error")
        if esr & ESR_EXECUTION_ERROR and not code:
            errors.append("*ESR? execution error")
        return errors

    def _ask(self, command: str, parse: Callable[[str], T]) -> T:
        return self.scpi.query(command, parse)


def check_safety(values: dict[str, float | None], safety: Any, overridden: set[str] = frozenset()) -> None:
    """Refuse set-points outside ``safety`` (``max_voltage``, ``max_current`` and, when given,
    ``min_frequency``/``max_frequency``) or not finite and non-negative; name the rig field."""
    limits = {
        "voltage": ("max_voltage", "V"),
        "current_limit": ("max_current", "A"),
        "frequency": ("max_frequency", "Hz"),
    }
    for key, value in values.items():
        if value is None:
            continue
        where = f"configure({key}=...)" if key in overridden else f"{FIELD}.{key}"
        limit_name, unit = limits[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SafetyLimitError(f"{where} = {value!r} is not a finite, non-negative number; "
                                   "nothing was sent to the supply")
        limit = getattr(safety, limit_name, None) if safety is not None else None
        if limit is None and key != "frequency":
            raise SafetyLimitError(f"{FIELD}.safety.{limit_name} is not set: refusing {where} = "
                                   f"{value:g} {unit} without a limit; nothing was sent to the supply")
        if limit is not None and value > limit:
            raise SafetyLimitError(f"{where} = {value:g} {unit} exceeds {FIELD}.safety.{limit_name} = "
                                   f"{limit:g} {unit}; nothing was sent to the supply")
        low = getattr(safety, "min_frequency", None) if key == "frequency" and safety is not None else None
        if low is not None and value < low:
            raise SafetyLimitError(f"{where} = {value:g} Hz is below {FIELD}.safety.min_frequency = "
                                   f"{low:g} Hz; nothing was sent to the supply")


def open_supply(cfg: Any, clock: Clock, bus: EventBus | None, *, endpoint: Endpoint | None = None) -> Supply:
    """Open the rig's supply: through pyvisa (``cfg.resource``), or the given in-process endpoint.

    ``cfg`` is the rig file's ``instruments.supply`` section (``SupplyConfig``). Nothing is sent
    to the instrument here; the first :meth:`Supply.set_output` applies the set-points.
    """
    if endpoint is not None:
        return Supply(cfg, clock, bus, endpoint)
    _dialect_of(cfg)  # a bad dialect fails before the instrument is touched
    if cfg.resource == "virtual":
        raise SupplyConfigError(f"{FIELD}.resource is 'virtual' but no virtual supply was given: "
                                "use the virtual rig, or a VISA resource string on a real bench")
    resource, close_manager = open_visa(cfg.resource, cfg.visa_library, cfg.timeout_s, what="supply", field=FIELD)
    return Supply(cfg, clock, bus, resource, on_close=close_manager)


def _dialect_of(cfg: Any) -> Dialect:
    try:
        return get_dialect(cfg.dialect)
    except UnknownDialectError as exc:
        raise SupplyConfigError(f"{FIELD}.dialect: {exc}") from exc


def _channel_of(cfg: Any, dialect: Dialect) -> int:
    channel = cfg.channel
    if not 1 <= channel <= dialect.channels:
        raise SupplyConfigError(f"{FIELD}.channel = {channel!r}: the {dialect.title} has channels "
                                f"1..{dialect.channels}")
    return channel
