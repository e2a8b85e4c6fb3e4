"""Rig leases, pools and health in the database, on SQLite (one host) and on a real PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa

from hubrig.harness.cli import main
from hubrig.harness.racks import health, leases, marker, pools
from hubrig.harness.racks.database import SCHEMA_VERSION, Database, DatabaseError, rigs, schema_meta
from hubrig.harness.racks.health import Health, HealthPolicy
from hubrig.harness.racks.leases import Heartbeat, LeaseError, LeaseLost
from hubrig.harness.rig import mains

ROOT = Path(__file__).resolve().parent.parent
VIRTUAL = ROOT / "rigs" / "virtual.yaml"
NORTH = ROOT / "rigs" / "virtual-north.yaml"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on each engine."""
    if request.param == "sqlite":
        return str(tmp_path / "hubrig.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(url: str):
    database = Database(url)
    pools.add_rig(database, "lab", VIRTUAL)
    yield database
    database.close()


def _wait_past(db: Database, instant: float) -> None:
    """Wait until the database's clock is past ``instant``."""
    while db.clock() <= instant:
        time.sleep(0.05)


def test_one_holder_at_a_time_and_the_token_grows(db: Database) -> None:
    first = leases.acquire(db, "virtual", "a", 30.0)
    assert first is not None and first.token == 1
    assert leases.acquire(db, "virtual", "b", 30.0) is None
    assert leases.release(db, first)
    assert not leases.release(db, first)  # a second release of the same holding does nothing
    second = leases.acquire(db, "virtual", "b", 30.0)
    assert second is not None and second.token == 2
    entries = leases.history(db)
    assert [(e.holder, e.token, e.end) for e in entries] == [("a", 1, "released"), ("b", 2, None)]
    assert entries[0].ended_at <= entries[1].acquired_at


def test_a_lease_lapses_by_itself_and_its_holder_is_fenced_off(db: Database) -> None:
    old = leases.acquire(db, "virtual", "dead", 0.3)
    _wait_past(db, old.expires_at)
    assert [s.state for s in leases.states(db)] == ["free"]  # recorded as lapsed when looked at
    new = leases.acquire(db, "virtual", "next", 30.0)
    assert new is not None and new.token == old.token + 1
    with pytest.raises(LeaseLost):
        leases.heartbeat(db, old)
    with pytest.raises(LeaseLost), db.begin() as conn:
        leases.verify(conn, db, old)
    assert not leases.release(db, old)  # the stale holder cannot free the new holder's rig
    lapsed = leases.history(db)[0]
    assert (lapsed.holder, lapsed.end, lapsed.ended_at) == ("dead", "lapsed", pytest.approx(old.expires_at))


def test_heartbeats_keep_a_lease_past_its_expiry(db: Database) -> None:
    lease = leases.acquire(db, "virtual", "alive", 2.5)
    beat = Heartbeat(db, lease, interval_s=0.1).start()
    try:
        _wait_past(db, lease.expires_at + 0.5)
        assert leases.acquire(db, "virtual", "other", 30.0) is None
        assert beat.beats > 0 and not beat.lost.is_set()
    finally:
        beat.stop()
    assert leases.release(db, lease)


def test_a_heartbeat_thread_reports_a_lost_lease(db: Database) -> None:
    lease = leases.acquire(db, "virtual", "holder", 30.0)
    lost: list[LeaseLost] = []
    beat = Heartbeat(db, lease, interval_s=0.05, on_lost=lost.append).start()
    leases.force_release(db, "virtual")
    assert beat.lost.wait(30)
    beat.stop()
    assert len(lost) == 1 and "no longer held" in str(lost[0])


def test_racing_acquirers_get_one_lease_each_round(db: Database) -> None:
    for round_ in range(3):
        barrier = threading.Barrier(6)
        won: list[str] = []

        def racer(name: str) -> None:
            barrier.wait()
            if leases.acquire(db, "virtual", name, 30.0) is not None:
                won.append(name)

        threads = [threading.Thread(target=racer, args=(f"r{round_}-{i}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, won
        leases.force_release(db, "virtual", won[0])
    assert [e.token for e in leases.history(db)] == [1, 2, 3]


def test_lease_times_come_from_the_database_clock(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 946684800.0)  # a client clock stuck in 2000
    lease = leases.acquire(db, "virtual", "a", 10.0)
    monkeypatch.undo()
    assert abs(lease.acquired_at - db.clock()) < 60
    assert lease.expires_at == pytest.approx(lease.acquired_at + 10.0)


def test_release_from_a_named_holder_only(db: Database) -> None:
    lease = leases.acquire(db, "virtual", "ci-job-7", 30.0)
    with pytest.raises(LeaseError, match="held by 'ci-job-7', not 'someone'"):
        leases.force_release(db, "virtual", "someone")
    entry = leases.force_release(db, "virtual", "ci-job-7")
    assert (entry.end, entry.token) == ("broken", lease.token)
    with pytest.raises(LeaseLost):
        leases.heartbeat(db, lease)


def test_a_bad_or_maintenance_rig_is_not_leased_for_jobs(db: Database) -> None:
    from hubrig.harness.racks.runner import PoolJob, PoolTimeout, lease_rig

    pools.add_rig(db, "lab", NORTH)
    health.record_check(db, "virtual", False, "supply did not answer")
    health.set_health(db, "virtual-north", Health.MAINTENANCE, "new ITCH cable")
    job = PoolJob("lab", "runner", ttl_s=5.0, wait_s=0.5, progress_every_s=0.2)
    said: list[str] = []
    with pytest.raises(PoolTimeout, match="virtual bad, virtual-north maintenance"):
        lease_rig(db, job, "job-1", said.append)
    assert any("waiting for a rig" in line for line in said)
    health.record_check(db, "virtual", True, "3 probes answered")
    entry, lease = lease_rig(db, job, "job-2", said.append)
    assert entry.name == "virtual" and lease.holder == "runner"


def test_health_check_is_due_by_policy() -> None:
    policy = HealthPolicy(every_jobs=3, every_hours=2.0)
    assert health.check_due("unknown", None, 0, 0.0, policy) == "health is unknown"
    assert health.check_due("good", 1000.0, 1, 1000.0 + 3600, policy) is None
    assert "3 jobs" in health.check_due("good", 1000.0, 3, 1000.0, policy)
    assert "2.0 h" in health.check_due("good", 1000.0, 0, 1000.0 + 7200, policy)
    with pytest.raises(ValueError):
        HealthPolicy(every_jobs=0)


def test_an_infrastructure_error_makes_the_rig_unknown_until_checked(db: Database) -> None:
    health.record_check(db, "virtual", True, "ok")
    health.record_job(db, "virtual", None)
    assert pools.get_rig(db, "virtual").jobs_since_check == 1
    health.record_job(db, "virtual", "ITCH port lost")
    entry = pools.get_rig(db, "virtual")
    assert entry.health is Health.UNKNOWN and "ITCH port lost" in entry.health_reason
    ok, detail = health.run_check(entry.rigfile)
    assert ok, detail
    assert health.record_check(db, "virtual", ok, detail) is Health.GOOD
    assert pools.get_rig(db, "virtual").jobs_since_check == 0


class _Switch:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def set_output(self, on: bool) -> int:
        self.calls.append(on)
        return len(self.calls)


def test_mains_left_cut_by_a_dead_holder_is_restored_by_the_next(db: Database) -> None:
    from hubrig.harness.capture.events import EventBus
    from hubrig.harness.clock import VirtualClock

    dead = leases.acquire(db, "virtual", "dead", 0.3)
    with marker.installed(db, dead):
        clock = VirtualClock()
        m = mains.Mains(_Switch(), clock, EventBus(clock), None, "virtual")
        m.cut()  # ... and the holder is killed here: the marker stays in the database
        m._closed = True
        assert json.loads(pools.get_rig(db, "virtual").mains_off)["holder"] == "dead"
        _wait_past(db, dead.expires_at)
        with pytest.raises(LeaseLost):  # a lapsed holder cannot cut mains again
            m.cut()
    nxt = leases.acquire(db, "virtual", "next", 30.0)
    with marker.installed(db, nxt):
        switch = _Switch()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fresh = mains.Mains(switch, clock, EventBus(clock), None, "virtual")
        assert switch.calls == [True]  # restored before anything else
        assert fresh.recovered["holder"] == "dead"
        assert any("lease record" in str(w.message) for w in caught)
        assert pools.get_rig(db, "virtual").mains_off is None
        fresh.close()
    assert "virtual" not in mains.marker_stores


def _old_store(path: Path, script: str) -> Path:
    """An SQLite file written by an older hubrig's store (plain sqlite3, no schema_meta)."""
    old = sqlite3.connect(path)
    old.executescript(script)
    old.commit()
    old.close()
    return path


def test_a_first_store_file_migrates_forward(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "old.sqlite", """
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, plan TEXT NOT NULL, rig TEXT NOT NULL,
            dut TEXT NOT NULL, verdict TEXT NOT NULL, n_trials INTEGER NOT NULL, n_failures INTEGER NOT NULL,
            document TEXT NOT NULL);
        CREATE TABLE trials (run_id TEXT NOT NULL, scenario TEXT NOT NULL, idx INTEGER NOT NULL,
            outage_seconds REAL NOT NULL, poa_seconds REAL, pra_seconds REAL, pra_alert_code TEXT);
        CREATE TABLE measurements (run_id TEXT NOT NULL, scenario TEXT NOT NULL, name TEXT NOT NULL, value TEXT,
            unit TEXT, limit_set TEXT, verdict TEXT NOT NULL);
        INSERT INTO runs VALUES ('r1', '2026-01-01T00:00:00', 'power-outage', 'virtual', '-', 'pass', 0, 0, '{}');
    """)
    with Database(path) as db:
        with db.begin() as conn:  # a schema-1 document that is no whole run ('{}') stays aside, with why
            assert conn.execute(sa.text("SELECT run_id FROM runs_v1")).all() == [("r1",)]
            assert "not hubrig-results/2" in conn.execute(sa.text("SELECT convert_error FROM runs_v1")).scalar()
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 0
            assert conn.execute(sa.select(schema_meta.c.value)).scalar() == str(SCHEMA_VERSION)
        pools.add_rig(db, "lab", VIRTUAL)  # the new tables are there
    with Database(path) as db, db.begin() as conn:  # opening again changes nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(rigs)).scalar() == 1


def test_a_plan_agnostic_store_file_gains_the_racks_tables(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "store3.sqlite", """
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, started TEXT NOT NULL, plans TEXT NOT NULL, rig TEXT NOT NULL,
            dut TEXT NOT NULL, verdict TEXT NOT NULL, n_records INTEGER NOT NULL, n_failures INTEGER NOT NULL,
            document TEXT NOT NULL);
        CREATE TABLE run_plans (run_id TEXT NOT NULL, plan TEXT NOT NULL);
        CREATE TABLE records (run_id TEXT NOT NULL, plan TEXT NOT NULL, kind TEXT NOT NULL, scenario TEXT NOT NULL,
            idx INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE measurements (run_id TEXT NOT NULL, scenario TEXT NOT NULL, name TEXT NOT NULL, value TEXT,
            unit TEXT, limit_set TEXT, verdict TEXT NOT NULL);
        INSERT INTO runs VALUES ('r3', '2026-01-01T00:00:00', 'power-outage', 'virtual', '-', 'pass', 0, 0, '{}');
        PRAGMA user_version = 3;
    """)
    with Database(path) as db, db.begin() as conn:
        assert conn.execute(sa.text("SELECT run_id, pool, lease_token FROM runs")).all() == [("r3", None, None)]
        assert conn.execute(sa.select(sa.func.count()).select_from(rigs)).scalar() == 0


def test_a_newer_schema_is_refused(url: str) -> None:
    with Database(url) as db, db.begin() as conn:
        conn.execute(sa.update(schema_meta).values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(DatabaseError, match=f"schema {SCHEMA_VERSION + 1} is newer"):
        Database(url)


def test_a_database_that_cannot_be_reached_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lease", "list", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hubrig: postgresql+psycopg://nobody@127.0.0.1:1/none: cannot open:")
    assert "Traceback" not in err


def test_cli_pools_and_leases(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rig", "add", "--pool", "lab", str(VIRTUAL), "--db", url]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(VIRTUAL.read_text().replace("kind: virtual", "kind: imaginary"))
    assert main(["rig", "add", "--pool", "lab", str(bad), "--db", url]) == 2
    assert f"{bad}:" in capsys.readouterr().err
    assert main(["rig", "health", "virtual", "--db", url]) == 0
    assert "health check passed" in capsys.readouterr().out
    assert main(["rig", "health", "virtual", "maintenance", "--reason", "recabling", "--db", url]) == 0
    capsys.readouterr()
    assert main(["rig", "list", "--db", url]) == 0
    listing = capsys.readouterr().out
    assert "maintenance" in listing and "recabling" in listing and "passed" in listing
    with Database(url) as db:
        leases.acquire(db, "virtual", "ci-42", 60.0)
    assert main(["lease", "list", "--db", url]) == 0
    assert "ci-42" in capsys.readouterr().out
    assert main(["lease", "release", "virtual", "--from", "ci-41", "--db", url]) == 2
    assert main(["lease", "release", "virtual", "--from", "ci-42", "--db", url]) == 0
    capsys.readouterr()
    assert main(["lease", "history", "--json", "--db", url]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [h["end"] for h in history] == ["released", "broken"]
    assert history[0]["job"] == "health check" and history[1]["holder"] == "ci-42"


def test_a_lease_survives_a_database_restart(pg_server, pg_url: str) -> None:
    if not hasattr(pg_server, "restart"):
        pytest.skip("HUBRIG_TEST_PG_URL: an external server is not restarted by the tests")
    with Database(pg_url) as db:
        pools.add_rig(db, "lab", VIRTUAL)
        lease = leases.acquire(db, "virtual", "survivor", 60.0)
        pg_server.restart()
        assert [(s.holder, s.token, s.state) for s in leases.states(db)] == [("survivor", lease.token, "held")]
        assert leases.heartbeat(db, lease) > lease.expires_at - 60.0
        assert leases.acquire(db, "virtual", "other", 60.0) is None


def test_mains_left_cut_that_cannot_be_restored_makes_the_rig_bad_and_keeps_the_marker(
        db: Database, tmp_path: Path) -> None:
    """The next holder's first act on a real rig is the restore; a supply that does not answer
    means the rig is bad (not leased for jobs), nothing else is tried on it, the marker stays."""
    import yaml

    from hubrig.harness.racks.runner import PoolJob, prepare
    from tests.pgserver import free_port

    doc = yaml.safe_load((ROOT / "rigs" / "examples" / "bench-ac6800.yaml").read_text())
    doc["instruments"]["supply"].update(resource=f"TCPIP0::127.0.0.1::{free_port()}::SOCKET", timeout_s=1.0)
    doc["state_dir"] = str(tmp_path / "state")
    rigfile = tmp_path / "dead-supply.yaml"
    rigfile.write_text(yaml.safe_dump(doc))
    name = pools.add_rig(db, "lab", rigfile).name
    dead = leases.acquire(db, name, "dead", 0.3)
    marker.DatabaseMarker(db, dead).write({"rig": name, "cut_at": "2026-11-26T05:00:00+00:00"})
    _wait_past(db, dead.expires_at)
    nxt = leases.acquire(db, name, "next", 30.0)
    said: list[str] = []
    with marker.installed(db, nxt):
        assert not prepare(db, pools.get_rig(db, name), nxt, PoolJob("lab", "next"), said.append)
    entry = pools.get_rig(db, name)
    assert entry.health is Health.BAD and "could not be restored" in entry.health_reason
    assert json.loads(entry.mains_off)["holder"] == "dead"
    assert any("MAINS IS STILL OFF" in line for line in said)
    assert not any("health check (" in line for line in said)  # no probe of a rig whose mains is cut
