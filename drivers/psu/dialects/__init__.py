"""Vendor dialects: the SCPI (or SCPI-like) commands each supply family understands.

A dialect is data, not code: command templates with ``{ch}`` (output channel) and ``{value}``
(a number) fields, the replies that mean off/on, and how the instrument reports errors. The
:class:`~hubrig.drivers.psu.supply.Supply` driver speaks any dialect; the virtual supply
(:mod:`hubrig.harness.virtual.supply`) parses the same templates, so both sides cannot drift apart.
Each vendor module cites the programming manual its commands come from, and
``tests/transcripts/<name>.txt`` replays the manual's command/response pairs against the driver.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from typing import Mapping

SCPI_QUEUE = "scpi-queue"
"""Errors come from a SCPI error queue: ``SYST:ERR?`` answers ``<code>,"<text>"`` until ``0,...``."""
ERROR_REGISTER = "register"
"""Errors are a number in a register (Aim-TTi ``EER?``, 0 = none) plus ``*ESR?`` command-error bits."""


@dataclass(frozen=True)
class Dialect:
    """The command set of one supply family (templates use ``{ch}`` and ``{value}``)."""

    name: str
    title: str
    manual: str
    ac: bool
    channels: int
    # Defaults are SCPI-1999's; a vendor module states only where its instrument differs.
    output_on: str = "OUTP ON"
    output_off: str = "OUTP OFF"
    output_query: str = "OUTP?"
    output_replies: tuple[str, str] = ("0", "1")
    set_voltage: str = "VOLT {value}"
    set_current: str = "CURR {value}"
    measure_voltage: str = "MEAS:VOLT?"
    measure_current: str = "MEAS:CURR?"
    error_query: str = "SYST:ERR?"
    error_style: str = SCPI_QUEUE
    set_frequency: str | None = None
    select_channel: str | None = None
    global_output: bool = True
    """True when the output command switches every channel at once (no ``{ch}`` in it)."""
    opc_query: str = "*OPC?"
    numeric_booleans: bool = True
    """Whether the instrument also takes 1/0 for ON/OFF (Chroma takes ON|OFF only)."""
    volts_format: str = "{:.4f}"
    amps_format: str = "{:.4f}"
    no_error_reply: str = '0,"No error"'
    register_errors: Mapping[int, str] = field(default_factory=dict)
    idn: str = "HUBRIG,VIRTUAL-SUPPLY,0,1.0"
    """The identity the virtual supply answers with when none is given."""
    makers: tuple[str, ...] = ()
    """How the manufacturer field of ``*IDN?`` starts (upper case) on instruments of this dialect;
    empty: any maker (``generic-scpi``). ``rig check`` compares it with what the instrument says."""
    models: str = ""
    """Regular expression the model field of ``*IDN?`` starts with (``""``: any model)."""
    phases: int = 1
    """Output phases of the source (3: a three-phase AC source)."""
    phase_voltage: str | None = None
    """Per-phase rms set-point (``{phase}`` = 1..phases, ``{value}``), only where the maker's manual
    has one: the per-phase outage cuts one phase by programming it to 0 V and restores it at the
    rig's voltage. ``None``: the source cannot cut one phase alone."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each command comes from: a :meth:`commands` name -> the public document (title,
    section/page, address) that gives it. Every command the dialect has is cited."""
    unchecked: frozenset[str] = frozenset()
    """Commands whose cited manual section was not seen in a public copy: taken from the cited
    manual's title and SCPI's forms, to be confirmed with ``hubrig rig check`` on the instrument."""

    def commands(self) -> dict[str, str]:
        """Every command template this dialect has, by field name (fields left ``None`` omitted)."""
        templates = {
            "output_on": self.output_on, "output_off": self.output_off, "output_query": self.output_query,
            "set_voltage": self.set_voltage, "set_current": self.set_current,
            "set_frequency": self.set_frequency, "select_channel": self.select_channel,
            "phase_voltage": self.phase_voltage, "measure_voltage": self.measure_voltage,
            "measure_current": self.measure_current, "error_query": self.error_query, "opc_query": self.opc_query,
        }
        return {name: text for name, text in templates.items() if text}

    def phase_command(self, phase: int, value: float) -> str:
        """Fill :attr:`phase_voltage` for ``phase`` (1..:attr:`phases`)."""
        if self.phase_voltage is None or not 1 <= phase <= self.phases:
            raise ValueError(f"the {self.title} ({self.name}) cannot program phase {phase} alone")
        return self.phase_voltage.format(phase=phase, value=format_number(value))

    def fits(self, identity: str) -> bool | None:
        """Whether an ``*IDN?`` answer names an instrument of this dialect (``None``: the dialect
        accepts any maker, so it cannot say)."""
        if not self.makers:
            return None
        maker, _, rest = identity.partition(",")
        model = rest.partition(",")[0].strip()
        return maker.strip().upper().startswith(self.makers) and bool(re.match(self.models, model, re.I))

    def command(self, template: str, channel: int = 1, value: float | None = None) -> str:
        """Fill a template: ``dialect.command(dialect.set_voltage, 1, 230.0)``."""
        return template.format(ch=channel, value=format_number(value) if value is not None else "")


def format_number(value: float) -> str:
    """A set-point as plain decimal text (no exponent, no trailing zeros): 230.0 -> '230'."""
    if not math.isfinite(value):
        raise ValueError(f"set-point {value!r} is not a finite number")
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


MODULES = {
    "generic-scpi": "generic_scpi",
    "keysight-ac6800": "keysight_ac6800",
    "chroma-61500": "chroma_61500",
    "keysight-e36xx": "keysight_e36xx",
    "rigol-dp800": "rigol_dp800",
    "aimtti-pl": "aimtti_pl",
    "pacific-afx": "pacific_afx",
}


class UnknownDialectError(ValueError):
    """The rig file names a dialect hubrig does not have."""


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name`` (as written in the rig file), or a clear error listing them."""
    module = MODULES.get(name)
    if module is None:
        raise UnknownDialectError(
            f"unknown supply dialect {name!r}; known dialects: {', '.join(sorted(MODULES))}")
    return importlib.import_module(f"{__name__}.{module}").DIALECT


def all_dialects() -> list[Dialect]:
    """Every shipped dialect, in a stable order."""
    return [get_dialect(name) for name in MODULES]
