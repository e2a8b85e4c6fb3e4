"""The rig file's ``instruments.analyser`` section: where the analyser is, which dialect it
speaks, and the safety limits no command may break (checked before anything is sent)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from hubrig.drivers.analyser.dialects import MODULES


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalyserSafety(_Model):
    """Limits that protect the analyser's input: no reference level above ``max_input_dbm`` and no
    attenuation below ``min_attenuation_db`` is ever sent; a trace above ``max_input_dbm`` stops the plan."""

    max_input_dbm: float = Field(ge=-100, le=40, allow_inf_nan=False, description="dBm at the input")
    min_attenuation_db: float = Field(ge=0, le=70, allow_inf_nan=False, description="dB")


class AnalyserConfig(_Model):
    """A SCPI spectrum analyser reached through pyvisa (the RF noise plan's sweep source)."""

    resource: str = Field(min_length=1, description='VISA resource string; "virtual" on the virtual rig')
    dialect: str
    safety: AnalyserSafety
    attenuation_db: float = Field(default=10.0, ge=0, le=70, allow_inf_nan=False)
    reference_level_dbm: float = Field(default=-20.0, ge=-170, le=40, allow_inf_nan=False)
    trace_format: Literal["auto", "ascii", "binary"] = "auto"
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    sweep_margin_s: float = Field(default=5.0, ge=0, le=600, description="added to sweep time x count for *OPC?")
    visa_library: str = "@py"

    @field_validator("dialect")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in MODULES:
            raise PydanticCustomError("rig_dialect", f"{v!r} is not one of {', '.join(MODULES)}")
        return v

    @field_validator("attenuation_db")
    @classmethod
    def _attenuation_safe(cls, v: float, info: ValidationInfo) -> float:
        safety = info.data.get("safety")
        if safety is not None and v < safety.min_attenuation_db:
            raise PydanticCustomError("rig_safety", f"{v:g} dB is below safety.min_attenuation_db "
                                      f"{safety.min_attenuation_db:g} dB")
        return v

    @field_validator("reference_level_dbm")
    @classmethod
    def _reference_safe(cls, v: float, info: ValidationInfo) -> float:
        safety = info.data.get("safety")
        if safety is not None and v > safety.max_input_dbm:
            raise PydanticCustomError("rig_safety", f"{v:g} dBm is above safety.max_input_dbm "
                                      f"{safety.max_input_dbm:g} dBm")
        return v
