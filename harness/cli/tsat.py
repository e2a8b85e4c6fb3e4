"""``hubrig tsat check`` and ``hubrig tsat table``: the TSAT judgement from the command line.

``check`` exits 0 when the device is installable, maintainable and on an applicable GBCS version
on the date, 1 when any of those fails, 2 on a user error (unknown device type, version or date).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from hubrig.harness.rules import tsat

if TYPE_CHECKING:  # the real clock is imported only when the date is today's (start-up time)
    from hubrig.harness.clock import Clock


def register(subparsers) -> None:
    parser = subparsers.add_parser("tsat", help="TSAT (SEC Schedule 11) version rules")
    sub = parser.add_subparsers(dest="tsat_command", metavar="ACTION")
    sub.required = True

    check_p = sub.add_parser("check", help="judge a device's spec and GBCS versions on a date")
    check_p.add_argument("--device-type", required=True,
                         help="CHTS, ESMETS, GSMETS, IHDTS, PPMIDTS, HCALCSTS, ESMSTS, GSMSTS "
                              "(aliases: CH, CHF, ESME, GSME, IHD, PPMID, HCALCS)")
    check_p.add_argument("--spec", required=True, help="technical specification version, e.g. 4.2")
    check_p.add_argument("--gbcs", help="GBCS version, e.g. 3.2 (omit for SMETS1)")
    check_p.add_argument("--date", help="judgement date yyyy-mm-dd (default: today)")
    check_p.add_argument("--ppm", action="store_true",
                         help="judge installation against the PPM Installation End Date")
    check_p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check_p.add_argument("--table", help="TSAT data file (default: the shipped table)")
    check_p.set_defaults(handler=check)

    table_p = sub.add_parser("table", help="print the TSAT rows the harness judges against")
    table_p.add_argument("--device-type", help="only this device type")
    table_p.add_argument("--table", help="TSAT data file (default: the shipped table)")
    table_p.set_defaults(handler=show_table)


def check(args: argparse.Namespace, clock: "Clock | None" = None) -> int:
    """Print the verdict; the default date is today on ``clock`` (a real clock unless injected)."""
    table = tsat.load(args.table)
    if clock is None and not args.date:
        from hubrig.harness.clock import RealClock

        clock = RealClock()
    on = tsat.parse_date(args.date) if args.date else clock.wall().date()
    verdict = table.judge(args.device_type, args.spec, args.gbcs, on, ppm=args.ppm)
    if args.json:
        print(json.dumps(verdict.to_json(), indent=2))
    else:
        gbcs = f" / GBCS {verdict.gbcs}" if verdict.gbcs else ""
        print(f"{verdict.device_type} {verdict.spec}{gbcs} on {on.isoformat()} "
              f"({verdict.table}):")

        def yes(v: bool | None) -> str:
            return "n/a" if v is None else ("yes" if v else "NO")

        print(f"  installable (IVP):  {yes(verdict.installable)}")
        print(f"  maintainable (MVP): {yes(verdict.maintainable)}")
        print(f"  GBCS applicable:    {yes(verdict.gbcs_applicable)}")
        for reason in verdict.reasons:
            print(f"  - {reason}")
    return 0 if verdict.compliant else 1


def show_table(args: argparse.Namespace) -> int:
    table = tsat.load(args.table)
    types = [table.device_type(args.device_type)] if args.device_type else list(table.rows)
    print(f"{table.version} ({table.source})")
    for dtype in types:
        print(f"\n{dtype}")
        for row in table.rows[dtype]:
            gbcs = "n/a" if row.gbcs is None else tsat.version_text(row.gbcs)
            applic = "n/a" if row.applicability is None else str(row.applicability)
            print(f"  {tsat.version_text(row.spec):<5} IVP {row.installation}  MVP {row.maintenance}  "
                  f"GBCS {gbcs}  applicability {applic}")
    return 0
