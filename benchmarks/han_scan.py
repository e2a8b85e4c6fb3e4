"""bellows connect + 16-channel energy scan against the virtual HAN stick over a pty.

Prints, per scan duration exponent, the wall time of connect (open, RST/RSTACK, version
negotiation, XNCP probe) and of the energy scan of channels 11-26, the radio dwell the scan must
take whatever the emulator does ((2**d + 1) x 15.36 ms x 16), and the share of the wall time spent
inside the emulator (every callback the stick runs on its scheduler thread: ASH, EZSP, radio).

    .venv/bin/python benchmarks/han_scan.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Callable

import bellows.types as t
import zigpy.config as zconf
from bellows.ezsp import EZSP

from hubrig.harness.clock import RealTimeScheduler, Timer
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
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
