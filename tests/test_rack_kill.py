"""Mains safety across processes, for real: a pooled runner (``hubrig run --pool``) whose rig's
supply is served by ``hubrig bench serve`` in another process is SIGKILLed, with its plans, while
mains is cut; its lease lapses by the database's clock; a second runner process takes the rig and,
before anything else, restores mains (the bench's ground-truth log says so, on the second runner's
own connection), clears the database marker, and then runs and records its job normally.

On PostgreSQL (a lab's shared database: the next holder could be another host) and on SQLite (one
host). The plan is the RF noise plan's emissions scenario, whose reference sweep cuts mains for the
rig file's ``rf_noise.settle_s`` (kept short here): the shortest plan that cuts mains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from bench import ServedBench, serve_bench
from hubrig.harness.racks import leases, pools
from hubrig.harness.racks.database import Database, runs

pytestmark = pytest.mark.realtime

POOL = "kill"
TTL_S = 2.0
"""Lease expiry: a heartbeat every TTL_S / 3; the dead holder's lease lapses TTL_S after its last one."""
SETTLE_S = 2.0
"""How long the plan's reference sweep keeps mains cut (ample time to kill the first runner in it)."""
RUN_TIMEOUT_S = 240.0
"""Generous: the machine may be loaded; nothing here is a speed assertion."""


@dataclass
class Figures:
    """Ground-truth instants (the bench's monotonic clock, which this process shares) and lease times."""

    off_after_kill_s: float
    outage_s: float
    lapse_after_kill_s: float


def pooled_rig(bench: ServedBench, folder: Path, settle_s: float = SETTLE_S) -> Path:
    """The bench's rig file, trimmed to what the RF plan's emissions scenario needs, short."""
    doc = yaml.safe_load(bench.rig.read_text())
    doc["instruments"].pop("han", None)
    doc["rf_noise"].update(settle_s=settle_s, max_hold_sweeps=1, states=["idle"], bands=doc["rf_noise"]["bands"][:1])
    path = folder / "pooled.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def start_runner(url: str, folder: Path, holder: str) -> subprocess.Popen:
    """One ``hubrig run --pool`` process in its own process group (its plans process joins it)."""
    with open(folder / f"{holder}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hubrig.harness", "run", "--pool", POOL, "--db", url, "--plan", "rf-noise",
             "-k", "emissions", "--trials", "1", "--out", str(folder / holder), "--holder", holder,
             "--lease-expiry", str(TTL_S), "--wait", str(RUN_TIMEOUT_S)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def outputs_since(entries: list[dict], t_ns: int) -> list[dict]:
    return [e for e in entries if e["event"] == "output" and e["t_ns"] >= t_ns]


def kill_mid_outage_then_recover(url: str, tmp_path: Path) -> Figures:
    bench = serve_bench(tmp_path)
    started: list[subprocess.Popen] = []
    try:
        rig = pooled_rig(bench, tmp_path)
        with Database(url) as db:
            name = pools.add_rig(db, POOL, rig).name
            first = start_runner(url, tmp_path, "first")
            started.append(first)
            # The first runner's plans cut mains (the reference sweep): kill the whole process group
            # (runner and plans, as a dead host would lose them) while it is cut.
            bench.wait_for(lambda es: [e["on"] for e in es if e["event"] == "output"] == [True, False],
                           timeout_s=RUN_TIMEOUT_S)
            killed_db = db.clock()
            os.killpg(first.pid, signal.SIGKILL)
            killed_ns = time.monotonic_ns()
            first.wait(timeout=30)
            note = json.loads(pools.get_rig(db, name).mains_off)  # the cut the dead holder left
            assert note["holder"] == "first"
            second = start_runner(url, tmp_path, "second")
            started.append(second)
            status = second.wait(timeout=RUN_TIMEOUT_S + 120)
            said = (tmp_path / "second.log").read_text(errors="replace")
            assert status == 0, said[-4000:]
            entry = pools.get_rig(db, name)
            history = leases.history(db, name)
            with db.begin() as conn:
                stored = conn.execute(sa.select(runs.c.run_id, runs.c.lease_token, runs.c.pool)).all()
    finally:
        for proc in started:  # a test that failed half-way leaves no runner behind
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        bench.stop()

    # Mains: cut by the first holder, still cut when it died, restored by the second before its own cut.
    entries = bench.entries()
    assert [e["on"] for e in entries if e["event"] == "output"] == [True, False, True, False, True]
    cut, restore, second_cut, _ = outputs_since(entries, 0)[1:]
    assert cut["t_ns"] < killed_ns < restore["t_ns"] < second_cut["t_ns"]
    assert len([e for e in outputs_since(entries, killed_ns) if e["on"]]) == 2  # one restore, one end of its cut

    # The restore was the second runner's first word to the supply, on its own connection, before
    # any command of its plans.
    at = entries.index(restore)
    switching = [e for e in entries[:at] if e["event"] == "command" and e["text"].startswith("OUTP")
                 and not e["text"].endswith("?")]
    assert switching[-1]["text"] == "OUTP ON" and switching[-1]["t_ns"] > killed_ns
    peer = switching[-1]["peer"]
    connected = [e for e in entries if e["event"] == "connect" and e.get("peer") == peer]
    assert len(connected) == 1 and connected[0]["t_ns"] > killed_ns  # not a connection of the dead runner
    after_kill = [e for e in entries[:at] if e["event"] == "command" and e["t_ns"] > killed_ns]
    assert {e["peer"] for e in after_kill} == {peer}  # nothing else reached the supply before the restore
    plans_peer = [e for e in entries[:entries.index(second_cut)] if e["event"] == "command"
                  and e["text"] == "OUTP OFF"][-1]["peer"]
    assert plans_peer != peer
    first_plans_command = next(e for e in entries if e["event"] == "command" and e["peer"] == plans_peer)
    assert entries.index(first_plans_command) > at

    # It said so, cleared the marker, and its run was recorded under its lease.
    assert "its last holder left mains cut" in said and "restoring it before anything else" in said
    assert f"rig {name}: mains restored" in said and "marker cleared" in said
    assert said.index("mains restored") < said.index("health check (mains left cut by a holder that died)")
    assert said.count("mains restored") == 1
    assert entry.mains_off is None and entry.holder is None
    dead, alive = [h for h in history if h.holder in ("first", "second")]
    assert (dead.holder, dead.end, alive.holder, alive.end) == ("first", "lapsed", "second", "released")
    assert alive.token == dead.token + 1 and dead.ended_at <= alive.acquired_at
    assert [(r.run_id, r.lease_token, r.pool) for r in stored] == [(alive.job, alive.token, POOL)]
    results = json.loads((tmp_path / "second" / "results.json").read_text())
    assert results["verdict"] == "pass"

    return Figures(off_after_kill_s=(restore["t_ns"] - killed_ns) / 1e9, outage_s=(restore["t_ns"] - cut["t_ns"]) / 1e9,
                   lapse_after_kill_s=dead.ended_at - killed_db)


def _report(engine: str, figures: Figures) -> None:
    print(f"\n{engine}: mains off {figures.off_after_kill_s:.2f} s after the kill (outage {figures.outage_s:.2f} s "
          f"by the bench's log); lease lapsed {figures.lapse_after_kill_s:.2f} s after the kill "
          f"(expiry {TTL_S:g} s)")


def test_a_killed_holders_cut_is_restored_first_by_the_next_holder_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    figures = kill_mid_outage_then_recover(pg_url, tmp_path)
    assert 0 < figures.lapse_after_kill_s <= TTL_S + TTL_S / 3  # lapses within expiry + one heartbeat
    _report("postgresql", figures)


def test_a_killed_holders_cut_is_restored_first_by_the_next_holder_on_sqlite(tmp_path: Path) -> None:
    figures = kill_mid_outage_then_recover(str(tmp_path / "hubrig.sqlite"), tmp_path)
    assert 0 < figures.lapse_after_kill_s <= TTL_S + TTL_S / 3
    _report("sqlite", figures)


LONG_SETTLE_S = 30.0
"""The sweep's cut when the runner alone is killed: a restore before it ends came from the signal."""


def test_a_runner_killed_alone_mid_cut_leaves_its_plans_to_restore_mains(tmp_path: Path) -> None:
    """SIGKILL the pooled runner alone (a crashed runner, not a dead host) while its plans have mains
    cut: the plans process gets SIGTERM from the kernel (``PR_SET_PDEATHSIG``), restores mains on
    its own connection, removes the database marker and exits; nothing is left running."""
    bench = serve_bench(tmp_path)
    url = str(tmp_path / "hubrig.sqlite")
    runner: subprocess.Popen | None = None
    try:
        rig = pooled_rig(bench, tmp_path, settle_s=LONG_SETTLE_S)
        with Database(url) as db:
            name = pools.add_rig(db, POOL, rig).name
            runner = start_runner(url, tmp_path, "crashing")
            bench.wait_for(lambda es: [e["on"] for e in es if e["event"] == "output"] == [True, False],
                           timeout_s=RUN_TIMEOUT_S)
            killed_ns = time.monotonic_ns()
            os.kill(runner.pid, signal.SIGKILL)  # the runner only: its plans process lives on, for now
            runner.wait(timeout=30)
            deadline = time.monotonic() + 60  # a bound on a hang, not a speed assertion
            while _group_alive(runner.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _group_alive(runner.pid), "the plans process outlived its runner"
            entry = pools.get_rig(db, name)
    finally:
        if runner is not None and _group_alive(runner.pid):
            os.killpg(runner.pid, signal.SIGKILL)
        bench.stop()

    entries = bench.entries()
    assert [e["on"] for e in entries if e["event"] == "output"] == [True, False, True]
    cut, restore = outputs_since(entries, 0)[1:]
    assert cut["t_ns"] < killed_ns < restore["t_ns"]
    assert restore["t_ns"] - cut["t_ns"] < LONG_SETTLE_S * 1e9  # the signal ended the cut, not the plan's sweep
    off = [e for e in entries if e["event"] == "command" and e["text"] == "OUTP OFF"][-1]
    on = [e for e in entries[:entries.index(restore)] if e["event"] == "command" and e["text"] == "OUTP ON"][-1]
    assert on["peer"] == off["peer"] and on["t_ns"] > killed_ns  # the plans' own connection restored it
    assert entry.mains_off is None  # and removed the marker: the next holder has nothing to restore
    print(f"\nrunner killed alone: mains restored by its plans {(restore['t_ns'] - killed_ns) / 1e9:.2f} s after "
          f"the kill (outage {(restore['t_ns'] - cut['t_ns']) / 1e9:.2f} s by the bench's log)")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
