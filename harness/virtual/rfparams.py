"""What the virtual spectrum analyser sees of the virtual ESME: the ``virtual.rf`` section of a
rig file (ambient floor, the ESME's spurs and noise bands while powered, per operating state, and
the emissions the ``rf_*`` defect switches add)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


OperatingState = Literal["idle", "active"]
BOTH_STATES: list[OperatingState] = ["idle", "active"]


class Spur(_Strict):
    """A narrowband emission of the powered ESME (as an analyser's peak detector sees it)."""

    freq_mhz: float = Field(gt=0, le=50_000)
    level_dbm: float = Field(ge=-200, le=30)
    states: list[OperatingState] = Field(default_factory=lambda: list(BOTH_STATES), min_length=1)


class NoiseBand(_Strict):
    """Broadband noise of the powered ESME: a flat density over a frequency range."""

    start_mhz: float = Field(gt=0, le=50_000)
    stop_mhz: float = Field(gt=0, le=50_000)
    density_dbm_hz: float = Field(ge=-220, le=-40)
    states: list[OperatingState] = Field(default_factory=lambda: list(BOTH_STATES), min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> "NoiseBand":
        if self.stop_mhz <= self.start_mhz:
            raise ValueError(f"stop_mhz ({self.stop_mhz}) is not above start_mhz ({self.start_mhz})")
        return self


class RfParams(_Strict):
    """What the virtual analyser sees: the ambient floor and the ESME's emissions while powered.

    The defaults are illustrative, not a model of any meter: weak spurs well under the example
    masks (a compliant ESME), and the emissions the three ``rf_*`` defect switches add.
    """

    ambient_dbm_hz: float = Field(-164.0, ge=-200, le=-60, description="noise floor density at 10 dB "
                                  "input attenuation (rises dB for dB with more)")
    ambient_sigma_db: float = Field(1.5, ge=0, le=10, description="sweep-to-sweep spread of the floor")
    emissions: list[Spur] = Field(default_factory=lambda: [Spur(freq_mhz=2441.3, level_dbm=-100.0),
                                                           Spur(freq_mhz=868.7, level_dbm=-104.0)])
    noise_bands: list[NoiseBand] = Field(default_factory=list)
    active_window_s: float = Field(30.0, gt=0, description="the ESME counts as active this long after a command")
    han_spur: Spur = Field(default_factory=lambda: Spur(freq_mhz=2450.0, level_dbm=-55.0))
    wan_noise: NoiseBand = Field(default_factory=lambda: NoiseBand(start_mhz=800.0, stop_mhz=815.0,
                                                                   density_dbm_hz=-112.0))
    state_spur: Spur = Field(default_factory=lambda: Spur(freq_mhz=2425.0, level_dbm=-58.0, states=["active"]))
