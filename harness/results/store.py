"""The results of a run: a versioned schema (after HardPy) and a store to compare runs later.

``results.json`` in a run's output directory is a :class:`RunResults` document
(``schema_version`` ``hubrig-results/2``; every model forbids unknown fields, so a reader can
trust what it loads). It records the rig, the identity of every device under test and of every
instrument, the DUT's TSAT verdict as of the run date (and the table it was judged against), the
plans run, every test's outcome, the limit sets with their citations, every measurement with its
verdict and journal evidence, and the ``trials`` list (one outage each).

Stores: :func:`open_store` takes a plain path or a URL (``sqlite:///relative``,
``sqlite:////absolute``, ``postgresql://user@host/db``); SQLite is the default: one file, no
set-up. Both engines sit behind one API (SQLAlchemy Core, :mod:`hubrig.harness.racks.database`).
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection

from hubrig.harness.racks.database import Database, DatabaseError, default_location, measurements, runs, trials

from hubrig.harness.rules.limits import LimitSet
from hubrig.harness.results.measurements import Measurement, Verdict

SCHEMA_VERSION = "hubrig-results/2"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RigInfo(_Strict):
    name: str
    kind: Literal["real", "virtual"]
    file: str | None = None
    seed: int | None = None
    preset: str | None = None
    clock_tolerance_s: float | None = None


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


class Trial(_Strict):
    """One outage: what was cut, what arrived, and the frames that prove it."""

    scenario: str
    index: int = 0
    outage_seconds: float
    poa_seconds: float | None = Field(description="POA arrival minus outage start; null when none arrived")
    pra_seconds: float | None = Field(description="PRA arrival minus restoration; null when none arrived")
    pra_alert_code: str | None = Field(default=None, pattern="^[0-9A-F]{4}$")
    poa_count: int = 0
    pra_before_poa: bool = False
    interruption_error_s: float | None = Field(
        default=None, description="interruption time inside the PRA minus the measured cut")
    restoration_error_s: float | None = Field(
        default=None, description="restoration time inside the PRA minus the measured restore")
    evidence: list[int] = Field(default_factory=list, description="journal frame ids (POA, PRA)")


class TestOutcome(_Strict):
    """One test's outcome in the run."""

    __test__ = False  # a record, not a pytest test class
    nodeid: str
    outcome: Literal["passed", "failed", "skipped", "error"]
    duration_s: float = 0.0
    message: str = ""
    plan: str = Field(default="", description="the plan the test belongs to (e.g. device-log)")
    scenario: str = Field(default="", description="the scenario its measurements and trials carry")


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


class RunResults(_Strict):
    """Everything a run produced, in one self-explaining document."""

    schema_version: Literal["hubrig-results/2"] = SCHEMA_VERSION
    run_id: str
    started: datetime
    finished: datetime | None = None
    plans: list[str] = Field(default_factory=list, description="the plans run, in order")
    hubrig_version: str = ""
    rig: RigInfo
    dut: list[DeviceIdentity] = Field(default_factory=list)
    tsat: TsatRecord | None = None
    instruments: list[InstrumentInfo] = Field(default_factory=list)
    limits_version: str = ""
    limit_sets: list[LimitSet] = Field(default_factory=list)
    measurements: list[Measurement] = Field(default_factory=list)
    trials: list[Trial] = Field(default_factory=list)
    tests: list[TestOutcome] = Field(default_factory=list)
    journal: str | None = None

    @property
    def verdict(self) -> str:
        """``fail`` if any measurement or test failed, or the DUT breaks the TSAT and the rig file
        says ``tsat.on_violation: fail``; else ``pass``."""
        failed = any(m.verdict is Verdict.FAIL for m in self.measurements) or any(
            t.outcome in ("failed", "error") for t in self.tests) or (self.tsat is not None and self.tsat.fails_run)
        return "fail" if failed else "pass"

    def failures(self) -> list[Measurement]:
        return [m for m in self.measurements if m.verdict is Verdict.FAIL]

    def counts(self, plan: str | None = None) -> dict[str, int]:
        """Tests passed / failed (errors included) / skipped, for one plan or the whole run."""
        tests = [t for t in self.tests if plan is None or t.plan == plan]
        return {"passed": sum(t.outcome == "passed" for t in tests),
                "failed": sum(t.outcome in ("failed", "error") for t in tests),
                "skipped": sum(t.outcome == "skipped" for t in tests)}


def parse_results(text: str | bytes) -> RunResults:
    """A results document from its JSON text."""
    return RunResults.model_validate(json.loads(text))


class ResultsError(ValueError):
    """A results file or store that cannot be read, or a run that is not there."""


def load_results(path: str | Path) -> RunResults:
    """Read and validate a results.json; errors name the file and the first bad field."""
    p = Path(path)
    try:
        return parse_results(p.read_bytes())
    except OSError as exc:
        raise ResultsError(f"{p}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}:{exc.lineno}: not JSON: {exc.msg}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise ResultsError(f"{p}: {field or 'document'}: {first['msg']}") from None


def save_results(results: RunResults, path: str | Path) -> Path:
    """Write results.json atomically (a reader never sees half a file)."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(results.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, p)
    return p


class RunSummary(_Strict):
    run_id: str
    started: datetime
    plan: str
    rig: str
    dut: str
    verdict: str
    trials: int
    failures: int


class ResultsStore(Protocol):
    """Where runs are kept for comparison (:class:`DatabaseResultsStore` on SQLite or PostgreSQL)."""

    def save(self, results: RunResults) -> str: ...

    def list(self, limit: int = 50) -> list[RunSummary]: ...

    def get(self, run_id: str) -> RunResults: ...

    def close(self) -> None: ...


def _dut_label(results: RunResults) -> str:
    return ", ".join(f"{d.role} {d.eui or '?'} fw {d.firmware or '?'}" for d in results.dut) or "-"


def store_run(conn: Connection, db: Database, results: RunResults, *, pool: str | None = None,
              lease_token: int | None = None) -> str:
    """Inside a transaction of the hubrig database: store a run (replacing one with the same id)
    with the pool and lease it ran under; returns its id. The document is stored whole; the run's
    columns and its measurement and trial rows are what queries (list, trend) read."""
    if not db.is_sqlite:  # writers of the same run id take turns (SQLite's BEGIN IMMEDIATE already does)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(results.run_id))))
    conn.execute(sa.delete(runs).where(runs.c.run_id == results.run_id))
    conn.execute(sa.insert(runs).values(
        run_id=results.run_id, started=results.started.isoformat(), plan=", ".join(results.plans),
        rig=results.rig.name, dut=_dut_label(results), verdict=results.verdict, n_trials=len(results.trials),
        n_failures=len(results.failures()), document=results.model_dump_json(),
        firmware=", ".join(f"{d.role} {d.firmware}" for d in results.dut if d.firmware) or None,
        pool=pool, lease_token=lease_token, stored_at=db.now()))
    if results.trials:
        conn.execute(sa.insert(trials), [
            {"run_id": results.run_id, "scenario": t.scenario, "idx": t.index, "outage_seconds": t.outage_seconds,
             "poa_seconds": t.poa_seconds, "pra_seconds": t.pra_seconds, "pra_alert_code": t.pra_alert_code}
            for t in results.trials])
    if results.measurements:
        conn.execute(sa.insert(measurements), [
            {"run_id": results.run_id, "scenario": m.scenario, "name": m.name,
             "value": None if m.value is None else str(m.value), "unit": m.unit, "limit_set": m.limit_set,
             "verdict": m.verdict.value} for m in results.measurements])
    return results.run_id


class DatabaseResultsStore:
    """Runs in the hubrig database: one SQLite file by default, PostgreSQL by URL (one API)."""

    def __init__(self, location: str | Path | None = None):
        try:
            self.db = Database(location)
        except DatabaseError as exc:
            raise ResultsError(str(exc).replace("not a hubrig database", "not a hubrig results database")) from None
        self.name = self.db.name

    def save(self, results: RunResults) -> str:
        """Store a run (replacing a run with the same id) and return its id."""
        try:
            with self.db.begin() as conn:
                return store_run(conn, self.db, results)
        except DatabaseError as exc:
            raise ResultsError(str(exc)) from None

    def list(self, limit: int = 50) -> list[RunSummary]:
        """The most recent runs first."""
        query = (sa.select(runs.c.run_id, runs.c.started, runs.c.plan, runs.c.rig, runs.c.dut, runs.c.verdict,
                           runs.c.n_trials, runs.c.n_failures)
                 .order_by(runs.c.started.desc(), runs.c.run_id.desc()).limit(limit))
        keys = ("run_id", "started", "plan", "rig", "dut", "verdict", "trials", "failures")
        with self.db.begin() as conn:
            return [RunSummary(**dict(zip(keys, row))) for row in conn.execute(query)]

    def get(self, run_id: str) -> RunResults:
        """A run by id, or by a unique id prefix."""
        query = (sa.select(runs.c.run_id, runs.c.document)
                 .where(runs.c.run_id.startswith(run_id, autoescape=True)).order_by(runs.c.run_id))
        with self.db.begin() as conn:
            rows = conn.execute(query).all()
        exact = [r for r in rows if r[0] == run_id]
        if exact:
            rows = exact
        if not rows:
            raise ResultsError(f"no run {run_id!r} in {self.name}")
        if len(rows) > 1:
            raise ResultsError(f"run id {run_id!r} is ambiguous in {self.name}: "
                               + ", ".join(r[0] for r in rows[:5]))
        return parse_results(rows[0][1])

    def close(self) -> None:
        self.db.close()


def default_store_location() -> str:
    """``$HUBRIG_DB``, else ``$HUBRIG_RESULTS_DB``, else ``$XDG_DATA_HOME/hubrig/results.sqlite``."""
    return default_location()


def open_store(location: str | Path | None = None) -> DatabaseResultsStore:
    """Open the results store at a path or URL (``sqlite:///...``, ``postgresql://...``;
    default: :func:`default_store_location`)."""
    return DatabaseResultsStore(location)
