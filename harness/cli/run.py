"""``hubrig run`` (the standard test plans through pytest, with one set of results, journal and
report for the run) and ``hubrig results list|show`` (runs kept in the results store)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from hubrig.harness.cli import UserError

PLANS = {"power-outage": "test_power_outage.py", "device-log": "test_device_log.py",
         "clock-alert": "test_clock_alert.py"}
"""The standard plans, in the order a run takes them: plan name -> module in ``testplans``."""


def plan_path(name: str) -> Path:
    """The file of a shipped plan."""
    from hubrig import testplans

    if name not in PLANS:
        raise UserError(f"unknown plan {name!r}; known: {', '.join(PLANS)}")
    return Path(testplans.__file__).parent / PLANS[name]


def selected_plans(chosen: list[str] | None) -> list[str]:
    """The plans to run: those chosen (each once, in the standard order), else all of them."""
    for name in chosen or []:
        plan_path(name)
    return [name for name in PLANS if not chosen or name in chosen]


def pytest_command(args: argparse.Namespace, run_id: str, out: Path) -> list[str]:
    """The pytest command line ``hubrig run`` executes."""
    plans = [str(plan_path(name)) for name in selected_plans(args.plan)]
    cmd = [sys.executable, "-m", "pytest", *plans,
           "--rig", str(args.rig), "--out", str(out), "--run-id", run_id, "--trials", str(args.trials),
           "--junitxml", str(out / "junit.xml"), "-p", "no:cacheprovider", "-v", "--tb=short", "-rfE"]
    # A pooled run is stored by the runner, fenced by its lease; its plans get the lease's mains marker.
    cmd += ["-p", "hubrig.harness.racks.marker"] if args.pool else ["--results-db", args.db or _default_db()]
    for name in args.limit_set:
        cmd += ["--limit-set", name]
    if args.limits:
        cmd += ["--limits", str(args.limits)]
    if args.observe_s is not None:
        cmd += ["--observe-s", str(args.observe_s)]
    if args.k:
        cmd += ["-k", args.k]
    return cmd


def _default_db() -> str:
    from hubrig.harness.results.store import default_store_location

    return default_store_location()


def _run(args: argparse.Namespace) -> int:
    from hubrig.fixtures.recording import new_run_id
    from hubrig.harness.rig.session import default_rig_file
    from hubrig.harness.rig.file import RigFileError, load_rig

    if args.pool:
        from hubrig.harness.cli.pool import run_in_pool

        run_id = new_run_id()
        out = Path(args.out) if args.out else Path("runs") / run_id
        out.mkdir(parents=True, exist_ok=True)
        return run_in_pool(args, run_id, out, lambda rigfile: pytest_command(
            argparse.Namespace(**{**vars(args), "rig": rigfile}), run_id, out))
    if args.rig is None:
        try:
            args.rig = default_rig_file()
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None
    rig_path = Path(args.rig)
    try:
        load_rig(rig_path)  # a bad rig file fails here, as one line naming file:line
    except RigFileError as exc:
        raise UserError(str(exc)) from None
    if args.trials < 1:
        raise UserError(f"--trials must be at least 1, got {args.trials}")
    run_id = new_run_id()
    out = Path(args.out) if args.out else Path("runs") / run_id
    out.mkdir(parents=True, exist_ok=True)
    cmd = pytest_command(args, run_id, out)
    print(f"hubrig: run {run_id}: plans {', '.join(selected_plans(args.plan))} on {rig_path}, "
          f"{args.trials} trial(s), output {out}", flush=True)
    status = run_plans(cmd)
    return _finish(out, status)


def run_plans(cmd: list[str]) -> int:
    """Run the pytest child to its end and return its exit status.

    Ctrl-C reaches the child from the terminal, and SIGTERM sent to ``hubrig run`` is passed on
    to it: either way the child restores mains and writes what it captured, and this waits for
    it (``subprocess.call`` would kill it 0.25 s after a Ctrl-C, mid-restore).
    """
    child = subprocess.Popen(cmd)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                print("hubrig: interrupted; waiting for the plans to restore mains and save their results",
                      file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _finish(out: Path, status: int) -> int:
    """Say how the run went, what the DUT's TSAT verdict is, and where everything is."""
    from hubrig.harness.report.render import tsat_warning_lines
    from hubrig.harness.results.store import ResultsError, load_results

    try:
        results = load_results(out / "results.json")
    except ResultsError as exc:
        raise UserError(f"the plans wrote no readable results (pytest exit {status}): {exc}") from None
    counts = results.counts()
    print(f"hubrig: run {results.run_id}: {results.verdict.upper()}: {counts['passed']} passed, "
          f"{counts['failed']} failed, {counts['skipped']} skipped; {len(results.failures())} failed "
          f"measurement(s)")
    for line in tsat_warning_lines(results):
        print(f"hubrig: {line}")
    files = [("journal", out / "journal.sqlite"), ("JUnit", out / "junit.xml"), ("results", out / "results.json")]
    print("hubrig: " + "; ".join(f"{name} {path}" for name, path in files if path.exists()))
    print(f"hubrig: report {out / 'report.html'} (and {out / 'report.md'})")
    return status


def _open(args: argparse.Namespace):
    from hubrig.harness.results.store import ResultsError, open_store

    try:
        return open_store(args.db)
    except ResultsError as exc:
        raise UserError(str(exc)) from None


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = _open(args)
    try:
        runs = store.list(limit=args.limit)
    finally:
        store.close()
    table = Table()
    for name in ("run", "started (UTC)", "plans", "rig", "DUT", "trials", "failures", "verdict"):
        table.add_column(name, no_wrap=name != "DUT", overflow="fold")
    for r in runs:
        table.add_row(r.run_id, r.started.strftime("%Y-%m-%d %H:%M:%S"), r.plan, r.rig, r.dut, str(r.trials),
                      str(r.failures), r.verdict.upper())
    console = Console()
    console.width = max(console.width, 160)
    console.print(table if runs else "no runs stored yet")
    return 0


def _show(args: argparse.Namespace) -> int:
    from hubrig.harness.report.render import markdown
    from hubrig.harness.results.store import ResultsError

    store = _open(args)
    try:
        results = store.get(args.run)
    except ResultsError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    if args.json:
        print(results.model_dump_json(indent=2))
    else:
        print(markdown(results))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run the standard test plans on a rig and write the results and report")
    run.add_argument("--rig", help="rig file (default: the embedded virtual rig, rigs/virtual.yaml)")
    run.add_argument("--plan", action="append", choices=list(PLANS),
                     help="run only this plan (repeatable; default: all of them)")
    run.add_argument("--trials", type=int, default=5, help="repeated-trials count (default 5)")
    run.add_argument("--out", help="output folder (default runs/<run id>)")
    run.add_argument("--limit-set", action="append", default=[], metavar="NAME",
                     help="limit set to judge against (repeatable; default: the rig file's)")
    run.add_argument("--limits", help="limits file (default: the shipped harness/data/limits.yaml)")
    run.add_argument("--observe-s", type=float, help="how long after restoration to listen for alerts")
    run.add_argument("-k", help="only the scenarios matching this pytest -k expression")
    run.add_argument("--db", help="results database (path, sqlite:/// or postgresql:// URL; default $HUBRIG_DB "
                                  "or ~/.local/share/hubrig/results.sqlite)")
    from hubrig.harness.cli.pool import add_run_options

    add_run_options(run)  # --pool, --wait, --lease-expiry, ...
    run.set_defaults(handler=_run)

    results = subparsers.add_parser("results", help="runs kept in the results store")
    sub = results.add_subparsers(dest="results_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="the most recent runs")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--db", help="results store (default as for hubrig run)")
    listing.set_defaults(handler=_list)
    show = sub.add_parser("show", help="one run's report (or its results.json with --json)")
    show.add_argument("run", help="run id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the results document")
    show.add_argument("--db", help="results store (default as for hubrig run)")
    show.set_defaults(handler=_show)
    from hubrig.harness.cli.trend import register_results_actions

    register_results_actions(sub)  # results trend|compare
