"""Behaviour parameters of the virtual devices (the ``virtual:`` section of a rig file).

Placeholder: the virtual-devices work fills this in (CSP presets, ESME, CH, defect switches).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class VirtualParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preset: str = "central-south"
