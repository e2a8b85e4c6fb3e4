"""What ``rig check`` proves of a supply before a run relies on it (nothing is switched):

1. **identity**: ``*IDN?`` answers, and names a maker (and model) the configured dialect is written
   for. Another maker's dialect fails, naming the dialect that fits; a model outside the dialect's
   series, or a maker no dialect knows, warns;
2. **old errors**: the error queue before any check (errors left by someone else) - a warning;
3. **output state**: the dialect's output query reads back on or off;
4. **measurement**: the output voltage reads back as a number;
5. **error queue**: empty after those harmless queries, or the instrument did not understand the
   dialect's commands.
"""

from __future__ import annotations

from typing import Callable

from hubrig.drivers.psu.dialects import all_dialects
from hubrig.drivers.psu.supply import FIELD, Supply
from hubrig.drivers.scpi.errors import InstrumentError
from hubrig.harness.rig.file import SupplyConfig
from hubrig.harness.rig.instruments import Probe

DIALECT_HINT = f"check {FIELD}.dialect (the instrument did not take the dialect's command)"


def check_supply(supply: Supply, cfg: SupplyConfig) -> list[Probe]:
    """Every check above, in order; each failure says what to check."""
    where, d = cfg.resource, supply.dialect

    def row(check: str, ok: bool, detail: str, fix: str = "", warning: bool = False) -> Probe:
        return Probe("supply", where, ok, detail, check=check, warning=warning, fix=fix)

    try:
        identity = supply.identify()
    except InstrumentError as exc:
        return [row("identity", False, str(exc), f"check that the instrument is on and connected, and "
                                                 f"{FIELD}.resource and timeout_s")]
    rows = [_identity(identity, supply, row)]

    try:
        old = supply.read_errors()
    except InstrumentError:
        old = []  # the error queue check below says why it cannot be read
    if old:
        rows.append(row("old errors", True, f"{'; '.join(old)} (queued before the checks; now read)",
                        warning=True, fix="something sent the instrument commands it refused before this check"))

    try:
        on = supply.output_state()
        rows.append(row("output state", True, f"output {'on' if on else 'off'} (channel {supply.channel}, "
                                              f"{d.command(d.output_query, supply.channel)!r})"))
    except InstrumentError as exc:
        rows.append(row("output state", False, str(exc), f"{DIALECT_HINT} and {FIELD}.channel"))

    try:
        volts = supply.measure_voltage()
        rows.append(row("measurement", True, f"{volts:g} V measured ({d.command(d.measure_voltage, supply.channel)!r})"))
    except InstrumentError as exc:
        rows.append(row("measurement", False, str(exc), DIALECT_HINT))

    try:
        supply.check_errors(after=["the checks' queries"])
        rows.append(row("error queue", True, f"empty after the queries ({d.error_query!r})"))
    except InstrumentError as exc:
        rows.append(row("error queue", False, str(exc), DIALECT_HINT))
    return rows


def _identity(identity: str, supply: Supply, row: Callable[..., Probe]) -> Probe:
    d = supply.dialect
    fitting = [o.name for o in all_dialects() if o.fits(identity)]
    fits = d.fits(identity)
    if fits or (fits is None and not fitting):
        return row("identity", True, identity)
    if fits is None:
        return row("identity", True, f"{identity}: {d.name} speaks plain SCPI-1999; the {' or '.join(fitting)} "
                                     "dialect is written for this instrument", warning=True,
                   fix=f"set {FIELD}.dialect: {fitting[0]}")
    maker = identity.partition(",")[0].strip()
    same_maker = maker.upper().startswith(d.makers)
    if fitting:
        advice = f"set {FIELD}.dialect: {fitting[0]}"
    else:
        advice = f"no dialect is written for this instrument; try {FIELD}.dialect: generic-scpi"
    if same_maker:  # the maker's other series: commands may differ, say so without failing
        return row("identity", True, f"{identity}: not a {d.title} ({d.name})", warning=True, fix=advice)
    makers = ", ".join(m.title() for m in d.makers)
    return row("identity", False, f"answers as {identity!r}, but {FIELD}.dialect is {d.name}, written for the "
                                  f"{d.title} (maker {makers})", fix=advice)
