"""Timestamp fidelity: how much later than the device's emission does the harness stamp a frame?

A device writer behind a pty, on a RealTimeScheduler thread (as the virtual Comms Hub runs in
real time), emits GFI frames at known instants, recording ``time.monotonic_ns()`` right before
each ``os.write``: that is the ground truth. The harness side is the real capture stack
(pyserial SerialTransport + the ITCH capture pipeline, decoding every frame). For each frame it prints the
distribution of (recorded arrival - emission) in milliseconds.

    .venv/bin/python benchmarks/timestamp_fidelity.py [--frames 1000] [--runs 3] [--write-docs]

``--write-docs`` puts the figures in the "Timestamp fidelity" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import select
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from hubrig.drivers.itch import open_itch
from hubrig.drivers.transport import PtyPair
from hubrig.harness.clock import NS_PER_S, RealClock, RealTimeScheduler
from hubrig.harness.capture.events import FRAME, FRAME_ERROR, EventBus
from hubrig.harness.gbcs.builder import build_alert
from hubrig.harness.gbcs.content.builders import ecs80_alert
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.capture.pipeline import LINK_KIND
from hubrig.harness.rig.file import ItchConfig
from hubrig.harness.results.stats import delivered_by
from hubrig.harness.virtual.testkeys import NETWORK_OPERATOR, ensure_test_keys

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
SECTION = "## Timestamp fidelity"
ESME = "00DB1234567890A0"


class Emitter:
    """The device: writes ``line`` into the pty at scheduled real instants, noting each instant."""

    def __init__(self, pair: PtyPair, line: bytes, frames: int, interval_ms: float, jitter_ms: float, seed: int):
        self.pair, self.line, self.emitted = pair, line, []
        self.scheduler = RealTimeScheduler()
        rng = random.Random(seed)
        start = time.monotonic_ns() + NS_PER_S // 5
        for k in range(frames):
            offset_ms = k * interval_ms + rng.uniform(-jitter_ms, jitter_ms) / 2
            self.scheduler.call_at(start + round(offset_ms * 1e6), self.emit)

    def emit(self) -> None:
        self.emitted.append(time.monotonic_ns())  # ground truth: right before the write
        os.write(self.pair.device_fd, self.line)

    def close(self) -> None:
        self.scheduler.close()


def figures(arrivals: list[int], emitted: list[int]) -> dict:
    delays = sorted((a - e) / 1e6 for a, e in zip(arrivals, emitted))
    return {"frames": len(delays), "min": delays[0], "p50": delivered_by(delays, 50),
            "p99": delivered_by(delays, 99), "max": delays[-1]}


def run(frames: int, interval_ms: float, jitter_ms: float, seed: int, workdir: Path) -> dict:
    """Emit ``frames`` frames through a pty to the real capture stack; arrival-minus-emission (ms)."""
    message, decoder = signed_alert(workdir)
    clock = RealClock()
    pair = PtyPair()
    journal = Journal(workdir / JOURNAL_FILENAME)
    bus = EventBus(clock, journal_path=str(journal.path))
    captured = [0]
    bus.subscribe(lambda e: captured.__setitem__(0, captured[0] + (e.kind in (FRAME, FRAME_ERROR))))
    itch = open_itch(ItchConfig(port=pair.port), clock, bus, journal, decoder=decoder)
    device = Emitter(pair, itch.framing.encode(message), frames, interval_ms, jitter_ms, seed)
    try:
        if not clock.wait_until(lambda: captured[0] >= frames, frames * interval_ms / 1000 + 30):
            raise SystemExit(f"only {len(journal.frames())} of {frames} frames arrived")
        arrivals = [f.t_ns for f in journal.frames() if f.kind != LINK_KIND]
        decoded = len(bus.events(lambda e: e.kind == FRAME and e.data.get("signature_valid") == [True]))
    finally:
        itch.close()
        device.close()
        journal.close()
        pair.close()
        clock.close()
    return {**figures(arrivals, device.emitted), "decoded": decoded, "frame_bytes": len(device.line)}


def bare_reader_floor(frames: int, interval_ms: float, jitter_ms: float, seed: int, frame_bytes: int) -> dict:
    """The same emission through a bare ``select``/``os.read`` loop: what this machine allows at best."""
    pair = PtyPair()
    fd = os.open(pair.port, os.O_RDWR | os.O_NOCTTY)
    arrivals: list[int] = []

    def read() -> None:
        while len(arrivals) < frames:
            if not select.select([fd], [], [], 5)[0]:
                return
            data = os.read(fd, 1 << 16)
            arrivals.extend([time.monotonic_ns()] * data.count(b"\n"))  # a line arrives with its end

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    device = Emitter(pair, b"X" * (frame_bytes - 2) + b"\r\n", frames, interval_ms, jitter_ms, seed)
    reader.join(frames * interval_ms / 1000 + 30)
    device.close()
    os.close(fd)
    pair.close()
    return figures(arrivals, device.emitted)


def signed_alert(workdir: Path) -> tuple[bytes, Callable[[bytes], dict]]:
    """A signed ECS80 0x8F36 alert (fresh test keys) and the real decoder, which verifies it."""
    keys = ensure_test_keys(workdir / "keys", {ESME: "esme", NETWORK_OPERATOR: "network operator"})
    cut = datetime(2026, 1, 1, tzinfo=timezone.utc)
    back = cut + timedelta(minutes=9)
    content = ecs80_alert(alert_code=0x8F36, timestamp=back, interruption=cut, restoration=back, invoke_id=2003)
    payload = build_alert(originator=ESME, recipient=NETWORK_OPERATOR, counter=2003, message_code=0x0067,
                          content=content, keys=keys)
    return payload, lambda data: decode_record(data, keys)


def row(name: str, fig: dict) -> str:
    return (f"| {name} | {fig['frames']} | {fig['min']:.3f} | {fig['p50']:.3f} | {fig['p99']:.3f} | "
            f"{fig['max']:.3f} |")


def report(runs: list[tuple[dict, dict, float]], args: argparse.Namespace) -> str:
    met = sum(1 for harness, _, _ in runs if harness["p99"] < 1.0)
    first = runs[0][0]
    rows = []
    for i, (harness, floor, load) in enumerate(runs, 1):
        rows += [row(f"{i}: hubrig capture stack (load {load:.2f})", harness),
                 row(f"{i}: bare select/os.read floor", floor)]
    return "\n".join([
        SECTION,
        "",
        "Harness arrival stamp minus the device's emission instant. A device thread writes "
        f"{first['frame_bytes']}-byte GFI lines (a signed ECS80 0x8F36 alert) into a pty, recording "
        "`time.monotonic_ns()` right before each `os.write` (the ground truth); the real capture stack "
        "(pyserial `SerialTransport`, the ITCH's capture pipeline with its group-committed `Journal`, "
        "the real decoder verifying every ECDSA signature) records arrival. The floor rows send the same emission "
        "through a bare `select`/`os.read` loop right after: what Python on this machine allows at "
        "best at that moment, so the gap between paired rows is the harness's own cost.",
        "",
        f"Command: `.venv/bin/python benchmarks/timestamp_fidelity.py --frames {args.frames} "
        f"--interval-ms {args.interval_ms:g} --jitter-ms {args.jitter_ms:g} --runs {args.runs} --write-docs`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; load is the 1-minute load average when each run started. "
        "Every frame of every run was captured, decoded and its signature verified.",
        "",
        "| run: reader | frames | min ms | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Target p99 < 1 ms: met in {met} of {len(runs)} runs. The reader thread only reads and "
        "stamps (framing and journal commits run on the journal writer's thread, decoding on the "
        "decoder's), so what is left is "
        "the CPU scheduler and the GIL: when other processes load the cores, the floor's tail grows "
        "the same way. On a bench PC, run the harness without other CPU-heavy work. A 1-minute load "
        f"average above {os.cpu_count()} means other jobs (on the development machine: other sessions' "
        "test runs) were competing for the cores.",
        "",
        "Earlier figures, before the capture pipeline (a delivery thread committing one frame at a time): "
        "on a quiet machine (load 0.2 to 0.3, 2026-11-22) capture-stack p99 0.19 to 0.61 ms against a "
        "floor p99 of 0.16 to 0.17 ms; with other jobs loading both cores, capture p99 0.85 to 2.0 ms "
        "against a floor p99 of 0.35 to 2.6 ms.",
        "",
    ])


def write_docs(section: str, heading: str = SECTION) -> None:
    """Replace (or append) the section under ``heading`` of docs/performance.md."""
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if end < 0 else text[end:])
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames to emit (at least 500 for the figure)")
    parser.add_argument("--interval-ms", type=float, default=4.0, help="mean spacing between frames")
    parser.add_argument("--jitter-ms", type=float, default=3.0, help="random spread of each emission instant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="repeat, each run with its own floor")
    parser.add_argument("--write-docs", action="store_true", help=f"update the section in {DOCS.name}")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        load = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="hubrig-fidelity-") as tmp:
            harness = run(args.frames, args.interval_ms, args.jitter_ms, args.seed + i, Path(tmp))
        if harness["decoded"] != args.frames:
            raise SystemExit(f"only {harness['decoded']} of {args.frames} frames decoded with a valid signature")
        floor = bare_reader_floor(args.frames, args.interval_ms, args.jitter_ms, args.seed + i,
                                  harness["frame_bytes"])
        runs.append((harness, floor, load))
        print(f"run {i + 1}: arrival - emission over {args.frames} frames of {harness['frame_bytes']} bytes "
              f"(all decoded, signature valid; load average {load:.2f})")
        for name, fig in (("hubrig capture stack", harness), ("bare select/os.read floor", floor)):
            print(f"  {name:26s} min {fig['min']:.3f} ms  p50 {fig['p50']:.3f} ms  p99 {fig['p99']:.3f} ms  "
                  f"max {fig['max']:.3f} ms")
    met = sum(1 for harness, _, _ in runs if harness["p99"] < 1.0)
    print(f"target p99 < 1 ms: met in {met} of {len(runs)} runs")
    if args.write_docs:
        write_docs(report(runs, args))
        print(f"wrote the '{SECTION[3:]}' section of {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
