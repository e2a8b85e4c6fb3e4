"""``hubrig run --pool NAME``: lease a free healthy rig, check it when due, run the plans on it,
record the results with the rig and the lease, release it.

The order on a freshly leased rig is fixed: the rig's mains-off marker moves to the database
(:mod:`hubrig.harness.racks.marker`); a marker left by a holder that died is acted on first: the
rig's mains switch alone is opened and mains restored (:func:`marker.restore_left_cut`) before
anything else is sent to the rig, and a health check is then due; a check also runs when the rig's
health is unknown or its policy says so. A restore that fails marks the rig bad (marker kept); a rig
whose check fails is marked bad; either is given back and another rig is tried. The plans run in a child process that dies with this one
(``PR_SET_PDEATHSIG``: SIGTERM, which restores mains), and is sent SIGTERM if the lease is lost.
Results are written only while the lease is current (the write is fenced by its token).
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hubrig.harness.racks import health, leases, marker, pools
from hubrig.harness.racks.database import Database
from hubrig.harness.racks.health import HealthPolicy
from hubrig.harness.racks.states import LEASABLE
from hubrig.harness.racks.leases import Heartbeat, Lease, LeaseLost
from hubrig.harness.results.model import RunResults
from hubrig.harness.rig.instruments import failure

NOT_RUN = 75
"""Exit status of a pooled run whose job did not run (no rig in time, or the lease was lost)."""


class PoolTimeout(RuntimeError):
    """No free healthy rig in the pool within the wait."""


@dataclass(frozen=True)
class PoolJob:
    """How a pooled run leases: whose it is, how long a lease lives without a heartbeat, how long to wait."""

    pool: str
    holder: str
    ttl_s: float = 30.0
    heartbeat_s: float | None = None  # default: a third of ttl_s
    wait_s: float = 600.0
    progress_every_s: float = 10.0
    policy: HealthPolicy = HealthPolicy()


def default_holder() -> str:
    """``host:pid``, which says where to look for a lease's holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _summary(entries: list[pools.RigEntry]) -> str:
    parts = []
    for e in entries:
        if e.health.value not in LEASABLE:
            parts.append(f"{e.name} {e.health.value}")
        elif e.leased:
            parts.append(f"{e.name} leased by {e.holder}")
        else:
            parts.append(f"{e.name} free")
    return ", ".join(parts)


def lease_rig(db: Database, job: PoolJob, run_id: str, say: Callable[[str], None],
              skip: set[str] | None = None) -> tuple[pools.RigEntry, Lease]:
    """Wait (with a progress line every ``progress_every_s``) for a free leasable rig and take it."""
    start = time.monotonic()
    next_progress = start + job.progress_every_s
    while True:
        entries = pools.pool_rigs(db, job.pool)
        candidates = [e for e in entries if e.health.value in LEASABLE and not e.leased
                      and e.name not in (skip or set())]
        random.shuffle(candidates)  # runners started together spread over the rigs
        for entry in candidates:
            lease = leases.acquire(db, entry.name, job.holder, job.ttl_s, job=run_id)
            if lease is not None:
                return pools.get_rig(db, entry.name), lease
        waited = time.monotonic() - start
        if waited >= job.wait_s:
            raise PoolTimeout(f"no free healthy rig in pool {job.pool!r} after {waited:.0f} s: {_summary(entries)}")
        if time.monotonic() >= next_progress:
            say(f"waiting for a rig in pool {job.pool!r} ({waited:.0f} s of {job.wait_s:.0f} s): {_summary(entries)}")
            next_progress += job.progress_every_s
        time.sleep(min(0.2 + random.random() * 0.3, max(0.0, job.wait_s - waited)))


def prepare(db: Database, entry: pools.RigEntry, lease: Lease, job: PoolJob, say: Callable[[str], None]) -> bool:
    """Make a freshly leased rig safe and checked; False if its health check failed (rig now bad).
    The caller has installed the rig's database marker (:func:`marker.installed`)."""
    now = db.clock()
    due = health.check_due(entry.health.value, entry.last_check_at, entry.jobs_since_check, now, job.policy)
    if entry.mains_off is not None:
        say(f"rig {entry.name}: its last holder left mains cut ({entry.mains_off}); restoring it before "
            "anything else")
        try:
            note = marker.restore_left_cut(entry.rigfile)
        except Exception as exc:  # any failure to reach the switch: the rig is bad, the marker stays
            detail = f"mains left cut by a holder that died could not be restored: {failure(exc)}"
            health.record_check(db, entry.name, False, detail)
            say(f"rig {entry.name}: MAINS IS STILL OFF: {detail}; the rig is now bad")
            return False
        left = pools.get_rig(db, entry.name).mains_off
        say(f"rig {entry.name}: mains restored (cut since {(note or {}).get('cut_at', '?')} by "
            f"{(note or {}).get('holder', '?')}); marker " + ("cleared" if left is None else f"still there: {left}"))
        due = "mains left cut by a holder that died"
    if due is None:
        return True
    say(f"rig {entry.name}: health check ({due})")
    ok, detail = health.run_check(entry.rigfile)
    health.record_check(db, entry.name, ok, detail)
    say(f"rig {entry.name}: health check {'passed' if ok else 'FAILED'}: {detail}")
    return ok


def _die_with_parent() -> None:
    """In the plans process: SIGTERM when the runner dies (so a SIGKILLed runner's plans restore
    mains and stop instead of running on without a lease)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGTERM)


def start_child(cmd: list[str], env: dict[str, str], heartbeat: Heartbeat) -> subprocess.Popen:
    """Start the plans process; it dies with this one, and is sent SIGTERM if the lease is lost."""
    child = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
    heartbeat.on_lost = lambda exc: child.send_signal(signal.SIGTERM)
    if heartbeat.lost.is_set():
        child.send_signal(signal.SIGTERM)
    return child


@dataclass
class PooledOutcome:
    """How a pooled job went."""

    rig: str | None
    lease: Lease | None
    status: int
    ran: bool
    note: str


def run_pooled(db: Database, job: PoolJob, run_id: str, build_cmd: Callable[[Path], list[str]],
               wait: Callable[[subprocess.Popen], int], record: Callable[[Lease, pools.RigEntry], str | None],
               say: Callable[[str], None]) -> PooledOutcome:
    """Lease, prepare, run ``build_cmd(rigfile)`` and ``wait`` for it, ``record`` (fenced by the
    lease; returns an infrastructure error or None), release. Never raises for a job that could not run."""
    tried: set[str] = set()
    while True:
        try:
            entry, lease = lease_rig(db, job, run_id, say, skip=tried)
        except PoolTimeout as exc:
            return PooledOutcome(None, None, NOT_RUN, False, str(exc))
        say(f"leased rig {entry.name} from pool {job.pool!r} (token {lease.token}, expiry {job.ttl_s:g} s)")
        beat = Heartbeat(db, lease, job.heartbeat_s).start()
        try:
            with marker.installed(db, lease):
                ready = prepare(db, entry, lease, job, say)
            if not ready:
                tried.add(entry.name)
                continue
            env = {**os.environ, marker.LEASE_ENV: marker.lease_env(db, lease)}
            status = wait(start_child(build_cmd(Path(entry.rigfile)), env, beat))
            if beat.lost.is_set():
                return PooledOutcome(entry.name, lease, NOT_RUN, False,
                                     f"lease on rig {entry.name} was lost during the job; nothing recorded")
            try:
                infra = record(lease, entry)
            except LeaseLost as exc:
                return PooledOutcome(entry.name, lease, NOT_RUN, False, str(exc))
            health.record_job(db, entry.name, infra)
            if infra:
                say(f"rig {entry.name}: infrastructure error ({infra}); its health is now unknown")
            return PooledOutcome(entry.name, lease, status, True, "")
        finally:
            beat.stop()
            leases.release(db, lease)


def infrastructure_error(results: RunResults) -> str | None:
    """What in a finished run points at the rig rather than the DUT: a test that errored (a fixture
    failed to set up or tear down: an instrument not answering, the ITCH port lost)."""
    errored = [t for t in results.tests if t.outcome == "error"]
    if not errored:
        return None
    first = errored[0].message.strip().splitlines()[-1:] or [""]
    return f"{len(errored)} test(s) errored in set-up or tear-down ({errored[0].nodeid}: {first[0][:200]})"


def save_fenced(db: Database, results_file: Path, lease: Lease, pool: str) -> str | None:
    """Store the run in ``results_file`` with its rig's lease, only while the lease is current
    (:class:`LeaseLost` otherwise); returns the run's infrastructure error, if any."""
    from hubrig.harness.results.files import ResultsError, load_results
    from hubrig.harness.results.store import store_run

    try:
        results = load_results(results_file)
    except ResultsError as exc:
        return f"the plans wrote no readable results: {exc}"
    with db.begin() as conn:
        leases.verify(conn, db, lease)
        store_run(conn, db, results, pool=pool, lease_token=lease.token)
    return infrastructure_error(results)
