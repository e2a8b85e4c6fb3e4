"""The virtual bench's 2.4 GHz radio world, as a HAN stick hears it.

* The virtual Comms Hub's PAN on its channel: up while the CH's HAN is up, gone from when the CH
  goes down (its hold-up ran out) until its HAN is back after the reboot. The CH tells the world
  through its phase listeners; the world keeps that as ground truth (:attr:`RadioWorld.pan_log`).
* A noise floor per channel, with a small seeded jitter per dwell.
* The ESME's HAN transmissions, when the rig file says it has any (``esme_emissions``).

An energy scan of a channel reports the strongest of noise, a PAN that was up and the ESME's
transmissions during the dwell; an active scan hears the PAN's beacon if the PAN was up when the
stick asked for beacons (the start of the dwell).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hubrig.harness.clock import Scheduler, to_ns
from hubrig.harness.virtual.han.ezsp import Beacon, Firmware

FIRMWARES: dict[str, Firmware] = {
    # EmberZNet 7.x NCP images (EFR32MG2x sticks): EZSP 13, 115200 baud, RTS/CTS.
    "emberznet-7.4": Firmware(protocol_version=13, stack_version="7.4.3.0", board_name="virtual-mg24"),
    # EmberZNet 6.x NCP images (EM35x/EFR32MG1 sticks): EZSP 8, 57600 baud, XON/XOFF.
    "emberznet-6.10": Firmware(protocol_version=8, stack_version="6.10.3.0", board_name="virtual-em3581"),
}
"""Firmware family -> what the virtual stick reports. ``hubrig rig check`` names the family."""

SERIAL_SETTINGS = {"emberznet-7.4": (115200, "hardware"), "emberznet-6.10": (57600, "software")}
"""Firmware family -> (baud rate, flow control) its images are built for."""


class HanRadioParams(BaseModel):
    """The ``virtual.han`` section of a rig file: the CH's PAN, the noise and the virtual stick."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: int = Field(20, ge=11, le=26, description="the CH's HAN channel")
    pan_id: int = Field(0x1A62, ge=0, le=0xFFFE)
    extended_pan_id: str | None = Field(None, description="16 hex digits; default: the CH's EUI-64")
    permit_joining: bool = False
    stack_profile: int = Field(2, ge=0, le=15)
    ch_rssi_dbm: int = Field(-52, ge=-100, le=10, description="the CH as the stick hears it")
    ch_lqi: int = Field(212, ge=0, le=255)
    noise_floor_dbm: float = Field(-95.0, ge=-110, le=0)
    noise_dbm: dict[int, float] = Field(default_factory=dict, description="channel -> its own noise floor")
    noise_jitter_db: float = Field(2.0, ge=0, le=20)
    esme_emissions: bool = Field(False, description="the ESME's HAN frames show up in energy scans")
    esme_rssi_dbm: int = Field(-44, ge=-100, le=10)
    esme_airtime_s: float = Field(0.004, gt=0, le=1)
    firmware: Literal["emberznet-7.4", "emberznet-6.10"] = "emberznet-7.4"
    stick_eui: str = Field("00124B0001C0FFEE", pattern="^[0-9A-Fa-f]{16}$")

    @field_validator("noise_dbm")
    @classmethod
    def _channels(cls, v: dict[int, float]) -> dict[int, float]:
        bad = [c for c in v if not 11 <= c <= 26]
        if bad:
            raise ValueError(f"noise_dbm channels must be 11..26, got {bad}")
        return v

    @field_validator("extended_pan_id")
    @classmethod
    def _epid(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 16 or any(c not in "0123456789abcdefABCDEF" for c in v)):
            raise ValueError("expected 16 hex digits")
        return None if v is None else v.upper()


@dataclass(frozen=True)
class PanChange:
    """Ground truth: the CH's PAN went up or down at ``t_ns``."""

    t_ns: int
    up: bool


@dataclass(frozen=True)
class Emission:
    channel: int
    start_ns: int
    end_ns: int
    rssi_dbm: int


class RadioWorld:
    """What a stick on the bench hears. Thread-safe: the CH changes it on the scheduler's thread,
    a stick served elsewhere reads it."""

    def __init__(self, params: HanRadioParams, scheduler: Scheduler, *, ch_eui: str, seed: int = 1):
        self.params = params
        self.scheduler = scheduler
        self.seed = seed
        self.extended_pan_id = params.extended_pan_id or ch_eui.upper()
        self.pan_log: list[PanChange] = []
        self.pan_listeners: list[Callable[[PanChange], None]] = []
        """Told of each change as it enters :attr:`pan_log` (bench serve's ground-truth log)."""
        self._up = True
        self._emissions: list[Emission] = []
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- what changes it

    def ch_phase(self, phase: str, t_ns: int) -> None:
        """The CH's phase listener: its HAN is up in ``connecting`` and ``ready``."""
        up = phase in ("connecting", "ready")
        with self._lock:
            if up == self._up:
                return
            self._up = up
            change = PanChange(t_ns, up)
            self.pan_log.append(change)
        for listener in list(self.pan_listeners):
            listener(change)

    def emit(self, channel: int, start_ns: int, airtime_s: float, rssi_dbm: int) -> None:
        """Something transmitted on ``channel`` for ``airtime_s`` from ``start_ns``."""
        with self._lock:
            self._emissions.append(Emission(channel, start_ns, start_ns + to_ns(airtime_s), rssi_dbm))
            if len(self._emissions) > 10_000:
                del self._emissions[:5_000]

    def esme_sent(self) -> None:
        """The ESME put a frame on the HAN now (counted only with ``esme_emissions``)."""
        if self.params.esme_emissions:
            self.emit(self.params.channel, self.scheduler.now_ns(), self.params.esme_airtime_s,
                      self.params.esme_rssi_dbm)

    # ----------------------------------------------------------------- what the stick asks

    def pan_up(self, t_ns: int) -> bool:
        """Whether the CH's PAN was up at ``t_ns`` (from the ground-truth log)."""
        with self._lock:
            up = True
            for change in self.pan_log:
                if change.t_ns > t_ns:
                    break
                up = change.up
            return up

    def _pan_up_during(self, start_ns: int, end_ns: int) -> bool:
        with self._lock:
            up = True
            for change in self.pan_log:
                if change.t_ns >= end_ns:
                    break
                if change.t_ns <= start_ns:
                    up = change.up
                elif change.up:
                    return True
            return up

    def max_rssi(self, channel: int, start_ns: int, end_ns: int) -> int:
        p = self.params
        floor = p.noise_dbm.get(channel, p.noise_floor_dbm)
        rng = random.Random(hash((self.seed, channel, start_ns)) & 0xFFFFFFFF)
        level = floor + rng.uniform(0, p.noise_jitter_db)
        if channel == p.channel and self._pan_up_during(start_ns, end_ns):
            level = max(level, p.ch_rssi_dbm)
        with self._lock:
            for e in self._emissions:
                if e.channel == channel and e.start_ns < end_ns and e.end_ns > start_ns:
                    level = max(level, e.rssi_dbm)
        return round(level)

    def beacons(self, channel: int, start_ns: int, end_ns: int) -> list[Beacon]:
        p = self.params
        if channel != p.channel or not self.pan_up(start_ns):
            return []
        return [Beacon(channel, p.pan_id, bytes.fromhex(self.extended_pan_id)[::-1], p.permit_joining,
                       p.stack_profile, 0, p.ch_lqi, p.ch_rssi_dbm)]
