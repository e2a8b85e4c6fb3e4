"""Transports: bytes arrive intact, stamped at arrival; a vanished port is reported and reopened."""

from __future__ import annotations

import os
import threading
import time

import pytest

from hubrig.drivers.transport import InProcessTransport, PtyPair, SerialTransport, TransportError
from hubrig.harness.clock import NS_PER_S, RealClock, VirtualClock


class Received:
    """Collects what a transport delivers, waking the clock's waiters."""

    def __init__(self, clock):
        self.clock = clock
        self.chunks: list[tuple[bytes, int]] = []
        self.links: list[tuple[str, str]] = []

    def chunk(self, data: bytes, t_ns: int) -> None:
        self.chunks.append((data, t_ns))
        self.clock.notify()

    def link(self, state: str, detail: str) -> None:
        self.links.append((state, detail))
        self.clock.notify()

    @property
    def data(self) -> bytes:
        return b"".join(c for c, _ in self.chunks)

    def wait_data(self, size: int, timeout_s: float = 10) -> bytes:
        assert self.clock.wait_until(lambda: len(self.data) >= size, timeout_s), f"got only {self.data!r}"
        return self.data

    def wait_link(self, state: str, timeout_s: float = 10) -> str:
        assert self.clock.wait_until(lambda: any(s == state for s, _ in self.links), timeout_s), self.links
        return next(d for s, d in self.links if s == state)


def read_device(pair: PtyPair, size: int, timeout_s: float = 10) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout_s
    while len(got) < size and time.monotonic() < deadline:
        got += os.read(pair.device_fd, size - len(got))
    return got


# --- in-process, virtual time -------------------------------------------------------------------

def test_in_process_device_writes_arrive_at_their_virtual_instants():
    clock = VirtualClock()
    link = InProcessTransport(clock)
    got = Received(clock)
    link.start(got.chunk, got.link)
    clock.call_later(1.5, lambda: link.device_write(b"GBCS:"))
    clock.call_later(181, lambda: link.device_write(b"DATA\r\n"))
    clock.sleep(200)
    assert got.chunks == [(b"GBCS:", 1_500_000_000), (b"DATA\r\n", 181 * NS_PER_S)]


def test_in_process_keeps_early_device_bytes_with_their_instants_until_started():
    clock = VirtualClock()
    link = InProcessTransport(clock)
    clock.call_later(2, lambda: link.device_write(b"early"))
    clock.sleep(5)
    got = Received(clock)
    link.start(got.chunk)
    assert got.chunks == [(b"early", 2 * NS_PER_S)]


def test_in_process_host_writes_reach_the_device_and_link_changes_are_reported():
    clock = VirtualClock()
    link = InProcessTransport(clock, name="virtual-ch")
    got = Received(clock)
    link.start(got.chunk, got.link)
    device_saw: list[bytes] = []
    link.on_host_write(device_saw.append)
    link.write(b"command\r\n")
    assert device_saw == [b"command\r\n"]
    link.set_link(False, "USB re-enumerating")
    link.device_write(b"lost in the gap")
    with pytest.raises(TransportError, match="virtual-ch: link is down"):
        link.write(b"x")
    link.set_link(True)
    link.device_write(b"back")
    assert got.links == [("lost", "USB re-enumerating"), ("restored", "virtual-ch: link up")]
    assert got.data == b"back"
    link.close()
    with pytest.raises(TransportError, match="closed"):
        link.write(b"x")


# --- pyserial, real time ------------------------------------------------------------------------

def test_serial_transport_refuses_virtual_time_and_names_a_port_it_cannot_open(tmp_path):
    with pytest.raises(ValueError, match="real time"):
        SerialTransport("loop://", 115200, VirtualClock())
    clock = RealClock()
    with pytest.raises(TransportError, match=f"cannot open ITCH port {tmp_path}/ttyUSB9"):
        SerialTransport(str(tmp_path / "ttyUSB9"), 115200, clock)
    clock.close()


@pytest.mark.realtime
def test_serial_transport_over_a_pyserial_url_stamps_chunks_when_read():
    clock = RealClock()
    got = Received(clock)
    before = clock.now_ns()
    link = SerialTransport("loop://", 115200, clock, got.chunk, got.link)
    try:
        link.write(b"GBCS:DATA#0:1:AA\r\n")
        assert got.wait_data(18) == b"GBCS:DATA#0:1:AA\r\n"
        assert all(before <= t <= clock.now_ns() for _, t in got.chunks)
    finally:
        link.close()
        clock.close()


@pytest.fixture
def pty_link():
    clock = RealClock()
    pair = PtyPair()
    got = Received(clock)
    link = SerialTransport(pair.port, 115200, clock, got.chunk, got.link, reconnect_s=0.1)
    yield pair, link, got
    link.close()
    pair.close()
    clock.close()


@pytest.mark.realtime
def test_pty_carries_every_byte_value_both_ways_stamped_after_emission(pty_link):
    pair, link, got = pty_link
    payload = bytes(range(256)) * 4
    emitted = time.monotonic_ns()
    pair.write(payload)
    assert got.wait_data(len(payload)) == payload
    assert all(t >= emitted for _, t in got.chunks)
    assert [t for _, t in got.chunks] == sorted(t for _, t in got.chunks)
    link.write(payload)
    assert read_device(pair, len(payload)) == payload


@pytest.mark.realtime
def test_port_vanishing_is_reported_and_reading_resumes_after_it_returns(pty_link):
    pair, link, got = pty_link
    pair.write(b"before\r\n")
    got.wait_data(8)
    pair.close_device()
    assert pair.port in got.wait_link("lost")
    with pytest.raises(TransportError, match="not connected"):
        link.write(b"into the void")
    pair.reopen()
    assert "reopened" in got.wait_link("restored")
    assert link.connected and link.reconnects == 1
    pair.write(b"after\r\n")
    assert got.wait_data(15) == b"before\r\nafter\r\n"
    link.write(b"ack\r\n")
    assert read_device(pair, 5) == b"ack\r\n"
    assert [s for s, _ in got.links] == ["lost", "restored"]


@pytest.mark.realtime
def test_waiting_to_reconnect_does_not_report_on_the_plans_progress_display():
    clock = RealClock()
    clock.report_every_s = 0.02
    reporters: list[str] = []
    clock.reporter = lambda waited, allowed: reporters.append(threading.current_thread().name)
    pair = PtyPair()
    got = Received(clock)
    link = SerialTransport(pair.port, 115200, clock, got.chunk, got.link, reconnect_s=0.3)
    try:
        pair.close_device()
        got.wait_link("lost")
        pair.reopen()
        got.wait_link("restored")
        assert not [name for name in reporters if name.startswith("hubrig-reader")]
    finally:
        link.close()
        pair.close()
        clock.close()


@pytest.mark.realtime
def test_concurrent_writers_never_interleave(pty_link):
    pair, link, _ = pty_link
    lines = {f"W{w}:{i:03d}:".encode() + bytes([65 + w]) * 40 + b"\r\n" for w in range(6) for i in range(40)}
    per_writer = [sorted(line for line in lines if line.startswith(f"W{w}:".encode())) for w in range(6)]
    total = sum(len(line) for line in lines)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_device(pair, total, 20)))
    reader.start()
    writers = [threading.Thread(target=lambda ls=ls: [link.write(line) for line in ls]) for ls in per_writer]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    reader.join()
    assert set(received[0].splitlines(keepends=True)) == lines


@pytest.mark.realtime
def test_close_stops_the_reader_thread(pty_link):
    pair, link, got = pty_link
    threads = [link._thread]
    assert all(t is not None and t.is_alive() for t in threads)
    link.close()
    assert not any(t.is_alive() for t in threads)
    assert not link.connected
    pair.write(b"nobody listens\r\n")
    assert got.chunks == []


@pytest.mark.realtime
def test_a_failing_consumer_does_not_end_the_capture():
    clock = RealClock()
    got = Received(clock)
    failed: list[bytes] = []

    def consumer(data: bytes, t_ns: int) -> None:
        if b"boom" in data:
            failed.append(data)
            clock.notify()
            raise RuntimeError("consumer bug")
        got.chunk(data, t_ns)

    link = SerialTransport("loop://", 115200, clock, consumer)
    try:
        link.write(b"boom")
        assert clock.wait_until(lambda: bool(failed), 10)
        link.write(b"still here")
        assert got.wait_data(10) == b"still here"
    finally:
        link.close()
        clock.close()


@pytest.mark.realtime
def test_a_socket_url_reconnects_when_the_server_drops_the_connection():
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    clock = RealClock()
    got = Received(clock)
    link = SerialTransport(f"socket://127.0.0.1:{server.getsockname()[1]}", 115200, clock, got.chunk, got.link,
                           reconnect_s=0.1)
    try:
        first, _ = server.accept()
        first.sendall(b"one\r\n")
        got.wait_data(5)
        first.close()
        assert "socket" in got.wait_link("lost")
        second, _ = server.accept()
        got.wait_link("restored")
        second.sendall(b"two\r\n")
        assert got.wait_data(10) == b"one\r\ntwo\r\n"
        link.write(b"cmd\r\n")
        second.settimeout(10)
        assert second.recv(16) == b"cmd\r\n"
        second.close()
    finally:
        link.close()
        server.close()
        clock.close()


@pytest.mark.realtime
def test_closing_the_device_side_wakes_its_reader_and_the_harness_sees_the_hang_up(pty_link):
    pair, link, got = pty_link
    device_got: list[bytes] = []

    def device_reader() -> None:
        while data := pair.read():
            device_got.append(data)
            got.clock.notify()

    reader = threading.Thread(target=device_reader, daemon=True)
    reader.start()
    link.write(b"hello device\r\n")
    assert got.clock.wait_until(lambda: b"".join(device_got) == b"hello device\r\n", 10)
    pair.close_device()  # the device reader is blocked in read(): it must not keep the pty alive
    reader.join(5)
    assert not reader.is_alive()
    got.wait_link("lost")
    pair.reopen()
    got.wait_link("restored")
    link.write(b"again\r\n")
    assert pair.read() == b"again\r\n"


@pytest.mark.realtime
def test_a_socket_url_hands_over_what_the_kernel_holds_in_large_chunks():
    """pyserial's socket:// says only "readable or not"; the reader asks the kernel how much is
    there, so a burst arrives in a few chunks instead of two bytes at a time."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    clock = RealClock()
    got = Received(clock)
    link = SerialTransport(f"socket://127.0.0.1:{server.getsockname()[1]}", 115200, clock, got.chunk, got.link)
    burst = bytes(range(256)) * 400  # 100 KiB
    try:
        conn, _ = server.accept()
        conn.sendall(burst)
        assert got.wait_data(len(burst)) == burst
        assert len(got.chunks) < 200 and max(len(c) for c, _ in got.chunks) <= SerialTransport.MAX_CHUNK
        conn.close()
    finally:
        link.close()
        server.close()
        clock.close()
