"""The virtual ESME: senses its mains, logs supply interruptions, raises signed ECS80 alerts.

On an interruption it logs event 0x8F57 (Supply interrupted) in :attr:`VirtualEsme.event_log`.
When mains returns it boots, then raises ECS80 (message code 0x0067): 0x8F35 (Supply Outage
Restored) for an outage shorter than ``outage_threshold_s`` by its own clock, 0x8F36 at or above,
carrying the interruption and restoration date-times read off its own device clock (true time
plus ``clock_offset_s`` plus ``clock_drift_ppm``, plus every adjustment accepted since), signed
with its DS test key, and sends it over the HAN to the Comms Hub after ``han_latency_s``.

A polyphase ESME (``phases=3``) stays up when one phase is lost (:meth:`VirtualEsme.phase_mains`): it
logs 0x8F58/0x8F59/0x8F5A (Supply interrupted on Phase N) and, when the phase returns, raises the
phase's restoration alert, 0x8F37/0x8F39/0x8F3B under 3 minutes and 0x8F38/0x8F3A/0x8F3C at or
above.

A firmware reboot (:meth:`VirtualEsme.reboot`, mains never lost) takes the ESME off the HAN for
``boot_s`` and interrupts the Comms Hub's hot-shoe supply for ``reboot_power_gap_s``: no supply
interruption is logged and no restoration alert follows (the DCC study's false POA comes from a
Comms Hub that takes this for an outage).

Every supply interruption and restoration also goes into its power event log
(:attr:`VirtualEsme.power_event_log`, read with ECS35e: :mod:`hubrig.harness.virtual.powerlog`): 0x8F57
at the cut, time-stamped by its clock when it senses the loss, and the restoration code it alerts
(0x8F35 / 0x8F36) at the restore, time-stamped when it senses mains again; each entry numbered by a
rising counter.

Device time has one source of truth, :meth:`VirtualEsme.device_time`: a Set Clock the meter accepts
moves it through :meth:`VirtualEsme.adjust_clock`, and the alerts' date-times and the event log
follow.

Command hook: :attr:`VirtualEsme.handlers` maps a GBCS message code to
``fn(message, raw) -> list[bytes]``; the Comms Hub forwards commands addressed to the ESME here
(``message`` is :class:`hubrig.harness.gbcs.envelope.Message`, ``raw`` the bytes as received, already
verified) and sends back every message the handler returns, in order. Handlers may read and
append to :attr:`VirtualEsme.event_log` and take counters from :meth:`VirtualEsme.next_counter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional


from hubrig.harness.clock import NS_PER_S, Scheduler, Timer, to_ns
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.content.usecases import OUTAGE_RESTORED_ON_PHASE as RESTORED_ON_PHASE
from hubrig.harness.gbcs.content.usecases import SUPPLY_INTERRUPTED, SUPPLY_INTERRUPTED_ON_PHASE
from hubrig.harness.gbcs.envelope import Message
from hubrig.harness.virtual.groundtruth import Emission, GroundTruth
from hubrig.harness.virtual.params import Defects, EsmeParams

OUTAGE_RESTORED = 0x8F35
OUTAGE_RESTORED_3_MIN = 0x8F36
RESTORATION_ALERTS = frozenset(range(0x8F35, 0x8F3D))
"""8F35/8F36 and their phase variants 8F37..8F3C."""

ECS80 = 0x0067

Handler = Callable[[Message, bytes], "list[bytes]"]


@dataclass(frozen=True)
class LogEntry:
    """One ESME event-log entry: the code, its device-clock date-time and its rig instant."""

    code: int
    device_time: datetime
    t_ns: int


@dataclass(frozen=True)
class PowerLogEntry:
    """One ESME power event log entry: the code, its device-clock date-time, its counter and its rig
    instant."""

    code: int
    device_time: datetime
    counter: int
    t_ns: int


@dataclass(frozen=True)
class HanFrame:
    """A message on the HAN between the ESME and the CH, with what the CH reads off its header."""

    raw: bytes
    cra: str
    message_code: int
    alert_code: Optional[int] = None


class VirtualEsme:
    """An ESME in virtual (or real) time; wire its mains with :meth:`mains` and its HAN with
    :attr:`han_uplink` (the Comms Hub sets it)."""

    def __init__(self, params: EsmeParams, defects: Defects, *, eui: str, scheduler: Scheduler,
                 keys, ground_truth: GroundTruth, name: str = "esme", phases: int = 1):
        self.params = params
        self.defects = defects
        self.eui = eui.upper()
        self.name = name
        self.phases = phases
        self.scheduler = scheduler
        self.keys = keys
        self.ground_truth = ground_truth
        self.handlers: dict[int, Handler] = {}
        self.event_log: list[LogEntry] = []
        self.power_event_log: list[PowerLogEntry] = []
        self.han_uplink: Callable[[HanFrame], None] | None = None
        self.transmit_listeners: list[Callable[[], None]] = []
        """Called whenever the ESME puts a frame on the HAN (the HAN radio world listens)."""
        self.hot_shoe: Callable[[int, float], None] | None = None
        """Told ``(rig instant, seconds)`` when a reboot interrupts the CH's supply (the CH sets it)."""
        self.booted = True
        self._counter = params.counter_start
        self._t0_ns = scheduler.now_ns()
        self._mains_on = True
        self._loss: Optional[tuple[int, datetime]] = None  # (rig instant, device time)
        self._unreported: list[tuple[datetime, datetime, float, int | None]] = []
        self._phase_loss: dict[int, datetime] = {}  # phase -> device time of its loss
        self._boot: Timer | None = None
        self._adjustments: list[tuple[int, float]] = []  # (rig instant, seconds), in time order
        self._power_counter = 0
        self.last_command_ns: int | None = None
        """When the ESME last handled a command (its radio and processor busy: the 'active' state)."""

    # ------------------------------------------------------------------ time

    def device_time(self, t_ns: int | None = None) -> datetime:
        """The ESME's own clock at rig instant ``t_ns``: true wall time plus offset and drift, plus
        the adjustments made up to ``t_ns``."""
        t = self.scheduler.now_ns() if t_ns is None else t_ns
        error_s = self.params.clock_offset_s + (t - self._t0_ns) / NS_PER_S * self.params.clock_drift_ppm * 1e-6
        error_s += sum(seconds for at, seconds in self._adjustments if at <= t)
        return self.scheduler.wall(t) + timedelta(seconds=error_s)

    def adjust_clock(self, seconds: float) -> None:
        """Move the device clock by ``seconds`` from now on (an accepted Set Clock)."""
        self._adjustments.append((self.scheduler.now_ns(), seconds))

    def next_counter(self) -> int:
        """The originator counter for the next message this ESME originates (strictly rising)."""
        counter = self._counter
        self._counter += 1
        return counter

    # ------------------------------------------------------------------ mains

    def mains(self, on: bool, t_ns: int) -> None:
        """The supply's output changed at rig instant ``t_ns`` (the ESME notices after its sense delay)."""
        self.scheduler.call_at(t_ns + to_ns(self.params.mains_sense_delay_s), lambda: self._sensed(on))

    def _sensed(self, on: bool) -> None:
        if on == self._mains_on:
            return
        self._mains_on = on
        now = self.scheduler.now_ns()
        if not on:
            self.booted = False
            if self._boot is not None:
                self._boot.cancel()
                self._boot = None
            stamp = self.device_time(now)
            self._loss = (now, stamp)
            self.event_log.append(LogEntry(SUPPLY_INTERRUPTED, stamp, now))
            self._log_power(SUPPLY_INTERRUPTED, stamp, now)
            self.ground_truth.record(Emission(now, self.name, "event", SUPPLY_INTERRUPTED, "",
                                              "event log: supply interrupted"))
            return
        if self._loss is not None:
            loss_stamp = self._loss[1]
            restored = self.device_time(now)
            measured_s = (restored - loss_stamp).total_seconds()
            self._unreported.append((loss_stamp, restored, measured_s, None))
            if not self.defects.power_log_missing_restoration:
                self._log_power(self.restoration_code(measured_s), restored, now)
            self._phase_loss.clear()  # the whole supply is back
            self._loss = None
        self._boot = self.scheduler.call_later(self.params.boot_s, self._booted)

    def _log_power(self, code: int, stamp: datetime, t_ns: int) -> None:
        self._power_counter += 1
        stamp += timedelta(seconds=self.defects.power_log_time_error_s)
        self.power_event_log.append(PowerLogEntry(code, stamp, self._power_counter, t_ns))

    def _booted(self) -> None:
        self._boot = None
        self.booted = True
        pending, self._unreported = self._unreported, []
        for interrupted, restored, measured_s, phase in pending:
            self._raise_restoration(interrupted, restored, measured_s, phase)

    def phase_mains(self, phase: int, on: bool, t_ns: int) -> None:
        """One phase of a three-phase supply changed at rig instant ``t_ns`` (the others stayed live)."""
        self.scheduler.call_at(t_ns + to_ns(self.params.mains_sense_delay_s),
                               lambda: self._phase_sensed(phase, on))

    def _phase_sensed(self, phase: int, on: bool) -> None:
        now = self.scheduler.now_ns()
        if not on:
            if phase in self._phase_loss:
                return
            stamp = self._phase_loss[phase] = self.device_time(now)
            code = SUPPLY_INTERRUPTED_ON_PHASE[phase]
            self.event_log.append(LogEntry(code, stamp, now))
            self._log_power(code, stamp, now)
            self.ground_truth.record(Emission(now, self.name, "event", code, "",
                                              f"event log: supply interrupted on phase {phase}"))
            return
        interrupted = self._phase_loss.pop(phase, None)
        if interrupted is None:
            return
        restored = self.device_time(now)
        measured_s = (restored - interrupted).total_seconds()
        if not self.defects.power_log_missing_restoration:
            self._log_power(self.restoration_code(measured_s, phase), restored, now)
        if self.booted:  # the other phases kept the meter up
            self._raise_restoration(interrupted, restored, measured_s, phase)
        else:
            self._unreported.append((interrupted, restored, measured_s, phase))

    def reboot(self) -> int:
        """A firmware-triggered reboot with mains on; returns its rig instant."""
        now = self.scheduler.now_ns()
        self.ground_truth.record(Emission(now, self.name, "event", None, "", "firmware reboot (mains on)"))
        if self._mains_on:
            self.booted = False
            self._boot = self.scheduler.call_later(self.params.boot_s, self._booted)
            if self.hot_shoe is not None:
                self.hot_shoe(now, self.params.reboot_power_gap_s)
        return now

    # ------------------------------------------------------------------ alerts

    def restoration_code(self, measured_s: float, phase: int | None = None) -> int:
        """The alert due for an outage of ``measured_s`` seconds by the ESME's clock, of the whole
        supply or (``phase``) of one phase alone (defects applied)."""
        long_ = measured_s >= self.params.outage_threshold_s and not self.defects.wrong_pra_code
        if phase is not None and not self.defects.polyphase_reports_whole_supply:
            return RESTORED_ON_PHASE[phase][long_]
        if phase is None and self.phases == 1 and self.defects.single_phase_sends_phase_code:
            return RESTORED_ON_PHASE[1][long_]
        return OUTAGE_RESTORED_3_MIN if long_ else OUTAGE_RESTORED

    def _raise_restoration(self, interrupted: datetime, restored: datetime, measured_s: float,
                           phase: int | None = None) -> None:
        code = self.restoration_code(measured_s, phase)
        error = timedelta(seconds=self.defects.timestamp_error_s)
        counter = self.next_counter()
        content = builders.ecs80_alert(alert_code=code, timestamp=self.device_time(),
                                       interruption=interrupted + error, restoration=restored + error,
                                       invoke_id=counter & 0xFFFFFF)
        message = Message(cra="alert", originator_counter=counter, originator=self.eui,
                          recipient=self.params.alert_recipient.upper(), message_code=ECS80,
                          content=content)
        builder.sign_message(message, self.keys)
        if self.defects.bad_signature:
            message.signature = bytes([message.signature[0] ^ 0x01]) + message.signature[1:]
        self.send(HanFrame(builder.authenticate(message, self.keys), "alert", ECS80, code))

    def send(self, frame: HanFrame) -> None:
        """Put ``frame`` on the HAN: the Comms Hub receives it ``han_latency_s`` later."""
        for listener in self.transmit_listeners:
            listener()
        uplink = self.han_uplink
        if uplink is not None:
            self.scheduler.call_later(self.params.han_latency_s, lambda: uplink(frame))

    # ------------------------------------------------------------------ commands

    def handle_command(self, message: Message, raw: bytes) -> list[bytes]:
        """Run the handler for ``message``'s code; an ESME that is off or booting answers nothing."""
        handler = self.handlers.get(message.message_code)
        if handler is None or not self.booted:
            return []
        self.last_command_ns = self.scheduler.now_ns()
        return list(handler(message, raw))
