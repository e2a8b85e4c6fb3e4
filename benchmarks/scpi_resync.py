"""SCPI resynchronisation time: what a lost exchange costs before the next command can be sent.

Against the virtual supply, two ways: in process (the session's own cost) and through pyvisa-py on
loopback TCP (the real driver stack). For each it prints the time of one plain query round trip
(``*OPC?``) for scale, and of one resynchronisation (device clear, two ``*ESE <n>;*ESE?`` marker
round trips, ``*ESE 0``) started by marking the session dirty, split into the device clear and
the marker round trips. Then the late-reply case end to end: a ``*OPC?`` answered ``late_s`` after
a ``timeout_s`` read timeout, and how long after the timeout the next command could go out.

    .venv/bin/python benchmarks/scpi_resync.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

from hubrig.drivers.scpi import ScpiSession
from hubrig.drivers.scpi.replies import parse_opc
from hubrig.drivers.scpi.session import Endpoint
from hubrig.drivers.scpi.visa import open_visa
from hubrig.harness.clock import RealClock, RealTimeScheduler
from hubrig.harness.virtual.supply import VirtualSupply, serve_tcp


class Timed:
    """An endpoint wrapper that adds up the time spent in device clear."""

    def __init__(self, inner: Endpoint):
        self.inner, self.clear_s = inner, 0.0

    @property
    def timeout(self) -> float | None:
        return self.inner.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.inner.timeout = value

    def write(self, message: str) -> object:
        return self.inner.write(message)

    def read(self) -> str:
        return self.inner.read()

    def clear(self) -> None:
        start = time.perf_counter()
        try:
            self.inner.clear()
        finally:
            self.clear_s += time.perf_counter() - start

    def close(self) -> None:
        self.inner.close()


def ms(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
    return f"median {statistics.median(values) * 1e3:7.3f} ms, p99 {p99 * 1e3:7.3f} ms"


def measure(label: str, endpoint: Endpoint, rounds: int) -> None:
    timed = Timed(endpoint)
    scpi = ScpiSession(timed, name=label)
    queries, resyncs, clears = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        scpi.query("*OPC?", parse_opc)
        queries.append(time.perf_counter() - start)
        scpi.dirty = True
        timed.clear_s = 0.0
        start = time.perf_counter()
        scpi.resync()
        resyncs.append(time.perf_counter() - start)
        clears.append(timed.clear_s)
    markers = [r - c for r, c in zip(resyncs, clears)]
    print(f"{label}: {rounds} rounds")
    print(f"  *OPC? round trip        {ms(queries)}")
    print(f"  resync, whole           {ms(resyncs)}")
    print(f"    of which device clear {ms(clears)}")
    print(f"    marker round trips    {ms(markers)}")


class LateOnce:
    """A TCP proxy that holds back the reply to the ``nth`` query by ``late_s``."""

    def __init__(self, upstream: tuple[str, int], nth: int, late_s: float):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream, self.nth, self.late_s = upstream, nth, late_s
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.upstream)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def replies() -> None:
            for n, line in enumerate(server.makefile("rb"), 1):
                if n == self.nth:
                    time.sleep(self.late_s)
                client.sendall(line)

        threading.Thread(target=replies, daemon=True).start()
        for line in client.makefile("rb"):
            server.sendall(line)


def late_reply(resource_port: tuple[str, int], timeout_s: float, late_s: float) -> None:
    proxy = LateOnce(resource_port, nth=2, late_s=late_s)
    resource, close = open_visa(f"TCPIP0::127.0.0.1::{proxy.port}::SOCKET", "@py", timeout_s, what="bench",
                                field="bench")
    scpi = ScpiSession(resource, name="late", on_close=close)
    try:
        scpi.query("*OPC?", parse_opc)
        start = time.perf_counter()
        try:
            scpi.query("*OPC?", parse_opc)
        except Exception:
            timed_out = time.perf_counter()
        else:
            raise SystemExit("the late reply was not late")
        scpi.write("*CLS")  # resynchronises first
        ready = time.perf_counter()
        print(f"late reply: *OPC? answered {late_s:g} s late against a {timeout_s:g} s timeout")
        print(f"  timeout raised after    {timed_out - start:7.3f} s")
        print(f"  next command sent after {ready - timed_out:7.3f} s more (resync, {scpi.resyncs} done; "
              f"the stale reply is waited for, not guessed)")
    finally:
        scpi.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    clock = RealClock()
    scheduler = RealTimeScheduler(clock)
    supply = VirtualSupply(scheduler, dialect="generic-scpi")
    server = serve_tcp(supply)
    try:
        measure("in-process virtual supply", VirtualSupply(scheduler, dialect="generic-scpi"), args.rounds)
        resource, close = open_visa(server.resource, "@py", 2.0, what="bench", field="bench")
        try:
            measure("pyvisa-py, loopback TCP", resource, args.rounds)
        finally:
            resource.close()
            close()
        late_reply((server.host, server.port), timeout_s=0.5, late_s=1.5)
    finally:
        server.close()
        scheduler.close()
        clock.close()


if __name__ == "__main__":
    main()
