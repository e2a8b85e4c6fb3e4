"""One outage, observed: the building block of the power-outage plan.

:func:`observe_outage` cuts mains for a planned time, restores it, then listens until every alert
the outage calls for has arrived (or ``observe_s`` passes), and a short settle period more so a
duplicate or a false POA is seen too. It returns an :class:`Observation`: the confirmed cut and
restore instants, every POA (the ITCH's AD1 notification) and every PRA (ECS80 alert frame) that
arrived, with their arrival instants and journal ids. Latencies are arrival minus the confirmed
switch instant, on the rig clock.

With a HAN stick on the rig (:func:`pan_target`), the outage is also watched on the radio: active
scans at the rig file's cadence from just before the cut until the end of listening. HAN-down is
the start of the first completed scan after the cut that no longer hears the Comms Hub's PAN (the
PAN went between the scan before and that one); HAN-back is the arrival of the PAN's first beacon
after that, from the restore. Both are good to within one cadence plus one scan.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from hubrig.harness.clock import Clock, seconds
from hubrig.harness.capture.events import FRAME, NOTIFICATION, Event, EventBus
from hubrig.harness.gbcs.content.usecases import (OUTAGE_RESTORED_ON_PHASE, SUPPLY_INTERRUPTED,
                                                  SUPPLY_INTERRUPTED_ON_PHASE)
from hubrig.harness.rig.commands import CommandSender, DeviceFailure, Exchange
from hubrig.testplans.outage_results import Trial
from hubrig.harness.rig.bound import step_bound

POA_NOTIFICATION = "AD1"
CH_PRA_NOTIFICATION = "CH-PRA"
"""A Comms Hub's own restoration notification (the ITCH's ``pra_notification``, North option B)."""
REBOOT_COMMAND_TIMEOUT_S = 120.0
OUTAGE_THRESHOLD_S = 180.0
RESTORED_SHORT = {0x8F35, 0x8F37, 0x8F39, 0x8F3B}
"""Supply Outage Restored (and its phase 1/2/3 variants): outage under 3 minutes."""
RESTORED_LONG = {0x8F36, 0x8F38, 0x8F3A, 0x8F3C}
"""Supply Outage Restored - Outage >= 3 minutes (and its phase variants)."""
PRA_CODES = RESTORED_SHORT | RESTORED_LONG
WHOLE_SUPPLY_CODES = {0x8F35, 0x8F36}
"""Supply Outage Restored (and >= 3 minutes) for the whole supply: what a single-phase ESME raises."""
POWER_LOG_MARGIN = timedelta(hours=1)
"""The power event log is read this far either side of the outage (the meter stamps by its clock)."""
POWER_LOG_RESOLUTION_S = 1.0
"""Power event log time stamps are whole seconds (UTC seconds since 2000): allowed on top of the tolerance."""


def is_poa(event: Event) -> bool:
    return event.kind == NOTIFICATION and event.data.get("name") == POA_NOTIFICATION


def is_pra(event: Event) -> bool:
    """The ESME's ECS80 restoration alert, or the Comms Hub's own restoration notification."""
    if event.kind == NOTIFICATION:
        return event.data.get("name") == CH_PRA_NOTIFICATION
    if event.kind != FRAME:
        return False
    try:
        return event.alert_code in PRA_CODES
    except (TypeError, ValueError):  # an alert code that is not hex: not a PRA
        return False


def code_text(code: int | None) -> str | None:
    return None if code is None else f"{code:04X}"


def _find(record: Any, key: str) -> Any:
    """The first value under ``key`` anywhere in a decoded record (the body's layout may nest)."""
    if isinstance(record, dict):
        if key in record:
            return record[key]
        values: Iterable[Any] = record.values()
    elif isinstance(record, list):
        values = record
    else:
        return None
    for v in values:
        found = _find(v, key)
        if found is not None:
            return found
    return None


def alert_time(event: Event, key: str) -> datetime | None:
    """The ``interruption``/``restoration`` date-time inside a decoded ECS80 alert, if readable."""
    value = _find(event.data.get("body"), key)
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


HAN_WATCH_TIMEOUT_S = 30.0
"""Longest wait for the HAN stick's first scan before the cut, and for its last one to end."""


@dataclass(frozen=True)
class PanTarget:
    """The HAN stick and which PAN is the Comms Hub's: what the outage watches on the radio."""

    han: Any
    extended_pan_id: str
    channels: tuple[int, ...]
    cadence_s: float
    duration: int


def pan_target(rig: Any) -> PanTarget | None:
    """The rig session's HAN watch (``instruments.han``), or None without a HAN stick."""
    from hubrig.drivers.han.config import HanConfig
    from hubrig.drivers.han.stick import ZIGBEE_CHANNELS, HanStick

    han = rig.instrument("han", HanStick)
    cfg = rig.rig.instruments.section("han")
    if han is None or not isinstance(cfg, HanConfig):
        return None
    epid = (cfg.extended_pan_id or rig.rig.dut.comms_hub.eui).upper()
    return PanTarget(han, epid, (cfg.channel,) if cfg.channel else ZIGBEE_CHANNELS, cfg.scan_cadence_s,
                     cfg.scan_duration)


@dataclass(frozen=True)
class PanTimes:
    """What the HAN stick saw of the Comms Hub's PAN around one outage."""

    scans: int
    heard_before_cut: bool
    down_ns: int | None
    """Start of the first completed scan after the cut that did not hear the PAN."""
    back_ns: int | None
    """Arrival of the PAN's first beacon after ``down_ns``."""
    evidence: list[int]
    """Journal ids: the last beacon before the gap, the scan-complete of the first scan without it,
    the first beacon after it."""


def pan_times(scans: list[Any], epid: str, cut_ns: int) -> PanTimes:
    """HAN-down and HAN-back from a watch's scans (see the module docstring)."""
    def heard(scan: Any) -> Any:
        return next((n for n in scan.networks if n.extended_pan_id == epid), None)

    settled = [s for s in scans if s.complete or heard(s)]
    before = [s for s in settled if s.started_ns < cut_ns and heard(s)]
    down = next((s for s in settled if s.started_ns >= cut_ns and not heard(s)), None)
    back = None if down is None else next((heard(s) for s in settled if s.started_ns > down.started_ns and heard(s)),
                                          None)
    evidence = []
    if down is not None:
        last = [s for s in settled if s.started_ns < down.started_ns and heard(s)]
        evidence += [heard(last[-1]).journal_id] if last else []
        evidence += [down.complete_journal_id] if down.complete_journal_id is not None else []
    if back is not None:
        evidence.append(back.journal_id)
    return PanTimes(len(scans), bool(before), None if down is None else down.started_ns,
                    None if back is None else back.t_ns, evidence)


@dataclass
class Observation:
    """What one outage produced, in arrival order."""

    scenario: str
    index: int
    planned_s: float
    cut_ns: int
    restore_ns: int
    poas: list[Event] = field(default_factory=list)
    pras: list[Event] = field(default_factory=list)
    interruption_error_s: float | None = None
    restoration_error_s: float | None = None
    power_log: "PowerLogReadback | None" = None
    """The ESME's power event log read after the observation window (ECS35e), if the rig reads it."""
    phase: int | None = None
    """The phase cut alone (a per-phase outage), or None for the whole supply."""
    esme_phases: int = 1
    """The ESME's phases as the rig file declares them (``dut.esme.phases``)."""
    pan: PanTimes | None = None
    """What the HAN stick saw of the Comms Hub's PAN, when the rig has one."""

    @property
    def han_down_s(self) -> float | None:
        """The Comms Hub's PAN gone, from the confirmed cut (None: held, or no HAN stick)."""
        return None if self.pan is None or self.pan.down_ns is None else seconds(self.pan.down_ns - self.cut_ns)

    @property
    def han_back_s(self) -> float | None:
        """The PAN heard again, from the confirmed restore (None: it never went, or did not return)."""
        return None if self.pan is None or self.pan.back_ns is None else seconds(self.pan.back_ns - self.restore_ns)

    @property
    def interruption_codes(self) -> set[int]:
        """The power event log entry the cut should leave: 0x8F57, or the phase's 0x8F58-0x8F5A."""
        return {SUPPLY_INTERRUPTED if self.phase is None else SUPPLY_INTERRUPTED_ON_PHASE[self.phase]}

    @property
    def restoration_codes(self) -> set[int]:
        """The restoration codes the restore may leave: any of 0x8F35-0x8F3C, or the phase's own pair."""
        return set(PRA_CODES if self.phase is None else OUTAGE_RESTORED_ON_PHASE[self.phase])

    @property
    def outage_s(self) -> float:
        return seconds(self.restore_ns - self.cut_ns)

    @property
    def poa(self) -> Event | None:
        return self.poas[0] if self.poas else None

    @property
    def pra(self) -> Event | None:
        return self.pras[0] if self.pras else None

    @property
    def poa_s(self) -> float | None:
        """First POA's arrival from the confirmed cut."""
        return None if self.poa is None else seconds(self.poa.t_ns - self.cut_ns)

    @property
    def pra_s(self) -> float | None:
        """First PRA's arrival from the confirmed restore."""
        return None if self.pra is None else seconds(self.pra.t_ns - self.restore_ns)

    @property
    def pra_code(self) -> int | None:
        return None if self.pra is None or self.pra_from_ch else self.pra.alert_code

    @property
    def pra_from_ch(self) -> bool:
        """The PRA is the Comms Hub's own notification (no ECS80 to check codes or signatures of)."""
        return self.pra is not None and self.pra.kind == NOTIFICATION

    @property
    def pra_before_poa(self) -> bool:
        return self.pra is not None and self.poa is not None and self.pra.t_ns < self.poa.t_ns

    @property
    def evidence(self) -> list[int]:
        return [e.journal_id for e in (self.poa, self.pra) if e is not None and e.journal_id is not None]

    def trial(self) -> Trial:
        return Trial(scenario=self.scenario, index=self.index, outage_seconds=round(self.outage_s, 6),
                     poa_seconds=self.poa_s, pra_seconds=self.pra_s, pra_alert_code=code_text(self.pra_code),
                     poa_count=len(self.poas), pra_before_poa=self.pra_before_poa,
                     interruption_error_s=self.interruption_error_s,
                     restoration_error_s=self.restoration_error_s, han_down_seconds=self.han_down_s,
                     han_back_seconds=self.han_back_s, evidence=self.evidence)


def observe_outage(mains: Any, bus: EventBus, clock: Clock, seconds_: float, *, scenario: str, index: int = 0,
                   observe_s: float, settle_s: float = 30.0, phase: int | None = None,
                   pan: PanTarget | None = None) -> Observation:
    """Cut mains (or, given ``phase``, that phase alone) for ``seconds_``, restore, and collect the
    alerts the outage produced.

    Listening stops ``settle_s`` after every expected alert has arrived (a PRA always; a POA
    too for whole-supply outages of 3 minutes or more; with ``pan``, the Comms Hub's PAN back if it
    went), or ``observe_s`` after restoration at the latest. In
    real time the whole step is bounded by that schedule (:func:`step_bound`), so an instrument
    that hangs ends it with mains restored.
    """
    watch_s = 0.0 if pan is None else pan.cadence_s + HAN_WATCH_TIMEOUT_S * 2
    with step_bound(f"{scenario} #{index}", seconds_ + observe_s + settle_s + watch_s, real_time=not clock.virtual):
        return _observe(mains, bus, clock, seconds_, scenario=scenario, index=index, observe_s=observe_s,
                        settle_s=settle_s, phase=phase, pan=pan)


def _observe(mains: Any, bus: EventBus, clock: Clock, seconds_: float, *, scenario: str, index: int,
             observe_s: float, settle_s: float, phase: int | None, pan: PanTarget | None) -> Observation:
    since = bus.mark()
    watch = None
    if pan is not None:
        watch = pan.han.watch(pan.cadence_s, pan.channels, pan.duration)
        clock.sleep(pan.cadence_s)  # one cadence of scans first: the PAN's state before the cut
        clock.wait_until(lambda: bool(watch.scans) and pan.han.settled(watch.scans[0]), HAN_WATCH_TIMEOUT_S)
    try:
        with (mains.outage(seconds_) if phase is None else mains.phase_outage(phase, seconds_)) as out:
            pass
        restore_ns = out.restore_ns
        long_outage = phase is None and seconds(restore_ns - out.cut_ns) >= OUTAGE_THRESHOLD_S
        settled_at: dict[int, bool] = {}  # by number of scans: the answer only changes with a new scan

        def pan_settled() -> bool:
            if watch is None:
                return True
            n = len(watch.scans)
            if n not in settled_at:
                times = pan_times(watch.scans[:n], pan.extended_pan_id, out.cut_ns)
                settled_at.clear()
                settled_at[n] = times.down_ns is None or times.back_ns is not None
            return settled_at[n]

        seen = {"next": since, "pra": False, "poa": not long_outage}  # events are read once each

        def complete() -> bool:
            for e in bus.events(since=seen["next"]):
                seen["pra"] = seen["pra"] or is_pra(e)
                seen["poa"] = seen["poa"] or is_poa(e)
                seen["next"] = e.seq + 1
            return seen["pra"] and seen["poa"] and pan_settled()

        remaining = observe_s - seconds(clock.now_ns() - restore_ns)
        if clock.wait_until(complete, max(remaining, 0.0)):
            clock.sleep(settle_s)
    finally:
        if watch is not None:
            scans = watch.stop()
            if scans and not pan.han.settled(scans[-1]):
                pan.han.finish_scan(scans[-1])
    events = bus.events(lambda e: is_poa(e) or is_pra(e), since)
    obs = Observation(scenario=scenario, index=index, planned_s=seconds_, cut_ns=out.cut_ns, restore_ns=restore_ns,
                      poas=[e for e in events if is_poa(e)], pras=[e for e in events if is_pra(e)], phase=phase,
                      pan=None if watch is None else pan_times(watch.scans, pan.extended_pan_id, out.cut_ns))
    if obs.pra is not None and not obs.pra_from_ch:
        got_int, got_rest = alert_time(obs.pra, "interruption"), alert_time(obs.pra, "restoration")
        if got_int is not None:
            obs.interruption_error_s = (got_int - clock.wall(out.cut_ns)).total_seconds()
        if got_rest is not None:
            obs.restoration_error_s = (got_rest - clock.wall(restore_ns)).total_seconds()
    return obs


@dataclass(frozen=True)
class LogMatch:
    """The power event log entry nearest a measured switch instant, and its time error."""

    code: int
    timestamp: datetime
    error_s: float
    """Entry time stamp minus the measured instant (the rig clock's wall time), seconds."""


@dataclass
class PowerLogReadback:
    """One ECS35e read of the ESME's power event log after an outage, matched to its cut and restore."""

    exchange: Exchange | None
    failure: str = ""
    interruption: LogMatch | None = None
    restoration: LogMatch | None = None

    @property
    def evidence(self) -> list[int]:
        ex = self.exchange
        if ex is None:
            return []
        return [i for i in (ex.command_frame, ex.response.journal_id) if i is not None]


def _nearest(entries: list[dict], codes: set[int], when: datetime) -> LogMatch | None:
    found = []
    for entry in entries:
        try:
            code, stamp = int(str(entry["event_code"]), 16), datetime.fromisoformat(str(entry["timestamp"]))
        except (KeyError, ValueError):
            continue
        if code in codes and stamp.tzinfo is not None:
            found.append(LogMatch(code, stamp, (stamp - when).total_seconds()))
    return min(found, key=lambda m: abs(m.error_s), default=None)


def read_power_log(sender: CommandSender, clock: Clock, obs: Observation) -> PowerLogReadback:
    """Read the ESME's power event log (ECS35e) around ``obs`` and match its interruption entry
    (:attr:`Observation.interruption_codes`) to the measured cut and its restoration entry
    (:attr:`Observation.restoration_codes`) to the measured restore. Call it after the observation window: the read takes link time. A device that
    does not answer, or answers with an error, is recorded as the read's failure."""
    cut, restore = clock.wall(obs.cut_ns), clock.wall(obs.restore_ns)
    try:
        ex = sender.read_power_event_log(cut - POWER_LOG_MARGIN, clock.wall() + POWER_LOG_MARGIN)
    except DeviceFailure as exc:
        return PowerLogReadback(None, failure=str(exc))
    if not ex.ok:
        return PowerLogReadback(ex, failure=f"ECS35e failed: {ex.results} ({ex.evidence})")
    entries = ex.body.get("power_event_log") or []
    return PowerLogReadback(ex, interruption=_nearest(entries, obs.interruption_codes, cut),
                            restoration=_nearest(entries, obs.restoration_codes, restore))


def esme_reboot(rig: Any, clock: Clock) -> Callable[[], int] | None:
    """How this rig reboots the ESME's firmware with mains on: the virtual ESME's own reboot, or the
    rig file's ``dut.esme.reboot_command`` run to completion (its start is the reboot's instant);
    ``None`` when the rig describes no way. The command's failure is a harness error naming it."""
    if rig.bench is not None:
        return rig.bench.esme.reboot
    argv = rig.rig.dut.esme.reboot_command
    if not argv:
        return None

    def run() -> int:
        t_ns = clock.now_ns()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=REBOOT_COMMAND_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"dut.esme.reboot_command {argv!r} failed: {exc}") from None
        if done.returncode != 0:
            raise RuntimeError(f"dut.esme.reboot_command {argv!r} exited {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
        return t_ns

    return run
