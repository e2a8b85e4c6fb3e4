"""Trace parse throughput: points/s for 40,001-point traces in every format the dialects use.

Usage: ``.venv/bin/python benchmarks/trace_parse.py [--points N] [--rounds N]``

Parse: each format's trace is encoded once by the virtual analyser's encoder (levels from a seeded
noise floor with spurs), then parsed ``--rounds`` times; the best round is the figure (least
disturbed by other load). Each parse is checked against the encoded levels, so a fast wrong
answer exits 1 instead of printing a figure.

Read + parse: the driver reads the trace of a virtual Keysight X-series analyser (one 40,001-point
sweep with a spur) through pyvisa-py and a loopback TCP socket, in binary REAL,32 and in ASCII;
each read must find the spur at its frequency.
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
    return read_over_tcp(args.points, args.rounds)


def read_over_tcp(points: int, rounds: int) -> int:
    """Trace query, read and parse through pyvisa-py from a virtual analyser on loopback TCP."""
    from hubrig.drivers.analyser.analyser import SweepSettings, open_analyser
    from hubrig.drivers.analyser.config import AnalyserConfig
    from hubrig.harness.clock import RealClock, RealTimeScheduler
    from hubrig.harness.virtual.analyser import VirtualAnalyser, serve_tcp
    from hubrig.harness.virtual.rfparams import RfParams, Spur

    print(f"trace read + parse through pyvisa-py, loopback TCP, {points:,} points, best of {rounds} reads")
    clock = RealClock()
    scheduler = RealTimeScheduler(clock)
    device = VirtualAnalyser(scheduler, dialect="keysight-x", rf=RfParams(), spurs=[Spur(freq_mhz=2450.0, level_dbm=-40.0)],
                             noise_bands=[], powered=lambda: True, last_command_ns=lambda: None)
    server = serve_tcp(device)
    status = 0
    try:
        for trace_format in ("binary", "ascii"):
            cfg = AnalyserConfig(resource=server.resource, dialect="keysight-x", trace_format=trace_format,
                                 safety={"max_input_dbm": 0.0, "min_attenuation_db": 10.0})
            analyser = open_analyser(cfg, clock)
            try:
                trace = analyser.measure(SweepSettings(2400e6, 2483.5e6, 100e3, 300e3, "peak", "write", 1, points))
                order = analyser.read_byte_order()
                best = float("inf")
                for _ in range(rounds):
                    start = time.perf_counter()
                    levels = analyser.read_trace(order, expected_points=points)
                    best = min(best, time.perf_counter() - start)
                    if abs(trace.freq_hz[int(levels.argmax())] - 2450e6) > 100e3:
                        print(f"{trace_format}: the spur is not where it was radiated", file=sys.stderr)
                        status = 1
                print(f"  {analyser.encoding:38s} {best * 1e3:8.2f} ms  {points / best:14,.0f} points/s")
            finally:
                analyser.close()
    finally:
        server.close()
        scheduler.close()
        clock.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
