"""Rig health, after LAVA's device health: unknown, good, bad, maintenance.

* ``unknown``: registered, or its last job ended in an infrastructure error; the next holder runs
  the health check (``rig check``'s probes) before anything else.
* ``good``: the last check passed; a check runs again after ``every_jobs`` jobs or ``every_hours``.
* ``bad``: the last check failed; the rig is not leased for jobs until a check passes
  (``hubrig rig check --db URL NAME``, which leases it for the check alone).
* ``maintenance``: set by a person (``hubrig rig health NAME maintenance``); never leased for jobs
  until a person sets it back (to ``unknown``, so a check runs first).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from hubrig.harness.racks.database import Database, rigs
from hubrig.harness.racks.states import Health


@dataclass(frozen=True)
class HealthPolicy:
    """When a good rig is checked again: after this many jobs, or this many hours since its last check."""

    every_jobs: int = 10
    every_hours: float = 24.0

    def __post_init__(self) -> None:
        if self.every_jobs < 1 or not self.every_hours > 0:
            raise ValueError(f"health-check policy needs every_jobs >= 1 and every_hours > 0, got {self}")


def check_due(health: str, last_check_at: float | None, jobs_since_check: int, now: float,
              policy: HealthPolicy) -> str | None:
    """Why a check must run before the next job (None: not due)."""
    if health != Health.GOOD.value:
        return f"health is {health}"
    if last_check_at is None:
        return "never checked"
    if jobs_since_check >= policy.every_jobs:
        return f"{jobs_since_check} jobs since the last check (every {policy.every_jobs})"
    hours = (now - last_check_at) / 3600.0
    if hours >= policy.every_hours:
        return f"{hours:.1f} h since the last check (every {policy.every_hours:g} h)"
    return None


def set_health(db: Database, rig: str, health: Health, reason: str) -> None:
    """A person's (or the runner's) change of a rig's health, stamped by the database's clock."""
    with db.begin() as conn:
        done = conn.execute(sa.update(rigs).where(rigs.c.name == rig).values(
            health=health.value, health_reason=reason, health_at=db.now()))
        if done.rowcount != 1:
            raise LookupError(f"no rig {rig!r} in {db.name}")


def record_check(db: Database, rig: str, ok: bool, detail: str) -> Health:
    """Store a health check's outcome: good when it passed, bad when not; the job count restarts."""
    health = Health.GOOD if ok else Health.BAD
    with db.begin() as conn:
        conn.execute(sa.update(rigs).where(rigs.c.name == rig).values(
            health=health.value, health_reason=f"health check {'passed' if ok else 'failed'}: {detail}",
            health_at=db.now(), last_check_at=db.now(), last_check_ok=ok, last_check_detail=detail,
            jobs_since_check=0))
    return health


def record_job(db: Database, rig: str, infrastructure_error: str | None) -> None:
    """Count a finished job; an infrastructure error (instrument not answering, ITCH port lost)
    makes the rig's health unknown, so the next holder checks it first."""
    with db.begin() as conn:
        values: dict[str, object] = {"jobs_since_check": rigs.c.jobs_since_check + 1}
        if infrastructure_error:
            values.update(health=Health.UNKNOWN.value, health_at=db.now(),
                          health_reason=f"infrastructure error in the last job: {infrastructure_error}")
        conn.execute(sa.update(rigs).where(rigs.c.name == rig).values(**values))


def run_check(rigfile: str) -> tuple[bool, str]:
    """The health check: ``rig check``'s probes of every instrument; (passed, one-line detail)."""
    from hubrig.harness.rig.file import RigFileError
    from hubrig.harness.rig.session import probe_rig

    try:
        rows = probe_rig(rigfile)
    except (RigFileError, OSError) as exc:
        return False, str(exc)
    failed = [f"{r.name} ({r.resource}): {r.detail}" for r in rows if not r.ok]
    if failed:
        return False, "; ".join(failed)
    return True, f"{len(rows)} probes answered"
