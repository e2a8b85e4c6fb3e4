"""The results store: runs kept to compare later. Save, list (with filters), get.

:func:`open_store` takes a plain path or an SQLAlchemy-style URL (``sqlite:///relative``,
``sqlite:////absolute``); SQLite is the default: one file, no set-up. The :class:`ResultsStore`
protocol is what another backend implements: register it in ``STORE_BACKENDS`` under its URL
scheme. A store keeps the whole document of each run (:class:`~hubrig.harness.results.model.RunResults`)
plus queryable rows for its measurements and its plans' records; it knows no plan's fields.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Callable, Protocol

from hubrig.harness.results.files import ResultsError
from hubrig.harness.results.model import RunFilter, RunResults, RunSummary, parse_results, summarise


class ResultsStore(Protocol):
    """Where runs are kept for comparison: SQLite here, PostgreSQL by URL."""

    def save(self, results: RunResults) -> str: ...

    def list(self, where: RunFilter | None = None) -> list[RunSummary]: ...

    def get(self, run_id: str) -> RunResults: ...

    def close(self) -> None: ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT NOT NULL, plans TEXT NOT NULL, rig TEXT NOT NULL,
    dut TEXT NOT NULL, verdict TEXT NOT NULL, n_records INTEGER NOT NULL, n_failures INTEGER NOT NULL,
    document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_plans (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, plan TEXT NOT NULL,
    kind TEXT NOT NULL, scenario TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, scenario TEXT NOT NULL,
    name TEXT NOT NULL, value TEXT, unit TEXT, limit_set TEXT, verdict TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS run_plans_run ON run_plans(run_id);
CREATE INDEX IF NOT EXISTS records_run ON records(run_id);
CREATE INDEX IF NOT EXISTS measurements_run ON measurements(run_id);
"""
_SCHEMA_TAG = "hubrig-store/3"


class SqliteResultsStore:
    """One SQLite file: a row per run (with the full document) plus queryable record and measurement rows."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA foreign_keys = ON")
            tag = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "runs" in tables and tag != 3:
                raise ResultsError(f"{self.path}: a results database of an older hubrig (not {_SCHEMA_TAG}); "
                                   "point --db at a new file")
            self._db.executescript(_SQLITE_SCHEMA)
            self._db.execute("PRAGMA user_version = 3")
        except sqlite3.DatabaseError as exc:
            raise ResultsError(f"{self.path}: not a hubrig results database ({exc})") from None
        except OSError as exc:
            raise ResultsError(f"{self.path}: cannot open the results database: {exc.strerror}") from None

    def save(self, results: RunResults) -> str:
        """Store a run (replacing a run with the same id) and return its id; raises
        :class:`ResultsError` when the database cannot record it (read-only, disk full)."""
        s = summarise(results)
        try:
            with self._db:
                self._db.execute("DELETE FROM runs WHERE run_id = ?", (results.run_id,))
                self._db.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.run_id, s.started.isoformat(), s.plans, s.rig, s.dut, s.verdict, s.records, s.failures,
                     results.model_dump_json()))
                self._db.executemany("INSERT INTO run_plans VALUES (?, ?)",
                                     [(s.run_id, p) for p in results.plans])
                self._db.executemany(
                    "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                    [(s.run_id, r.plan, r.kind, r.scenario, r.index, json.dumps(r.data)) for r in results.records])
                self._db.executemany(
                    "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(s.run_id, m.scenario, m.name, None if m.value is None else str(m.value), m.unit,
                      m.limit_set, m.verdict.value) for m in results.measurements])
        except sqlite3.Error as exc:
            raise ResultsError(f"{self.path}: cannot record run {results.run_id}: {exc}") from None
        return results.run_id

    def list(self, where: RunFilter | None = None) -> list[RunSummary]:
        """The most recent runs first, narrowed by ``where``."""
        f = where or RunFilter()
        sql = ["SELECT run_id, started, plans, rig, dut, verdict, n_records, n_failures FROM runs WHERE 1 = 1"]
        args: list[object] = []
        if f.rig is not None:
            sql.append("AND rig = ?")
            args.append(f.rig)
        if f.dut is not None:
            sql.append("AND instr(lower(dut), lower(?)) > 0")
            args.append(f.dut)
        if f.plan is not None:
            sql.append("AND run_id IN (SELECT run_id FROM run_plans WHERE plan = ?)")
            args.append(f.plan)
        if f.verdict is not None:
            sql.append("AND verdict = ?")
            args.append(f.verdict)
        if f.since is not None:
            sql.append("AND started >= ?")
            args.append(f.since.isoformat())
        sql.append("ORDER BY started DESC, run_id DESC LIMIT ?")
        args.append(f.limit)
        rows = self._db.execute(" ".join(sql), args).fetchall()
        keys = ("run_id", "started", "plans", "rig", "dut", "verdict", "records", "failures")
        return [RunSummary(**dict(zip(keys, row))) for row in rows]

    def get(self, run_id: str) -> RunResults:
        """A run by id, or by a unique id prefix."""
        rows = self._db.execute("SELECT run_id, document FROM runs WHERE substr(run_id, 1, ?) = ? "
                                "ORDER BY run_id", (len(run_id), run_id)).fetchall()
        exact = [r for r in rows if r[0] == run_id]
        if exact:
            rows = exact
        if not rows:
            raise ResultsError(f"no run {run_id!r} in {self.path}")
        if len(rows) > 1:
            raise ResultsError(f"run id {run_id!r} is ambiguous in {self.path}: "
                               + ", ".join(r[0] for r in rows[:5]))
        return parse_results(rows[0][1])

    def close(self) -> None:
        self._db.close()


def _open_sqlite(location: str) -> ResultsStore:
    return SqliteResultsStore(location)


STORE_BACKENDS: dict[str, Callable[[str], ResultsStore]] = {"sqlite": _open_sqlite}
"""URL scheme -> opener. A ``postgresql`` backend registers here."""


def default_store_location() -> str:
    """``$HUBRIG_RESULTS_DB``, else ``$XDG_DATA_HOME/hubrig/results.sqlite`` (~/.local/share)."""
    if os.environ.get("HUBRIG_RESULTS_DB"):
        return os.environ["HUBRIG_RESULTS_DB"]
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hubrig", "results.sqlite")


def open_store(location: str | Path | None = None) -> ResultsStore:
    """Open a results store from a path or URL (default: :func:`default_store_location`)."""
    loc = str(location) if location is not None else default_store_location()
    scheme, sep, rest = loc.partition("://")
    if not sep:
        return SqliteResultsStore(loc)
    opener = STORE_BACKENDS.get(scheme)
    if opener is None:
        raise ResultsError(f"results store {loc!r}: no backend for {scheme!r} "
                           f"(available: {', '.join(STORE_BACKENDS)})")
    return opener(rest[1:] if scheme == "sqlite" and rest.startswith("/") else rest)
