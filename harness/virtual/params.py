"""Behaviour parameters of the virtual devices: the ``virtual:`` section of a rig file.

A rig file names a CSP ``preset`` and may override any single behaviour parameter; an explicit
field always wins over the preset (see :func:`resolve`). Unknown keys are errors
(``extra="forbid"``), so a misspelt parameter never silently falls back to a default.

The presets (``harness/virtual/presets.py``) are **illustrative of the DCC's published technical
study** for DP096 (POA/PRA delivery "now", options A and B, North and Central & South): they
reproduce the study's root causes (North CHs stay up about ten minutes but alerts wait for time
windows on a saturated shared channel; Central & South CHs cannot stay up three minutes, then
reboot, reconnect and dither) with delays calibrated so seeded runs give percentiles of the same
order as the study's figures. They are **not a model of any particular product**: the real CSP
and Comms Hub timing parameters are not public.
"""

from __future__ import annotations

import math
import random
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubrig.harness.virtual.han.radio import HanRadioParams
from hubrig.harness.virtual.rfparams import NoiseBand, RfParams, Spur


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delay(_Strict):
    """A random delay in seconds, drawn from a named distribution and clamped to [min_s, max_s].

    ``fixed``: always ``min_s``. ``uniform``: between ``min_s`` and ``max_s``.
    ``triangular``: between ``min_s`` and ``max_s``, most likely ``mode_s``.
    ``lognormal``: ``median_s * exp(sigma * N(0, 1))``, then clamped.
    ``exponential``: ``min_s`` plus an exponential with mean ``mean_s``, then clamped.
    """

    distribution: Literal["fixed", "uniform", "triangular", "lognormal", "exponential"] = "uniform"
    min_s: float = Field(0.0, ge=0)
    max_s: Optional[float] = Field(None, ge=0)
    mode_s: Optional[float] = Field(None, ge=0)
    median_s: Optional[float] = Field(None, gt=0)
    sigma: Optional[float] = Field(None, gt=0)
    mean_s: Optional[float] = Field(None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Delay":
        if self.max_s is not None and self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) is below min_s ({self.min_s})")
        need = {"uniform": ("max_s",), "triangular": ("max_s", "mode_s"),
                "lognormal": ("median_s", "sigma"), "exponential": ("mean_s",)}
        missing = [f for f in need.get(self.distribution, ()) if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.distribution} delay needs {', '.join(missing)}")
        if self.distribution == "triangular" and not self.min_s <= self.mode_s <= self.max_s:
            raise ValueError("mode_s must lie between min_s and max_s")
        return self

    @classmethod
    def fixed(cls, seconds: float) -> "Delay":
        return cls(distribution="fixed", min_s=seconds)

    def sample(self, rng: random.Random) -> float:
        """One draw, in seconds; consumes exactly one ``rng`` call whatever the distribution."""
        u = rng.random()
        if self.distribution == "fixed":
            return self.min_s
        if self.distribution == "uniform":
            value = self.min_s + u * (self.max_s - self.min_s)
        elif self.distribution == "triangular":
            lo, hi, mode = self.min_s, self.max_s, self.mode_s
            if hi == lo:
                value = lo
            elif u < (mode - lo) / (hi - lo):
                value = lo + math.sqrt(u * (hi - lo) * (mode - lo))
            else:
                value = hi - math.sqrt((1 - u) * (hi - lo) * (hi - mode))
        elif self.distribution == "lognormal":
            value = self.median_s * math.exp(self.sigma * _normal_quantile(u))
        else:
            value = self.min_s - self.mean_s * math.log(1.0 - u)
        value = max(value, self.min_s)
        return value if self.max_s is None else min(value, self.max_s)


def _normal_quantile(u: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    u = min(max(u, 1e-12), 1 - 1e-12)
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if u < 0.02425:
        q = math.sqrt(-2 * math.log(u))
        return ((((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1))
    if u > 1 - 0.02425:
        return -_normal_quantile(1 - u)
    q = u - 0.5
    r = q * q
    return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1))


class EsmeParams(_Strict):
    """The virtual ESME (electricity meter)."""

    mains_sense_delay_s: float = Field(0.0, ge=0, description="from a mains change to the ESME noticing it")
    boot_s: float = Field(5.0, ge=0, description="from mains restoration to the ESME raising alerts")
    reboot_power_gap_s: float = Field(2.0, ge=0, description="a firmware reboot of the ESME (mains on) "
                                                             "interrupts the CH's hot-shoe supply this long")
    outage_threshold_s: float = Field(180.0, gt=0, description="8F36 at or above, 8F35 below (device clock)")
    clock_offset_s: float = Field(0.0, description="device clock minus true time at rig time 0")
    clock_drift_ppm: float = Field(0.0, ge=-1000, le=1000, description="device clock rate error")
    han_latency_s: float = Field(0.5, ge=0, description="HAN delivery from the ESME to the CH")
    alert_recipient: str = Field("90B3D51F30020000", pattern="^[0-9A-Fa-f]{16}$",
                                 description="recipient of ECS80 alerts (the RTDS example's network operator)")
    counter_start: int = Field(1, ge=0, description="originator counter of the first message")


class AlertWindows(_Strict):
    """Delays before an alert's transmit window opens, drawn per alert.

    North CHs share a narrow radio channel that saturates in an outage, so the CSP gives alerts
    time windows: a POA waits ``poa`` after the CH raises it, a PRA waits ``pra`` after the CH
    has it (or, with ``pra_source: ch``, after the CH regains mains). ``None``: no window.
    """

    poa: Optional[Delay] = None
    pra: Optional[Delay] = None


class CommsHubParams(_Strict):
    """The virtual Comms Hub / Wired ITCH, powered through the ESME."""

    hold_up_s: float = Field(20.0, ge=0, description="battery/super-capacitor hold-up after mains loss")
    reboot_s: float = Field(60.0, ge=0, description="from mains return (when it went down) to HAN up")
    reconnect_s: float = Field(30.0, ge=0, description="from HAN up to network reconnected")
    dither: Delay = Field(default_factory=lambda: Delay.fixed(0.0),
                          description="random wait after reconnecting, before the first transmission")
    windows: AlertWindows = Field(default_factory=AlertWindows)
    poa_after_s: float = Field(180.0, gt=0, description="outage length after which the POA is raised")
    pra_source: Literal["esme", "ch"] = Field(
        "esme", description="esme: the CH forwards the ESME's ECS80 through the PRA window; ch: the CH "
                            "sends its own restoration notification instead (the DCC study's North option "
                            "B), the window counted from mains return")
    poa_notification: str = Field("DCC:ALERT#0:AD1:{eui}",
                                  description="wired-link line standing for the AD1 POA; {eui} = CH EUI, "
                                              "{esme_eui} = ESME EUI")
    pra_notification: str = Field("DCC:ALERT#0:PRA:{eui}",
                                  description="wired-link line of a CH-originated restoration notification "
                                              "(pra_source: ch); its real form is not public")
    link_byte_s: float = Field(10 / 115200, ge=0, description="time to put one byte on the wired link")
    consolidate_pra: bool = Field(False, description="a restoration alert that arrives while an earlier one "
                                                     "is still queued replaces it (an alert-storm policy, DP119)")

    @model_validator(mode="after")
    def _template(self) -> "CommsHubParams":
        for name in ("poa_notification", "pra_notification"):
            _check_line_template(name, getattr(self, name))
        return self


def _check_line_template(name: str, template: str) -> None:
    try:
        line = template.format(eui="0" * 16, esme_eui="0" * 16)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{name} may use only {{eui}} and {{esme_eui}}: {exc}") from None
    if not line.isascii() or not line.isprintable():
        raise ValueError(f"{name} must be printable ASCII on one line")


class Defects(_Strict):
    """Defect switches: make a virtual device faulty so a test plan can be proved to fail."""

    no_poa: bool = Field(False, description="the CH never sends the POA")
    poa_delay_s: float = Field(0.0, ge=0, description="the POA goes out this much later")
    no_pra: bool = Field(False, description="the CH loses the restoration alert")
    pra_delay_s: float = Field(0.0, ge=0, description="the restoration alert goes out this much later")
    wrong_pra_code: bool = Field(False, description="the ESME raises 8F35 where 8F36 is due")
    timestamp_error_s: float = Field(0.0, description="added to both date-times inside the alert")
    bad_signature: bool = Field(False, description="the ESME's restoration alert carries a signature "
                                                   "that does not verify")
    pra_before_poa: bool = Field(False, description="the CH holds the POA back until after the PRA")
    drop_ratio: float = Field(0.0, ge=0, le=1, description="probability each link frame is lost")
    rf_han_spur: bool = Field(False, description="the powered ESME radiates rf.han_spur (above the example "
                                                 "mask in the 2.4 GHz HAN band)")
    rf_wan_noise: bool = Field(False, description="the powered ESME radiates broadband noise rf.wan_noise in a WAN band")
    rf_state_spur: bool = Field(False, description="the ESME radiates rf.state_spur in one operating state only "
                                                   "(active: just after a command)")
    historic_log_not_kept: bool = Field(False, description="the CH drops removed devices instead of "
                                                           "keeping them in its historic device log")
    oldest_not_overwritten: bool = Field(False, description="a full historic device log refuses new "
                                                            "entries instead of overwriting the oldest")
    no_8F12: bool = Field(False, description="device log changes raise no CS14 0x8F12 alert")
    no_81C6: bool = Field(False, description="the ESME logs and alerts no 0x81C6 when it refuses a "
                                             "clock adjustment outside tolerance")
    poa_on_esme_reboot: bool = Field(False, description="the CH takes a firmware reboot of the ESME (mains "
                                                        "never lost) for a power outage and raises a POA")
    alert_81C6_always_sent: bool = Field(False, description="the ESME sends 0x81C6 even while ECS25a "
                                                            "has it switched off")
    logs_81C6_when_logging_off: bool = Field(False, description="the ESME logs 0x81C6 even while ECS25a3 "
                                                                "has its logging switched off")
    behaviour_write_ignores_mask: bool = Field(
        False, description="the ESME takes a behaviour write (ECS25a, ECS25a3) as all 256 bits, ignoring "
                           "its change mask: the supplier's other settings are lost")
    power_log_missing_restoration: bool = Field(
        False, description="the ESME's power event log (ECS35e) gets no entry when mains is restored")
    polyphase_reports_whole_supply: bool = Field(
        False, description="a polyphase ESME raises 8F35/8F36 (whole supply) when one phase alone was cut")
    single_phase_sends_phase_code: bool = Field(
        False, description="a single-phase ESME raises the phase 1 variant (8F37/8F38) instead of 8F35/8F36")
    power_log_time_error_s: float = Field(
        0.0, allow_inf_nan=False, description="added to every power event log (ECS35e) time stamp")


Preset = Literal["north", "central-south", "north-option-a", "central-south-option-a", "north-option-b",
                 "central-south-option-b", "compliant"]


class VirtualParams(_Strict):
    """The ``virtual:`` section of a rig file. Fields set here override the ``preset``'s.

    Only the fields a rig file actually sets count as overrides (pydantic's ``model_fields_set``);
    ``ch.windows`` merges per alert kind, a :class:`Delay` is replaced whole.
    """

    preset: Preset = "central-south"
    esme: EsmeParams = Field(default_factory=EsmeParams)
    ch: CommsHubParams = Field(default_factory=CommsHubParams)
    defects: Defects = Field(default_factory=Defects)
    rf: RfParams = Field(default_factory=RfParams)
    han: HanRadioParams = Field(default_factory=HanRadioParams)

    def resolve(self) -> "ResolvedParams":
        """The preset with this section's overrides applied."""
        from hubrig.harness.virtual.presets import PRESETS

        base = PRESETS[self.preset]
        esme = EsmeParams.model_validate(_merge(base["esme"], _explicit(self.esme)))
        ch = CommsHubParams.model_validate(_merge(base["ch"], _explicit(self.ch)))
        return ResolvedParams(preset=self.preset, esme=esme, ch=ch, defects=self.defects, rf=self.rf, han=self.han)


def _explicit(model: BaseModel) -> dict:
    """The fields a rig file set explicitly, recursing into nested sections (not into a Delay)."""
    out = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel) and not isinstance(value, Delay):
            out[name] = _explicit(value)
        elif isinstance(value, BaseModel):
            out[name] = value.model_dump()
        else:
            out[name] = value
    return out


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class ResolvedParams(_Strict):
    """Every parameter the virtual devices run with, after the preset and overrides."""

    preset: Preset
    esme: EsmeParams
    ch: CommsHubParams
    defects: Defects
    rf: RfParams = Field(default_factory=RfParams)
    han: HanRadioParams = Field(default_factory=HanRadioParams)

    def radiating(self) -> tuple[list[Spur], list[NoiseBand]]:
        """The ESME's emissions while powered, with those the ``rf_*`` defect switches add."""
        spurs, bands = list(self.rf.emissions), list(self.rf.noise_bands)
        if self.defects.rf_han_spur:
            spurs.append(self.rf.han_spur)
        if self.defects.rf_state_spur:
            spurs.append(self.rf.state_spur)
        if self.defects.rf_wan_noise:
            bands.append(self.rf.wan_noise)
        return spurs, bands
