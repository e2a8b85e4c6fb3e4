"""What the supply driver raises: every message names the instrument and the command."""

from __future__ import annotations

from hubrig.drivers.scpi.errors import InstrumentError
from hubrig.harness.cli import UserError

__all__ = ["InstrumentError", "SafetyLimitError", "SupplyConfigError", "SupplyError"]


class SupplyError(Exception):
    """Base of every supply driver error."""


class SafetyLimitError(SupplyError, UserError):
    """A set-point outside the rig's safety limits; refused before anything was sent."""


class SupplyConfigError(SupplyError, UserError):
    """The supply section of the rig file cannot work (unknown dialect, bad channel, ...)."""
