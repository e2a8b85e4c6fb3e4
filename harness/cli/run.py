"""``hubrig run`` (the standard test plans through pytest, with one set of results, journal and
report for the run) and ``hubrig results list|show`` (runs kept in the results store)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typing import TYPE_CHECKING

from hubrig.harness.cli import UserError
from hubrig.testplans import PLANS, plan_file

if TYPE_CHECKING:
    from hubrig.harness.rig.file import RigFile

def plan_path(name: str) -> Path:
    """The file of a shipped plan."""
    try:
        return plan_file(name)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def selected_plans(chosen: list[str] | None) -> list[str]:
    """The plans to run: those chosen (each once, in the standard order), else all of them."""
    for name in chosen or []:
        plan_path(name)
    return [name for name in PLANS if not chosen or name in chosen]


def pytest_command(args: argparse.Namespace, run_id: str, out: Path, *, leased: bool = False) -> list[str]:
    """The pytest command line ``hubrig run`` executes (``leased``: on a rig leased from a pool)."""
    plans = [str(plan_path(name)) for name in selected_plans(args.plan)]
    # -p no:timeout: a plan is bounded by its own schedule (testplans.outage.step_bound), never by
    # a pytest-timeout default a configuration file near the plans may set for other tests.
    cmd = [sys.executable, "-m", "pytest", *plans, "-p", "no:timeout",
           "--rig", str(args.rig), "--out", str(out), "--run-id", run_id, "--trials", str(args.trials),
           "--junitxml", str(out / "junit.xml"), "-p", "no:cacheprovider", "-v", "--tb=short", "-rfE",
           "-o", "junit_suite_name=hubrig"]
    # A pooled run is stored by the runner, fenced by its lease; its plans get the lease's mains marker.
    cmd += ["-p", "hubrig.harness.racks.marker"] if leased else ["--results-db", args.db or _default_db()]
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


EXIT_PASS, EXIT_FAIL, EXIT_NOT_RECORDED, EXIT_INTERRUPTED = 0, 1, 3, 130
"""``hubrig run``'s exit status: PASS, FAIL, results not recorded (results.json, the report or the
store could not be written: a full disk, a read-only store), INTERRUPTED (Ctrl-C, SIGTERM, SIGHUP;
what was measured is kept). Usage errors exit 2."""


def _run(args: argparse.Namespace) -> int:
    from hubrig.fixtures.recording import new_run_id
    from hubrig.harness.rig.session import default_rig_file
    from hubrig.harness.rig.file import RigFileError, load_rig

    if args.pool:
        from hubrig.harness.cli.pool import run_in_pool

        run_id = new_run_id()
        out = Path(args.out) if args.out else Path("runs") / run_id
        out.mkdir(parents=True, exist_ok=True)
        ran, status = run_in_pool(args, run_id, out, lambda rigfile: pytest_command(
            argparse.Namespace(**{**vars(args), "rig": rigfile}), run_id, out, leased=True))
        return _finish(out, status, run_id, args.db or _default_db()) if ran else status
    if args.rig is None:
        try:
            args.rig = default_rig_file()
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None
    rig_path = Path(args.rig)
    try:
        rig = load_rig(rig_path)  # a bad rig file fails here, as one line naming file:line
    except RigFileError as exc:
        raise UserError(str(exc)) from None
    if args.trials < 1:
        raise UserError(f"--trials must be at least 1, got {args.trials}")
    run_id = new_run_id()
    out = Path(args.out) if args.out else Path("runs") / run_id
    out.mkdir(parents=True, exist_ok=True)
    args.db = args.db or _default_db()
    cmd = pytest_command(args, run_id, out)
    print(f"hubrig: run {run_id}: plans {', '.join(selected_plans(args.plan))} on {rig_path}, "
          f"{args.trials} trial(s), output {out}", flush=True)
    from hubrig.harness.rig.lock import WAIT_ENV

    env = dict(os.environ)
    if args.wait_for_rig is not None:
        env[WAIT_ENV] = str(args.wait_for_rig)
    status = run_plans(cmd, env)
    _say_if_mains_left_off(rig)
    return _finish(out, status, run_id, args.db)


FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
"""Signals ``hubrig run`` passes on to its pytest child (which restores mains on each)."""


def run_plans(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run the pytest child to its end and return its exit status (see :func:`wait_for`)."""
    return wait_for(subprocess.Popen(cmd, env=env))


def wait_for(child: subprocess.Popen) -> int:
    """Wait for the plans process to end and return its exit status.

    SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to ``hubrig run`` are passed on to the child, and this
    keeps waiting: the child restores mains and writes what it captured (``subprocess.call`` would
    kill it 0.25 s after a Ctrl-C, mid-restore). A dropped SSH session (SIGHUP) no longer ends
    ``hubrig run`` first. Ctrl-C at a terminal reaches both; the child takes a repeat calmly.
    """

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)
        print(f"hubrig: {signal.Signals(signum).name}: waiting for the plans to restore mains and save "
              "their results", file=sys.stderr, flush=True)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _say_if_mains_left_off(rig: "RigFile") -> None:
    """First thing after the plans end: if the rig's mains is still cut (the child could not
    restore it, or was killed outright), say so with the marker and what to do."""
    if rig.is_virtual:
        return
    from hubrig.harness.rig.lock import holder
    from hubrig.harness.rig.mains import marker_path
    from hubrig.harness.rig.session import default_state_dir, mains_left_off

    state = rig.state_dir or default_state_dir()
    marker = marker_path(state, rig.name)
    if marker.exists() and holder(state, rig.name) is None:
        print(f"hubrig: {mains_left_off(rig.name, marker)}", file=sys.stderr, flush=True)


PYTEST_INTERRUPTED = 2


def _finish(out: Path, status: int, run_id: str, db: str) -> int:
    """Say how the run went, what the DUT's TSAT verdict is, and where everything is; the exit
    status follows the verdict (see ``EXIT_*``), checked against what was really recorded."""
    from hubrig.harness.results.files import ResultsError, load_results

    try:
        results = load_results(out / "results.json")
    except ResultsError as exc:
        if status == PYTEST_INTERRUPTED:
            print(f"hubrig: run {run_id}: INTERRUPTED before any result was recorded", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"hubrig: run {run_id}: the plans wrote no readable results (pytest exit {status}): {exc}",
              file=sys.stderr)
        return status if status not in (0, 1) else EXIT_NOT_RECORDED
    counts = results.counts()
    verdict = results.verdict.upper() + (f" ({results.interruption})" if results.interruption else "")
    print(f"hubrig: run {results.run_id}: {verdict}: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped" + (f", {counts['not run']} not run" if counts["not run"] else "")
          + f"; {len(results.failures())} failed measurement(s)")
    for line in [] if results.tsat is None else results.tsat.warning_lines():
        print(f"hubrig: {line}")
    files = [("journal", out / "journal.sqlite"), ("JUnit", out / "junit.xml"), ("results", out / "results.json"),
             ("report", out / "report.html"), ("Markdown report", out / "report.md")]
    print("hubrig: " + "; ".join(f"{name} {path}" for name, path in files if path.exists()))
    stored = _stored(db, results.run_id)
    if stored:
        print(f"hubrig: run {results.run_id} NOT stored in {db}: {stored}", file=sys.stderr)
    if results.verdict == "interrupted":
        return EXIT_INTERRUPTED
    if stored or not (out / "report.html").exists() or status == 3:
        return EXIT_NOT_RECORDED
    return EXIT_FAIL if results.verdict == "fail" else EXIT_PASS


def _stored(db: str, run_id: str) -> str:
    """Why the store does not hold ``run_id`` (empty: it does)."""
    from hubrig.harness.results.files import ResultsError
    from hubrig.harness.results.store import open_store

    try:
        store = open_store(db)
        try:
            store.get(run_id)
        finally:
            store.close()
    except ResultsError as exc:
        return str(exc)
    return ""


def _open(args: argparse.Namespace):
    from hubrig.harness.results.files import ResultsError
    from hubrig.harness.results.store import open_store

    try:
        return open_store(args.db)
    except ResultsError as exc:
        raise UserError(str(exc)) from None


def _since(text: str) -> datetime:
    """``--since``: an ISO date or date-time (UTC unless it says), or ``Nd`` / ``Nh`` ago."""
    if text[:-1].isdigit() and text[-1:] in ("d", "h"):
        return datetime.now(timezone.utc) - timedelta(**{"days" if text[-1] == "d" else "hours": int(text[:-1])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date, date-time or Nd/Nh: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _list(args: argparse.Namespace) -> int:
    from hubrig.harness.results.model import RunFilter

    store = _open(args)
    try:
        runs = store.list(RunFilter(rig=args.rig, dut=args.dut, plan=args.plan_name, verdict=args.verdict,
                                    since=args.since, limit=args.limit))
        left = store.unconverted()
    finally:
        store.close()
    for run_id, why in left:  # the first store's runs that stay in its runs_v1 table
        print(f"hubrig: run {run_id} of the first results store was not converted (kept in runs_v1): {why}",
              file=sys.stderr)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in runs], indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    colour = {"pass": "green", "fail": "red", "interrupted": "yellow"}
    # One line per run: the id, date and verdict always whole; plans, rig and DUT cut to fit a terminal.
    table = Table(box=None, pad_edge=False)
    whole = {"run": max([len(r.run_id) for r in runs] + [3]), "started (UTC)": 16, "verdict": 11, "failures": 8}
    for name in ("run", "started (UTC)", "verdict", "failures", "plans", "rig", "DUT"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", justify="right" if name == "failures" else "left",
                         min_width=whole.get(name, 6))
    for r in runs:
        table.add_row(r.run_id, r.started.strftime("%Y-%m-%d %H:%M"), f"[{colour[r.verdict]}]{r.verdict.upper()}[/]",
                      str(r.failures), r.plans, r.rig, r.dut)
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 250  # a pipe or a file: nothing to fit
    console.print(table if runs else "no run matches" if _filtered(args) else "no runs stored yet")
    return 0


def _filtered(args: argparse.Namespace) -> bool:
    return any(v is not None for v in (args.rig, args.dut, args.plan_name, args.verdict, args.since))


def _show(args: argparse.Namespace) -> int:
    from hubrig.harness.results.files import ResultsError

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
        from hubrig.harness.report.render import markdown

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
    run.add_argument("--wait-for-rig", type=float, metavar="SECONDS",
                     help="if another run holds the rig, wait this long for it (default: refuse at once)")
    run.add_argument("--db", help="results database (path, sqlite:/// or postgresql:// URL; default $HUBRIG_DB "
                                  "or ~/.local/share/hubrig/results.sqlite)")
    from hubrig.harness.cli.pool import add_run_options

    add_run_options(run)  # --pool, --wait, --lease-expiry, ...
    run.set_defaults(handler=_run)

    results = subparsers.add_parser("results", help="runs kept in the results store: list, show")
    sub = results.add_subparsers(dest="results_command", metavar="ACTION")
    sub.required = True
    listing = sub.add_parser("list", help="the most recent runs, one line each")
    listing.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    listing.add_argument("--rig", help="only runs on this rig (its name)")
    listing.add_argument("--dut", help="only runs whose DUT matches this text (EUI, firmware)")
    listing.add_argument("--plan", dest="plan_name", choices=list(PLANS), help="only runs of this plan")
    listing.add_argument("--verdict", choices=["pass", "fail", "interrupted"], help="only runs with this verdict")
    listing.add_argument("--since", type=_since, help="only runs started since: 2026-11-01, 2026-11-01T08:00, 7d, 12h")
    listing.add_argument("--json", action="store_true", help="print the runs as JSON")
    listing.add_argument("--db", help="results store (default as for hubrig run)")
    listing.set_defaults(handler=_list)
    show = sub.add_parser("show", help="one run's report (or its results.json with --json)")
    show.add_argument("run", help="run id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="print the results document")
    show.add_argument("--db", help="results store (default as for hubrig run)")
    show.set_defaults(handler=_show)
    from hubrig.harness.cli.trend import register_results_actions

    register_results_actions(sub)  # results trend|compare
