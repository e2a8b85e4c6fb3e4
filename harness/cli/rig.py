"""``hubrig rig check RIGFILE``: validate a rig file and prove each instrument can do its job."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hubrig.harness.cli import UserError
from hubrig.harness.rig.file import RigFileError, load_rig


def register(subparsers: argparse._SubParsersAction) -> None:
    rig = subparsers.add_parser("rig", help="rig files: check one")
    sub = rig.add_subparsers(dest="rig_command", metavar="ACTION")
    sub.required = True
    check = sub.add_parser("check", help="validate a rig file and probe its instruments")
    check.add_argument("rigfile", metavar="RIGFILE", help="the rig file (YAML)")
    check.add_argument("--no-probe", action="store_true", help="only validate, do not touch instruments")
    check.add_argument("--realtime", action="store_true",
                       help="virtual rig: probe the virtual devices behind real transports (TCP, pty)")
    check.add_argument("--json", action="store_true", help="print the checks as JSON (for scripts)")
    check.set_defaults(handler=check_rig)
    from hubrig.harness.cli.pool import register_rig_actions

    register_rig_actions(sub)  # rig add|list|health: pools in the database


def check_rig(args: argparse.Namespace) -> int:
    """Validate, probe, print a table (or JSON); exit 1 if any check failed (warnings pass)."""
    from hubrig.harness.rig.session import probe_rig

    try:
        rig = load_rig(args.rigfile)
    except RigFileError as exc:
        raise UserError(str(exc)) from None
    rows = [] if args.no_probe else probe_rig(args.rigfile, realtime=args.realtime)
    ok = all(r.ok for r in rows)
    if args.json:
        print(json.dumps({"rig": rig.name, "kind": rig.kind, "file": args.rigfile, "ok": ok,
                          "checks": [r.as_dict() for r in rows]}, indent=2))
        return 0 if ok else 1
    console = Console(highlight=False)
    console.print(f"{escape(args.rigfile)}: valid rig file for {escape(rig.name)} ({rig.kind})", soft_wrap=True)
    if args.no_probe:
        return 0
    for row in rows:  # mains left off is said first, in full, before the table
        if row.name == "mains" and not row.ok:
            console.print(f"[bold red]{escape(row.detail)}[/]", soft_wrap=True)
    table = Table(title=f"rig {escape(rig.name)}: instruments")
    for column in ("instrument", "check", "resource", "result", "found, or what to check"):
        table.add_column(column, overflow="fold")
    for row in rows:
        mark = "[red]FAIL[/]" if not row.ok else "[yellow]warn[/]" if row.warning else "[green]pass[/]"
        detail = escape(row.detail) + (f"\n[bold]check:[/] {escape(row.fix)}" if row.fix else "")
        table.add_row(row.name, row.check, escape(row.resource), mark, detail)
    console.print(table)
    failed = [r for r in rows if not r.ok]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/]: " + ", ".join(f"{r.name} {r.check}" for r in failed))
    return 0 if ok else 1
