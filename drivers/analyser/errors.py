"""What the analyser driver raises: every message names the instrument and the command."""

from __future__ import annotations

from hubrig.harness.cli import UserError


class AnalyserError(Exception):
    """Base of every analyser driver error."""


class AnalyserSafetyError(AnalyserError, UserError):
    """A setting outside the rig's analyser safety limits; refused before anything was sent."""


class AnalyserConfigError(AnalyserError, UserError):
    """The analyser section of the rig file cannot work (unknown dialect, no binary format ...)."""


class AnalyserInstrumentError(AnalyserError):
    """The analyser reported an error, answered nonsense, did not answer, or was overloaded."""
