"""The virtual ESME's clock adjustment rules, alert configuration, clock events and event log read
(ECS70, ECS25a, ECS25a3, ECS25r1, ECS35a).

Pure state: :class:`MeterClock` decides what a Set Clock (ECS70) does to the meter's clock and
which events and alerts follow; the ESME behaviour wires it to GBCS messages. The clock it adjusts
is the ESME's own device time (:meth:`hubrig.harness.virtual.esme.VirtualEsme.adjust_clock`), so alert
time stamps and event-log entries follow an accepted adjustment.

Rules modelled (domain brief; public GBCS alert tables and IRP511):

* a requested time within ``tolerance_s`` of the meter's own clock is applied, and event 0x8145
  (Clock adjusted, within tolerance) is logged: an event, never an alert;
* outside tolerance the clock is not adjusted; from GBCS v3.2 (IRP511) the meter logs 0x81C6
  (Clock not adjusted, outside tolerance) when its logging behaviour says so (ECS25a3), and sends
  it, a non-critical alert, only when its alert behaviour enables it (ECS25a, Set Alert Behaviours
  - ESME - Supplier); before v3.2 there is no 0x81C6;
* an adjustment of more than 10 s that is not made raises 0x8F0C (Clock not adjusted, adjustment
  > 10 s), a critical alert, whatever the configuration.

How a real meter measures "tolerance" is set by its own specification: the rig file gives it
(``dut.clock_tolerance_s``); 10 s is the default, matching 0x8F0C's threshold. ECS70 also carries
a validity interval: the meter adjusts only while its own clock is inside it.

The behaviours are four 256-bit objects (alert, ESME-to-HAN event, audible alarm, logging) that
ECS25r1 reads; ECS25a and ECS25a3 write a 256-bit change mask then 256 values (the layout of
every RTDS behaviour write). The meter starts with every event logged and no non-critical alert
sent. Which bit stands for 0x81C6 is not in the shipped sources (neither RTDS nor the public alert
tables say): the rig file maps alert codes to bits (``dut.esme.alert_filter_bits``; default: the
virtual rig's convention, the code's low byte), and the virtual ESME and the command sender both
use that map.

ECS35a reads the event log back: every entry whose time stamp (device time, whole seconds) lies in
the requested range, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from hubrig.harness.rig.commands import (BEHAVIOUR_BITS, ECS25A, ECS25A3, ECS25R1, ECS35A, ECS70, FilterBits,
                                         apply_behaviour_write, behaviour_bit)
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders, message_code_for_alert
from hubrig.harness.gbcs.content.usecases import GENERIC_CRITICAL_ALERT
from hubrig.harness.virtual.commshub import command_fields
from hubrig.harness.virtual.esme import HanFrame, LogEntry

CLOCK_ADJUSTED = 0x8145
CLOCK_NOT_ADJUSTED_TOLERANCE = 0x81C6
CLOCK_NOT_ADJUSTED_OVER_10S = 0x8F0C
CRITICAL_THRESHOLD_S = 10.0
GBCS_WITH_0x81C6 = (3, 2)


class ClockDefects(BaseModel):
    """Defect switches of the virtual meter clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    no_81C6: bool = Field(False, description="a refused adjustment logs and alerts no 0x81C6")
    alert_81C6_always_sent: bool = Field(False, description="0x81C6 is sent whatever ECS25a says")
    logs_81C6_when_logging_off: bool = Field(False, description="0x81C6 is logged whatever ECS25a3 says")
    behaviour_write_ignores_mask: bool = Field(
        False, description="a behaviour write (ECS25a, ECS25a3) replaces all 256 bits with its values, "
                           "ignoring the change mask: the supplier's other settings are lost")


@dataclass(frozen=True)
class ClockOutcome:
    """What one Set Clock did: adjusted or not, the events logged and the alerts to send."""

    adjusted: bool
    difference_s: float  # requested minus the meter's clock before the command
    clock_after: datetime
    logged: tuple[int, ...]
    alerted: tuple[int, ...]


@dataclass
class MeterClock:
    """The meter's clock rules and alert configuration, over the meter's own clock.

    ``now`` reads the meter's device time; ``adjust(seconds)`` moves it (the ESME's own clock, so
    there is one device time).
    """

    now: Callable[[], datetime]
    adjust: Callable[[float], None]
    gbcs: tuple[int, ...]
    tolerance_s: float = CRITICAL_THRESHOLD_S
    defects: ClockDefects = field(default_factory=ClockDefects)
    bit_of: FilterBits = field(default_factory=dict)
    """Alert code -> its bit in the behaviour objects."""
    alert_behaviours: str = "0" * BEHAVIOUR_BITS
    """ECS25a: which non-critical alerts are sent (none, from the factory)."""
    logging_behaviours: str = "1" * BEHAVIOUR_BITS
    """ECS25a3: which events are logged (all, from the factory)."""

    def write_behaviours(self, which: str, write: str) -> None:
        """ECS25a (``which="alert"``) or ECS25a3 (``"logging"``): apply a 512-bit mask + values write."""
        current = self.alert_behaviours if which == "alert" else self.logging_behaviours
        new = (write[BEHAVIOUR_BITS:] if self.defects.behaviour_write_ignores_mask
               else apply_behaviour_write(current, write))
        if which == "alert":
            self.alert_behaviours = new
        else:
            self.logging_behaviours = new

    def _on(self, behaviours: str, code: int) -> bool:
        return code in self.bit_of and behaviour_bit(behaviours, self.bit_of[code])

    def set_clock(self, requested: datetime,
                  window: tuple[datetime, datetime] | None = None) -> ClockOutcome:
        """ECS70: adjust to ``requested`` if within tolerance (and, given a validity ``window``,
        while the meter's clock is inside it), else refuse and say so."""
        before = self.now()
        diff = (requested - before).total_seconds()
        inside = window is None or window[0] <= before <= window[1]
        if abs(diff) <= self.tolerance_s and inside:
            self.adjust(diff)
            return ClockOutcome(True, diff, self.now(), (CLOCK_ADJUSTED,), ())
        logged: list[int] = []
        alerted: list[int] = []
        if self.gbcs >= GBCS_WITH_0x81C6 and not self.defects.no_81C6:
            if self._on(self.logging_behaviours, CLOCK_NOT_ADJUSTED_TOLERANCE) or self.defects.logs_81C6_when_logging_off:
                logged.append(CLOCK_NOT_ADJUSTED_TOLERANCE)
            if self._on(self.alert_behaviours, CLOCK_NOT_ADJUSTED_TOLERANCE) or self.defects.alert_81C6_always_sent:
                alerted.append(CLOCK_NOT_ADJUSTED_TOLERANCE)
        if abs(diff) > CRITICAL_THRESHOLD_S:
            logged.append(CLOCK_NOT_ADJUSTED_OVER_10S)
            alerted.append(CLOCK_NOT_ADJUSTED_OVER_10S)
        return ClockOutcome(False, diff, self.now(), tuple(logged), tuple(alerted))


# ---------------------------------------------------------------------- the virtual ESME behaviour

def defects_from(source: object) -> ClockDefects:
    """This module's defect switches, read by name from the rig file's ``virtual.defects``."""
    return ClockDefects(**{k: bool(getattr(source, k, False)) for k in ClockDefects.model_fields})


def _when(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class ClockBehaviour:
    """Wires a :class:`MeterClock` to the virtual ESME's ECS70, ECS25a, ECS25a3, ECS25r1 and ECS35a hooks:
    responses, event-log entries (in the ESME's ``event_log``) and the alerts the rules call for."""

    def __init__(self, bench, gbcs: tuple[int, ...], tolerance_s: float, defects: ClockDefects,
                 filter_bits: FilterBits):
        self.esme = bench.esme
        self.scheduler = bench.scheduler
        self.clock = MeterClock(now=self.esme.device_time, adjust=self.esme.adjust_clock, gbcs=gbcs,
                                tolerance_s=tolerance_s, defects=defects, bit_of=dict(filter_bits))
        self.esme.handlers.update({ECS70: self.ecs70, ECS25A: self.ecs25a, ECS25A3: self.ecs25a3,
                                   ECS25R1: self.ecs25r1, ECS35A: self.ecs35a})

    def ecs70(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS70")
        preset = f["preset_adjusting_time"]
        start, end = _when(preset["validity_interval_start"]), _when(preset["validity_interval_end"])
        requested = _when(preset["preset_time"]) or (start + (end - start) / 2 if start and end else None)
        if requested is None:
            results = {"adjust_to_preset_time": "other-reason"}
            outcome = None
        else:
            outcome = self.clock.set_clock(requested, (start, end) if start and end else None)
            results = {} if outcome.adjusted else {"adjust_to_preset_time": "other-reason"}
        content = builders.ecs70_response(time=self.clock.now(), status=0, results=results,
                                          invoke_id=f["invoke_id"])
        response = builder.build_message(cra="response", originator=self.esme.eui,
                                         recipient=message.originator, counter=message.originator_counter,
                                         message_code=ECS70, content=content, keys=self.esme.keys,
                                         general_ciphering=False, sign=True)
        if outcome is not None:
            self._log_and_alert(outcome, message.originator)
        return [response]

    def _log_and_alert(self, outcome: ClockOutcome, recipient: str) -> None:
        now = self.scheduler.now_ns()
        stamp = self.clock.now()
        for code in outcome.logged:
            self.esme.event_log.append(LogEntry(code, stamp, now))
        for code in outcome.alerted:
            counter = self.esme.next_counter()
            critical = message_code_for_alert(code) == GENERIC_CRITICAL_ALERT
            content = builders.clock_alert(alert_code=code, timestamp=stamp, invoke_id=counter & 0xFFFFFF)
            alert = builder.build_message(cra="alert", originator=self.esme.eui, recipient=recipient,
                                          counter=counter, message_code=message_code_for_alert(code),
                                          content=content, keys=self.esme.keys,
                                          general_ciphering=not critical, sign=critical)
            frame = HanFrame(alert, "alert", message_code_for_alert(code), code)
            self.scheduler.call_later(0.05, lambda f=frame: self.esme.send(f))

    def ecs25a(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS25a")
        self.clock.write_behaviours("alert", f["alert_filter"])
        return self._answer(message, ECS25A, builders.ecs25a_response(invoke_id=f["invoke_id"]))

    def ecs25a3(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS25a3")
        self.clock.write_behaviours("logging", f["event_filter"])
        return self._answer(message, ECS25A3, builders.ecs25a3_response(invoke_id=f["invoke_id"]))

    def ecs25r1(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS25r1")
        unused = "0" * BEHAVIOUR_BITS
        content = builders.ecs25r1_response(
            behaviours={"alert_behaviours": self.clock.alert_behaviours, "han_event_behaviours": unused,
                        "audible_alarm_behaviours": unused, "logging_behaviours": self.clock.logging_behaviours},
            invoke_id=f["invoke_id"])
        return self._answer(message, ECS25R1, content)

    def _answer(self, message, message_code: int, content: bytes) -> list[bytes]:
        return [builder.build_response(originator=self.esme.eui, recipient=message.originator,
                                       counter=message.originator_counter, message_code=message_code,
                                       content=content, keys=self.esme.keys)]

    def ecs35a(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS35a")
        wanted = f.get("event_log_range") or {}
        start, end = _when(wanted.get("from")), _when(wanted.get("to"))
        if start is None or end is None:
            content = builders.ecs35a_response(event_log=None, invoke_id=f["invoke_id"], result="other-reason")
        else:
            stamped = [(entry.device_time.replace(microsecond=0), entry.code) for entry in self.esme.event_log]
            content = builders.ecs35a_response(
                event_log=[{"timestamp": when, "event_code": code} for when, code in stamped
                           if start <= when <= end], invoke_id=f["invoke_id"])
        return self._answer(message, ECS35A, content)


def install(bench, gbcs: tuple[int, ...], tolerance_s: float, *, filter_bits: FilterBits) -> ClockBehaviour:
    """Give ``bench``'s virtual ESME its clock rules and event-log read, with the defect switches of
    its ``params.defects`` (the bench does, once)."""
    return ClockBehaviour(bench, gbcs, tolerance_s, defects_from(bench.params.defects), filter_bits)
