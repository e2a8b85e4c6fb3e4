"""A rack in a box: several virtual rigs in one pool, more ``hubrig run --pool`` runners than rigs
on one database, some runners SIGKILLed mid-job; then the lease history and the results store are
audited. The rack test (``tests/test_rack.py``) and benchmark (``benchmarks/rack.py``) drive it.

The audit checks what the lease protocol promises: no rig held by two runners at once (holdings of
a rig never overlap, tokens only grow), every queued job ran exactly once or is reported not run,
every killed runner's lease lapsed within its expiry plus one heartbeat of the kill, and every run
a runner said it recorded is in the store (and nothing else is).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
import yaml

from hubrig.harness.racks import leases, pools
from hubrig.harness.racks.database import Database, runs
from hubrig.harness.racks.runner import NOT_RUN

POOL = "rack"


@dataclass
class Runner:
    """One queued job: a ``hubrig run --pool`` process."""

    holder: str
    out: Path
    proc: subprocess.Popen | None = None
    killed_at: float | None = None
    status: int | None = None

    @property
    def log(self) -> Path:
        return self.out.with_suffix(".log")


@dataclass
class RackReport:
    """What the rack did and what the audit found (``problems`` empty: every promise held)."""

    rigs: int
    runners: int
    kills: int
    ran: int
    not_run: int
    wall_s: float
    lapse_after_kill_s: list[float] = field(default_factory=list)
    holdings: int = 0
    problems: list[str] = field(default_factory=list)


def make_rigs(folder: Path, count: int, template: Path) -> list[Path]:
    """``count`` virtual rig files (``rack-1``...) made from ``template`` with their own names and seeds."""
    doc = yaml.safe_load(template.read_text())
    paths = []
    for i in range(1, count + 1):
        doc.update(name=f"rack-{i}", seed=i)
        path = folder / f"rack-{i}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        paths.append(path)
    return paths


def _start(runner: Runner, url: str, plan: str, ttl_s: float, wait_s: float) -> None:
    cmd = [sys.executable, "-c", "import sys; from hubrig.harness.cli import main; sys.exit(main())",
           "run", "--pool", POOL, "--db", url, "--plan", plan, "--trials", "1", "--out", str(runner.out),
           "--holder", runner.holder, "--lease-expiry", str(ttl_s), "--wait", str(wait_s)]
    runner.proc = subprocess.Popen(cmd, stdout=open(runner.log, "wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)


def run_rack(url: str, folder: Path, template: Path, *, rigs: int = 3, runners: int = 5, kills: int = 2,
             kill_after_s: float = 1.0,
             ttl_s: float = 2.0, wait_s: float = 180.0, plan: str = "clock-alert") -> RackReport:
    """Run the rack and audit it."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with Database(url) as db:
        for path in make_rigs(folder, rigs, template):
            pools.add_rig(db, POOL, path)
        queue = [Runner(f"runner-{k}", folder / f"job-{k}") for k in range(runners)]
        for runner in queue:
            _start(runner, url, plan, ttl_s, wait_s)
        _kill_some(db, queue, kills, kill_after_s, t0 + wait_s)
        for runner in queue:
            assert runner.proc is not None
            runner.status = runner.proc.wait(timeout=wait_s + 120)
        wall = time.monotonic() - t0
        return audit(db, queue, rigs, ttl_s, wall)


def _kill_some(db: Database, queue: list[Runner], kills: int, after_s: float, deadline: float) -> None:
    """SIGKILL the first ``kills`` runners seen holding a rig, mid-job (a moment after they took it)."""
    victims: list[Runner] = []
    while len(victims) < kills and time.monotonic() < deadline:
        held = {s.holder for s in leases.states(db, POOL) if s.state == "held"}
        for runner in queue:
            if runner.holder in held and runner not in victims and len(victims) < kills:
                time.sleep(after_s)  # into the job: the health check or the plans are running
                runner.killed_at = db.clock()
                os.kill(runner.proc.pid, signal.SIGKILL)
                victims.append(runner)
        if all(r.proc.poll() is not None for r in queue):
            break
        time.sleep(0.05)


def audit(db: Database, queue: list[Runner], rigs: int, ttl_s: float, wall_s: float) -> RackReport:
    """Check the lease history and the store against what each runner did."""
    history = leases.history(db)
    job_holdings = [h for h in history if h.job != "health check"]
    killed = [r for r in queue if r.killed_at is not None]
    report = RackReport(rigs, len(queue), len(killed), 0, 0, wall_s, holdings=len(history))
    problems = report.problems

    by_rig: dict[str, list[leases.HistoryEntry]] = {}
    for h in history:
        by_rig.setdefault(h.rig, []).append(h)
    for rig, entries in by_rig.items():
        entries.sort(key=lambda h: h.token)
        for a, b in zip(entries, entries[1:]):
            if a.ended_at is None or a.ended_at > b.acquired_at:
                problems.append(f"rig {rig}: token {a.token} ({a.holder}) overlaps token {b.token} ({b.holder})")
            if b.acquired_at < a.acquired_at:
                problems.append(f"rig {rig}: token {b.token} acquired before token {a.token}")
        if entries and entries[-1].ended_at is None:
            problems.append(f"rig {rig}: token {entries[-1].token} ({entries[-1].holder}) never ended")

    with db.begin() as conn:
        stored = {r.run_id: r for r in conn.execute(sa.select(runs.c.run_id, runs.c.rig, runs.c.lease_token,
                                                                runs.c.pool))}
    accounted: set[str] = set()
    for runner in queue:
        mine = [h for h in job_holdings if h.holder == runner.holder]
        recorded = [h for h in mine if h.job in stored]
        accounted.update(h.job for h in recorded if h.job)
        text = runner.log.read_text(errors="replace") if runner.log.exists() else ""
        if runner.killed_at is not None:
            report.not_run += 1
            if recorded:
                problems.append(f"{runner.holder} was killed but its run {recorded[0].job} was recorded")
            for h in mine:
                if h.end != "lapsed" or h.ended_at is None:
                    problems.append(f"{runner.holder} killed: its lease token {h.token} ended {h.end!r}, not lapsed")
                    continue
                after = h.ended_at - runner.killed_at
                report.lapse_after_kill_s.append(after)
                if after > ttl_s + ttl_s / 3:
                    problems.append(f"{runner.holder}: lease lapsed {after:.2f} s after the kill "
                                    f"(expiry {ttl_s} s + one heartbeat)")
        elif runner.status == NOT_RUN:
            report.not_run += 1
            if "NOT RUN" not in text:
                problems.append(f"{runner.holder} exited {NOT_RUN} without saying its job was not run")
            if recorded:
                problems.append(f"{runner.holder} said not run but {recorded[0].job} was recorded")
        else:
            report.ran += 1
            if len(recorded) != 1:
                problems.append(f"{runner.holder} (exit {runner.status}) has {len(recorded)} recorded runs, "
                                f"not exactly one; log: {text[-400:]}")
                continue
            run = stored[recorded[0].job]
            if run.lease_token != recorded[0].token or run.rig != recorded[0].rig or run.pool != POOL:
                problems.append(f"{runner.holder}: run {run.run_id} stored with rig {run.rig} token "
                                f"{run.lease_token}, but its lease was rig {recorded[0].rig} token {recorded[0].token}")
            if f"run {run.run_id} on rig" not in text:
                problems.append(f"{runner.holder}: run {run.run_id} is stored but the runner did not say so")
    for run_id in set(stored) - accounted:
        problems.append(f"run {run_id} is stored but no job's lease recorded it")
    return report
