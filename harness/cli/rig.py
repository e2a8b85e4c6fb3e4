"""``hubrig rig check RIGFILE``: validate a rig file and probe every instrument it names."""

from __future__ import annotations

import argparse

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
    check.set_defaults(handler=check_rig)
    from hubrig.harness.cli.pool import register_rig_actions

    register_rig_actions(sub)  # rig add|list|health: pools in the database


def check_rig(args: argparse.Namespace) -> int:
    """Validate, probe, print a table; exit 1 if any instrument did not answer."""
    from hubrig.harness.rig.session import probe_rig

    try:
        rig = load_rig(args.rigfile)
    except RigFileError as exc:
        raise UserError(str(exc)) from None
    console = Console(highlight=False)
    console.print(f"{escape(args.rigfile)}: valid rig file for {escape(rig.name)} ({rig.kind})", soft_wrap=True)
    if args.no_probe:
        return 0
    rows = probe_rig(args.rigfile, realtime=args.realtime)
    table = Table(title=f"rig {escape(rig.name)}: instruments")
    for column in ("instrument", "resource", "answered", "identity or error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        mark = "[green]yes[/]" if row.ok else "[red]no[/]"
        table.add_row(row.name, escape(row.resource), mark, escape(row.detail))
    console.print(table)
    return 0 if all(r.ok for r in rows) else 1
