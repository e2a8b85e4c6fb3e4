"""The virtual HAN stick: an EmberZNet NCP (ASH + EZSP subset) hearing the virtual bench's radio.

Three places to run it, like the other virtual devices:

* behind a pty (:func:`serve_pty`): a host opens :attr:`PtyServer.port` as a serial port;
* behind a loopback TCP socket (:func:`serve_tcp`): a host opens ``socket://127.0.0.1:PORT``;
* in-process, in virtual time (:meth:`VirtualHanStick.attach_direct`): EZSP frames are handed over
  without ASH, for plans on the virtual rig.

Everything the stick does runs on its scheduler's thread (the rig's :class:`VirtualClock`, or a
:class:`RealTimeScheduler` when served in real time); reader threads only hand bytes over.
Fault switches for tests: :meth:`VirtualHanStick.fault_reset` (the NCP resets by itself, e.g.
mid-scan), :meth:`VirtualHanStick.corrupt_next` (the next frames leave with a bad CRC),
:meth:`PtyServer.vanish` / :meth:`PtyServer.reappear` (the USB port disappears and comes back).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from typing import TYPE_CHECKING, Callable

from hubrig.harness.clock import Scheduler
from hubrig.harness.virtual.han.ash import FLAG, RESET_POWER_ON, RESET_WATCHDOG, AshNcp
from hubrig.harness.virtual.han.ezsp import EzspNcp, Firmware, ScanSource

if TYPE_CHECKING:
    from hubrig.harness.virtual.han.radio import HanRadioParams

log = logging.getLogger(__name__)


class VirtualHanStick:
    """One NCP: :attr:`ezsp` answers commands; :attr:`ash` is its UART side when served on a wire."""

    def __init__(self, firmware: Firmware, scheduler: Scheduler, radio: ScanSource):
        self.firmware = firmware
        self.scheduler = scheduler
        self.radio = radio
        self._wire: Callable[[bytes], None] = lambda data: None
        self._direct: Callable[[bytes], None] | None = None
        self._direct_reset: Callable[[str], None] | None = None
        self._corrupt = 0
        self._sent: list[tuple[int, bytes]] | None = None
        self.ezsp = EzspNcp(firmware, scheduler, radio, self._from_ezsp)
        self.ash = AshNcp(scheduler, self._write, self.ezsp.handle, self.ezsp.reset)

    def _from_ezsp(self, frame: bytes) -> None:
        if self._sent is not None:
            self._sent.append((self.scheduler.now_ns(), bytes(frame)))
        if self._direct is not None:
            self._direct(frame)
        else:
            self.ash.send(frame)

    def _write(self, data: bytes) -> None:
        if self._corrupt and data[-1:] == bytes((FLAG,)) and len(data) > 3:
            self._corrupt -= 1
            data = data[:-2] + bytes((data[-2] ^ 0x01,)) + data[-1:]  # a bit flipped in the CRC
        self._wire(data)

    def log_sent(self) -> list[tuple[int, bytes]]:
        """Ground truth from now on: ``(instant, EZSP frame)`` for every frame the NCP sends, as it
        hands it to ASH (or in-process, to the host), in order; a retransmission is not a new frame."""
        self._sent = []
        return self._sent

    def attach_wire(self, write: Callable[[bytes], None]) -> None:
        """Serve over ASH: ``write`` puts bytes on the wire to the host."""
        self._direct = None
        self._wire = write

    def attach_direct(self, receive: Callable[[bytes], None], on_reset: Callable[[str], None] | None = None) -> None:
        """Serve in-process: EZSP frames go to ``receive``; the host calls :meth:`command`;
        ``on_reset(why)`` hears of a reset the NCP does by itself (there is no RSTACK without ASH)."""
        self._direct = receive
        self._direct_reset = on_reset
        self.ezsp.reset()

    def command(self, frame: bytes) -> None:
        """An EZSP frame from an in-process host."""
        self.ezsp.handle(frame)

    def feed(self, data: bytes) -> None:
        """Bytes from a host on the wire."""
        self.ash.feed(data)

    def fault_reset(self, code: int = RESET_WATCHDOG) -> None:
        """The NCP resets by itself: announced with RSTACK ``code``; a scan in progress is lost."""
        if self._direct is not None:
            self.ezsp.reset()
            if self._direct_reset is not None:
                self._direct_reset(f"NCP reset (code 0x{code:02X})")
        else:
            self.ash.fault_reset(code)

    def corrupt_next(self, frames: int = 1) -> None:
        """The next ``frames`` frames the NCP sends leave with one CRC bit flipped."""
        self._corrupt += frames


def stick_for(params: "HanRadioParams", scheduler: Scheduler, radio: ScanSource) -> VirtualHanStick:
    """The virtual stick a rig file's ``virtual.han`` section describes (firmware family, EUI-64)."""
    from dataclasses import replace

    from hubrig.harness.virtual.han.radio import FIRMWARES

    return VirtualHanStick(replace(FIRMWARES[params.firmware], eui64=params.stick_eui.upper()), scheduler, radio)


class PtyServer:
    """The stick behind a pty; :attr:`port` is a stable path a host opens as a serial port."""

    def __init__(self, stick: VirtualHanStick):
        from hubrig.drivers.transport import PtyPair

        self.stick = stick
        self.pty = PtyPair()
        self.port = self.pty.port
        self._thread: threading.Thread | None = None
        stick.attach_wire(self._write)
        self._start_reader()

    def _write(self, data: bytes) -> None:
        if self.pty.device_fd >= 0:
            try:
                self.pty.write(data)
            except OSError:
                log.debug("virtual HAN stick: host side of the pty is gone")

    def _start_reader(self) -> None:
        self._thread = threading.Thread(target=self._read, name="hubrig-han-pty", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            data = self.pty.read()
            if not data:
                return
            self.stick.scheduler.call_later(0, lambda d=data: self.stick.feed(d))

    def vanish(self) -> None:
        """The USB stick is pulled: the port disappears and the host sees a hang-up."""
        self.pty.close_device()

    def reappear(self) -> None:
        """The stick is plugged back in under the same name, freshly powered."""
        self.pty.reopen()
        self.stick.scheduler.call_later(0, self.stick.ezsp.reset)
        self._start_reader()

    def close(self) -> None:
        self.pty.close()


class TcpServer:
    """The stick behind a loopback TCP socket (like ser2net or zigbeed), one host at a time.

    ``announce_reset``: the NCP resets when a host connects and says so with RSTACK (power-on), as
    zigbeed and a stick whose port opening resets it do; bellows then skips its own reset wait.
    ``on_connection(event, peer)`` hears ``connect`` and ``disconnect`` (bench serve's log).
    """

    def __init__(self, stick: VirtualHanStick, host: str = "127.0.0.1", port: int = 0, *,
                 announce_reset: bool = True, on_connection: Callable[[str, str], None] | None = None):
        self.stick = stick
        self.announce_reset = announce_reset
        self._on_connection = on_connection or (lambda event, peer: None)
        self._server = socket.create_server((host, port))
        self.host, self.port = self._server.getsockname()[:2]
        self.url = f"socket://{self.host}:{self.port}"
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        stick.attach_wire(self._write)
        self._thread = threading.Thread(target=self._accept, name="hubrig-han-tcp", daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        with self._lock:
            client = self._client
        if client is None:
            return
        try:
            client.sendall(data)
        except OSError:
            log.debug("virtual HAN stick: TCP host went away")

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, address = self._server.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                busy = self._client is not None
                if not busy:
                    self._client = client
            if busy:  # a serial port has one host
                client.close()
                continue
            self._on_connection("connect", f"{address[0]}:{address[1]}")
            if self.announce_reset:
                self.stick.scheduler.call_later(0, lambda: self.stick.ash.reset(RESET_POWER_ON))
            threading.Thread(target=self._serve, args=(client,), name="hubrig-han-tcp-rx", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while True:
                data = client.recv(4096)
                if not data:
                    break
                self.stick.scheduler.call_later(0, lambda d=data: self.stick.feed(d))
        except OSError:
            pass
        finally:
            with self._lock:
                mine = self._client is client
                if mine:
                    self._client = None
            client.close()
            if mine:
                self._on_connection("disconnect", "")

    def drop(self) -> bool:
        """The link to the host breaks (a TCP reset, as when a serial server loses the stick); the
        next host to connect finds the stick again. False if no host was connected."""
        with self._lock:
            client = self._client
        if client is None:
            return False
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.shutdown(socket.SHUT_RDWR)  # wakes the reader, which frees the port for the next host
        except OSError:
            pass
        return True

    def close(self) -> None:
        self._closed = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread; close() alone does not
        except OSError:
            pass
        self._server.close()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()
