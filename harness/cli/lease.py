"""``hubrig lease list|release|history``: the rig leases kept in the database."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from hubrig.harness.cli import UserError

if TYPE_CHECKING:
    from hubrig.harness.racks.database import Database

DB_HELP = "database (path or URL: postgresql://user@host/db; default $HUBRIG_DB or ~/.local/share/hubrig/results.sqlite)"


def when(t: float | None) -> str:
    """A database-clock instant as UTC text."""
    return "-" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def open_db(args: argparse.Namespace) -> "Database":
    """The database named by ``--db`` (else ``$HUBRIG_DB``...), or a clear error."""
    from hubrig.harness.racks.database import Database, DatabaseError

    try:
        return Database(args.db)
    except DatabaseError as exc:
        raise UserError(str(exc)) from None


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hubrig.harness.racks.leases import states

    with open_db(args) as db:
        rows = states(db, args.pool)
    table = Table(title="leases")
    for name in ("pool", "rig", "state", "holder", "token", "acquired (UTC)", "expires in"):
        table.add_column(name, overflow="fold")
    for r in rows:
        left = "-" if r.state != "held" or r.expires_at is None else f"{r.expires_at - r.now:.1f} s"
        table.add_row(r.pool, r.rig, r.state, r.holder or "-", str(r.token),
                      when(r.acquired_at) if r.holder else "-", left)
    Console().print(table if rows else "no rigs registered (hubrig rig add --pool NAME RIGFILE)")
    return 0


def _release(args: argparse.Namespace) -> int:
    from hubrig.harness.racks.leases import LeaseError, force_release

    with open_db(args) as db:
        try:
            entry = force_release(db, args.rig, args.holder)
        except LeaseError as exc:
            raise UserError(str(exc)) from None
    print(f"hubrig: rig {entry.rig}: lease {entry.token} of {entry.holder} "
          f"{'had already lapsed' if entry.end == 'lapsed' else 'released'} ({when(entry.ended_at)} UTC)")
    return 0


def _history(args: argparse.Namespace) -> int:
    from hubrig.harness.racks.leases import history

    with open_db(args) as db:
        entries = history(db, args.rig)
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="lease history")
    for name in ("rig", "holder", "token", "acquired (UTC)", "ended (UTC)", "end", "job"):
        table.add_column(name, overflow="fold")
    for e in entries:
        table.add_row(e.rig, e.holder, str(e.token), when(e.acquired_at), when(e.ended_at), e.end or "held",
                      e.job or "-")
    Console().print(table if entries else "no leases yet")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    lease = subparsers.add_parser("lease", help="rig leases: list, release, history")
    sub = lease.add_subparsers(dest="lease_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="every registered rig's lease: free, held (by whom), lapsed")
    listing.add_argument("--pool", help="only this pool")
    listing.add_argument("--db", help=DB_HELP)
    listing.set_defaults(handler=_list)
    release = sub.add_parser("release", help="free a rig whose holder will not (a person's decision)")
    release.add_argument("rig", metavar="RIG")
    release.add_argument("--from", dest="holder", metavar="HOLDER",
                         help="only if this holder has it (as lease list shows)")
    release.add_argument("--db", help=DB_HELP)
    release.set_defaults(handler=_release)
    hist = sub.add_parser("history", help="every lease: rig, holder, token, acquired, released or lapsed")
    hist.add_argument("--rig", help="only this rig")
    hist.add_argument("--json", action="store_true", help="print JSON (times: seconds since the epoch, database clock)")
    hist.add_argument("--db", help=DB_HELP)
    hist.set_defaults(handler=_history)
