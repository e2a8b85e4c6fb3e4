"""Virtual time: how fast the virtual rig runs a 10-outage scenario, and its peak memory.

Ten outages of 3 to 15 minutes each (seeded), each followed by 10 minutes for the alerts, on the
embedded virtual rig through the whole harness stack (virtual supply -> supply driver -> mains;
virtual ESME and Comms Hub -> in-process link -> ITCH driver -> journal -> decode -> event bus).
Prints simulated seconds per wall second (target: at least 1000x), the frames captured against
the devices' ground truth, peak resident memory, and the peak of Python allocations (a second
run under tracemalloc, which slows Python down, so it is timed separately).

    .venv/bin/python benchmarks/virtual_time.py [--rig rigs/virtual.yaml]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from hubrig.harness.rig.session import open_rig

ROOT = Path(__file__).resolve().parent.parent
OUTAGES = 10
AFTER_S = 600.0


def scenario(rigfile: Path) -> tuple[float, float, int, int]:
    """Run the scenario; return (simulated s, wall s, frames captured, frames emitted)."""
    rng = random.Random(2024)
    durations = [rng.uniform(180, 900) for _ in range(OUTAGES)]
    with tempfile.TemporaryDirectory(prefix="hubrig-bench-") as out:
        session = open_rig(rigfile, out)
        with session:
            clock = session.clock
            start_sim, start_wall = clock.now(), time.perf_counter()
            for seconds in durations:
                session.mains.cut()
                clock.advance(seconds)
                session.mains.restore()
                clock.advance(AFTER_S)
            wall = time.perf_counter() - start_wall
            simulated = clock.now() - start_sim
            captured = len(session.bus.events(lambda e: e.kind in ("frame", "notification")))
            emitted = len(session.bench.ground_truth.on_link())
    return simulated, wall, captured, emitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rig", type=Path, default=ROOT / "rigs" / "virtual.yaml")
    args = parser.parse_args()

    simulated, wall, captured, emitted = scenario(args.rig)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    scenario(args.rig)
    _, peak_alloc = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"rig: {args.rig}")
    print(f"scenario: {OUTAGES} outages of 3-15 min, {AFTER_S:.0f} s after each")
    print(f"simulated: {simulated:.0f} s in {wall:.3f} s wall -> {simulated / wall:,.0f}x real time "
          f"(target >= 1000x)")
    print(f"frames captured by the harness: {captured}; emitted by the virtual devices: {emitted}")
    print(f"peak RSS: {peak_rss_mb:.1f} MiB; peak Python allocations (tracemalloc run): "
          f"{peak_alloc / 2**20:.2f} MiB")
    return 0 if captured == emitted else 1


if __name__ == "__main__":
    raise SystemExit(main())
