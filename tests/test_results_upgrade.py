"""The first results store's runs (kept aside in ``runs_v1``) converted on open.

The fixture databases are written the way the first store wrote them: its SQL (verbatim from
``harness/results/store.py`` before the plan-agnostic store, commit 3c1e0f7^) and its rows, holding
``hubrig-results/2`` documents. ``tests/v1store/*.json`` are two documents that hubrig wrote (a
passing power-outage run on the virtual rig, and a failing power-outage + clock-alert run on the
central-south preset); hypothesis makes more."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from hubrig.harness.cli import main
from hubrig.harness.racks.database import MIGRATIONS, SCHEMA_VERSION, Database, schema_meta
from hubrig.harness.results import upgrade
from hubrig.harness.results.files import ResultsError
from hubrig.harness.results.model import Verdict
from hubrig.harness.results.store import open_store, store_rows

FIXTURES = Path(__file__).parent / "v1store"
DOCS = {p.stem: p.read_text() for p in sorted(FIXTURES.glob("*.json"))}

# The first store's schema and writes, as it had them.
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT NOT NULL, plan TEXT NOT NULL, rig TEXT NOT NULL,
    dut TEXT NOT NULL, verdict TEXT NOT NULL, n_trials INTEGER NOT NULL, n_failures INTEGER NOT NULL,
    document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, scenario TEXT NOT NULL,
    idx INTEGER NOT NULL, outage_seconds REAL NOT NULL, poa_seconds REAL, pra_seconds REAL,
    pra_alert_code TEXT);
CREATE TABLE IF NOT EXISTS measurements (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, scenario TEXT NOT NULL,
    name TEXT NOT NULL, value TEXT, unit TEXT, limit_set TEXT, verdict TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trials_run ON trials(run_id);
CREATE INDEX IF NOT EXISTS measurements_run ON measurements(run_id);
"""


def v1_verdict(doc: dict) -> str:
    """The first store's RunResults.verdict."""
    tsat = doc.get("tsat") or {}
    tsat_fails = tsat.get("on_violation") == "fail" and (
        any(d["violations"] for d in tsat["devices"]) or bool(tsat["errors"]))
    failed = any(m["verdict"] == "fail" for m in doc["measurements"]) or any(
        t["outcome"] in ("failed", "error") for t in doc["tests"]) or tsat_fails
    return "fail" if failed else "pass"


def save_v1(db: sqlite3.Connection, doc: dict, *, document: str | None = None, verdict: str | None = None) -> None:
    """SqliteResultsStore.save of the first store (``document``/``verdict``: what to write instead)."""
    dut = ", ".join(f"{d['role']} {d.get('eui') or '?'} fw {d.get('firmware') or '?'}" for d in doc["dut"]) or "-"
    with db:
        db.execute("DELETE FROM runs WHERE run_id = ?", (doc["run_id"],))
        db.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (doc["run_id"], doc["started"], ", ".join(doc["plans"]), doc["rig"]["name"], dut,
                    verdict or v1_verdict(doc), len(doc["trials"]),
                    sum(m["verdict"] == "fail" for m in doc["measurements"]),
                    document if document is not None else json.dumps(doc)))
        db.executemany("INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(doc["run_id"], t["scenario"], t["index"], t["outage_seconds"], t["poa_seconds"],
                         t["pra_seconds"], t["pra_alert_code"]) for t in doc["trials"]])
        db.executemany("INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [(doc["run_id"], m["scenario"], m["name"], None if m["value"] is None else str(m["value"]),
                         m["unit"], m["limit_set"], m["verdict"]) for m in doc["measurements"]])


def v1_store(path: Path, docs: list[dict]) -> Path:
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(V1_SCHEMA)
    for doc in docs:
        save_v1(db, doc)
    db.close()
    return path


def real_docs() -> list[dict]:
    return [json.loads(text) for text in DOCS.values()]


def assert_converted(old: dict, path: Path) -> None:
    """The stored run says what the old document said, in the new shape."""
    store = open_store(path)
    try:
        new = store.get(old["run_id"])
    finally:
        store.close()
    assert new.verdict == v1_verdict(old) and new.started.isoformat().startswith(old["started"][:19])
    assert [r.data for r in new.records] == old["trials"]
    assert {(r.plan, r.kind) for r in new.records} <= {("power-outage", "trial")}
    assert len(new.measurements) == len(old["measurements"])
    for m, o in zip(new.measurements, old["measurements"]):
        assert (m.name, m.scenario, m.value, m.unit, m.verdict.value, m.limit_set, m.trial, m.evidence, m.note) == (
            o["name"], o["scenario"], o["value"], o["unit"], o["verdict"], o["limit_set"], o["trial"], o["evidence"],
            o["note"])
        assert m.conditions == ({} if o["outage_seconds"] is None else {"outage_s": o["outage_seconds"]})
        # The limit in words is all still there: structured bounds + scope + citation, or the rule.
        cited = f" [{m.citation}]" if m.citation else ""
        if m.bounds is not None and m.bounds.comparison != "holds":
            assert m.limit_set and f"{m.limit_text()}{cited}" == o["limit"]
        else:
            assert (f"{m.rule}{cited}" or None) == o["limit"]
    assert [t.outcome for t in new.tests] == [t["outcome"] for t in old["tests"]]


def tables(path: Path) -> dict[str, list]:
    with Database(path) as db, db.begin() as conn:
        return {name: conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1")).all()
                for name in ("runs", "runs_v1", "trials_v1", "measurements_v1", "records", "measurements")}


def test_the_first_stores_runs_are_converted_and_seen_by_list_show_and_trend(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = real_docs()
    path = v1_store(tmp_path / "results.sqlite", docs)
    for doc in docs:
        assert_converted(doc, path)
    with Database(path) as db, db.begin() as conn:
        assert conn.execute(sa.select(schema_meta.c.value)).scalar() == str(SCHEMA_VERSION)
        assert conn.execute(sa.text("SELECT count(*) FROM runs_v1")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM measurements_v1")).scalar() == 0
    failing = next(d for d in docs if v1_verdict(d) == "fail")
    # The first store wrote plans [""] and node ids without a module: the plans come from the test names.
    assert failing["plans"] == [""] and failing["tests"][0]["nodeid"].startswith("::")
    assert main(["results", "list", "--db", str(path), "--plan", "clock-alert", "--json"]) == 0
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)] == [failing["run_id"]]
    assert main(["results", "show", failing["run_id"], "--db", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "fail"
    assert main(["results", "trend", "--db", str(path), "--json", "--measurement", "pra_latency_s",
                 "--plots", "-"]) == 0
    trend = capsys.readouterr().out
    assert all(d["run_id"] in trend for d in docs)


def test_converting_again_changes_nothing(tmp_path: Path) -> None:
    path = v1_store(tmp_path / "results.sqlite", real_docs())
    first = tables(path)
    assert tables(path) == first  # a second open: already at the newest schema
    with Database(path) as db, db.begin() as conn:  # the step itself, run again
        assert upgrade.convert_v1_runs(conn, True, db.now()) == []
    assert tables(path) == first


def test_a_run_that_cannot_be_converted_stays_in_runs_v1_with_why(tmp_path: Path, capsys) -> None:
    good, other = real_docs()
    path = tmp_path / "results.sqlite"
    v1_store(path, [good])
    db = sqlite3.connect(path)
    save_v1(db, {**other, "run_id": "not-json"}, document="{truncated")
    save_v1(db, {**other, "run_id": "wrong-schema"}, document=json.dumps({**other, "run_id": "wrong-schema",
                                                                        "schema_version": "hubrig-results/1"}))
    save_v1(db, {**other, "run_id": "verdict"}, verdict="pass")  # the row said pass; the document fails
    save_v1(db, {**other, "run_id": "lost-row"})
    db.execute("DELETE FROM measurements WHERE rowid = (SELECT max(rowid) FROM measurements WHERE run_id = 'lost-row')")
    db.commit()
    db.close()
    before = {"not-json", "wrong-schema", "verdict", "lost-row", good["run_id"]}
    store = open_store(path)
    try:
        left = dict(store.unconverted())
        kept = {r.run_id for r in store.list()}
    finally:
        store.close()
    assert kept == {good["run_id"]} and set(left) == before - kept  # nothing lost, nothing twice
    assert "not JSON" in left["not-json"]
    assert "hubrig-results/1" in left["wrong-schema"]
    assert "verdict would change from pass to fail" in left["verdict"]
    assert "measurements_v1" in left["lost-row"]
    assert main(["results", "list", "--db", str(path)]) == 0
    err = capsys.readouterr().err
    assert all(f"run {run_id} of the first results store was not converted" in err for run_id in left)


def test_a_run_id_already_in_the_store_is_not_replaced(tmp_path: Path) -> None:
    """A store at schema 3 (the racks' hubrig) with runs_v1 kept aside and a newer run of the same id."""
    old = real_docs()[0]
    path = v1_store(tmp_path / "results.sqlite", [old])
    engine = sa.create_engine(f"sqlite:///{path}")
    newer = upgrade.upgrade_document(json.dumps(old), {})
    newer = newer.model_copy(update={"hubrig_version": "newer"})
    with engine.begin() as conn:
        for step in (1, 2, 3):
            MIGRATIONS[step](conn)
        schema_meta.create(conn)
        conn.execute(sa.insert(schema_meta).values(key="version", value="3"))
        store_rows(conn, True, sa.literal(0.0), newer)
    engine.dispose()
    store = open_store(path)
    try:
        assert store.get(old["run_id"]).hubrig_version == "newer"
        assert "already in the store" in dict(store.unconverted())[old["run_id"]]
    finally:
        store.close()


def test_the_conversion_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = real_docs()
    path = v1_store(tmp_path / "results.sqlite", docs)
    stored: list[str] = []

    def fail_on_second(conn, is_sqlite, now, results, **kw):
        stored.append(results.run_id)
        if len(stored) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return store_rows(conn, is_sqlite, now, results, **kw)

    monkeypatch.setattr("hubrig.harness.results.store.store_rows", fail_on_second)
    with pytest.raises((ResultsError, sqlite3.OperationalError, sa.exc.OperationalError)):
        open_store(path)
    db = sqlite3.connect(path)
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == {"runs", "trials", "measurements"}  # still the first store, untouched
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (len(docs),)
    db.close()
    monkeypatch.undo()
    for doc in docs:
        assert_converted(doc, path)


# ---------------------------------------------------------------------- properties

BASE = real_docs()[1]
LIMITED = [m for m in BASE["measurements"] if m["limit_set"]]
RULES = [m for m in BASE["measurements"] if not m["limit_set"]]
finite = st.floats(min_value=0, max_value=1e4, allow_nan=False)


@st.composite
def v2_documents(draw: st.DrawFn, run_id: str) -> dict:
    trials = [{**BASE["trials"][0], "scenario": draw(st.sampled_from(["short-outage", "long-outage"])), "index": i,
               "outage_seconds": draw(finite), "poa_seconds": draw(st.none() | finite),
               "pra_seconds": draw(st.none() | finite), "evidence": draw(st.lists(st.integers(1, 99), max_size=3))}
              for i in range(draw(st.integers(0, 3)))]
    measurements = []
    for template in draw(st.lists(st.sampled_from(LIMITED + RULES), max_size=12)):
        measurements.append({**template, "value": draw(st.none() | finite | st.integers(0, 9) | st.text(max_size=8)),
                             "verdict": draw(st.sampled_from([v.value for v in Verdict][:4])),
                             "outage_seconds": draw(st.none() | finite), "note": draw(st.text(max_size=20))})
    tests = [{**t, "outcome": draw(st.sampled_from(["passed", "failed", "skipped", "error"]))} for t in BASE["tests"]]
    return {**BASE, "run_id": run_id, "trials": trials, "measurements": measurements, "tests": tests,
            "plans": draw(st.sampled_from([[""], ["power-outage"], ["power-outage", "clock-alert"]]))}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
    lambda ids: st.tuples(*[v2_documents(f"run-{i}") for i in ids])),
    broken=st.sets(st.integers(0, 3)))
def test_every_run_is_converted_or_kept_with_why_never_both_never_neither(tmp_path_factory, docs, broken) -> None:
    path = tmp_path_factory.mktemp("v1") / "results.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    for i, doc in enumerate(docs):
        save_v1(db, doc, document="[]" if i in broken else None)
    db.close()
    store = open_store(path)
    try:
        kept = {r.run_id for r in store.list()}
        left = dict(store.unconverted())
    finally:
        store.close()
    ids = {d["run_id"] for d in docs}
    assert kept | set(left) == ids and not kept & set(left)
    assert set(left) == {d["run_id"] for i, d in enumerate(docs) if i in broken}
    for doc in docs:
        if doc["run_id"] in kept:
            assert_converted(doc, path)


def test_a_limit_its_set_does_not_name_is_kept_in_words_and_unknown_fields_refuse() -> None:
    doc = real_docs()[1]
    doc["measurements"][0] = {**doc["measurements"][0], "limit": "poa_count <= 7 alerts [a lab's own rule]"}
    m = upgrade.upgrade_document(json.dumps(doc), {}).measurements[0]
    assert (m.bounds, m.rule, m.citation, m.limit_set) == (None, "poa_count <= 7 alerts", "a lab's own rule",
                                                           "sec-h3.14g")
    doc["measurements"][0]["margin"] = 3.0
    with pytest.raises(upgrade.UpgradeError, match="never wrote: \\['margin'\\]"):
        upgrade.upgrade_document(json.dumps(doc), {})


json_values = st.recursive(st.none() | st.booleans() | st.integers() | finite | st.text(max_size=10),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(sorted(BASE) + ["trials.0", "measurements.0", "tests.0", "limit_sets.0"]),
       value=json_values)
def test_a_damaged_document_is_refused_with_a_reason_never_a_crash(key: str, value: object) -> None:
    doc = json.loads(json.dumps(BASE))
    if "." in key:
        name, index = key.split(".")
        doc[name][int(index)] = value
    else:
        doc[key] = value
    try:
        upgrade.upgrade_document(json.dumps(doc), {})
    except upgrade.UpgradeError as exc:
        assert str(exc)
