"""The HAN stick: bellows connect + energy scan over a pty, and how fast NCP frames are journalled.

1. Per scan duration exponent, the wall time of connect (open, RST/RSTACK, version negotiation,
   XNCP probe) and of the energy scan of channels 11-26, the radio dwell the scan must take
   whatever the emulator does ((2**d + 1) x 15.36 ms x 16), and the share of the wall time spent
   inside the emulator (every callback the stick runs on its scheduler thread: ASH, EZSP, radio).
2. ``--frames N`` energyScanResultHandler frames handed over as bellows' receive thread hands them
   (one call per frame, as fast as it returns), through two paths in the same run, on the same
   disk: the HAN stick's capture pipeline (``HanStick`` with its ``NcpFeed``: stamp on the calling
   thread; group commit, EZSP decode and publish on the pipeline's threads), and the driver's path
   before it (main at 1114386: stamp, ``Journal.append``, decode, ``Journal.set_decoded``, publish,
   all on the calling thread, one commit per frame), reproduced here as it was. Frames/s on the
   calling thread (what bellows' receive path is held for), and until the last frame is durable
   and its event published.

    .venv/bin/python benchmarks/han_scan.py [--runs N] [--frames N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import bellows.types as t
import zigpy.config as zconf
from bellows.ezsp import EZSP

from hubrig.drivers.han import frames
from hubrig.drivers.han.feed import NcpFeed
from hubrig.drivers.han.stick import HAN_ENERGY, HanStick
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import Journal
from hubrig.harness.clock import RealClock, RealTimeScheduler, Timer
from hubrig.harness.virtual.han.ezsp import dwell_s
from hubrig.harness.virtual.han.radio import HanRadioParams, RadioWorld
from hubrig.harness.virtual.han.stick import PtyServer, stick_for


class TimedScheduler(RealTimeScheduler):
    """Adds up the time spent in the callbacks it runs (all of the stick's work)."""

    busy_s = 0.0

    def call_at(self, t_ns: int, fn: Callable[[], None]) -> Timer:
        def timed() -> None:
            start = time.perf_counter()
            try:
                fn()
            finally:
                self.busy_s += time.perf_counter() - start

        return super().call_at(t_ns, timed)


async def one_run(port: str, duration: int) -> tuple[float, float]:
    ezsp = EZSP({zconf.CONF_DEVICE_PATH: port, zconf.CONF_DEVICE_BAUDRATE: 115200,
                 zconf.CONF_DEVICE_FLOW_CONTROL: "hardware"})
    start = time.perf_counter()
    await ezsp.connect(use_thread=False)
    connected = time.perf_counter()
    result = await ezsp.startScan(scanType=t.EzspNetworkScanType.ENERGY_SCAN, channelMask=t.Channels.ALL_CHANNELS,
                                  duration=duration)
    scanned = time.perf_counter()
    assert [c for c, _ in result] == list(range(11, 27)), result
    await ezsp.disconnect()
    return connected - start, scanned - connected


def energy_frame(i: int) -> bytes:
    """An EZSP 13 energyScanResultHandler frame as bellows hands it over (channel 11..26, RSSI)."""
    return bytes((i % 256, 0x90, 0x01, 0x48, 0x00, 11 + i % 16, 0xA0 + i % 8))


class FrameSource:
    """A session that only hands frames over (what bellows' frame callback does)."""

    protocol_version = 13
    lost = None

    def __init__(self, feed: NcpFeed):
        self.feed = feed

    def command(self, name: str, **params: Any) -> list[Any]:
        raise NotImplementedError(name)

    def start_scan(self, scan_type: int, channel_mask: int, duration: int) -> None:
        raise NotImplementedError

    def scan_failure(self) -> str | None:
        return None

    def close(self) -> None:
        pass


def through_pipeline(n: int, folder: Path) -> tuple[float, float, int]:
    """(calling thread s, until durable and published s, commits) for ``n`` frames via ``HanStick``."""
    clock = RealClock()
    journal = Journal(folder / "pipeline.sqlite")
    bus = EventBus(clock)
    sources: list[FrameSource] = []

    def open_session(feed: NcpFeed) -> FrameSource:
        sources.append(FrameSource(feed))
        return sources[-1]

    stick = HanStick(open_session, clock, bus, journal, port="bench")
    feed = sources[0].feed
    batch = [energy_frame(i) for i in range(n)]
    start = time.perf_counter()
    for frame in batch:
        feed.frame(frame)
    handed = time.perf_counter()
    stick.close()  # returns once every frame is committed, decoded and published
    done = time.perf_counter()
    published = [e.journal_id for e in bus.events() if e.kind == HAN_ENERGY]
    assert len(published) == n and published == sorted(published), "lost or reordered"
    commits = stick.capture.stats().commits
    journal.close()
    clock.close()
    return handed - start, done - start, commits


def one_commit_per_frame(n: int, folder: Path) -> tuple[float, float, int]:
    """The same frames through the driver's former tap (one commit per frame on the calling thread)."""
    clock = RealClock()
    journal = Journal(folder / "old.sqlite")
    bus = EventBus(clock)
    batch = [energy_frame(i) for i in range(n)]
    start = time.perf_counter()
    for frame in batch:
        t_ns = clock.now_ns()
        journal_id = journal.append("in", t_ns, int(clock.wall(t_ns).timestamp() * 1e9), frame, "han", "ezsp13")
        record = frames.decode(frame, 13)
        journal.set_decoded(journal_id, record, None)
        bus.publish(HAN_ENERGY, "han", {"channel": record["channel"], "max_rssi_dbm": record["maxRssiValue"]},
                    t_ns=t_ns, journal_id=journal_id)
    done = time.perf_counter()
    assert len(bus.events()) == n
    journal.close()
    clock.close()
    return done - start, done - start, n


def journalling(n: int, repeats: int) -> None:
    print(f"\n{n} NCP frames, median of {repeats}:")
    print(f"{'path':>24} {'calling thread frames/s':>24} {'durable+published frames/s':>28} {'frame commits':>14}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        for name, path in (("capture pipeline", through_pipeline), ("one commit per frame", one_commit_per_frame)):
            runs = []
            for r in range(repeats):
                folder = Path(tmp) / f"{name.replace(' ', '-')}-{r}"
                folder.mkdir()
                runs.append(path(n, folder))
            handed = statistics.median(x[0] for x in runs)
            done = statistics.median(x[1] for x in runs)
            print(f"{name:>24} {n / handed:>24,.0f} {n / done:>28,.0f} {runs[0][2]:>14}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=0, help="also compare journalling N frames (e.g. 20000)")
    ap.add_argument("--only-frames", action="store_true", help="skip the bellows connect and scan table")
    args = ap.parse_args()
    if args.frames:
        journalling(args.frames, 3)
    if args.only_frames:
        return
    print(f"{'duration':>8} {'connect s':>10} {'scan s':>8} {'radio dwell s':>14} {'scan overhead s':>16} "
          f"{'emulator share':>15}")
    for duration in (0, 2):
        scheduler = TimedScheduler()
        params = HanRadioParams()
        stick = stick_for(params, scheduler, RadioWorld(params, scheduler, ch_eui="00DB1234567890A3"))
        server = PtyServer(stick)
        connects, scans = [], []
        scheduler.busy_s = 0.0
        wall = time.perf_counter()
        for _ in range(args.runs):
            c, s = asyncio.run(one_run(server.port, duration))
            connects.append(c)
            scans.append(s)
        wall = time.perf_counter() - wall
        dwell = 16 * dwell_s(duration)
        print(f"{duration:>8} {statistics.median(connects):>10.4f} {statistics.median(scans):>8.4f} {dwell:>14.4f} "
              f"{statistics.median(scans) - dwell:>16.4f} {scheduler.busy_s / wall:>14.1%}")
        server.close()
        scheduler.close()


if __name__ == "__main__":
    main()
