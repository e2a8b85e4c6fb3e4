"""Runs of the first results store (SQLite only, documents ``hubrig-results/2``) brought forward.

The schema-2 migration kept that store's tables aside as ``runs_v1`` (with ``trials_v1`` and
``measurements_v1``, rows derived from each document). :func:`convert_v1_runs` converts each kept
run to a ``hubrig-results/3`` document and stores it like any run, so ``results list|show|trend``
see it; the run's ``*_v1`` rows are then removed. A run that cannot be converted (unreadable
document, an id already in the store, a verdict or a count the conversion would change) stays in
``runs_v1`` with the reason in its ``convert_error`` column, and :func:`unconverted` lists them.
Converting again converts nothing twice and loses nothing.

:func:`upgrade_document` is the conversion: the power-outage plan's ``trials`` become its
``trial`` records; each measurement's limit in words (``limit``) becomes the structured bounds of
the run's own limit set that it names (or, for a rule in words, ``holds`` with its citation); its
``outage_seconds`` becomes the ``outage_s`` condition. A run whose plans were not recorded (the
first store wrote ``[""]``) gets them from its tests, by module or test name in the shipped plans.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from hubrig.harness.results.measurements import limit_bounds, split_citation
from hubrig.harness.results.model import Bounds, RunResults, Verdict
from hubrig.harness.rules.limits import LimitSet

V1_SCHEMA = "hubrig-results/2"
"""What the first store's documents say they are."""
TRIAL_PLAN, TRIAL_KIND = "power-outage", "trial"
"""The only plan that wrote ``trials`` in the first store, and the record kind it writes now."""
ERROR_COLUMN = "convert_error"


class UpgradeError(ValueError):
    """A first-store document that cannot be converted (the message says which field and why)."""


def _plan_of(nodeid: str, plans_by_test: dict[str, str]) -> str:
    """The plan of a test by its module's file name or, for a node id without one (``::test_x``),
    by its function's name in the shipped plans."""
    module, _, function = nodeid.partition("::")
    return (plans_by_test.get(PurePosixPath(module).name) if module else None) or plans_by_test.get(
        function.split("[", 1)[0], "")


V1_MEASUREMENT = ("name", "scenario", "value", "unit", "verdict", "limit_set", "limit", "trial", "outage_seconds",
                  "evidence", "note")
"""A first-store measurement's fields (its model forbade any other)."""


def _measurement(m: dict[str, object], limit_sets: list[LimitSet]) -> dict[str, object]:
    unknown = sorted(set(m) - set(V1_MEASUREMENT))
    if unknown:
        raise UpgradeError(f"measurement {m.get('name')!r} has fields the first store never wrote: {unknown}")
    out = {k: m[k] for k in V1_MEASUREMENT if k in m and k not in ("limit", "outage_seconds")}
    if m.get("outage_seconds") is not None:
        out["conditions"] = {"outage_s": m["outage_seconds"]}
    text = m.get("limit")
    if not isinstance(text, str) or not text:
        return out
    if m.get("limit_set"):  # judged against a limit of the run's own set: find it, keep it structured
        for ls in limit_sets:
            for limit in ls.for_quantity(str(m.get("name"))) if ls.name == m["limit_set"] else []:
                if f"{limit.describe()} [{limit.cite}]" == text:
                    out.update(bounds=limit_bounds(limit).model_dump(), rule=limit.scope(), citation=limit.cite)
                    return out
    rule, cite = split_citation(text)  # a rule in words (or a limit its set no longer names): kept whole
    out.update(rule=rule, citation=cite)
    if not m.get("limit_set") and m.get("verdict") in (Verdict.PASS.value, Verdict.FAIL.value):
        out["bounds"] = Bounds(comparison="holds").model_dump()  # a rule in words the plan judged
    return out


def upgrade_document(text: str | bytes, plans_by_test: dict[str, str]) -> RunResults:
    """A first-store ``hubrig-results/2`` document as a ``hubrig-results/3`` run (``plans_by_test``:
    a plan's test module file name or test function name -> the plan, for runs that did not record
    their plans)."""
    try:
        doc = json.loads(text)
    except (ValueError, TypeError) as exc:  # TypeError: SQLite keeps whatever type was written
        raise UpgradeError(f"document is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != V1_SCHEMA:
        found = doc.get("schema_version") if isinstance(doc, dict) else type(doc).__name__
        raise UpgradeError(f"document is not {V1_SCHEMA} (schema_version {found!r})")
    doc = dict(doc)
    doc["schema_version"] = "hubrig-results/3"
    try:
        limit_sets = [LimitSet.model_validate(ls) for ls in _objects(doc, "limit_sets")]
    except ValidationError as exc:
        raise UpgradeError(f"limit_sets: {_first(exc)}") from None
    tests = [dict(t) for t in _objects(doc, "tests")]
    for t in tests:
        if not t.get("plan"):
            t["plan"] = _plan_of(str(t.get("nodeid", "")), plans_by_test)
    doc["tests"] = tests
    plans = doc.get("plans", [])
    if not isinstance(plans, list):
        raise UpgradeError("plans: not a list")
    doc["plans"] = [p for p in plans if p] or list(dict.fromkeys(str(t["plan"]) for t in tests if t["plan"]))
    doc["measurements"] = [_measurement(m, limit_sets) for m in _objects(doc, "measurements")]
    doc["records"] = [{"plan": TRIAL_PLAN, "kind": TRIAL_KIND, "scenario": t.get("scenario", ""),
                       "index": t.get("index", 0), "data": t} for t in _objects(doc, "trials")]
    del doc["trials"]
    try:
        return RunResults.model_validate(doc)
    except ValidationError as exc:
        raise UpgradeError(_first(exc)) from None


def _objects(doc: dict[str, object], key: str) -> list[dict[str, object]]:
    """``doc[key]`` (default empty), which must be a list of JSON objects."""
    found = doc.setdefault(key, [])
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise UpgradeError(f"{key}: not a list of objects")
    return found


def _first(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(x) for x in first['loc']) or 'document'}: {first['msg']}"


def _check(results: RunResults, row: sa.Row, v1_measurements: int) -> None:
    """The conversion changes no verdict and drops no trial or measurement."""
    said = row._mapping
    if "verdict" in said and results.verdict != said["verdict"]:
        raise UpgradeError(f"its verdict would change from {said['verdict']} to {results.verdict}")
    if "n_trials" in said and len(results.records) != said["n_trials"]:
        raise UpgradeError(f"{len(results.records)} trial records from {said['n_trials']} trials")
    if len(results.measurements) != v1_measurements:
        raise UpgradeError(f"{len(results.measurements)} measurements in the document, "
                           f"{v1_measurements} rows in measurements_v1")


def _table(conn: Connection, name: str) -> sa.Table | None:
    if name not in sa.inspect(conn).get_table_names():
        return None
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def convert_v1_runs(conn: Connection, is_sqlite: bool, now: sa.ColumnElement[float]) -> list[tuple[str, str]]:
    """Inside the migration's transaction: convert every run still in ``runs_v1`` (see the module
    doc); returns the runs left there, as (run id, why)."""
    from hubrig.harness.results.store import store_rows

    runs_v1 = _table(conn, "runs_v1")
    if runs_v1 is None:
        return []
    if ERROR_COLUMN not in runs_v1.c:
        conn.exec_driver_sql(f"ALTER TABLE runs_v1 ADD COLUMN {ERROR_COLUMN} TEXT")
        runs_v1 = _table(conn, "runs_v1")
        assert runs_v1 is not None
    derived = [t for t in (_table(conn, "trials_v1"), _table(conn, "measurements_v1")) if t is not None]
    measurements_v1 = next((t for t in derived if t.name == "measurements_v1"), None)
    runs = sa.Table("runs", sa.MetaData(), autoload_with=conn)
    plans_by_test = _plans_by_test()
    left: list[tuple[str, str]] = []
    for row in conn.execute(sa.select(runs_v1).order_by(runs_v1.c.run_id)).all():
        try:
            if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == row.run_id)).first() is not None:
                raise UpgradeError("a run with this id is already in the store (kept both; nothing replaced)")
            results = upgrade_document(row.document, plans_by_test)
            if results.run_id != row.run_id:
                raise UpgradeError(f"its document is run {results.run_id!r}")
            counted = 0 if measurements_v1 is None else conn.execute(
                sa.select(sa.func.count()).select_from(measurements_v1)
                .where(measurements_v1.c.run_id == row.run_id)).scalar_one()
            _check(results, row, counted)
        except UpgradeError as exc:
            left.append((row.run_id, str(exc)))
            conn.execute(sa.update(runs_v1).where(runs_v1.c.run_id == row.run_id).values({ERROR_COLUMN: str(exc)}))
            continue
        store_rows(conn, is_sqlite, now, results)
        for table in derived:
            conn.execute(sa.delete(table).where(table.c.run_id == row.run_id))
        conn.execute(sa.delete(runs_v1).where(runs_v1.c.run_id == row.run_id))
    return left


def _plans_by_test() -> dict[str, str]:
    """Each shipped plan's module file name and test function names -> the plan."""
    import ast

    from hubrig.testplans import PLANS, plan_file

    found: dict[str, str] = {}
    for plan, module in PLANS.items():
        found[module] = plan
        tree = ast.parse(plan_file(plan).read_text(encoding="utf-8"))
        found.update({node.name: plan for node in tree.body
                      if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")})
    return found


def unconverted(conn: Connection) -> list[tuple[str, str]]:
    """Runs of the first store left in ``runs_v1``, as (run id, why)."""
    runs_v1 = _table(conn, "runs_v1")
    if runs_v1 is None:
        return []
    why = runs_v1.c[ERROR_COLUMN] if ERROR_COLUMN in runs_v1.c else sa.literal("not converted yet")
    return [(r[0], r[1] or "not converted yet")
            for r in conn.execute(sa.select(runs_v1.c.run_id, why).order_by(runs_v1.c.run_id))]
