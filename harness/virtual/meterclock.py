"""The virtual ESME's clock adjustment rules, alert configuration and clock events (ECS70, ECS25a3).

Pure state: :class:`MeterClock` decides what a Set Clock (ECS70) does to the meter's clock and
which events and alerts follow; the ESME behaviour wires it to GBCS messages.

Rules modelled (domain brief; public GBCS alert tables and IRP511):

* a requested time within ``tolerance_s`` of the meter's own clock is applied, and event 0x8145
  (Clock adjusted, within tolerance) is logged: an event, never an alert;
* outside tolerance the clock is not adjusted; from GBCS v3.2 (IRP511) the meter logs 0x81C6
  (Clock not adjusted, outside tolerance), a non-critical alert sent only when enabled by the alert
  configuration (ECS25a3); before v3.2 there is no 0x81C6;
* an adjustment of more than 10 s that is not made raises 0x8F0C (Clock not adjusted, adjustment
  > 10 s), a critical alert, whatever the configuration.

How a real meter measures "tolerance" is set by its own specification: the rig file gives it
(``dut.clock_tolerance_s``); 10 s is the default, matching 0x8F0C's threshold. ECS70 also carries
a validity interval: the meter adjusts only while its own clock is inside it.

ECS25a3 writes a 512-bit event filter. Which bit stands for 0x81C6 is not in the shipped sources:
:data:`FILTER_BITS` is the virtual rig's convention (code minus 0x8000), shared by the virtual
ESME and the command sender; a real bench must be checked against the meter's documentation.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from harness.gbcs import builder
from harness.gbcs.content import builders, decode_content, message_code_for_alert
from harness.gbcs.content.usecases import GENERIC_CRITICAL_ALERT
from harness.virtual.esme import HanFrame, LogEntry

CLOCK_ADJUSTED = 0x8145
CLOCK_NOT_ADJUSTED_TOLERANCE = 0x81C6
CLOCK_NOT_ADJUSTED_OVER_10S = 0x8F0C
CRITICAL_THRESHOLD_S = 10.0
GBCS_WITH_0x81C6 = (3, 2)
EVENT_FILTER_BITS = 512
FILTER_BITS = {CLOCK_NOT_ADJUSTED_TOLERANCE: CLOCK_NOT_ADJUSTED_TOLERANCE - 0x8000}


def event_filter(enabled: dict[int, bool]) -> str:
    """The ECS25a3 event filter ('0'/'1' string) with the given alerts on or off."""
    bits = ["0"] * EVENT_FILTER_BITS
    for code, on in enabled.items():
        bits[FILTER_BITS[code]] = "1" if on else "0"
    return "".join(bits)


def filter_settings(bits: str) -> dict[int, bool]:
    """The alerts :data:`FILTER_BITS` knows, on or off, in an event filter."""
    return {code: len(bits) > i and bits[i] == "1" for code, i in FILTER_BITS.items()}


class ClockDefects(BaseModel):
    """Defect switches of the virtual meter clock."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    no_81C6: bool = Field(False, description="a refused adjustment logs and alerts no 0x81C6")


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
    """The meter's clock as seen through adjustments, with its alert configuration.

    ``base`` gives the meter's unadjusted clock (the ESME's free-running device time);
    adjustments accumulate in ``correction_s``.
    """

    base: Callable[[], datetime]
    gbcs: tuple[int, ...]
    tolerance_s: float = CRITICAL_THRESHOLD_S
    defects: ClockDefects = field(default_factory=ClockDefects)
    alerts_enabled: dict[int, bool] = field(default_factory=lambda: {CLOCK_NOT_ADJUSTED_TOLERANCE: False})
    correction_s: float = 0.0

    def now(self) -> datetime:
        return self.base() + timedelta(seconds=self.correction_s)

    def configure_alert(self, code: int, enabled: bool) -> None:
        """ECS25a3: switch a non-critical alert on or off (it is logged either way)."""
        self.alerts_enabled[code] = enabled

    def set_clock(self, requested: datetime,
                  window: tuple[datetime, datetime] | None = None) -> ClockOutcome:
        """ECS70: adjust to ``requested`` if within tolerance (and, given a validity ``window``,
        while the meter's clock is inside it), else refuse and say so."""
        before = self.now()
        diff = (requested - before).total_seconds()
        inside = window is None or window[0] <= before <= window[1]
        if abs(diff) <= self.tolerance_s and inside:
            self.correction_s += diff
            return ClockOutcome(True, diff, self.now(), (CLOCK_ADJUSTED,), ())
        logged: list[int] = []
        alerted: list[int] = []
        if self.gbcs >= GBCS_WITH_0x81C6 and not self.defects.no_81C6:
            logged.append(CLOCK_NOT_ADJUSTED_TOLERANCE)
            if self.alerts_enabled.get(CLOCK_NOT_ADJUSTED_TOLERANCE, False):
                alerted.append(CLOCK_NOT_ADJUSTED_TOLERANCE)
        if abs(diff) > CRITICAL_THRESHOLD_S:
            logged.append(CLOCK_NOT_ADJUSTED_OVER_10S)
            alerted.append(CLOCK_NOT_ADJUSTED_OVER_10S)
        return ClockOutcome(False, diff, self.now(), tuple(logged), tuple(alerted))


# ---------------------------------------------------------------------- the virtual ESME behaviour

ECS70, ECS25A3 = 0x0062, 0x00EC


def defects_from(source: object) -> ClockDefects:
    """This module's defect switches, read by name from the rig file's ``virtual.defects``."""
    return ClockDefects(**{k: bool(getattr(source, k, False)) for k in ClockDefects.model_fields})


def _when(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class ClockBehaviour:
    """Wires a :class:`MeterClock` to the virtual ESME's ECS70 and ECS25a3 hooks: responses,
    event-log entries (in the ESME's ``event_log``) and the alerts the rules call for."""

    def __init__(self, bench, gbcs: tuple[int, ...], tolerance_s: float, defects: ClockDefects):
        self.esme = bench.esme
        self.scheduler = bench.scheduler
        self.clock = MeterClock(base=self.esme.device_time, gbcs=gbcs, tolerance_s=tolerance_s,
                                defects=defects)
        self.esme.handlers.update({ECS70: self.ecs70, ECS25A3: self.ecs25a3})

    def ecs70(self, message, raw: bytes) -> list[bytes]:
        f = decode_content(message.message_code, "command", message.content)
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

    def ecs25a3(self, message, raw: bytes) -> list[bytes]:
        f = decode_content(message.message_code, "command", message.content)
        for code, on in filter_settings(f["event_filter"]).items():
            self.clock.configure_alert(code, on)
        content = builders.ecs25a3_response(invoke_id=f["invoke_id"])
        return [builder.build_response(originator=self.esme.eui, recipient=message.originator,
                                       counter=message.originator_counter, message_code=ECS25A3,
                                       content=content, keys=self.esme.keys)]


def install(bench, gbcs: tuple[int, ...], tolerance_s: float,
            defects: ClockDefects | None = None) -> ClockBehaviour:
    """Give ``bench``'s virtual ESME its clock rules (once; later calls return the same one)."""
    if bench not in _installed:
        _installed[bench] = ClockBehaviour(bench, gbcs, tolerance_s,
                                           defects or defects_from(bench.params.defects))
    return _installed[bench]


_installed: "weakref.WeakKeyDictionary[object, ClockBehaviour]" = weakref.WeakKeyDictionary()
