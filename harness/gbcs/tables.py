"""GBCS use-case and alert-code tables, loaded once from the cited JSON data in ``data/``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class AlertInfo:
    """One GBCS alert code: its name, the device(s) that raise it, and whether it is critical."""

    code: int
    name: str
    device: str
    critical: bool


@cache
def _use_case_doc() -> tuple[Mapping[int, str], Mapping[int, str]]:
    doc = json.loads((DATA / "use_cases.json").read_text(encoding="utf-8"))
    names = {int(code, 16): name for code, name in doc["use_cases"].items()}
    sources = dict.fromkeys(names, doc["source"])
    for code, row in doc.get("supplementary", {}).items():
        names[int(code, 16)] = row["name"]
        sources[int(code, 16)] = row["source"]
    return MappingProxyType(names), MappingProxyType(sources)


def _use_cases() -> Mapping[int, str]:
    return _use_case_doc()[0]


@cache
def _alerts() -> Mapping[int, AlertInfo]:
    doc = json.loads((DATA / "alert_codes.json").read_text(encoding="utf-8"))
    return MappingProxyType({
        int(code, 16): AlertInfo(int(code, 16), row["name"], row["device"], bool(row["critical"]))
        for code, row in doc["alerts"].items()
    })


def use_case_name(message_code: int) -> str | None:
    """The GBCS name of a message code (e.g. 0x0067 -> 'ECS80 Supply Outage Restore Alert from ESME')."""
    return _use_cases().get(message_code)


def use_case_source(message_code: int) -> str | None:
    """Where the name of a message code comes from (a public table, or the RTDS folder and the
    table that titles its use-case ID), or None for an unknown code."""
    return _use_case_doc()[1].get(message_code)


def alert_info(code: int) -> AlertInfo | None:
    """Name, raising device and criticality of an alert code, or None when the table lacks it."""
    return _alerts().get(code)


def use_cases() -> Mapping[int, str]:
    """Every known message code and its name (read-only)."""
    return _use_cases()


def alert_codes() -> Mapping[int, AlertInfo]:
    """Every known alert code and its details (read-only)."""
    return _alerts()
