"""The rig file's ``instruments.han`` section: where the HAN stick is and how to talk to it."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HanConfig(BaseModel):
    """A ZigBee HAN stick: an EmberZNet NCP spoken to with EZSP over ASH (bellows). Firmware families:
    EmberZNet 7.x images run 115200 baud with RTS/CTS, 6.x images mostly 57600 with XON/XOFF."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: str = Field(min_length=1, description='/dev/serial/by-id/..., socket://host:port; "virtual" on the '
                                                "virtual rig")
    radio: Literal["ezsp"] = "ezsp"
    baudrate: Literal[57600, 115200, 230400, 460800] = 115200
    flow_control: Literal["hardware", "software", "none"] = Field(
        "hardware", description="hardware: RTS/CTS; software: XON/XOFF (the NCP image decides which)")
    scan_cadence_s: float = Field(5.0, ge=0.5, le=600, description="seconds between active scans while a plan "
                                                                  "watches the Comms Hub's PAN")
    scan_duration: int = Field(2, ge=0, le=8, description="scan duration exponent: (2**n + 1) x 15.36 ms a channel")
    channel: int | None = Field(None, ge=11, le=26, description="the CH's HAN channel, if known (scans only it)")
    extended_pan_id: str | None = Field(None, description="the CH's extended PAN id (16 hex digits; default: "
                                                          "the Comms Hub's EUI-64)")

    @field_validator("extended_pan_id", mode="before")
    @classmethod
    def _epid(cls, v: object) -> object:
        if v is None:
            return None
        if not isinstance(v, str) or not re.fullmatch(r"[0-9A-Fa-f]{16}", v):
            raise ValueError(f'expected the extended PAN id as 16 hex digits, quoted ("00DB1234567890A3"), got {v!r}')
        return v.upper()
