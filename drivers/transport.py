"""Byte transports for capture links (the ITCH's serial port): where bytes come from, and when.

Each implements :class:`hubrig.harness.capture.pipeline.Transport`: it hands the pipeline
``(chunk, t_ns)``, ``t_ns`` being the rig-clock instant at which the chunk was read, taken before
anyone looks at the bytes. Link changes (a port vanishing on
USB re-enumeration, and coming back) are reported as ``(state, detail)`` with state ``"lost"``
or ``"restored"``. Interpreting the bytes (framing, garbage) is the driver's business.

* :class:`SerialTransport`: pyserial (``/dev/tty*``, ``socket://``, ``loop://``, a pty path) with a
  reader thread and automatic reconnection; real time only.
* :class:`InProcessTransport`: the virtual rig in virtual time; the virtual Comms Hub writes,
  the driver receives at once, stamped with the current virtual instant. No threads.
* :class:`PtyPair`: a pseudo-terminal whose device side a virtual Comms Hub drives in real time,
  while the harness opens :attr:`PtyPair.port` with pyserial like any serial port.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
import struct
import tempfile
import termios
import threading
import tty
from pathlib import Path
from typing import Callable

import serial
from serial.urlhandler import protocol_socket

from hubrig.harness.capture.pipeline import LOST, RESTORED, OnChunk, OnLink, Transport
from hubrig.harness.clock import Clock

__all__ = ["LOST", "RESTORED", "InProcessTransport", "PtyPair", "SerialTransport", "Transport", "TransportError"]

log = logging.getLogger(__name__)


class TransportError(ConnectionError):
    """A port cannot be opened or written; the message names the port."""


class SerialTransport:
    """A pyserial port read by a daemon thread that stamps each chunk as ``read()`` returns.

    The port opens on construction (a port that cannot be opened raises :class:`TransportError`).
    Reading starts with :meth:`start`. The reader thread only reads, stamps and hands the chunk
    to the consumer, on the same thread: a consumer that blocks (the capture pipeline when it is
    full) stops the reading, so the link's sender waits instead of bytes piling up in memory.
    If the port fails while open, the reader reports ``"lost"``, tries to reopen it every
    ``reconnect_s`` seconds, and reports ``"restored"``.
    """

    READ_TIMEOUT_S = 0.25
    """Longest a blocked read waits before the reader re-checks whether it is closing."""
    MAX_CHUNK = 1 << 14
    """Most bytes handed over in one chunk (what one read may add to the pipeline's queue)."""

    def __init__(self, url: str, baudrate: int, clock: Clock, on_chunk: OnChunk | None = None,
                 on_link: OnLink | None = None, *, reconnect_s: float = 2.0):
        if clock.virtual:
            raise ValueError("SerialTransport runs in real time; the virtual rig uses InProcessTransport")
        self.name = url
        self.url = url
        self.baudrate = baudrate
        self.clock = clock
        self.reconnect_s = reconnect_s
        self.reconnects = 0
        self._on_chunk = on_chunk
        self._on_link = on_link
        self._write_lock = threading.Lock()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._port: serial.SerialBase | None = self._open()
        if on_chunk is not None:
            self.start(on_chunk, on_link)

    def _open(self) -> serial.SerialBase:
        try:
            return serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"cannot open ITCH port {self.url}: {exc}") from None

    @property
    def connected(self) -> bool:
        return self._port is not None

    def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None:
        """Start the reader thread delivering to ``on_chunk`` (and link changes to ``on_link``)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.url}: reader already started")
        self._on_chunk = on_chunk
        self._on_link = on_link or self._on_link
        self._thread = threading.Thread(target=self._read_loop, name=f"hubrig-reader {self.url}", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        while not self._closing:
            port = self._port
            if port is None:
                self._reconnect()
                continue
            try:
                first = port.read(1)
                if not first:
                    continue
                waiting = _waiting(port)
                data = first + port.read(min(waiting, self.MAX_CHUNK - 1)) if waiting else first
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                # TypeError/AttributeError: pyserial's handlers after a concurrent close().
                if not self._closing:
                    self._lose(port, exc)
                continue
            t_ns = self.clock.now_ns()
            on_chunk = self._on_chunk
            if on_chunk is not None:
                self._deliver("chunk", lambda: on_chunk(data, t_ns))

    def _deliver(self, what: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:  # a consumer bug must not end the capture
            log.exception("%s: consumer failed on a %s; capture continues", self.url, what)

    def _lose(self, port: serial.SerialBase, exc: BaseException) -> None:
        with self._write_lock:
            self._port = None
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass
        self._report(LOST, f"{self.url}: {exc}")

    def _reconnect(self) -> None:
        # A silent progress callback: the clock's own reporter (the plugin's live display) is for
        # the plan's waits, not for this thread's pause between reopen attempts.
        self.clock.wait_until(lambda: self._closing, self.reconnect_s, progress=_silent)
        if self._closing:
            return
        try:
            port = self._open()
        except TransportError:
            return
        with self._write_lock:
            self._port = port
        self.reconnects += 1
        self._report(RESTORED, f"{self.url}: reopened")

    def _report(self, state: str, detail: str) -> None:
        on_link = self._on_link
        if on_link is not None:
            self._deliver("link change", lambda: on_link(state, detail))

    def write(self, data: bytes) -> None:
        """Write all of ``data`` (thread-safe; writes never interleave)."""
        with self._write_lock:
            if self._port is None:
                raise TransportError(f"ITCH port {self.url} is not connected (waiting to reconnect)")
            try:
                self._port.write(data)
                self._port.flush()
            except (serial.SerialException, OSError) as exc:
                raise TransportError(f"write to ITCH port {self.url} failed: {exc}") from None

    def close(self) -> None:
        """Stop the reader (what it had read is delivered) and close the port."""
        self._closing = True
        self.clock.notify()
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            port.cancel_read()
        me = threading.current_thread()
        if self._thread is not None and self._thread is not me:
            self._thread.join(timeout=2 * self.READ_TIMEOUT_S + 1)
        with self._write_lock:
            if self._port is not None:
                self._port.close()
                self._port = None


def _waiting(port: serial.SerialBase) -> int:
    """Bytes ready to read now. pyserial's ``socket://`` says only 0 or 1 (readable or not), which
    would hand a fast link over two bytes at a time: ask the kernel for the socket's count."""
    if isinstance(port, protocol_socket.Serial):
        return struct.unpack("i", fcntl.ioctl(port.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    return port.in_waiting


def _silent(waited_s: float, allowed_s: float) -> None:
    """A progress callback that reports nothing."""


class InProcessTransport:
    """The virtual rig's link: device writes reach the driver at the current virtual instant.

    Also the link for a source whose library reads the port itself and hands over what it read
    (bellows' frame callback): :meth:`device_write` stamps each hand-over with the clock's instant
    (virtual or real) and delivers it on the caller's thread.

    Bytes the device writes before the driver has started are kept, with their instants, and
    delivered on :meth:`start`. Host writes go to every :meth:`on_host_write` callback; with
    none registered they are lost, as on a serial line with nothing plugged in.
    """

    def __init__(self, clock: Clock, name: str = "in-process"):
        self.name = name
        self.clock = clock
        self._on_chunk: OnChunk | None = None
        self._on_link: OnLink | None = None
        self._pending: list[tuple[bytes, int]] = []
        self._device_readers: list[Callable[[bytes], None]] = []
        self._up = True
        self._closed = False

    def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None:
        self._on_chunk = on_chunk
        self._on_link = on_link
        pending, self._pending = self._pending, []
        for data, t_ns in pending:
            on_chunk(data, t_ns)

    def device_write(self, data: bytes) -> None:
        """The device side sends ``data``; the driver receives it now (lost while the link is down)."""
        if self._closed or not self._up or not data:
            return
        t_ns = self.clock.now_ns()
        if self._on_chunk is None:
            self._pending.append((bytes(data), t_ns))
        else:
            self._on_chunk(bytes(data), t_ns)

    def on_host_write(self, callback: Callable[[bytes], None]) -> None:
        """Let the device side receive what the harness writes."""
        self._device_readers.append(callback)

    def set_link(self, up: bool, detail: str = "") -> None:
        """The device side drops or restores the link (e.g. the CH's USB port re-enumerating)."""
        if up == self._up:
            return
        self._up = up
        if self._on_link is not None:
            self._on_link(RESTORED if up else LOST, detail or f"{self.name}: link {'up' if up else 'down'}")

    def write(self, data: bytes) -> None:
        if self._closed:
            raise TransportError(f"{self.name}: transport is closed")
        if not self._up:
            raise TransportError(f"{self.name}: link is down")
        for reader in list(self._device_readers):
            reader(bytes(data))

    def close(self) -> None:
        self._closed = True


class PtyPair:
    """A pty standing in for the ITCH's serial port, for virtual devices in real time.

    The device writes with :meth:`write` and reads with :meth:`read` (or uses :attr:`device_fd`
    directly); the harness opens :attr:`port` with pyserial. :attr:`port` is a stable symlink
    (like ``/dev/serial/by-id/...``), so :meth:`close_device` then :meth:`reopen` make the port
    vanish and come back under the same name, as a USB re-enumeration does.

    Read through :meth:`read` rather than ``os.read(device_fd)``: a thread blocked in
    ``os.read`` keeps the pty open after ``close()``, so neither side would see the hang-up;
    :meth:`close_device` wakes readers in :meth:`read` first.
    """

    CLOSE_WAIT_S = 2.0
    """How long :meth:`close_device` waits for device-side readers to leave :meth:`read`."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="hubrig-pty-"))
        self.port = str(self._dir / "itch")
        self.device_fd = -1
        self._slave_fd = -1
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._readers = 0
        self._readers_gone = threading.Condition()
        self.reopen()

    def reopen(self) -> None:
        """Create a fresh pty and point :attr:`port` at it."""
        if self.device_fd >= 0:
            raise RuntimeError("the pty is open; close_device() first")
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no CR/LF translation: bytes pass as they are
        tty.setraw(master)
        os.set_blocking(master, True)
        tmp = self._dir / "itch.new"
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.port)
        self.device_fd, self._slave_fd = master, slave

    def read(self, size: int = 4096) -> bytes:
        """Device side: wait for what the harness wrote; ``b""`` once the device side is closed."""
        fd = self.device_fd
        if fd < 0:
            return b""
        with self._readers_gone:
            self._readers += 1
        try:
            ready, _, _ = select.select([fd, self._wake_r], [], [])
            if self._wake_r in ready or self.device_fd != fd:
                return b""
            return os.read(fd, size)
        except OSError:
            return b""
        finally:
            with self._readers_gone:
                self._readers -= 1
                self._readers_gone.notify_all()

    def close_device(self) -> None:
        """Make the port vanish: the harness side sees an I/O error (hang-up)."""
        if self.device_fd < 0:
            return
        if os.path.lexists(self.port):
            os.unlink(self.port)
        os.write(self._wake_w, b"x")
        with self._readers_gone:
            self._readers_gone.wait_for(lambda: self._readers == 0, self.CLOSE_WAIT_S)
        for fd in (self.device_fd, self._slave_fd):
            os.close(fd)
        self.device_fd = self._slave_fd = -1
        while True:  # readers of the next pty must not see this wake-up
            try:
                if not os.read(self._wake_r, 64):
                    break
            except BlockingIOError:
                break

    def write(self, data: bytes) -> None:
        """Device side: write all of ``data``."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.device_fd, view):]

    def close(self) -> None:
        """Close the pty and remove the port link."""
        self.close_device()
        if self._wake_r >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        try:
            self._dir.rmdir()
        except OSError:
            pass
