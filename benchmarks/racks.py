"""Racks database figures: lease round trips per second, results ingest (runs per second) on both
engines, and the rack in a box (rigs, runners, jobs, kills, lapse times).

    .venv/bin/python benchmarks/racks.py [--db postgresql://...] [--seconds 5] [--rack-runners 6]

Without ``--db`` a throwaway PostgreSQL is started as the tests do (tests/pgserver.py); SQLite
runs in a temporary file. Ingest stores a real results document (a clock-alert run on the virtual
rig) under fresh run ids, from 1 writer and from 4 concurrent writers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hubrig.harness.racks import leases, pools  # noqa: E402
from hubrig.harness.racks.database import Database, runs  # noqa: E402
from hubrig.harness.racks.rackbox import run_rack  # noqa: E402
from hubrig.harness.results.files import load_results  # noqa: E402
from hubrig.harness.results.model import RunResults  # noqa: E402
from hubrig.harness.results.store import store_run  # noqa: E402


def lease_round_trips(url: str, seconds: float) -> float:
    """Acquire + release pairs per second on one rig, one client."""
    with Database(url) as db:
        pools.add_rig(db, "bench", ROOT / "rigs" / "virtual.yaml")
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            lease = leases.acquire(db, "virtual", "bench", 30.0)
            leases.release(db, lease)
            n += 1
        return n / seconds


def sample_results(folder: Path) -> RunResults:
    out = folder / "sample"
    subprocess.run([sys.executable, "-c", "import sys; from hubrig.harness.cli import main; sys.exit(main())",
                    "run", "--plan", "clock-alert", "--trials", "1", "--out", str(out), "--db",
                    str(folder / "scratch.sqlite")], check=True, capture_output=True)
    return load_results(out / "results.json")


def ingest(url: str, sample: RunResults, total: int, writers: int) -> tuple[float, int]:
    """Runs stored per second by ``writers`` threads sharing ``total`` runs; and the rows found after."""
    with Database(url) as db:
        def write(k: int) -> None:
            for i in range(total // writers):
                doc = sample.model_copy(update={"run_id": f"w{writers}-{k}-{i}"})
                with db.begin() as conn:
                    store_run(conn, db, doc)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        with db.begin() as conn:
            stored = conn.execute(runs.select().where(runs.c.run_id.like(f"w{writers}-%"))).all()
        return (total // writers * writers) / elapsed, len(stored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=200, help="runs to ingest per measurement")
    parser.add_argument("--rack-rigs", type=int, default=3)
    parser.add_argument("--rack-runners", type=int, default=6)
    parser.add_argument("--rack-kills", type=int, default=2)
    parser.add_argument("--rack-expiry", type=float, default=2.0)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory(prefix="hubrig-bench-racks-") as tmp:
        folder = Path(tmp)
        if args.db:
            new_pg = lambda: args.db  # noqa: E731
        else:
            from pgserver import start_server

            server = start_server()
            new_pg = server.new_database
        try:
            sample = sample_results(folder)
            for engine, make in (("postgresql", new_pg), ("sqlite", lambda: str(folder / f"{time.time_ns()}.sqlite"))):
                rate = lease_round_trips(make(), args.seconds)
                print(f"{engine}: lease acquire+release round trips: {rate:.0f}/s (one client)")
                for writers in (1, 4):
                    per_s, found = ingest(make(), sample, args.runs, writers)
                    print(f"{engine}: results ingest, {writers} writer(s): {per_s:.0f} runs/s "
                          f"({found} of {args.runs // writers * writers} stored)")
            report = run_rack(new_pg(), folder / "rack", ROOT / "rigs" / "virtual.yaml", rigs=args.rack_rigs,
                              runners=args.rack_runners, kills=args.rack_kills, ttl_s=args.rack_expiry)
            lapses = ", ".join(f"{s:.2f}" for s in report.lapse_after_kill_s)
            print(f"rack (postgresql): {report.rigs} rigs, {report.runners} runners/jobs, {report.kills} killed; "
                  f"{report.ran} ran, {report.not_run} not run; {report.holdings} holdings; "
                  f"lapse after kill {lapses} s (expiry {args.rack_expiry} s); wall {report.wall_s:.1f} s; "
                  f"problems: {report.problems or 'none'}")
        finally:
            if server is not None:
                server.stop("immediate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
