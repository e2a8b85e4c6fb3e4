"""Rig leases in the database: atomic, fenced by a token, heart-beaten, lapsing by themselves.

A lease row exists per rig (made by :func:`hubrig.harness.racks.pools.add_rig`). Acquiring is one
transaction that locks that row (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
SQLite), reads the database's clock, and takes the rig only if it has no holder or its holder's
lease has expired; the token grows by one on every acquire, so a token names one holding, ever.
The holder heart-beats (:class:`Heartbeat`, a thread) to push ``expires_at`` forward; a heartbeat
or a fenced write (:func:`verify`) from a token that is no longer current fails with
:class:`LeaseLost`. A lease whose holder stopped heart-beating lapses at its ``expires_at`` by the
database's clock, whoever looks next (an acquire, ``lease list``) records it in the history as
``lapsed`` at that instant. Nothing lives in a process's memory: a database restart keeps every
lease, and a lease that expires while the database is down has lapsed when it is back.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hubrig.harness.racks.database import Database, DatabaseError, lease_history, leases, rigs


class LeaseError(RuntimeError):
    """A lease operation that cannot be done (unknown rig, not the holder)."""


class LeaseLost(LeaseError):
    """The lease's token is no longer current: it lapsed or was released by someone else."""


@dataclass(frozen=True)
class Lease:
    """One holding of one rig (``token`` fences it)."""

    rig: str
    holder: str
    token: int
    acquired_at: float
    expires_at: float
    ttl_s: float


@dataclass(frozen=True)
class LeaseState:
    """A rig's lease as ``lease list`` shows it (``holder`` None: free)."""

    rig: str
    pool: str
    holder: str | None
    token: int
    acquired_at: float | None
    expires_at: float | None
    now: float

    @property
    def state(self) -> str:
        if self.holder is None:
            return "free"
        return "held" if self.expires_at is not None and self.expires_at >= self.now else "lapsed"


@dataclass(frozen=True)
class HistoryEntry:
    """One holding, from acquire to its end (``end`` None: still held or not yet seen lapsed)."""

    rig: str
    holder: str
    token: int
    acquired_at: float
    ended_at: float | None
    end: str | None
    job: str | None

    def as_json(self) -> dict[str, object]:
        return {"rig": self.rig, "holder": self.holder, "token": self.token, "acquired": self.acquired_at,
                "ended": self.ended_at, "end": self.end, "job": self.job}


def _now(conn: Connection, db: Database) -> float:
    return float(conn.execute(sa.select(db.now())).scalar_one())


def _end(conn: Connection, rig: str, token: int, at: float, how: str) -> None:
    conn.execute(sa.update(lease_history)
                 .where(lease_history.c.rig == rig, lease_history.c.token == token,
                        lease_history.c.ended_at.is_(None))
                 .values(ended_at=at, end=how))


def _lock_row(conn: Connection, rig: str) -> sa.Row | None:
    return conn.execute(sa.select(leases).where(leases.c.rig == rig).with_for_update()).first()


def acquire(db: Database, rig: str, holder: str, ttl_s: float, job: str | None = None) -> Lease | None:
    """Take ``rig`` for ``holder`` for ``ttl_s`` seconds (renewed by heartbeats); None if it is held."""
    if not ttl_s > 0:
        raise LeaseError(f"lease expiry must be > 0 s, got {ttl_s}")
    with db.begin() as conn:
        row = _lock_row(conn, rig)
        if row is None:
            raise LeaseError(f"no rig {rig!r} in {db.name} (hubrig rig add --pool NAME RIGFILE)")
        now = _now(conn, db)
        if row.holder is not None:
            if row.expires_at >= now:
                return None
            _end(conn, rig, row.token, row.expires_at, "lapsed")
        token = row.token + 1
        conn.execute(sa.update(leases).where(leases.c.rig == rig).values(
            token=token, holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now + ttl_s, ttl_s=ttl_s))
        conn.execute(sa.insert(lease_history).values(rig=rig, holder=holder, token=token, acquired_at=now,
                                                     job=job))
        return Lease(rig, holder, token, now, now + ttl_s, ttl_s)


def heartbeat(db: Database, lease: Lease) -> float:
    """Push the lease's expiry to the database's now + ttl; returns it. :class:`LeaseLost` if lapsed."""
    with db.begin() as conn:
        now = _now(conn, db)
        done = conn.execute(
            sa.update(leases)
            .where(leases.c.rig == lease.rig, leases.c.token == lease.token, leases.c.holder == lease.holder,
                   leases.c.expires_at >= now)
            .values(heartbeat_at=now, expires_at=now + lease.ttl_s))
        if done.rowcount != 1:
            raise LeaseLost(f"lease on rig {lease.rig!r} (token {lease.token}) is no longer held by "
                            f"{lease.holder!r}: it lapsed or was released")
        return now + lease.ttl_s


def verify(conn: Connection, db: Database, lease: Lease) -> None:
    """Inside a caller's transaction: fail with :class:`LeaseLost` unless ``lease`` is still current
    (the row stays locked until the caller commits, so what it writes is fenced by the token)."""
    row = _lock_row(conn, lease.rig)
    if row is None or row.token != lease.token or row.holder != lease.holder or row.expires_at < _now(conn, db):
        raise LeaseLost(f"lease on rig {lease.rig!r} (token {lease.token}) is no longer current; "
                        "nothing was written")


def release(db: Database, lease: Lease) -> bool:
    """Give the rig back; False if the lease had already lapsed or been released."""
    with db.begin() as conn:
        row = _lock_row(conn, lease.rig)
        if row is None or row.token != lease.token or row.holder is None:
            return False
        now = _now(conn, db)
        if row.expires_at < now:
            _end(conn, lease.rig, lease.token, row.expires_at, "lapsed")
            conn.execute(sa.update(leases).where(leases.c.rig == lease.rig).values(holder=None))
            return False
        _end(conn, lease.rig, lease.token, now, "released")
        conn.execute(sa.update(leases).where(leases.c.rig == lease.rig).values(holder=None))
        return True


def force_release(db: Database, rig: str, from_holder: str | None = None) -> HistoryEntry:
    """A person frees ``rig`` (``hubrig lease release``); with ``from_holder`` only if it holds it."""
    with db.begin() as conn:
        row = _lock_row(conn, rig)
        if row is None:
            raise LeaseError(f"no rig {rig!r} in {db.name}")
        if row.holder is None:
            raise LeaseError(f"rig {rig!r} is not leased")
        if from_holder is not None and row.holder != from_holder:
            raise LeaseError(f"rig {rig!r} is held by {row.holder!r}, not {from_holder!r}; nothing released")
        now = _now(conn, db)
        how = "lapsed" if row.expires_at < now else "broken"
        at = row.expires_at if how == "lapsed" else now
        _end(conn, rig, row.token, at, how)
        conn.execute(sa.update(leases).where(leases.c.rig == rig).values(holder=None))
        return HistoryEntry(rig, row.holder, row.token, row.acquired_at, at, how, None)


def sweep(db: Database) -> int:
    """Record every lease that has lapsed (holder cleared, history ``lapsed`` at its expiry)."""
    with db.begin() as conn:
        now = _now(conn, db)
        expired = conn.execute(sa.select(leases).where(leases.c.holder.is_not(None), leases.c.expires_at < now)
                               .with_for_update()).all()
        for row in expired:
            _end(conn, row.rig, row.token, row.expires_at, "lapsed")
            conn.execute(sa.update(leases).where(leases.c.rig == row.rig, leases.c.token == row.token)
                         .values(holder=None))
        return len(expired)


def states(db: Database, pool: str | None = None) -> list[LeaseState]:
    """Every rig's lease (after recording lapses), by pool and rig."""
    sweep(db)
    query = (sa.select(leases, rigs.c.pool).join(rigs, rigs.c.name == leases.c.rig)
             .order_by(rigs.c.pool, leases.c.rig))
    if pool is not None:
        query = query.where(rigs.c.pool == pool)
    with db.begin() as conn:
        now = _now(conn, db)
        return [LeaseState(r.rig, r.pool, r.holder, r.token, r.acquired_at, r.expires_at, now)
                for r in conn.execute(query)]


def history(db: Database, rig: str | None = None) -> list[HistoryEntry]:
    """Every holding, oldest first (after recording lapses)."""
    sweep(db)
    query = sa.select(lease_history).order_by(lease_history.c.acquired_at, lease_history.c.id)
    if rig is not None:
        query = query.where(lease_history.c.rig == rig)
    with db.begin() as conn:
        return [HistoryEntry(r.rig, r.holder, r.token, r.acquired_at, r.ended_at, r.end, r.job)
                for r in conn.execute(query)]


class Heartbeat:
    """A thread that keeps ``lease`` alive every ``interval_s`` until :meth:`stop`.

    A database that does not answer is retried at the same pace (the lease lapses meanwhile if it
    stays away longer than the expiry); a :class:`LeaseLost` answer ends the thread, sets
    :attr:`lost` and calls ``on_lost`` once.
    """

    def __init__(self, db: Database, lease: Lease, interval_s: float | None = None,
                 on_lost: Callable[[LeaseLost], None] | None = None):
        self.db = db
        self.lease = lease
        self.interval_s = interval_s if interval_s is not None else lease.ttl_s / 3
        self.on_lost = on_lost
        self.lost = threading.Event()
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-heartbeat-{lease.rig}", daemon=True)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                heartbeat(self.db, self.lease)
                self.beats += 1
            except LeaseLost as exc:
                self.lost.set()
                if self.on_lost is not None:
                    self.on_lost(exc)
                return
            except DatabaseError:
                continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
