"""The results schema (versioned, strict) and the SQLite results store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.limits import load_limits
from harness.measurements import judge_quantity
from harness.results import (ResultsError, RigInfo, RunResults, SqliteResultsStore, Trial, load_results,
                             open_store, save_results)

SETS = load_limits().select(["sec-h3.14g", "dno-ena-2019"])
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_run(run_id: str, trials: list[Trial], started: datetime = T0) -> RunResults:
    ms = []
    for t in trials:
        ms += judge_quantity(SETS, "pra_latency_s", scenario=t.scenario, value=t.pra_seconds,
                             outage_s=t.outage_seconds, evidence=t.evidence, trial=t.index)
    return RunResults(run_id=run_id, started=started, rig=RigInfo(name="virtual", kind="virtual", seed=3),
                      limit_sets=SETS, measurements=ms, trials=trials, limits_version="2026.1")


trial_st = st.builds(
    Trial, scenario=st.sampled_from(["short-outage", "long-outage", "repeated"]), index=st.integers(0, 99),
    outage_seconds=st.floats(0, 1e4), poa_seconds=st.one_of(st.none(), st.floats(0, 1e4)),
    pra_seconds=st.one_of(st.none(), st.floats(0, 1e4)),
    pra_alert_code=st.one_of(st.none(), st.sampled_from(["8F35", "8F36", "8F3A"])),
    evidence=st.lists(st.integers(1, 10**6), max_size=3))


@settings(max_examples=40)
@given(st.lists(trial_st, max_size=8))
def test_results_round_trip_through_json_and_the_store(tmp_path_factory, trials):
    run = make_run("run-x", trials)
    path = save_results(run, tmp_path_factory.mktemp("r") / "results.json")
    assert load_results(path) == run
    store = SqliteResultsStore(tmp_path_factory.mktemp("db") / "results.sqlite")
    store.save(run)
    assert store.get("run-x") == run
    store.close()


def test_the_schema_is_versioned_and_forbids_unknown_fields(tmp_path: Path):
    doc = json.loads(make_run("r", []).model_dump_json())
    assert doc["schema_version"] == "hubrig-results/1"
    doc["trials"] = [{"scenario": "s", "outage_seconds": 1.0, "poa_seconds": None, "pra_seconds": 2.0,
                      "surprise": 1}]
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=r"results.json: trials.0.surprise: Extra inputs"):
        load_results(bad)
    doc["trials"] = []
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
    assert listed[0].trials == 1 and listed[0].failures == 2
    assert store.get("20260301").run_id == "20260301-run1"
    with pytest.raises(ResultsError, match="ambiguous"):
        store.get("2026030")
    with pytest.raises(ResultsError, match="no run 'nope'"):
        store.get("nope")
    store.close()


def test_saving_a_run_again_replaces_it(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite".replace("sqlite:///", "sqlite:////"))
    store.save(make_run("same", []))
    store.save(make_run("same", [Trial(scenario="s", outage_seconds=1, poa_seconds=None, pra_seconds=None)]))
    assert len(store.list()) == 1 and len(store.get("same").trials) == 1
    store.close()
    assert (tmp_path / "db.sqlite").exists()


def test_store_urls_name_unsupported_backends_and_bad_files(tmp_path: Path):
    with pytest.raises(ResultsError, match="no backend for 'postgresql'"):
        open_store("postgresql://lab/results")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ResultsError, match="junk.sqlite: not a hubrig results database"):
        open_store(junk)


def test_default_store_location_follows_the_environment(tmp_path: Path, monkeypatch):
    from harness.results import default_store_location

    monkeypatch.setenv("HUBRIG_RESULTS_DB", str(tmp_path / "x.sqlite"))
    assert default_store_location() == str(tmp_path / "x.sqlite")
    monkeypatch.delenv("HUBRIG_RESULTS_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_location() == str(tmp_path / "hubrig" / "results.sqlite")
