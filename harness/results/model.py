"""The results document of a run (after HardPy and OpenHTF): a versioned, strict pydantic schema.

``results.json`` in a run's output folder is a :class:`RunResults` (``schema_version``
``hubrig-results/3``; every model forbids unknown fields, so a reader can trust what it loads; the
JSON Schema ships as ``harness/results/schema/hubrig-results-3.schema.json``). It records the rig,
the identity of every device under test and instrument, the DUT's TSAT verdict as of the run date,
the plans run, every test's outcome, the limit sets with their citations, and:

* :class:`Measurement`: one value, its unit, the structured :class:`Bounds` it was judged against
  (lower, upper, comparison, unit) beside the rule's citation, its verdict and the journal frames
  that prove it. A measurement a test declared and never recorded is ``UNSET``.
* :class:`PlanRecord`: a plan's own records (the power-outage plan's trials; spectra and mask
  margins later), stored and reported without the core knowing their fields. A plan defines them
  as :class:`PlanRecordModel` subclasses and reads them back typed.

The run's verdict is ``interrupted`` when the run did not finish (what was measured is kept),
else ``fail`` or ``pass``.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, computed_field, model_validator

from hubrig.harness.rules.limits import LimitSet

SCHEMA_VERSION = "hubrig-results/3"
SCHEMA_FILE = Path(__file__).parent / "schema" / "hubrig-results-3.schema.json"
"""The JSON Schema of :class:`RunResults` as written (``python -m hubrig.harness.results.model``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Verdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"
    INFO = "info"
    UNSET = "unset"
    """Declared by the test, never recorded."""
    INCONCLUSIVE = "inconclusive"
    """A ratio requirement the trials can neither show nor refute (its confidence bounds straddle it)."""


Comparison = Literal["<=", "<", ">=", ">", "between", "holds"]


class Bounds(_Strict):
    """What a value must be: below ``upper``, above ``lower``, between both, or (``holds``) a rule
    in words that the plan judged true or false (the measurement's ``rule``)."""

    comparison: Comparison
    lower: float | None = None
    upper: float | None = None
    unit: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        want = {"<=": (False, True), "<": (False, True), ">=": (True, False), ">": (True, False),
                "between": (True, True), "holds": (False, False)}[self.comparison]
        if (self.lower is not None, self.upper is not None) != want:
            raise ValueError(f"comparison {self.comparison!r} takes "
                             f"{' and '.join(n for n, w in zip(('lower', 'upper'), want) if w) or 'no bound'}")
        if any(b is not None and not math.isfinite(b) for b in (self.lower, self.upper)):
            raise ValueError("bounds are finite")
        return self

    def passes(self, value: float) -> bool:
        c, lo, hi = self.comparison, self.lower, self.upper
        if c == "holds":
            raise ValueError("a rule in words is judged by the plan, not by bounds")
        return {"<=": lambda: value <= hi, "<": lambda: value < hi, ">=": lambda: value >= lo,
                ">": lambda: value > lo, "between": lambda: lo <= value <= hi}[c]()

    def margin(self, value: float) -> float | None:
        """Distance to the nearest bound in ``unit``: positive inside, negative outside."""
        if self.comparison == "holds":
            return None
        gaps = []
        if self.upper is not None:
            gaps.append(self.upper - value)
        if self.lower is not None:
            gaps.append(value - self.lower)
        return min(gaps)

    def describe(self) -> str:
        """``<= 60 s``, ``between 216 and 253 V``, ``holds``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.comparison == "between":
            return f"between {self.lower:g} and {self.upper:g}{unit}"
        if self.comparison == "holds":
            return "holds"
        bound = self.upper if self.comparison in ("<=", "<") else self.lower
        return f"{self.comparison} {bound:g}{unit}"


class Measurement(_Strict):
    """One measured quantity with everything needed to re-judge or audit it."""

    name: str
    scenario: str
    value: bool | int | float | str | None
    unit: str = ""
    verdict: Verdict
    bounds: Bounds | None = None
    rule: str = Field(default="", description="the requirement in words (checks), or the limit's scope")
    citation: str = Field(default="", description="where the rule comes from, e.g. 'GBCS ECS80'")
    limit_set: str | None = None
    trial: int | None = None
    conditions: dict[str, float] = Field(default_factory=dict,
                                         description="what it was measured under, e.g. outage_s")
    evidence: list[int] = Field(default_factory=list, description="journal frame ids")
    note: str = ""

    def limit_text(self) -> str:
        """The limit in words: bounds (or the rule) and scope, without the citation."""
        if self.bounds is None or self.bounds.comparison == "holds":
            return self.rule
        return f"{self.name} {self.bounds.describe()}" + (f" ({self.rule})" if self.rule else "")

    def margin(self) -> float | None:
        """How far inside (+) or outside (-) its bounds the value is, in the bounds' unit."""
        if self.bounds is None or isinstance(self.value, (bool, str)) or self.value is None:
            return None
        return self.bounds.margin(float(self.value))

    def explain(self) -> str:
        """One line: scenario, trial, value, limit set, limit, verdict, note and evidence."""
        value = "none" if self.value is None else (f"{self.value:.3f}" if isinstance(self.value, float)
                                                   else str(self.value))
        parts = [f"[{self.scenario}]"]
        if self.trial is not None:
            parts.append(f"trial {self.trial}:")
        parts.append(f"{self.name} = {value} {self.unit}".rstrip())
        limit = self.limit_text() + (f" [{self.citation}]" if self.citation else "")
        if self.limit_set:
            parts.append(f"vs {self.limit_set}: {limit}")
        elif limit:
            parts.append(f"vs {limit}")
        parts.append(f"-> {self.verdict.value.upper()}")
        if self.note:
            parts.append(f"({self.note})")
        parts.append("evidence: " + (", ".join(f"journal #{i}" for i in self.evidence) or "none"))
        return " ".join(parts)


class PlanRecord(_Strict):
    """A plan's own record, kept as JSON: the core stores and reports it without knowing its fields."""

    plan: str
    kind: str
    scenario: str = ""
    index: int = 0
    data: dict[str, JsonValue]


class PlanRecordModel(_Strict):
    """Base of a plan's typed records: set ``plan`` and ``kind``, add fields, record with
    ``measure.record(...)`` and read back with :meth:`all_in`."""

    plan: ClassVar[str]
    kind: ClassVar[str]
    scenario: str
    index: int = 0

    def to_record(self) -> PlanRecord:
        return PlanRecord(plan=self.plan, kind=self.kind, scenario=self.scenario, index=self.index,
                          data=self.model_dump(mode="json"))

    @classmethod
    def all_in(cls, records: list[PlanRecord]) -> list[Self]:
        """This plan's records of this kind, validated into the typed model."""
        return [cls.model_validate(r.data) for r in records if r.plan == cls.plan and r.kind == cls.kind]


class RigInfo(_Strict):
    name: str
    kind: Literal["real", "virtual"]
    file: str | None = None
    seed: int | None = None
    preset: str | None = None
    clock_tolerance_s: float | None = None
    network_allowance_s: float | None = Field(
        default=None, description="the rig file's allowance for the network's share (s), if declared")


class DeviceIdentity(_Strict):
    role: str  # "esme", "comms_hub"
    eui: str | None = None
    type: str | None = None
    spec_version: str | None = None
    gbcs_version: str | None = None
    firmware: str | None = None
    csp_region: str | None = None


class InstrumentInfo(_Strict):
    name: str  # "supply", "itch", "relay"
    resource: str | None = None
    identity: str | None = None


Outcome = Literal["passed", "failed", "skipped", "error", "interrupted", "not run"]


class TestOutcome(_Strict):
    """One test's outcome in the run (``interrupted``: the run stopped during it; ``not run``:
    before it)."""

    __test__ = False  # a record, not a pytest test class
    nodeid: str
    outcome: Outcome
    duration_s: float = 0.0
    message: str = ""
    plan: str = Field(default="", description="the plan the test belongs to (e.g. device-log)")
    scenario: str = Field(default="", description="the scenario its measurements and records carry")


class DeviceTsat(_Strict):
    """One DUT device judged against the TSAT on the run date (``hubrig.harness.rules.tsat.Verdict``)."""

    role: str  # "comms_hub", "esme"
    device_type: str
    spec: str
    gbcs: str | None = None
    installable: bool
    maintainable: bool
    gbcs_applicable: bool | None = Field(description="null: a SMETS1 row, which has no GBCS")
    reasons: list[str] = Field(default_factory=list)
    violations: list[str] = Field(default_factory=list,
                                  description="the reasons for each period the device is outside of")
    row: str = Field(description="the table row's citation")


class TsatRecord(_Strict):
    """The DUT's TSAT verdict as of the run date, and what a violation does to the run."""

    date: date
    table: str = Field(description="which table, e.g. 'Schedule 11 v9.0 + MP139'")
    on_violation: Literal["warn", "fail"] = "warn"
    devices: list[DeviceTsat] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list,
                              description="devices the table could not judge (e.g. an unknown version)")

    def violations(self) -> list[str]:
        """One sentence per breach: a device outside its IVP, MVP or GBCS Applicability Period,
        or one the table cannot judge, each quoting the rule (the table row)."""
        return [f"{d.role}: {v}" for d in self.devices for v in d.violations] + list(self.errors)

    @property
    def fails_run(self) -> bool:
        return self.on_violation == "fail" and bool(self.violations())

    def warning_lines(self) -> list[str]:
        """For a terminal: one line per violation under a heading (none when the DUT complies)."""
        if not self.violations():
            return []
        head = (f"TSAT FAIL (the rig file says tsat.on_violation: fail): the DUT breaks {self.table} on {self.date}:"
                if self.fails_run else f"TSAT WARNING: the DUT breaks {self.table} on {self.date}:")
        return [head] + [f"  {v}" for v in self.violations()]


RunVerdict = Literal["pass", "fail", "interrupted"]


class RunResults(_Strict):
    """Everything a run produced, in one self-explaining document."""

    schema_version: Literal["hubrig-results/3"] = SCHEMA_VERSION
    run_id: str
    started: datetime
    finished: datetime | None = None
    status: Literal["complete", "interrupted"] = "complete"
    interruption: str = Field(default="", description="why the run stopped early (interrupted runs)")
    plans: list[str] = Field(default_factory=list, description="the plans run, in order")
    hubrig_version: str = ""
    rig: RigInfo
    dut: list[DeviceIdentity] = Field(default_factory=list)
    tsat: TsatRecord | None = None
    instruments: list[InstrumentInfo] = Field(default_factory=list)
    limits_version: str = ""
    limit_sets: list[LimitSet] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    records: list[PlanRecord] = Field(default_factory=list, description="each plan's own records")
    tests: list[TestOutcome] = Field(default_factory=list)
    journal: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: Any) -> Any:
        """``verdict`` is written for readers of the JSON but always recomputed on load."""
        if isinstance(data, dict) and "verdict" in data:
            data = {k: v for k, v in data.items() if k != "verdict"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> RunVerdict:
        """``interrupted`` when the run stopped early; else ``fail`` if any measurement failed or
        is unset, any test failed, or the DUT breaks the TSAT and the rig file says
        ``tsat.on_violation: fail``; else ``pass``."""
        if self.status == "interrupted":
            return "interrupted"
        failed = bool(self.failures()) or any(t.outcome in ("failed", "error") for t in self.tests) or (
            self.tsat is not None and self.tsat.fails_run)
        return "fail" if failed else "pass"

    def failures(self) -> list[Measurement]:
        """Measurements that failed or were declared and never recorded."""
        return [m for m in self.measurements if m.verdict in (Verdict.FAIL, Verdict.UNSET)]

    def counts(self, plan: str | None = None) -> dict[str, int]:
        """Tests passed / failed (errors included) / skipped / not run (or interrupted while
        running), for one plan or the run."""
        tests = [t for t in self.tests if plan is None or t.plan == plan]
        return {"passed": sum(t.outcome == "passed" for t in tests),
                "failed": sum(t.outcome in ("failed", "error") for t in tests),
                "skipped": sum(t.outcome == "skipped" for t in tests),
                "not run": sum(t.outcome in ("not run", "interrupted") for t in tests)}

    def records_of(self, plan: str) -> list[PlanRecord]:
        return [r for r in self.records if r.plan == plan]


def parse_results(text: str | bytes) -> RunResults:
    """A results document from its JSON text."""
    return RunResults.model_validate(json.loads(text))


def json_schema() -> dict[str, Any]:
    """The JSON Schema a written ``results.json`` follows (what :data:`SCHEMA_FILE` holds)."""
    schema = RunResults.model_json_schema(mode="serialization")
    schema["$id"] = f"https://hubrig.invalid/schema/{SCHEMA_VERSION}"
    return schema


class RunFilter(_Strict):
    """Which stored runs to list: every field narrows, ``None`` means any."""

    rig: str | None = None
    dut: str | None = Field(default=None, description="a substring of the DUT label (EUI, firmware)")
    plan: str | None = None
    verdict: RunVerdict | None = None
    since: datetime | None = None
    limit: int = 50


class RunSummary(_Strict):
    """One stored run, as a list shows it."""

    run_id: str
    started: datetime
    plans: str
    rig: str
    dut: str
    verdict: RunVerdict
    records: int
    failures: int


def summarise(results: RunResults) -> RunSummary:
    dut = ", ".join(f"{d.role} {d.eui or '?'} fw {d.firmware or '?'}" for d in results.dut) or "-"
    return RunSummary(run_id=results.run_id, started=results.started, plans=", ".join(results.plans),
                      rig=results.rig.name, dut=dut, verdict=results.verdict, records=len(results.records),
                      failures=len(results.failures()))


if __name__ == "__main__":  # regenerate the shipped schema file
    SCHEMA_FILE.parent.mkdir(exist_ok=True)
    SCHEMA_FILE.write_text(json.dumps(json_schema(), indent=1) + "\n", encoding="utf-8")
