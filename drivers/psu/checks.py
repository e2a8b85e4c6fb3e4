"""What ``rig check`` proves of a supply before a run relies on it."""

from __future__ import annotations

from hubrig.drivers.psu.supply import Supply
from hubrig.harness.rig.file import SupplyConfig
from hubrig.harness.rig.instruments import Probe, failure


def check_supply(supply: Supply, cfg: SupplyConfig) -> list[Probe]:
    """The supply answers ``*IDN?``."""
    try:
        return [Probe("supply", cfg.resource, True, supply.identify(), check="identity")]
    except Exception as exc:
        return [Probe("supply", cfg.resource, False, failure(exc), check="identity")]
