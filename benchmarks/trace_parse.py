"""Trace parse throughput: points/s for 40,001-point traces in every format the dialects use.

Usage: ``.venv/bin/python benchmarks/trace_parse.py [--points N] [--rounds N]``

Each format's trace is encoded once by the virtual analyser's encoder (levels from a seeded
noise floor with spurs), then parsed ``--rounds`` times; the best round is the figure (least
disturbed by other load). Each parse is checked against the encoded levels, so a fast wrong
answer exits 1 instead of printing a figure.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from hubrig.drivers.analyser.trace import TraceFormat, encode_trace, parse_trace

FORMATS = {
    "REAL,32 big-endian (Keysight NORM)": TraceFormat("real32", "big"),
    "REAL,32 little-endian (R&S SWAP)": TraceFormat("real32", "little"),
    "REAL,64 big-endian (Keysight)": TraceFormat("real64", "big"),
    "ASCII (Keysight, R&S)": TraceFormat("ascii"),
    "ASCII in #9 block (Rigol DSA)": TraceFormat("ascii", header="required"),
    "ASCII trailing comma (Siglent)": TraceFormat("ascii", trailing_separator=True),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=40_001)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    levels = -95.0 + 3.0 * rng.standard_normal(args.points)
    levels[::997] = -40.0
    print(f"trace parse, {args.points:,} points, best of {args.rounds} rounds")
    for name, fmt in FORMATS.items():
        data = encode_trace(levels, fmt)
        want = levels.astype(np.float32) if fmt.encoding == "real32" else levels
        best = float("inf")
        for _ in range(args.rounds):
            start = time.perf_counter()
            got = parse_trace(data, fmt, expected_points=args.points)
            best = min(best, time.perf_counter() - start)
            if not np.allclose(got, want, rtol=1e-6, atol=1e-4):
                print(f"{name}: parsed levels differ from the encoded ones", file=sys.stderr)
                return 1
        print(f"  {name:38s} {len(data):>9,} bytes  {best * 1e3:8.2f} ms  {args.points / best:14,.0f} points/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
