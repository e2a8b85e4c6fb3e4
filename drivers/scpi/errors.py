"""What the SCPI layer raises: every message names the instrument and the command."""

from __future__ import annotations

from hubrig.harness.cli import UserError


class InstrumentError(Exception):
    """The instrument reported an error, answered nonsense, did not answer, or lost step."""


class VisaOpenError(InstrumentError, UserError):
    """The VISA library cannot be loaded or the resource cannot be opened (a rig-file matter)."""
