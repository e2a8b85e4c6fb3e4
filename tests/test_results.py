"""The results schema (versioned, strict, plan-agnostic) and the SQLite results store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.results.files import ResultsError, load_results, save_results
from hubrig.harness.results.measurements import judge_quantity
from hubrig.harness.results.model import DeviceTsat, RigInfo, RunFilter, RunResults, TestOutcome, TsatRecord
from hubrig.harness.results.store import DatabaseResultsStore, open_store
from hubrig.harness.rules.limits import load_limits
from hubrig.testplans.outage_results import Trial

SETS = load_limits().select(["sec-h3.14g", "dno-ena-2019"])
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def tsat_record(installable: bool = True, on_violation: str = "warn") -> TsatRecord:
    word = "installable" if installable else "not installable"
    reason = f"{word}: ESMETS 3.1 / GBCS 2.1 IVP 2018-11-08 to 2021-04-27 excludes 2026-03-01 [row 3]"
    return TsatRecord(date=T0.date(), table="Schedule 11 v9.0 + MP139", on_violation=on_violation, devices=[
        DeviceTsat(role="esme", device_type="ESMETS", spec="3.1", gbcs="2.1", installable=installable,
                   maintainable=True, gbcs_applicable=True, reasons=[reason],
                   violations=[] if installable else [reason], row="row 3")])


def make_run(run_id: str, trials: list[Trial], started: datetime = T0, tsat: TsatRecord | None = None,
             tests: list[TestOutcome] | None = None) -> RunResults:
    ms = []
    for t in trials:
        ms += judge_quantity(SETS, "pra_latency_s", scenario=t.scenario, value=t.pra_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence, trial=t.index)
    return RunResults(run_id=run_id, started=started, rig=RigInfo(name="virtual", kind="virtual", seed=3),
                      plans=["power-outage", "device-log"], limit_sets=SETS, measurements=ms,
                      records=[t.to_record() for t in trials],
                      limits_version="2026.1", tsat=tsat or tsat_record(), tests=tests or [])


trial_st = st.builds(
    Trial, scenario=st.sampled_from(["short-outage", "long-outage", "repeated"]), index=st.integers(0, 99),
    outage_seconds=st.floats(0, 1e4), poa_seconds=st.one_of(st.none(), st.floats(0, 1e4)),
    pra_seconds=st.one_of(st.none(), st.floats(0, 1e4)),
    pra_alert_code=st.one_of(st.none(), st.sampled_from(["8F35", "8F36", "8F3A"])),
    evidence=st.lists(st.integers(1, 10**6), max_size=3))


@settings(max_examples=25, deadline=None)  # each example fsyncs a file and commits a new SQLite store
@given(st.lists(trial_st, max_size=8), st.booleans(), st.sampled_from(["warn", "fail"]))
def test_results_round_trip_through_json_and_the_store(tmp_path_factory, trials, installable, on_violation):
    run = make_run("run-x", trials, tsat=tsat_record(installable, on_violation))
    path = save_results(run, tmp_path_factory.mktemp("r") / "results.json")
    assert load_results(path) == run
    store = DatabaseResultsStore(tmp_path_factory.mktemp("db") / "results.sqlite")
    store.save(run)
    assert store.get("run-x") == run
    store.close()


def test_the_schema_is_versioned_and_forbids_unknown_fields(tmp_path: Path):
    doc = json.loads(make_run("r", []).model_dump_json())
    assert doc["schema_version"] == "hubrig-results/3"
    doc["measurements"] = [{"name": "x", "scenario": "s", "value": 1.0, "verdict": "pass", "surprise": 1}]
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=r"results.json: measurements.0.surprise: Extra inputs"):
        load_results(bad)
    doc["measurements"] = []
    doc["schema_version"] = "hubrig-results/99"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match="schema_version"):
        load_results(bad)


def test_trials_require_the_latency_fields_and_a_four_hex_digit_alert_code():
    with pytest.raises(ValueError):
        Trial(scenario="s", outage_seconds=10.0, pra_seconds=1.0)  # poa_seconds must be stated, even null
    with pytest.raises(ValueError):
        Trial(scenario="s", outage_seconds=10.0, poa_seconds=None, pra_seconds=1.0, pra_alert_code="0x8F36")


def test_verdict_and_failures_follow_the_measurements():
    ok = make_run("ok", [Trial(scenario="s", outage_seconds=60, poa_seconds=None, pra_seconds=30.0)])
    late = make_run("late", [Trial(scenario="s", outage_seconds=60, poa_seconds=None, pra_seconds=61.0)])
    assert ok.verdict == "pass" and not ok.failures()
    assert late.verdict == "fail" and {m.limit_set for m in late.failures()} == {"sec-h3.14g", "dno-ena-2019"}


def test_store_lists_newest_first_and_finds_runs_by_prefix(tmp_path: Path):
    store = open_store(tmp_path / "db.sqlite")
    for i in range(3):
        store.save(make_run(f"2026030{i}-run{i}", [Trial(scenario="s", outage_seconds=60, poa_seconds=None,
                                                          pra_seconds=30.0 + 40 * i)],
                            started=T0 + timedelta(days=i)))
    listed = store.list()
    assert [r.run_id for r in listed] == ["20260302-run2", "20260301-run1", "20260300-run0"]
    assert [r.verdict for r in listed] == ["fail", "fail", "pass"]
    assert listed[0].records == 1 and listed[0].failures == 2
    assert store.get("20260301").run_id == "20260301-run1"
    with pytest.raises(ResultsError, match="ambiguous"):
        store.get("2026030")
    with pytest.raises(ResultsError, match="no run 'nope'"):
        store.get("nope")
    for wildcard in ("2026030_", "%"):  # a prefix is text, never an SQL pattern
        with pytest.raises(ResultsError, match="no run"):
            store.get(wildcard)
    store.close()


def test_saving_a_run_again_replaces_it(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite".replace("sqlite:///", "sqlite:////"))
    store.save(make_run("same", []))
    store.save(make_run("same", [Trial(scenario="s", outage_seconds=1, poa_seconds=None, pra_seconds=None)]))
    assert len(store.list()) == 1 and len(store.get("same").records) == 1
    store.close()
    assert (tmp_path / "db.sqlite").exists()


def test_store_urls_name_unsupported_backends_and_bad_files(tmp_path: Path):
    with pytest.raises(ResultsError, match="hubrig stores in sqlite or postgresql, not 'mysql'"):
        open_store("mysql://lab/results")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ResultsError, match="junk.sqlite: not a hubrig results database"):
        open_store(junk)


def test_default_store_location_follows_the_environment(tmp_path: Path, monkeypatch):
    from hubrig.harness.results.store import default_store_location

    monkeypatch.delenv("HUBRIG_DB")
    monkeypatch.setenv("HUBRIG_RESULTS_DB", str(tmp_path / "x.sqlite"))
    assert default_store_location() == str(tmp_path / "x.sqlite")
    monkeypatch.setenv("HUBRIG_DB", "postgresql://lab/hubrig")  # the racks' name wins
    assert default_store_location() == "postgresql://lab/hubrig"
    monkeypatch.delenv("HUBRIG_DB")
    monkeypatch.delenv("HUBRIG_RESULTS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_location() == str(tmp_path / "hubrig" / "results.sqlite")


def test_a_file_that_is_not_json_names_its_line(tmp_path: Path):
    bad = tmp_path / "results.json"
    bad.write_text('{"run_id": "r",\n not json')
    with pytest.raises(ResultsError, match=r"results.json:2: not JSON"):
        load_results(bad)


def test_a_tsat_violation_fails_the_run_only_when_the_rig_file_says_fail():
    good = tsat_record()
    assert good.violations() == [] and not good.fails_run
    warned = tsat_record(installable=False)
    assert warned.violations() == ["esme: not installable: ESMETS 3.1 / GBCS 2.1 IVP 2018-11-08 to 2021-04-27 "
                                   "excludes 2026-03-01 [row 3]"]
    assert make_run("w", [], tsat=warned).verdict == "pass"
    assert make_run("f", [], tsat=tsat_record(installable=False, on_violation="fail")).verdict == "fail"
    unjudged = TsatRecord(date=T0.date(), table="t", on_violation="fail", errors=["esme: cannot be judged: x"])
    assert unjudged.violations() == ["esme: cannot be judged: x"] and unjudged.fails_run


def test_counts_per_plan_and_for_the_run():
    tests = [TestOutcome(nodeid="a::t1", outcome="passed", plan="device-log"),
             TestOutcome(nodeid="a::t2", outcome="error", plan="device-log"),
             TestOutcome(nodeid="b::t1", outcome="skipped", plan="clock-alert"),
             TestOutcome(nodeid="b::t2", outcome="failed", plan="clock-alert")]
    run = make_run("c", [], tests=tests)
    assert run.counts("device-log") == {"passed": 1, "failed": 1, "skipped": 0, "not run": 0}
    assert run.counts("clock-alert") == {"passed": 0, "failed": 1, "skipped": 1, "not run": 0}
    assert run.counts() == {"passed": 1, "failed": 2, "skipped": 1, "not run": 0} and run.verdict == "fail"


def test_bounds_judge_describe_and_measure_the_margin():
    from hubrig.harness.results.model import Bounds

    upper = Bounds(comparison="<=", upper=60, unit="s")
    assert upper.passes(60) and not upper.passes(60.5) and upper.margin(75.5) == -15.5
    assert upper.describe() == "<= 60 s"
    band = Bounds(comparison="between", lower=216, upper=253, unit="V")
    assert band.describe() == "between 216 and 253 V" and band.margin(250) == 3 and band.margin(210) == -6
    for bad in (dict(comparison="<=", lower=1), dict(comparison="between", upper=1),
                dict(comparison="holds", upper=1), dict(comparison=">=", lower=float("inf"))):
        with pytest.raises(ValueError):
            Bounds(**bad)
    [m] = judge_quantity(SETS[:1], "pra_latency_s", scenario="s", value=75.5, outage_s=60.0, evidence=[4])
    assert (m.bounds, m.citation, m.rule, m.conditions) == (upper, "H3.14(g): restoration Alert within 60 s", "",
                                                           {"outage_s": 60.0})
    assert m.margin() == -15.5 and m.verdict.value == "fail"


def test_a_declared_measurement_never_recorded_is_unset_and_fails_the_run():
    from hubrig.harness.results.measurements import unset

    run = make_run("u", [])
    assert run.verdict == "pass"
    run.measurements.append(unset("poa_latency_s", scenario="long-outage", test="t.py::test_long_outage"))
    assert run.verdict == "fail" and [m.verdict.value for m in run.failures()] == ["unset"]
    assert "UNSET" in run.failures()[0].explain() and "never recorded" in run.failures()[0].explain()


def test_an_interrupted_run_is_never_pass_and_keeps_what_it_measured(tmp_path: Path):
    trial = Trial(scenario="s", outage_seconds=60, poa_seconds=None, pra_seconds=30.0)
    run = make_run("i", [trial]).model_copy(update={"status": "interrupted", "interruption": "interrupted by SIGTERM"})
    assert run.verdict == "interrupted"
    again = load_results(save_results(run, tmp_path / "results.json"))
    assert again.verdict == "interrupted" and Trial.all_in(again.records) == [trial]
    assert json.loads((tmp_path / "results.json").read_text())["verdict"] == "interrupted"


def test_plan_records_are_kept_without_the_core_knowing_their_fields(tmp_path: Path):
    from hubrig.harness.results.model import PlanRecord

    foreign = PlanRecord(plan="rf-noise", kind="mask_margin", scenario="band-2", index=3,
                         data={"margin_db": -2.5, "worst_hz": 2_405_000_000, "trace": [1.0, 2.0]})
    run = make_run("p", []).model_copy(update={"records": [foreign]})
    store = open_store(tmp_path / "db.sqlite")
    store.save(run)
    assert store.get("p").records == [foreign]
    store.close()
    assert Trial.all_in([foreign]) == []  # typed reading takes only the plan's own kind


def test_store_filters_by_rig_dut_plan_verdict_and_date(tmp_path: Path):
    store = open_store(tmp_path / "db.sqlite")
    good = Trial(scenario="s", outage_seconds=60, poa_seconds=None, pra_seconds=30.0)
    late = Trial(scenario="s", outage_seconds=60, poa_seconds=None, pra_seconds=90.0)
    for i, (rig, trial, plans) in enumerate([("bench-1", good, ["power-outage"]), ("bench-2", late, ["device-log"]),
                                              ("bench-1", late, ["power-outage", "device-log"])]):
        run = make_run(f"r{i}", [trial], started=T0 + timedelta(days=i))
        store.save(run.model_copy(update={"rig": RigInfo(name=rig, kind="real"), "plans": plans}))

    def ids(**kw) -> list[str]:
        return [r.run_id for r in store.list(RunFilter(**kw))]

    assert ids() == ["r2", "r1", "r0"]
    assert ids(rig="bench-1") == ["r2", "r0"] and ids(verdict="fail") == ["r2", "r1"]
    assert ids(plan="device-log") == ["r2", "r1"] and ids(since=T0 + timedelta(days=1)) == ["r2", "r1"]
    assert ids(rig="bench-1", verdict="pass") == ["r0"] and ids(limit=1) == ["r2"]
    assert ids(dut="nothing like it") == []
    store.close()


def test_the_shipped_json_schema_is_the_models_and_a_document_validates(tmp_path: Path):
    import jsonschema

    from hubrig.harness.results.model import SCHEMA_FILE, json_schema

    shipped = json.loads(SCHEMA_FILE.read_text())
    assert shipped == json_schema(), "regenerate: python -m hubrig.harness.results.model"
    doc = json.loads(make_run("s", [Trial(scenario="s", outage_seconds=1, poa_seconds=None, pra_seconds=2.0)],
                              tsat=tsat_record(False)).model_dump_json())
    jsonschema.validate(doc, shipped)
    doc["measurements"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, shipped)


def test_a_database_of_an_older_schema_migrates_forward_not_mixed(tmp_path: Path):
    import sqlite3

    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, document TEXT)")
        db.execute("INSERT INTO runs VALUES ('old-run', '{\"schema_version\": \"hubrig-results/2\"}')")
    store = open_store(old)  # a document that is no whole run stays aside (runs_v1), never listed
    assert store.list() == []
    store.save(make_run("new-run", []))
    assert [s.run_id for s in store.list()] == ["new-run"]
    store.close()
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT run_id FROM runs_v1").fetchall() == [("old-run",)]


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch):
    import errno
    import os

    from hubrig.harness.results import files

    target = tmp_path / "results.json"
    target.write_text("previous")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        save_results(make_run("d", []), target)
    assert os.listdir(tmp_path) == ["results.json"] and target.read_text() == "previous"
