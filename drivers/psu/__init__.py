"""Bench power supplies and AC sources driven by SCPI through pyvisa, with vendor dialects."""

from hubrig.drivers.psu.errors import InstrumentError, SafetyLimitError, SupplyConfigError, SupplyError
from hubrig.drivers.psu.supply import Supply, open_supply

__all__ = ["InstrumentError", "SafetyLimitError", "Supply", "SupplyConfigError", "SupplyError",
           "open_supply"]
