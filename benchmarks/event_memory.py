"""The event bus's memory in a long storm: every event held (as before) against the bounded window.

Each run is a child process (so its peak RSS is its own): a loopback ``socket://`` storm of
``--frames`` frames through ``open_itch`` (reader, group-committing journal writer, decoder
threads) onto an :class:`~hubrig.harness.capture.events.EventBus`, then a wait that looks back
to the storm's first frame. Two buses, side by side under the same load:

* **unbounded (as before)**: a window larger than the storm, so every event is held whole,
  as the bus did before it had a window;
* **bounded (default window)**: ``Window()``, older events read back from the journal.

Two loads: 24-byte storm frames with a trivial decoder, and 152-byte signed ECS80 alerts through
the real GBCS decoder (every ECDSA signature verified). Figures: events/s until the last event
is published, peak RSS, RSS once the storm is published, what the bus holds, and how long the
look-back to the first frame took.

    .venv/bin/python benchmarks/event_memory.py [--frames 200000] [--alerts 50000] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from timestamp_fidelity import signed_alert, write_docs

from hubrig.harness.capture.events import FRAME, EventBus, Window, match
from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.capture.storm import socket_itch, storm_line, storm_record
from hubrig.harness.clock import RealClock

SECTION = "## Event bus memory in a long storm"
BUSES = {"unbounded (as before)": Window(events=1 << 40, bytes=1 << 60), "bounded (default window)": Window()}
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_now() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def storm(load: str, bus_name: str, frames: int, workdir: Path) -> dict[str, float]:
    """One storm in this process (the child); returns its figures."""
    if load == "storm":
        wire, decoder = storm_line(1), storm_record
    else:
        alert, decoder = signed_alert(workdir)
        wire = GfiFraming().encode(alert)
    clock = RealClock()
    journal = Journal(workdir / JOURNAL_FILENAME)
    bus = EventBus(clock, window=BUSES[bus_name])
    try:
        with socket_itch(journal, bus, decoder) as (_itch, conn):
            rss_before = rss_now()
            data = wire * frames
            since = bus.mark()
            start = time.perf_counter()
            threading.Thread(target=conn.sendall, args=(data,), daemon=True).start()
            if not clock.wait_until(lambda: bus.mark() >= since + frames, 1200):
                raise SystemExit(f"only {bus.mark() - since} of {frames} events published")
            published_s = time.perf_counter() - start
            del data
            rss_after = rss_now()
            held = bus.memory()
            start = time.perf_counter()
            first = bus.wait_for(match(FRAME), 1, since=since)
            look_back_ms = (time.perf_counter() - start) * 1000
            assert first.seq == since
    finally:
        journal.close()
        clock.close()
    return {"rate": frames / published_s, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "rss_growth": rss_after - rss_before, "window": held.window, "kept": held.kept, "runs": held.runs,
            "look_back_ms": look_back_ms, "frame_bytes": len(wire)}


def run_child(load: str, bus_name: str, frames: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", load, bus_name, str(frames)], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parent)
    return json.loads(out.stdout.splitlines()[-1])


def report(args: argparse.Namespace, rows: list[tuple[str, str, int, dict[str, float]]], load: float) -> str:
    window = Window()
    mib = 1 << 20
    return "\n".join([
        SECTION, "",
        "The bus holds a window of recent events whole (default "
        f"{window.events:,} events or {window.bytes // mib} MiB estimated, whichever binds first); an older "
        "event the capture pipeline can restore keeps only its place in a run (seq, journal id, count, "
        "publisher) and is re-read and re-decoded from the journal when a reader looks that far back. "
        "Each row is its own child process: a loopback `socket://` storm through `open_itch`, then a wait "
        "that looks back to the storm's first frame.", "",
        f"Command: `.venv/bin/python benchmarks/event_memory.py --frames {args.frames} --alerts {args.alerts} "
        "--write-docs`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; 1-minute load average {load:.2f} at the start (other helpers' jobs "
        "were running: rates are lower bounds).", "",
        "| load | bus | events | published, events/s | peak RSS, MiB | RSS growth over the storm, MiB | "
        "held whole (window + kept) | runs on disk | look-back to the first frame, ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {load_} | {bus} | {frames:,} | {r['rate']:,.0f} | {r['peak_rss'] / mib:,.0f} | "
          f"{r['rss_growth'] / mib:,.1f} | {r['window'] + r['kept']:,.0f} | {r['runs']:,.0f} | "
          f"{r['look_back_ms']:.1f} |" for load_, bus, frames, r in rows],
        "",
        "The unbounded row is this bus with a window larger than the storm: every event held whole, which "
        "is what the bus did before it had a window. Peak RSS includes the storm's own bytes in the sending "
        "thread (4.6 MiB of storm frames, 15 MiB of alerts). "
        "RSS growth is the process's resident memory once the storm is published minus before it; the "
        "journal's SQLite page cache is part of both rows. Unbounded, the bus's share grows with the storm "
        "(every decoded record stays); bounded, it stays at the window however long the storm runs, and "
        "the look-back to the first frame reads one batch of 256 frames back from the journal and "
        "re-decodes it.",
    ]) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        load, bus_name, frames = sys.argv[2], sys.argv[3], int(sys.argv[4])
        with tempfile.TemporaryDirectory(prefix="hubrig-eventmem-") as tmp:
            print(json.dumps(storm(load, bus_name, frames, Path(tmp))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000, help="24-byte storm frames per run")
    parser.add_argument("--alerts", type=int, default=50_000, help="signed alerts (GBCS decode) per run")
    parser.add_argument("--write-docs", action="store_true", help="update the section in docs/performance.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for load_name, label, frames in (("storm", "24-byte storm frames, trivial decoder", args.frames),
                                     ("alerts", "signed ECS80 alerts, GBCS decode + ECDSA verify", args.alerts)):
        for bus in BUSES:
            r = run_child(load_name, bus, frames)
            rows.append((label, bus, frames, r))
            print(f"{label}, {bus}: {frames:,} events at {r['rate']:,.0f}/s; peak RSS {r['peak_rss'] / 2**20:,.0f} MiB, "
                  f"growth {r['rss_growth'] / 2**20:,.1f} MiB; held {r['window'] + r['kept']:,.0f}, "
                  f"{r['runs']:,.0f} runs; look-back {r['look_back_ms']:.1f} ms")
    if args.write_docs:
        write_docs(report(args, rows, load), SECTION)
        print(f"wrote the '{SECTION[3:]}' section of docs/performance.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
