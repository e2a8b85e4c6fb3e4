"""How long ``hubrig`` takes to start, as a ratio to a bare interpreter (``python -c pass``).

Runs each command ``--repeat`` times (interleaved, so machine load hits them alike) and prints the
median wall time and its ratio to ``python -c pass``, plus the median CPU time (user + system of the
child), which a loaded machine disturbs less. Target: ``hubrig --help`` and ``hubrig tsat check``
at most 3x.

    python benchmarks/cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def commands() -> dict[str, list[str]]:
    hubrig = shutil.which("hubrig", path=str(Path(sys.executable).parent)) or "hubrig"
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "hubrig --help": [hubrig, "--help"],
        "hubrig --version": [hubrig, "--version"],
        "hubrig tsat check": [hubrig, "tsat", "check", "--device-type", "ESMETS", "--spec", "4.2", "--gbcs", "3.2",
                              "--date", "2026-11-22"],
        "hubrig results list": [hubrig, "results", "list", "--json", "--limit", "5"],
    }


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd`` (output discarded)."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    cmds = commands()
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.repeat):
        for name, cmd in cmds.items():
            wall, cpu = measure(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    print(f"{'command':<22} {'wall ms':>8} {'x pass':>7} {'cpu ms':>8} {'x pass':>7}   (median of {args.repeat})")
    for name in cmds:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:<22} {1000 * wall:8.1f} {wall / base_wall:7.2f} {1000 * cpu:8.1f} {cpu / max(base_cpu, 1e-9):7.2f}")


if __name__ == "__main__":
    main()
