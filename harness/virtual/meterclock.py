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
(``dut.clock_tolerance_s``); 10 s is the default, matching 0x8F0C's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

CLOCK_ADJUSTED = 0x8145
CLOCK_NOT_ADJUSTED_TOLERANCE = 0x81C6
CLOCK_NOT_ADJUSTED_OVER_10S = 0x8F0C
CRITICAL_THRESHOLD_S = 10.0
GBCS_WITH_0x81C6 = (3, 2)


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

    def set_clock(self, requested: datetime) -> ClockOutcome:
        """ECS70: adjust to ``requested`` if within tolerance, else refuse and say so."""
        before = self.now()
        diff = (requested - before).total_seconds()
        if abs(diff) <= self.tolerance_s:
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
