"""GBCS features a test plan can require, each with the minimum GBCS version and the rule that says so.

A plan marks itself ``@pytest.mark.gbcs_feature("alert_0x81C6")``; the plugin calls :func:`check`
with the rig file's DUT, and skips the test with the returned reason (which quotes the rule and the
TSAT row pairing that GBCS version with a spec version) when the DUT's device runs an older GBCS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubrig.harness.rules import tsat
from hubrig.harness.cli import UserError


class FeatureError(UserError):
    """An unknown feature name, or a DUT whose GBCS version the rig file does not give."""


@dataclass(frozen=True)
class Feature:
    """A GBCS behaviour that exists only from ``min_gbcs`` on, on the ``device`` of the DUT."""

    name: str
    min_gbcs: tuple[int, ...]
    device: str  # which DUT device carries it: "comms_hub" or "esme"
    rule: str  # the rule, quoted from its source
    basis: str  # why that rule means this minimum version

    @property
    def min_gbcs_text(self) -> str:
        return tsat.version_text(self.min_gbcs)


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature(
        "historic_device_log", (3, 2), "comms_hub",
        rule="CRP535 'Restoring Removed Devices from the HAN': the CHF keeps a historic device log "
             "of removed devices so they can be restored; read with SR8.9 (CCS07 backup_PAN on "
             "0-0:30.3.1.255)",
        basis="the Comms Hub implemented CRP535 in the November 2019 release, which Schedule 11 "
              "lists as CHTS 1.3 with GBCS 3.2 from 29/11/19 (an inference from the release date; "
              "CRP535's own text is not in the shipped sources)"),
    Feature(
        "alert_0x81C6", (3, 2), "esme",
        rule="IRP511 'Set Clock Alerts Refs in Alert Tables Incorrect' introduced the Set Clock "
             "alert 0x81C6 (Clock not adjusted, outside tolerance) to the event log in GBCS v3.2",
        basis="IRP511 names GBCS v3.2 as the version that carries 0x81C6"),
)}
ALIASES = {"0x81C6": "alert_0x81C6", "81C6": "alert_0x81C6", "clock_alert_0x81C6": "alert_0x81C6",
           "sr8.9_historic": "historic_device_log", "crp535": "historic_device_log"}


_BY_NAME = {**{n.lower(): n for n in FEATURES}, **{a.lower(): n for a, n in ALIASES.items()}}


def feature(name: str) -> Feature:
    """The feature called ``name`` or one of its aliases, in any case; :class:`FeatureError` if unknown."""
    key = _BY_NAME.get(name.strip().lower())
    if key is None:
        raise FeatureError(f"unknown GBCS feature {name!r}; known: {', '.join(sorted(FEATURES))}")
    return FEATURES[key]


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def check(name: str, dut: Any, table: tsat.TsatTable | None = None) -> str | None:
    """``None`` if the DUT has feature ``name``, else the skip reason quoting the rule.

    ``dut`` is the rig file's ``dut`` section (``esme`` and ``comms_hub``, each with ``type``,
    ``spec_version``, ``gbcs_version``), as the model or as a plain mapping.
    """
    feat = feature(name)
    device = _field(dut, feat.device)
    gbcs = _field(device, "gbcs_version") if device is not None else None
    if gbcs is None:
        raise FeatureError(f"feature {feat.name} needs dut.{feat.device}.gbcs_version in the rig file")
    have = tsat.parse_version(gbcs)
    if have >= feat.min_gbcs:
        return None
    dtype = _field(device, "type") or ("CHTS" if feat.device == "comms_hub" else "ESMETS")
    return (f"{feat.name} needs GBCS >= {feat.min_gbcs_text} but dut.{feat.device} runs GBCS "
            f"{tsat.version_text(have)}: {feat.rule}. Basis: {feat.basis}. "
            f"{_tsat_pairing(table or tsat.default_table(), str(dtype), feat.min_gbcs)}")


def _tsat_pairing(table: tsat.TsatTable, dtype: str, min_gbcs: tuple[int, ...]) -> str:
    """Which TSAT rows of ``dtype`` carry a GBCS version new enough (the versions to test instead)."""
    try:
        rows = table.rows[table.device_type(dtype)]
    except tsat.TsatError:
        return f"TSAT ({table.version}) has no {dtype} table."
    fit = [r for r in rows if r.gbcs is not None and r.gbcs >= min_gbcs]
    if not fit:
        return f"TSAT ({table.version}) has no {dtype} row with GBCS >= {tsat.version_text(min_gbcs)}."
    return f"TSAT ({table.version}): " + "; ".join(
        f"{r.label} from {tsat.fmt_date(r.installation.start)} [{r.cite}]" for r in fit) + "."
