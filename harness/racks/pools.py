"""Rig pools: rigs registered in the database under a pool name, each with its lease and health.

``hubrig rig add --pool NAME RIGFILE`` validates the rig file and registers the rig (named by the
file's ``name``) with health ``unknown`` and a free lease; registering it again moves it to the
given pool and file and keeps its history. A rig's file path is stored as given, made absolute: the
runner hosts of a lab see the rig files at the same path (a shared checkout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from hubrig.harness.racks.database import Database, leases, rigs
from hubrig.harness.racks.states import Health
from hubrig.harness.rig.file import load_rig


class PoolError(RuntimeError):
    """A pool or rig that is not there, or cannot be registered; the message says which."""


@dataclass(frozen=True)
class RigEntry:
    """One registered rig with its health and lease, as ``hubrig rig list`` shows it."""

    name: str
    pool: str
    rigfile: str
    health: Health
    health_reason: str
    health_at: float
    last_check_at: float | None
    last_check_ok: bool | None
    last_check_detail: str | None
    jobs_since_check: int
    mains_off: str | None
    holder: str | None
    token: int
    expires_at: float | None
    now: float

    @property
    def leased(self) -> bool:
        return self.holder is not None and self.expires_at is not None and self.expires_at >= self.now


def add_rig(db: Database, pool: str, rigfile: str | Path) -> RigEntry:
    """Register (or move) the rig in ``rigfile`` in ``pool``. The rig file's errors name its line."""
    if not pool.strip():
        raise PoolError("a pool name cannot be empty")
    path = Path(rigfile).expanduser().resolve()
    rig = load_rig(path)  # RigFileError (file:line: field: expected) for a bad file
    with db.begin() as conn:
        now = float(conn.execute(sa.select(db.now())).scalar_one())
        known = conn.execute(sa.select(rigs.c.name).where(rigs.c.name == rig.name).with_for_update()).first()
        if known is None:
            conn.execute(sa.insert(rigs).values(
                name=rig.name, pool=pool, rigfile=str(path), added_at=now, health=Health.UNKNOWN.value,
                health_reason="registered; not checked yet", health_at=now, jobs_since_check=0))
            conn.execute(sa.insert(leases).values(rig=rig.name, token=0))
        else:
            conn.execute(sa.update(rigs).where(rigs.c.name == rig.name).values(pool=pool, rigfile=str(path)))
    return get_rig(db, rig.name)


def _query() -> sa.Select:
    return sa.select(rigs, leases.c.holder, leases.c.token, leases.c.expires_at).join(
        leases, leases.c.rig == rigs.c.name)


def _entry(row: sa.Row, now: float) -> RigEntry:
    return RigEntry(row.name, row.pool, row.rigfile, Health(row.health), row.health_reason, row.health_at,
                    row.last_check_at, row.last_check_ok, row.last_check_detail, row.jobs_since_check,
                    row.mains_off, row.holder, row.token, row.expires_at, now)


def list_rigs(db: Database, pool: str | None = None) -> list[RigEntry]:
    """Registered rigs by pool and name."""
    query = _query().order_by(rigs.c.pool, rigs.c.name)
    if pool is not None:
        query = query.where(rigs.c.pool == pool)
    with db.begin() as conn:
        now = float(conn.execute(sa.select(db.now())).scalar_one())
        return [_entry(r, now) for r in conn.execute(query)]


def get_rig(db: Database, name: str) -> RigEntry:
    with db.begin() as conn:
        now = float(conn.execute(sa.select(db.now())).scalar_one())
        row = conn.execute(_query().where(rigs.c.name == name)).first()
    if row is None:
        raise PoolError(f"no rig {name!r} in {db.name} (hubrig rig add --pool NAME RIGFILE)")
    return _entry(row, now)


def pool_rigs(db: Database, pool: str) -> list[RigEntry]:
    """The rigs of ``pool``; :class:`PoolError` when it has none."""
    entries = list_rigs(db, pool)
    if not entries:
        pools = sorted({e.pool for e in list_rigs(db)})
        raise PoolError(f"pool {pool!r} has no rigs in {db.name}"
                        + (f"; pools: {', '.join(pools)}" if pools else "; add one with hubrig rig add"))
    return entries
