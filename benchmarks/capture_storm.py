"""Capture under storms: the sustained journal rate, and the frames at risk when the harness is SIGKILLed.

1. **Journal alone**: ``Journal.append`` (one commit per frame) against ``Journal.append_many``
   (group commit, ``batch_frames`` per transaction), in frames/s.
2. **Sustained rate through the ITCH's capture pipeline**: a loopback ``socket://`` server sends
   ``--frames`` frames as fast as the link takes them to ``open_itch`` (pyserial transport ->
   framing -> journal -> decode -> bus); frames/s until the last frame is on disk (journal) and
   until its event is published, with the queues' high-water marks. Three loads: 24-byte storm
   frames with a trivial decoder; 322-byte signed ECS80 alerts with no decoding; the same alerts
   through the real GBCS decoder (every ECDSA signature verified).
3. **Frames at risk on SIGKILL**: a child process captures a pty or a loopback socket through
   ``open_itch`` while a storm writer fills it as fast as it can, logging what it wrote and when;
   the child is SIGKILLed after 1 to 2 s. Lost = frames the writer had written that the journal
   does not hold; their age = how long before the kill the oldest of them was written.

    .venv/bin/python benchmarks/capture_storm.py [--frames 100000] [--kills 5] [--write-docs]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import random
import signal
import socket
import statistics
import struct
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Callable

from timestamp_fidelity import signed_alert, write_docs

from hubrig.drivers.transport import PtyPair
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal, NewFrame
from hubrig.harness.capture.pipeline import CaptureConfig, CaptureStats
from hubrig.harness.capture.storm import (LINE_BYTES, StormWriter, capture_child, journalled_seqs, socket_itch, storm_line,
                                          storm_record)
from hubrig.harness.clock import NS_PER_S, RealClock

SECTION = "## Capture under storms"


def journal_alone(workdir: Path, frames: int, batch: int) -> dict[str, float]:
    """Frames/s of one commit per frame, and of ``batch`` frames per commit."""
    line = storm_line(0)
    rates = {}
    for name, size in (("one commit per frame", 1), (f"{batch} frames per commit", batch)):
        with Journal(workdir / f"alone-{size}.sqlite") as journal:
            count = frames if size > 1 else frames // 10
            start = time.perf_counter()
            for first in range(0, count, size):
                journal.append_many([NewFrame("in", i, i, line, "itch", "frame") for i in range(first, first + size)])
            rates[name] = count / (time.perf_counter() - start)
    return rates


def sustained(workdir: Path, wire: bytes, frames: int, decoder: Callable[[bytes], dict]) -> dict[str, float]:
    """Send ``frames`` copies of ``wire`` over loopback TCP to the ITCH pipeline as fast as it takes them."""
    clock = RealClock()
    journal = Journal(workdir / f"{time.monotonic_ns()}-{JOURNAL_FILENAME}")
    bus = EventBus(clock)
    published = threading.Event()
    count = [0]

    def counted(_event: object) -> None:
        count[0] += 1
        if count[0] == frames:
            published.set()

    bus.subscribe(counted)
    try:
        with socket_itch(journal, bus, decoder) as (itch, conn):
            start = time.perf_counter()
            threading.Thread(target=conn.sendall, args=(wire * frames,), daemon=True).start()
            while itch.capture.stats().frames < frames:
                published.wait(0.001)
            on_disk = time.perf_counter() - start
            if not published.wait(600):
                raise SystemExit(f"only {count[0]} of {frames} events published")
            done = time.perf_counter() - start
            stats = itch.capture.stats()
    finally:
        journal.close()
        clock.close()
    return {"journal": frames / on_disk, "published": frames / done, "frame_bytes": len(wire),
            "max_queued": stats.max_queued_bytes, "max_backlog": stats.max_decode_backlog, "spilled": stats.spilled,
            "commits": stats.commits}


def tcp_queued(port: int) -> int:
    """Bytes the kernel holds for the loopback TCP connections to ``port`` (sent, not yet read)."""
    total = 0
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        ends = {int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)}
        if port in ends and fields[3] == "01":  # ESTABLISHED
            tx, rx = fields[4].split(":")
            total += int(tx, 16) + int(rx, 16)
    return total


def tty_queued(fd: int) -> int:
    """Bytes waiting in a tty's input queue (written by the device side, not yet read)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def kill_trial(workdir: Path, link: str, seed: int) -> dict[str, float]:
    """One SIGKILL during a storm over ``link`` ("pty" or "socket")."""
    clock = RealClock()
    path = workdir / f"kill-{link}-{seed}.sqlite"
    pair = server = conn = None
    if link == "pty":
        pair = PtyPair()
        child = capture_child(pair.port, path)
        fd = pair.device_fd
    else:
        server = socket.create_server(("127.0.0.1", 0))
        child = capture_child(f"socket://127.0.0.1:{server.getsockname()[1]}", path)
        conn, _ = server.accept()
        fd = conn.fileno()
    slave = os.open(pair.port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK) if pair is not None else -1
    port = server.getsockname()[1] if server is not None else 0
    storm = StormWriter(fd, clock).start()
    try:
        clock.wait_until(lambda: False, random.Random(seed).uniform(1.0, 2.0))
        read_ns = clock.now_ns()
        in_kernel = (tty_queued(slave) if slave >= 0 else tcp_queued(port)) // LINE_BYTES
        kill_ns = clock.now_ns()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        storm.stop()
        if slave >= 0:
            os.close(slave)
        for closing in (pair, conn, server):
            if closing is not None:
                closing.close()
        clock.close()
    seqs = journalled_seqs(path)
    if seqs != list(range(len(seqs))):
        raise SystemExit(f"{path}: the journal is not the storm's first {len(seqs)} frames in order")
    lost = storm.frames_by(kill_ns) - len(seqs)
    # Read by the harness just before the kill (written by then, no longer in the kernel) but not on
    # disk: a lower bound of its own share, short only by what it read in the instant before the kill.
    own = max(storm.frames_by(read_ns) - in_kernel - len(seqs), 0)
    oldest = next((t for written, t in storm.log if written // LINE_BYTES > len(seqs)), kill_ns)
    storm_s = (kill_ns - storm.log[0][1]) / NS_PER_S
    return {"rate": len(seqs) / storm_s, "written": storm.frames_by(kill_ns), "lost": lost,
            "in_kernel": in_kernel, "own": own,
            "age_ms": (kill_ns - oldest) / 1e6}


def report(args: argparse.Namespace, alone: dict[str, float], rates: dict[str, dict[str, float]],
           kills: dict[str, list[dict[str, float]]], load: float) -> str:
    config = CaptureConfig()
    lines = [
        SECTION, "",
        "Group commit and backpressure (issue 8 item 7). Defaults: commit when "
        f"{config.batch_frames} frames are pending or {config.max_delay_s * 1000:g} ms after the oldest "
        f"pending frame arrived; the reader stops reading beyond {config.queue_bytes // 1024} KiB read but "
        f"not yet framed; beyond {config.decode_backlog} journalled frames waiting for the decoder, the "
        "decoder reads them back from the journal (nothing else waits in memory).", "",
        f"Command: `.venv/bin/python benchmarks/capture_storm.py --frames {args.frames} --kills {args.kills} "
        "--write-docs`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; 1-minute load average {load:.2f} at the start (other helpers' jobs "
        "were running: figures are lower bounds for a quiet bench PC).", "",
        "| journal alone (SQLite, WAL, synchronous=NORMAL) | frames/s |", "|---|---|",
        *[f"| {name} | {rate:,.0f} |" for name, rate in alone.items()], "",
        f"| sustained, `socket://` storm of {args.frames:,} frames through `open_itch` | bytes/frame | "
        "on disk, frames/s | published, frames/s | commits | max queued bytes | max decode backlog | "
        "read back from journal |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {name} | {r['frame_bytes']:.0f} | {r['journal']:,.0f} | {r['published']:,.0f} | {r['commits']:,.0f} "
          f"| {r['max_queued']:,.0f} | {r['max_backlog']:,.0f} | {r['spilled']:,.0f} |" for name, r in rates.items()],
        "",
        f"| SIGKILL during a storm ({args.kills} kills each, 1 to 2 s into the storm) | journalled frames/s | "
        "written, not in the journal (median, max) | of which in the kernel's buffers, never read (median) | "
        "read by the harness, not on disk (median, max) | oldest lost frame written before the kill, ms "
        "(median, max) |",
        "|---|---|---|---|---|---|",
    ]
    for link, trials in kills.items():
        def spread(key: str) -> str:
            values = [t[key] for t in trials]
            return f"{statistics.median(values):,.0f}, {max(values):,.0f}"
        lines.append(f"| {link} | {statistics.median(t['rate'] for t in trials):,.0f} | {spread('lost')} | "
                     f"{statistics.median(t['in_kernel'] for t in trials):,.0f} | {spread('own')} | "
                     f"{spread('age_ms')} |")
    lines += [
        "", "In every kill the journal held exactly the storm's first frames, byte for byte, in order. "
        "A lost frame is one the storm writer had handed to the kernel that the journal does not hold. "
        "Some of them (on the socket, nearly all) sat in the kernel's buffers (the tty's input queue, read with `FIONREAD`; the "
        "connection's queues in `/proc/net/tcp`, read just before the kill), never read by the harness "
        "because backpressure had stopped the reader: a pty buffers a few KiB, a loopback TCP connection "
        "megabytes (autotuned), and the same after 1 s or 2 s of storm, so the loss is bounded by buffers, "
        "not by how long the storm lasted. The rest, read but not yet on disk, is the pipeline's own share: "
        "at most what the journal writer has taken and not yet committed (up to 16 KiB plus one 16 KiB read) "
        "and the queue behind it (as much again), so at most 64 KiB (2,730 of these 24-byte frames).", "",
        "Before (issue 8 item 7: an unbounded queue in front of the journal, one commit per frame): "
        "~3,000 to 4,500 frames/s with decoding; at ~3,000 frames/s 2 of 30,000 frames lost on SIGKILL; "
        "a `socket://` link at ~100,000 frames/s lost 97% of its frames on SIGKILL, with 460 MB queued."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="frames per sustained-rate storm")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILL trials per link")
    parser.add_argument("--write-docs", action="store_true", help="update the section in docs/performance.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hubrig-storm-") as tmp:
        work = Path(tmp)
        alone = journal_alone(work, args.frames, CaptureConfig().batch_frames)
        for name, rate in alone.items():
            print(f"journal alone, {name}: {rate:,.0f} frames/s")
        alert, gbcs = signed_alert(work)
        alert_line = GfiFraming().encode(alert)
        loads = {"24-byte storm frames, trivial decoder": (storm_line(1), storm_record),
                 "signed ECS80 alerts, not decoded": (alert_line, lambda payload: {}),
                 "signed ECS80 alerts, GBCS decode + ECDSA verify": (alert_line, gbcs)}
        rates = {}
        for name, (wire, decoder) in loads.items():
            rates[name] = sustained(work, wire, args.frames, decoder)
            r = rates[name]
            print(f"{name}: on disk {r['journal']:,.0f} frames/s, published {r['published']:,.0f} frames/s "
                  f"(max queued {r['max_queued']:,.0f} B, max backlog {r['max_backlog']:,.0f}, "
                  f"read back {r['spilled']:,.0f})")
        kills: dict[str, list[dict[str, float]]] = {}
        for link in ("pty", "socket"):
            kills[link] = [kill_trial(work, link, seed) for seed in range(args.kills)]
            for t in kills[link]:
                print(f"SIGKILL over {link}: journalled {t['rate']:,.0f} frames/s; {t['lost']:,.0f} of "
                      f"{t['written']:,.0f} frames written by the kill lost ({t['in_kernel']:,.0f} in the kernel's buffers, "
                      f"{t['own']:,.0f} read but not on disk), the oldest written {t['age_ms']:.0f} ms before")
    if args.write_docs:
        write_docs(report(args, alone, rates, kills, load), SECTION)
        print(f"wrote the '{SECTION[3:]}' section of docs/performance.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
