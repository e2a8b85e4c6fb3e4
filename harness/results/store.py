"""The results store: runs kept to compare later. Save, list (with filters), get.

:func:`open_store` takes a plain path or a URL (``sqlite:///relative``, ``sqlite:////absolute``,
``postgresql://user@host/db``); SQLite is the default: one file, no set-up. Both engines sit behind
one API (SQLAlchemy Core; the schema and its migrations are :mod:`hubrig.harness.racks.database`,
shared with the rig pools and leases). A store keeps the whole document of each run (:class:`~hubrig.harness.results.model.RunResults`)
plus queryable rows for its measurements and its plans' records; it knows no plan's fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hubrig.harness.racks.database import (Database, DatabaseError, default_location, measurements, records,
                                           run_plans, runs)
from hubrig.harness.results.files import ResultsError
from hubrig.harness.results.model import RunFilter, RunResults, RunSummary, parse_results, summarise


class ResultsStore(Protocol):
    """Where runs are kept for comparison (:class:`DatabaseResultsStore`: SQLite or PostgreSQL)."""

    def save(self, results: RunResults) -> str: ...

    def list(self, where: RunFilter | None = None) -> list[RunSummary]: ...

    def get(self, run_id: str) -> RunResults: ...

    def close(self) -> None: ...


def store_run(conn: Connection, db: Database, results: RunResults, *, pool: str | None = None,
              lease_token: int | None = None) -> str:
    """Inside a transaction of the hubrig database: store a run (replacing one with the same id)
    with the pool and lease it ran under; returns its id. The document is stored whole; the run's
    columns and its plan, record and measurement rows are what queries (list, trend) read."""
    return store_rows(conn, db.is_sqlite, db.now(), results, pool=pool, lease_token=lease_token)


def store_rows(conn: Connection, is_sqlite: bool, now: sa.ColumnElement[float], results: RunResults, *,
               pool: str | None = None, lease_token: int | None = None) -> str:
    """:func:`store_run` given the engine kind and the database's clock (what a migration has)."""
    if not is_sqlite:  # writers of the same run id take turns (SQLite's BEGIN IMMEDIATE already does)
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(results.run_id))))
    s = summarise(results)
    conn.execute(sa.delete(runs).where(runs.c.run_id == results.run_id))
    conn.execute(sa.insert(runs).values(
        run_id=s.run_id, started=s.started.isoformat(), plans=s.plans, rig=s.rig, dut=s.dut, verdict=s.verdict,
        n_records=s.records, n_failures=s.failures, document=results.model_dump_json(),
        firmware=", ".join(f"{d.role} {d.firmware}" for d in results.dut if d.firmware) or None,
        pool=pool, lease_token=lease_token, stored_at=now))
    rows = {
        run_plans: [{"run_id": s.run_id, "plan": p} for p in results.plans],
        records: [{"run_id": s.run_id, "plan": r.plan, "kind": r.kind, "scenario": r.scenario, "idx": r.index,
                   "data": json.dumps(r.data)} for r in results.records],
        measurements: [{"run_id": s.run_id, "scenario": m.scenario, "name": m.name,
                        "value": None if m.value is None else str(m.value), "unit": m.unit,
                        "limit_set": m.limit_set, "verdict": m.verdict.value} for m in results.measurements]}
    for table, values in rows.items():
        if values:
            conn.execute(sa.insert(table), values)
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
        """Store a run (replacing a run with the same id) and return its id; raises
        :class:`ResultsError` when the database cannot record it (read-only, disk full, unreachable)."""
        try:
            with self.db.begin() as conn:
                return store_run(conn, self.db, results)
        except (DatabaseError, sa.exc.DBAPIError) as exc:
            reason = str(exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc).strip().splitlines()[0]
            raise ResultsError(f"{self.name}: cannot record run {results.run_id}: {reason}") from None

    def list(self, where: RunFilter | None = None) -> list[RunSummary]:
        """The most recent runs first, narrowed by ``where``."""
        f = where or RunFilter()
        query = sa.select(runs.c.run_id, runs.c.started, runs.c.plans, runs.c.rig, runs.c.dut, runs.c.verdict,
                          runs.c.n_records, runs.c.n_failures)
        if f.rig is not None:
            query = query.where(runs.c.rig == f.rig)
        if f.dut is not None:
            query = query.where(sa.func.lower(runs.c.dut).contains(f.dut.lower(), autoescape=True))
        if f.plan is not None:
            query = query.where(runs.c.run_id.in_(sa.select(run_plans.c.run_id).where(run_plans.c.plan == f.plan)))
        if f.verdict is not None:
            query = query.where(runs.c.verdict == f.verdict)
        if f.since is not None:
            query = query.where(runs.c.started >= f.since.isoformat())
        query = query.order_by(runs.c.started.desc(), runs.c.run_id.desc()).limit(f.limit)
        keys = ("run_id", "started", "plans", "rig", "dut", "verdict", "records", "failures")
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

    def unconverted(self) -> list[tuple[str, str]]:
        """Runs of the first results store that could not be converted (kept in ``runs_v1``): (id, why)."""
        from hubrig.harness.results.upgrade import unconverted

        with self.db.begin() as conn:
            return unconverted(conn)

    def close(self) -> None:
        self.db.close()


def default_store_location() -> str:
    """``$HUBRIG_DB``, else ``$HUBRIG_RESULTS_DB``, else ``$XDG_DATA_HOME/hubrig/results.sqlite``."""
    return default_location()


def open_store(location: str | Path | None = None) -> DatabaseResultsStore:
    """Open the results store at a path or URL (``sqlite:///...``, ``postgresql://...``;
    default: :func:`default_store_location`)."""
    return DatabaseResultsStore(location)
