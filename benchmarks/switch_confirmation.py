"""Switch confirmation against the bench in another process: how long after the supply really
switched does the harness's confirmed instant (the one every POA/PRA latency is measured from) lie?

Starts ``hubrig bench serve`` on the embedded virtual rig, opens the ``kind: real`` rig it prints
(pyvisa-py over loopback TCP, the whole real driver stack), cuts and restores mains ``--cycles``
times and compares each confirmed instant with the ``output`` entry of the bench's ground-truth
log (both on the host's monotonic clock). With ``--late-opc S`` one ``*OPC?`` per cycle answers S
seconds late, past the driver's timeout: then it also prints how long the exchange after it took
(the SCPI session's resynchronisation) and whether any confirmed instant came before the truth.

    .venv/bin/python benchmarks/switch_confirmation.py [--cycles 20] [--late-opc 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench import serve_bench  # noqa: E402  (the tests' helper: start, log, stop)

from hubrig.harness.rig.session import open_rig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--late-opc", type=float, default=0.0, help="seconds one *OPC? per cycle is late (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hubrig-switch-") as tmp:
        folder = Path(tmp)
        section = ""
        if args.late_opc:
            # the cut's *OPC? (the one right after OUTP OFF) is late, every cycle
            section = f"  late_replies:\n    - {{command: \"*OPC?\", after: \"OUTP OFF\", times: 0, delay_s: {args.late_opc}}}\n"
        bench = serve_bench(folder, section)
        confirmed: list[tuple[int, bool]] = []
        failures: list[str] = []
        spans: list[float] = []
        failed_spans: list[float] = []
        try:
            with open_rig(bench.rig, folder / "out") as session:
                for _ in range(args.cycles):
                    for on in (False, True):
                        start = time.monotonic()
                        try:
                            t_ns = session.mains.cut() if not on else session.mains.restore()
                            confirmed.append((t_ns, on))
                        except Exception as exc:  # a late reply past the timeout: Mains restores at once
                            failures.append(f"{type(exc).__name__}: {exc}"[:160])
                            failed_spans.append(time.monotonic() - start)
                        spans.append(time.monotonic() - start)
                session.mains.restore()
        finally:
            bench.stop()
        truth = bench.outputs()
    lags, early = [], 0
    for t_ns, on in confirmed:
        nearest = min((t for t, state in truth if state == on), key=lambda t: abs(t - t_ns))
        if nearest > t_ns:
            early += 1
        lags.append((t_ns - nearest) / 1e6)
    lags.sort()
    print(f"{len(confirmed)} confirmed switches, {len(failures)} failed exchanges, {early} confirmed before the "
          f"truth (must be 0)")
    if lags:
        print(f"confirmed minus true instant, ms: p50 {statistics.median(lags):.2f}, "
              f"p95 {lags[int(0.95 * (len(lags) - 1))]:.2f}, max {lags[-1]:.2f}")
    print(f"switch exchange wall time, s: p50 {statistics.median(spans):.3f}, max {max(spans):.3f}")
    if failed_spans:
        print(f"a cut whose *OPC? was lost, until mains was confirmed back on (timeout, resynchronisation, "
              f"restore), s: p50 {statistics.median(failed_spans):.3f}, max {max(failed_spans):.3f}")
    for line in failures[:3]:
        print(f"  failed: {line}")


if __name__ == "__main__":
    main()
