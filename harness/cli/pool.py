"""Rig pools on the command line: ``hubrig rig add|list|health`` and ``hubrig run --pool NAME``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from hubrig.harness.cli import UserError
from hubrig.harness.cli.lease import DB_HELP, open_db, when


def _add(args: argparse.Namespace) -> int:
    from hubrig.harness.racks.pools import PoolError, add_rig
    from hubrig.harness.rig.file import RigFileError

    with open_db(args) as db:
        try:
            entry = add_rig(db, args.pool, args.rigfile)
        except (RigFileError, PoolError) as exc:
            raise UserError(str(exc)) from None
    print(f"hubrig: rig {entry.name} ({entry.rigfile}) is in pool {entry.pool!r}; health {entry.health.value}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hubrig.harness.racks.pools import list_rigs

    with open_db(args) as db:
        entries = list_rigs(db, args.pool)
    table = Table(title="rigs")
    for name in ("pool", "rig", "health", "why", "last check (UTC)", "jobs since", "lease", "rig file"):
        table.add_column(name, overflow="fold")
    for e in entries:
        check = "never" if e.last_check_at is None else (
            f"{when(e.last_check_at)} {'passed' if e.last_check_ok else 'FAILED'}")
        lease = f"held by {e.holder} (token {e.token})" if e.leased else "free"
        if e.mains_off:
            lease += "; MAINS LEFT CUT"
        table.add_row(e.pool, e.name, e.health.value, e.health_reason, check, str(e.jobs_since_check), lease,
                      e.rigfile)
    console = Console()
    console.width = max(console.width, 160)
    console.print(table if entries else "no rigs registered (hubrig rig add --pool NAME RIGFILE)")
    return 0


def _health(args: argparse.Namespace) -> int:
    from hubrig.harness.racks import health, leases, marker
    from hubrig.harness.racks.pools import PoolError, get_rig

    with open_db(args) as db:
        try:
            entry = get_rig(db, args.rig)
        except PoolError as exc:
            raise UserError(str(exc)) from None
        if args.state:
            health.set_health(db, entry.name, health.Health(args.state), args.reason or "set by a person")
            print(f"hubrig: rig {entry.name}: health {args.state}")
            return 0
        # The check itself: leased for its duration, so no job is on the rig meanwhile.
        from hubrig.harness.racks.runner import default_holder

        lease = leases.acquire(db, entry.name, default_holder(), 60.0, job="health check")
        if lease is None:
            raise UserError(f"rig {entry.name} is leased by {entry.holder}; check it when it is free")
        beat = leases.Heartbeat(db, lease).start()
        try:
            with marker.installed(db, lease):
                ok, detail = health.run_check(entry.rigfile)
            state = health.record_check(db, entry.name, ok, detail)
        finally:
            beat.stop()
            leases.release(db, lease)
    print(f"hubrig: rig {entry.name}: health check {'passed' if ok else 'FAILED'}: {detail}; health {state.value}")
    return 0 if ok else 1


def register_rig_actions(sub: argparse._SubParsersAction) -> None:
    """``rig add``, ``rig list``, ``rig health`` (under ``hubrig rig``)."""
    from hubrig.harness.racks.states import Health

    add = sub.add_parser("add", help="register a rig in a pool (in the database)")
    add.add_argument("rigfile", metavar="RIGFILE")
    add.add_argument("--pool", required=True, help="the pool's name")
    add.add_argument("--db", help=DB_HELP)
    add.set_defaults(handler=_add)
    listing = sub.add_parser("list", help="registered rigs: pool, health, last check, lease")
    listing.add_argument("--pool", help="only this pool")
    listing.add_argument("--db", help=DB_HELP)
    listing.set_defaults(handler=_list)
    hl = sub.add_parser("health", help="run a registered rig's health check, or set its health (maintenance)")
    hl.add_argument("rig", metavar="RIG")
    hl.add_argument("state", nargs="?", choices=[h.value for h in Health],
                    help="set this health instead of checking (maintenance: no jobs until a person says so)")
    hl.add_argument("--reason", help="why (shown by rig list)")
    hl.add_argument("--db", help=DB_HELP)
    hl.set_defaults(handler=_health)


def add_run_options(run: argparse.ArgumentParser) -> None:
    """``hubrig run``'s pool options."""
    run.add_argument("--pool", help="take any free healthy rig from this pool (instead of --rig)")
    run.add_argument("--wait", type=float, default=600.0, metavar="SECONDS",
                     help="with --pool: how long to wait for a free rig (default 600)")
    run.add_argument("--lease-expiry", type=float, default=30.0, metavar="SECONDS",
                     help="with --pool: a lease lapses this long after its holder's last heartbeat (default 30)")
    run.add_argument("--holder", help="with --pool: the lease holder's name (default host:pid)")
    run.add_argument("--check-every-jobs", type=int, default=10, metavar="N",
                     help="with --pool: health-check a good rig after N jobs (default 10)")
    run.add_argument("--check-every-hours", type=float, default=24.0, metavar="H",
                     help="with --pool: ... or H hours after its last check (default 24)")


def run_in_pool(args: argparse.Namespace, run_id: str, out: Path,
                build_cmd: Callable[[Path], list[str]]) -> tuple[bool, int]:
    """``hubrig run --pool``: lease, check, run, record with the rig and lease, release; returns
    whether the job ran, and the plans' exit status (or ``NOT_RUN``)."""
    from hubrig.harness.racks.health import HealthPolicy
    from hubrig.harness.racks.leases import Lease
    from hubrig.harness.racks.pools import PoolError, RigEntry
    from hubrig.harness.cli.run import wait_for
    from hubrig.harness.racks.runner import NOT_RUN, PoolJob, default_holder, run_pooled, save_fenced

    if args.rig is not None:
        raise UserError("give --pool or --rig, not both")
    if not args.lease_expiry > 0 or args.wait < 0:
        raise UserError("--lease-expiry must be > 0 and --wait >= 0")
    try:
        policy = HealthPolicy(args.check_every_jobs, args.check_every_hours)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    job = PoolJob(args.pool, args.holder or default_holder(), args.lease_expiry, None, args.wait, policy=policy)

    def say(line: str) -> None:
        print(f"hubrig: {line}", flush=True)

    with open_db(args) as db:
        def record(lease: Lease, entry: RigEntry) -> str | None:
            return save_fenced(db, out / "results.json", lease, job.pool)

        try:
            outcome = run_pooled(db, job, run_id, build_cmd, wait_for, record, say)
        except PoolError as exc:
            raise UserError(str(exc)) from None
    if not outcome.ran:
        print(f"hubrig: job {run_id} NOT RUN: {outcome.note}", file=sys.stderr, flush=True)
        return False, NOT_RUN
    say(f"run {run_id} on rig {outcome.rig} (lease token {outcome.lease.token}) recorded in {db.name}")
    return True, outcome.status
