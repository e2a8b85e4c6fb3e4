"""TSAT judgement: may a device of this spec and GBCS version be installed, maintained, operated?

SEC Schedule 11 (the Technical Specification Applicability Tables) gives, per device type, rows of
(spec version, Installation Validity Period, Maintenance Validity Period, relevant GBCS version,
GBCS Applicability Period). The rows live in a versioned data file
(``harness/data/tsat/*.yaml``, naming the Schedule 11 version and the modifications applied), so a
lab can judge against a newer table by passing another file; nothing here hard-codes a date.

Rules, as the schedule states them: dates are inclusive; 'not determined' is open-ended; several
rows may share a spec version (CHTS 1.1 with GBCS 2.0 and 2.1), so the GBCS version picks the row;
an unknown device type or version is an error that lists what the table does have.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from hubrig.harness.cli import UserError

DEFAULT_TABLE = Path(__file__).parent / "data" / "tsat" / "schedule11-v9.0+MP139.yaml"
SCHEMA = "hubrig-tsat/1"
OPEN = "not determined"
NOT_APPLICABLE = "not applicable"


class TsatError(UserError):
    """A bad table file, or a device type / version / date the table cannot judge."""


def parse_version(text: Any) -> tuple[int, ...]:
    """``"4.2"`` (or ``"v4.2"``) to ``(4, 2)``; raises :class:`TsatError` on anything else."""
    m = re.fullmatch(r"[vV]?(\d+(?:\.\d+)*)", str(text).strip())
    if not m:
        raise TsatError(f"not a version number: {text!r} (expected e.g. 4.2)")
    return tuple(int(p) for p in m.group(1).split("."))


def version_text(v: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in v)


def fmt_date(d: date | None) -> str:
    return OPEN if d is None else d.isoformat()


@dataclass(frozen=True)
class Period:
    """An inclusive date range; ``None`` at either end means 'not determined' (open-ended)."""

    start: date | None
    end: date | None

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def __str__(self) -> str:
        return f"{fmt_date(self.start)} to {fmt_date(self.end)}"


@dataclass(frozen=True)
class TsatRow:
    """One row of one device type's table."""

    device_type: str
    spec: tuple[int, ...]
    installation: Period
    maintenance: Period
    gbcs: tuple[int, ...] | None  # None: SMETS1, no GBCS
    applicability: Period | None
    cite: str
    ppm_installation_end: date | None = None

    @property
    def label(self) -> str:
        gbcs = "no GBCS" if self.gbcs is None else f"GBCS {version_text(self.gbcs)}"
        return f"{self.device_type} {version_text(self.spec)} / {gbcs}"


@dataclass(frozen=True)
class Verdict:
    """The TSAT answer for one device on one date, with the row and the reasons."""

    device_type: str
    spec: str
    gbcs: str | None
    on: date
    installable: bool
    maintainable: bool
    gbcs_applicable: bool | None  # None: the row has no GBCS (SMETS1)
    row: TsatRow
    reasons: list[str]
    table: str

    @property
    def compliant(self) -> bool:
        """Installable, maintainable and (where it has one) on an applicable GBCS version."""
        return self.installable and self.maintainable and self.gbcs_applicable is not False

    @property
    def violations(self) -> list[str]:
        """The reasons for each check the device fails (IVP, MVP, GBCS Applicability Period)."""
        failed = (not self.installable, not self.maintainable, self.gbcs_applicable is False)
        return [reason for reason, bad in zip(self.reasons, failed) if bad]

    def to_json(self) -> dict[str, Any]:
        return {
            "device_type": self.device_type, "spec": self.spec, "gbcs": self.gbcs,
            "date": self.on.isoformat(), "installable": self.installable,
            "maintainable": self.maintainable, "gbcs_applicable": self.gbcs_applicable,
            "reasons": list(self.reasons), "row": self.row.cite, "table": self.table,
        }


@dataclass
class TsatTable:
    """A loaded Schedule 11 table: rows per device type, aliases, and what version it is."""

    schedule_11_version: str
    modifications: list[str]
    rows: dict[str, list[TsatRow]]
    aliases: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def version(self) -> str:
        """E.g. ``Schedule 11 v9.0 + MP139``: what a report says it judged against."""
        mods = "".join(f" + {m}" for m in self.modifications)
        return f"Schedule 11 v{self.schedule_11_version}{mods}"

    def device_type(self, name: str) -> str:
        """The table's name for ``name`` (case-insensitive; aliases such as ESME accepted)."""
        key = name.strip().upper()
        if key in self.rows:
            return key
        if key in self.aliases:
            return self.aliases[key]
        known = ", ".join(sorted(self.rows))
        aliases = ", ".join(f"{a}->{t}" for a, t in sorted(self.aliases.items()))
        raise TsatError(f"unknown device type {name!r} in {self.version}; known: {known} "
                        f"(aliases: {aliases})")

    def row_for(self, device_type: str, spec: str, gbcs: str | None = None) -> TsatRow:
        """The row for this spec and GBCS version; ``gbcs`` may be omitted when only one row fits."""
        dtype = self.device_type(device_type)
        want_spec = parse_version(spec)
        rows = [r for r in self.rows[dtype] if r.spec == want_spec]
        if not rows:
            have = ", ".join(sorted({version_text(r.spec) for r in self.rows[dtype]}))
            raise TsatError(f"unknown {dtype} version {spec} in {self.version}; the table has {have}")
        if gbcs is None:
            if len(rows) == 1:
                return rows[0]
            have = ", ".join(version_text(r.gbcs) for r in rows if r.gbcs)
            raise TsatError(f"{dtype} {spec} has one row per GBCS version ({have}): give the GBCS version")
        if all(r.gbcs is None for r in rows):
            raise TsatError(f"{dtype} {spec} is a SMETS1 specification with no GBCS version "
                            f"({rows[0].cite}); omit the GBCS version")
        want_gbcs = parse_version(gbcs)
        for r in rows:
            if r.gbcs == want_gbcs:
                return r
        have = ", ".join(version_text(r.gbcs) for r in rows if r.gbcs)
        raise TsatError(f"{dtype} {spec} has no row for GBCS {gbcs} in {self.version}; "
                        f"it has GBCS {have}")

    def judge(self, device_type: str, spec: str, gbcs: str | None, on: date, *,
              ppm: bool = False) -> Verdict:
        """Installable (IVP), maintainable (MVP) and GBCS applicable on ``on``, with reasons.

        ``ppm`` judges installation against the PPM Installation End Date where the row has one.
        """
        row = self.row_for(device_type, spec, gbcs)
        ivp = row.installation
        if ppm and row.ppm_installation_end is not None:
            ivp = Period(ivp.start, row.ppm_installation_end)
        ivp_name = "IVP (PPM)" if ivp is not row.installation else "IVP"
        day = on.isoformat()
        where = f"[{row.cite}]"

        def verdict(ok: bool, what: str, name: str, period: Period) -> str:
            return (f"{what}: {row.label} {name} {period} {'includes' if ok else 'excludes'} "
                    f"{day} {where}")

        installable = ivp.contains(on)
        maintainable = row.maintenance.contains(on)
        reasons = [verdict(installable, "installable" if installable else "not installable",
                           ivp_name, ivp),
                   verdict(maintainable, "maintainable" if maintainable else "not maintainable",
                           "MVP", row.maintenance)]
        applicable: bool | None
        if row.applicability is None:
            applicable = None
            reasons.append(f"no GBCS: {row.device_type} {version_text(row.spec)} is a SMETS1 "
                           f"specification {where}")
        else:
            applicable = row.applicability.contains(on)
            reasons.append(verdict(applicable, "GBCS applicable" if applicable
                                   else "GBCS not applicable", "Applicability Period",
                                   row.applicability))
        return Verdict(row.device_type, version_text(row.spec),
                       None if row.gbcs is None else version_text(row.gbcs), on,
                       installable, maintainable, applicable, row, reasons, self.version)


def parse_date(text: str) -> date:
    """An ISO date (``2026-11-22``) from a user; :class:`TsatError` otherwise."""
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise TsatError(f"not a date: {text!r} (expected yyyy-mm-dd, e.g. 2026-11-22)") from None


def load(path: str | Path | None = None) -> TsatTable:
    """Load a TSAT data file (default: the shipped table); errors name the file and line."""
    path = Path(path) if path is not None else DEFAULT_TABLE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TsatError(f"{path}: cannot read TSAT table: {exc.strerror or exc}") from None
    try:  # libyaml's loader when PyYAML has it: the table loads ~10x faster (hubrig tsat check start-up)
        node = yaml.compose(text, Loader=_LOADER)
        doc = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise TsatError(f"{path}: not valid YAML: {exc}") from None
    return _TableReader(path, node).read(doc)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def default_table() -> TsatTable:
    """The shipped table, loaded once (treat it as read-only)."""
    return load()


class _TableReader:
    """Turns the parsed YAML into rows, reporting problems as ``file:line: what``."""

    def __init__(self, path: Path, node: yaml.Node | None):
        self.path = path
        self.lines: dict[tuple, int] = {}
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, at: tuple) -> None:
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._index(value, at + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, at + (i,))

    def fail(self, at: tuple, message: str) -> TsatError:
        probe = at
        while probe not in self.lines and probe:
            probe = probe[:-1]
        line = self.lines.get(probe)
        where = f"{self.path}:{line}" if line else str(self.path)
        dotted = ".".join(str(p) for p in at)
        return TsatError(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")

    def read(self, doc: Any) -> TsatTable:
        if not isinstance(doc, dict):
            raise self.fail((), "a TSAT table is a mapping with schema, schedule_11_version, device_types")
        if doc.get("schema") != SCHEMA:
            raise self.fail(("schema",), f"expected schema: {SCHEMA}, found {doc.get('schema')!r}")
        if "schedule_11_version" not in doc:
            raise self.fail((), "missing schedule_11_version")
        mods = doc.get("modifications") or []
        if not isinstance(mods, list) or not all(isinstance(m, dict) and m.get("id") for m in mods):
            raise self.fail(("modifications",), "a list of {id: ..., ...} entries")
        types = doc.get("device_types")
        if not isinstance(types, dict) or not types:
            raise self.fail(("device_types",), "a mapping of device type -> {aliases, rows}")
        rows: dict[str, list[TsatRow]] = {}
        aliases: dict[str, str] = {}
        for name, body in types.items():
            at = ("device_types", name)
            dtype = str(name).upper()
            if not isinstance(body, dict) or not isinstance(body.get("rows"), list) or not body["rows"]:
                raise self.fail(at, "needs a non-empty list of rows")
            for alias in body.get("aliases") or []:
                key = str(alias).upper()
                if key in types or aliases.get(key, dtype) != dtype:
                    raise self.fail(at + ("aliases",), f"alias {alias} is ambiguous")
                aliases[key] = dtype
            rows[dtype] = [self.row(dtype, r, at + ("rows", i)) for i, r in enumerate(body["rows"])]
            seen: set = set()
            for i, r in enumerate(rows[dtype]):
                if (r.spec, r.gbcs) in seen:
                    raise self.fail(at + ("rows", i), f"duplicate row for {r.label}")
                seen.add((r.spec, r.gbcs))
        return TsatTable(str(doc["schedule_11_version"]), [str(m["id"]) for m in mods], rows,
                         aliases, str(self.path))

    def row(self, dtype: str, raw: Any, at: tuple) -> TsatRow:
        if not isinstance(raw, dict):
            raise self.fail(at, "a row is a mapping")
        for key in ("spec", "installation", "maintenance", "gbcs", "applicability", "cite"):
            if key not in raw:
                raise self.fail(at, f"missing {key}")
        spec = self.version(raw["spec"], at + ("spec",))
        no_gbcs = raw["gbcs"] == NOT_APPLICABLE
        if no_gbcs != (raw["applicability"] == NOT_APPLICABLE):
            raise self.fail(at, "gbcs and applicability are 'not applicable' together or not at all")
        gbcs = None if no_gbcs else self.version(raw["gbcs"], at + ("gbcs",))
        ppm_end = raw.get("ppm_installation_end")
        return TsatRow(
            dtype, spec, self.period(raw["installation"], at + ("installation",)),
            self.period(raw["maintenance"], at + ("maintenance",)), gbcs,
            None if no_gbcs else self.period(raw["applicability"], at + ("applicability",)),
            str(raw["cite"]),
            None if ppm_end is None else self.day(ppm_end, at + ("ppm_installation_end",)))

    def version(self, raw: Any, at: tuple) -> tuple[int, ...]:
        if isinstance(raw, float):  # YAML reads 3.10 as 3.1: only a quoted version is what was typed
            raise self.fail(at, f"quote the version (\"{raw}\"): unquoted, YAML reads it as a number")
        try:
            return parse_version(raw)
        except TsatError as exc:
            raise self.fail(at, str(exc)) from None

    def period(self, raw: Any, at: tuple) -> Period:
        if not isinstance(raw, list) or len(raw) != 2:
            raise self.fail(at, f"a period is [start, end] (dates or '{OPEN}')")
        start = None if raw[0] == OPEN else self.day(raw[0], at + (0,))
        end = None if raw[1] == OPEN else self.day(raw[1], at + (1,))
        if start and end and end < start:
            raise self.fail(at, f"ends ({end}) before it starts ({start})")
        return Period(start, end)

    def day(self, raw: Any, at: tuple) -> date:
        if isinstance(raw, datetime):
            raise self.fail(at, f"a date, not a date-time: {raw}")
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise self.fail(at, f"not a date or '{OPEN}': {raw!r}") from None


def judge_dut(dut: Any, on: date, table: TsatTable | None = None) -> dict[str, Verdict]:
    """The verdict for each device in a rig file's ``dut`` section (``esme``, ``comms_hub``: each
    with ``type``, ``spec_version``, ``gbcs_version``), as the model or a plain mapping."""
    table = table or default_table()
    out = {}
    for name in ("comms_hub", "esme"):
        device = dut.get(name) if isinstance(dut, dict) else getattr(dut, name, None)
        if device is None:
            continue

        def get(key: str) -> Any:
            return device.get(key) if isinstance(device, dict) else getattr(device, key)

        out[name] = table.judge(str(get("type")), str(get("spec_version")), str(get("gbcs_version")), on)
    return out
