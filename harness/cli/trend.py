"""``hubrig results trend`` and ``hubrig results compare RUN_A RUN_B`` (runs in the database)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from hubrig.harness.cli import UserError
from hubrig.harness.cli.lease import DB_HELP, open_db


def _trend(args: argparse.Namespace) -> int:
    from hubrig.harness.racks.trends import plot, trends

    with open_db(args) as db:
        found = trends(db, rig=args.rig, firmware=args.firmware, measurement=args.measurement)
    plots = plot(found, Path(args.plots)) if found and args.plots != "-" else []
    if args.json:
        print(json.dumps({"trends": [t.as_json() for t in found], "plots": [str(p) for p in plots]}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="measurements across runs (oldest -> newest)")
    for name in ("measurement", "rig", "DUT firmware", "runs", "first", "last", "min", "max", "change",
                 "last verdict"):
        table.add_column(name, overflow="fold")
    for t in found:
        values = [p.value for p in t.points]
        table.add_row(t.label, t.rig, t.firmware, str(len(values)), f"{values[0]:.4g}", f"{values[-1]:.4g}",
                      f"{min(values):.4g}", f"{max(values):.4g}", f"{values[-1] - values[0]:+.4g} {t.unit}".rstrip(),
                      t.points[-1].verdict.upper())
    console = Console()
    console.width = max(console.width, 160)
    console.print(table if found else "no numeric measurements stored for that selection")
    for path in plots:
        console.print(f"plot: {path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from hubrig.harness.racks.trends import compare
    from hubrig.harness.results.files import ResultsError
    from hubrig.harness.results.store import open_store

    try:
        store = open_store(args.db)
        try:
            a, b = store.get(args.run_a), store.get(args.run_b)
        finally:
            store.close()
    except ResultsError as exc:
        raise UserError(str(exc)) from None
    changes = compare(a, b)
    worse = [c for c in changes if c.worse]
    if args.json:
        print(json.dumps({"a": a.run_id, "b": b.run_id, "worse": bool(worse),
                          "changes": [asdict(c) for c in changes]}, indent=2))
    else:
        print(f"{a.run_id} ({a.rig.name}, {a.verdict}) -> {b.run_id} ({b.rig.name}, {b.verdict}): "
              f"{len(changes)} change(s), {len(worse)} worse")
        for c in changes:
            print(f"  {'WORSE ' if c.worse else '      '}{c.kind}: {c.key}: {c.before} -> {c.after}")
    return 1 if worse else 0


def register_results_actions(sub: argparse._SubParsersAction) -> None:
    """``results trend`` and ``results compare`` (under ``hubrig results``)."""
    trend = sub.add_parser("trend", help="measurements across runs per rig and DUT firmware: a table and a plot each")
    trend.add_argument("--rig", help="only this rig")
    trend.add_argument("--firmware", help="only DUT firmware containing this text")
    trend.add_argument("--measurement", help="only measurements whose name contains this text")
    trend.add_argument("--plots", default="trends", help="folder for the PNG plots (default ./trends; '-': none)")
    trend.add_argument("--json", action="store_true")
    trend.add_argument("--db", help=DB_HELP)
    trend.set_defaults(handler=_trend)
    cmp_ = sub.add_parser("compare", help="what changed from RUN_A to RUN_B; exit 1 when something got worse")
    cmp_.add_argument("run_a", metavar="RUN_A")
    cmp_.add_argument("run_b", metavar="RUN_B")
    cmp_.add_argument("--json", action="store_true")
    cmp_.add_argument("--db", help=DB_HELP)
    cmp_.set_defaults(handler=_compare)
