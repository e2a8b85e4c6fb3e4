"""The results store on both engines (one API), concurrent writers on PostgreSQL, trends and comparisons."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hubrig.harness.cli import main
from hubrig.harness.racks.database import Database
from hubrig.harness.racks.trends import compare, trends
from hubrig.harness.results.model import (DeviceIdentity, Measurement, PlanRecord, RigInfo, RunFilter, RunResults,
                                          TestOutcome, Verdict)
from hubrig.harness.results.store import open_store

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "results.sqlite")
    return request.getfixturevalue("pg_url")


def run(run_id: str, night: int, firmware: str, poa_p95: float, *, rig: str = "bench-1",
        delivered: float = 1.0, test_outcome: str = "passed") -> RunResults:
    verdict = Verdict.PASS if poa_p95 <= 180.0 else Verdict.FAIL
    return RunResults(
        run_id=run_id, started=T0 + timedelta(days=night), rig=RigInfo(name=rig, kind="virtual"),
        plans=["power-outage"],
        dut=[DeviceIdentity(role="comms_hub", eui="00DB1234567890A3", firmware=firmware)],
        measurements=[
            Measurement(name="poa_p95_s", scenario="3min", value=poa_p95, unit="s", verdict=verdict,
                        limit_set="sec-h3.14g"),
            Measurement(name="poa_delivery", scenario="3min", value=delivered, unit="ratio", verdict=Verdict.INFO),
            Measurement(name="pra_code", scenario="3min", value="8F36", unit="", verdict=Verdict.INFO)],
        records=[PlanRecord(plan="power-outage", kind="trial", scenario="3min",
                            data={"outage_seconds": 180.0, "poa_seconds": poa_p95})],
        tests=[TestOutcome(nodeid="testplans/test_power_outage.py::test_poa[3min]", outcome=test_outcome,
                           plan="power-outage")])


def test_one_api_on_both_engines(url: str) -> None:
    store = open_store(url)
    try:
        for night in range(3):
            store.save(run(f"n{night}", night, "2.0.0", 170.0 + night))
        store.save(run("n1", 1, "2.0.1", 175.0))  # the same id again replaces it
        assert [s.run_id for s in store.list()] == ["n2", "n1", "n0"]
        assert store.get("n1").dut[0].firmware == "2.0.1"
        assert store.get("n2") == run("n2", 2, "2.0.0", 172.0)
    finally:
        store.close()


def test_concurrent_writers_on_postgresql_lose_nothing(pg_url: str) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        store = open_store(pg_url)
        try:
            for i in range(15):
                store.save(run(f"w{k}-{i}", i, "2.0.0", 170.0))
                store.save(run("contended", i, f"fw-{k}-{i}", 170.0))  # everyone replaces one run too
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_store(pg_url)
    try:
        ids = {s.run_id for s in store.list(RunFilter(limit=1000))}
        assert ids == {f"w{k}-{i}" for k in range(4) for i in range(15)} | {"contended"}
        assert len(store.get("contended").measurements) == 3  # one writer's whole run, not a mix
        with Database(pg_url) as db:
            found = trends(db, measurement="poa_p95_s")
        assert sum(len(t.points) for t in found) == 61
    finally:
        store.close()


def test_trend_per_rig_firmware_and_measurement(url: str, tmp_path: Path) -> None:
    store = open_store(url)
    for night, (fw, p95) in enumerate([("2.0.0", 170.0), ("2.0.0", 172.0), ("2.1.0", 185.0), ("2.1.0", 190.0)]):
        store.save(run(f"night{night}", night, fw, p95))
    store.save(run("other-rig", 0, "2.0.0", 100.0, rig="bench-2"))
    store.close()
    with Database(url) as db:
        found = trends(db, rig="bench-1", measurement="poa_p95")
    assert [(t.firmware, [p.value for p in t.points]) for t in found] == [
        ("comms_hub 2.0.0", [170.0, 172.0]), ("comms_hub 2.1.0", [185.0, 190.0])]
    assert [p.verdict for p in found[1].points] == ["fail", "fail"]

    plots = tmp_path / "plots"
    assert main(["results", "trend", "--db", url, "--plots", str(plots), "--json"]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["3min__poa_delivery.png", "3min__poa_p95_s__sec-h3.14g_.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in plots.iterdir())


def test_trend_table_and_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(url)
    store.save(run("a", 0, "2.0.0", 170.0))
    store.save(run("b", 1, "2.0.0", 178.5))
    store.close()
    assert main(["results", "trend", "--db", url, "--plots", "-", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    p95 = [t for t in doc["trends"] if t["name"] == "poa_p95_s"][0]
    assert [p["value"] for p in p95["points"]] == [170.0, 178.5] and p95["rig"] == "bench-1"
    assert main(["results", "trend", "--db", url, "--plots", "-", "--measurement", "p95"]) == 0
    out = capsys.readouterr().out
    assert "poa_p95_s" in out and "+8.5 s" in out and "poa_delivery" not in out


def test_compare_names_what_got_worse() -> None:
    a = run("a", 0, "2.0.0", 170.0)
    b = run("b", 1, "2.1.0", 190.0, delivered=0.9, test_outcome="failed")
    changes = {(c.kind, c.key): c for c in compare(a, b)}
    assert changes[("verdict", "run")].worse
    assert changes[("test", "test_poa[3min] (power-outage)")].after == "failed"
    p95 = changes[("measurement", "3min: poa_p95_s [sec-h3.14g]")]
    assert (p95.before, p95.after, p95.worse) == ("170 s (pass)", "190 s (fail)", True)
    trial = changes[("record", "power-outage trial 3min #0 poa_seconds")]
    assert (trial.before, trial.after, trial.worse) == ("170", "190", False)
    delivery = changes[("measurement", "3min: poa_delivery")]
    assert not delivery.worse and delivery.after == "0.9 ratio (info)"
    assert compare(a, a) == []
    better = {(c.kind, c.key): c for c in compare(b, a)}
    assert not any(c.worse for c in better.values())


def test_compare_cli_exits_non_zero_when_worse(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(url)
    store.save(run("good-night", 0, "2.0.0", 170.0))
    store.save(run("bad-night", 1, "2.1.0", 190.0))
    store.close()
    assert main(["results", "compare", "good-night", "bad-night", "--db", url]) == 1
    assert "WORSE measurement: 3min: poa_p95_s [sec-h3.14g]: 170 s (pass) -> 190 s (fail)" in capsys.readouterr().out
    assert main(["results", "compare", "bad-night", "good-night", "--db", url, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["worse"] is False and {c["kind"] for c in doc["changes"]} == {"verdict", "measurement", "record"}
    assert main(["results", "compare", "good-night", "nope", "--db", url]) == 2
