"""How the HAN driver reaches an NCP: bellows over a serial port, or the virtual stick in-process.

Both sessions hand every frame the NCP sends to the stick's :class:`~hubrig.drivers.han.feed.NcpFeed`
the moment it is out of ASH (the feed stamps it; the capture pipeline journals, decodes and publishes
it), report a lost NCP to the same feed once, and run commands by name with bellows' own command
tables. They differ only in transport and time:

* :class:`BellowsSession`: unmodified bellows (:class:`bellows.ezsp.EZSP`) on an asyncio loop that
  runs on the session's own thread; the synchronous caller waits on futures with bounded timeouts.
  No network is formed and nothing is written to the stick's tokens: the driver only identifies
  and scans.
* :class:`InProcessSession`: the virtual stick's EZSP layer, called directly on the rig's virtual
  clock (no ASH, no threads), so plans on the virtual rig scan in virtual time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import threading
from typing import Any, Callable, Protocol

import bellows.types as t
import zigpy.config as zconf
from bellows.ezsp import EZSP

from hubrig.drivers.han.feed import NcpFeed
from hubrig.drivers.han.frames import SUPPORTED_PROTOCOLS, split
from hubrig.harness.capture.pipeline import LOST

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
"""Bound on opening the port, resetting the NCP and negotiating the protocol (bellows retries
its reset three times within this)."""
COMMAND_TIMEOUT_S = 12.0


class HanError(Exception):
    """The HAN stick could not be used; the message names the port and what went wrong."""


class Session(Protocol):
    protocol_version: int

    def command(self, name: str, **params: Any) -> list[Any]: ...

    def start_scan(self, scan_type: int, channel_mask: int, duration: int) -> None: ...

    def scan_failure(self) -> str | None: ...

    @property
    def lost(self) -> str | None: ...

    def close(self) -> None: ...


class _TappedEzsp(EZSP):
    """bellows' EZSP, with every frame from the NCP also handed to the feed before bellows parses it."""

    def __init__(self, config: dict[str, Any], watcher: "_Watcher", feed: NcpFeed):
        super().__init__(config, application=watcher)
        self._feed = feed

    def frame_received(self, data: bytes) -> None:
        try:
            self._feed.frame(bytes(data))
        except Exception:  # the capture must never break bellows' receive path
            log.exception("HAN: handing a frame to the capture failed")
        super().frame_received(data)


class _Watcher:
    """What bellows calls when the NCP resets unexpectedly or the port goes away."""

    def __init__(self, on_lost: Callable[[str], None]):
        self._on_lost = on_lost

    def connection_lost(self, exc: BaseException | None) -> None:
        self._on_lost(f"{type(exc).__name__}: {exc!r}" if exc is not None else "port closed")


class BellowsSession:
    """bellows' EZSP on its own asyncio thread, reached synchronously."""

    def __init__(self, port: str, baudrate: int, flow_control: str | None, feed: NcpFeed):
        self.port = port
        self._feed = feed
        self._lost: str | None = None
        self._closing = False
        self._connected = False  # a session that never came up has no link to lose
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hubrig-han-asyncio", daemon=True)
        self._thread.start()
        self._config = {zconf.CONF_DEVICE_PATH: port, zconf.CONF_DEVICE_BAUDRATE: baudrate,
                        zconf.CONF_DEVICE_FLOW_CONTROL: flow_control}
        self._ezsp = _TappedEzsp(self._config, _Watcher(self._set_lost), feed)
        self._scan: concurrent.futures.Future[Any] | None = None
        try:
            self._run(self._ezsp.connect(use_thread=False), CONNECT_TIMEOUT_S, "connect")
        except BaseException:
            self._stop_loop()
            raise
        self.protocol_version = int(self._ezsp.ezsp_version)
        self._connected = True
        if self._lost is not None:  # lost while connecting, yet connected: say so now
            self._feed.link(LOST, self._lost)

    def _set_lost(self, why: str) -> None:
        if self._closing or self._lost is not None:
            return
        log.warning("HAN %s: connection lost: %s", self.port, why)
        self._lost = why
        if self._connected:
            self._feed.link(LOST, why)
        if self._scan is not None and not self._scan.done():
            self._scan.cancel()

    @property
    def lost(self) -> str | None:
        """Why the NCP went away (an unexpected reset, the port gone), or None."""
        return self._lost

    def _run(self, coro: Any, timeout_s: float, what: str) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise HanError(f"HAN stick {self.port}: {what} got no answer within {timeout_s:g} s") from None
        except HanError:
            raise
        except Exception as exc:
            raise HanError(f"HAN stick {self.port}: {what} failed: {type(exc).__name__}: {exc}") from exc

    def command(self, name: str, **params: Any) -> list[Any]:
        return list(self._run(getattr(self._ezsp, name)(**params), COMMAND_TIMEOUT_S, name))

    def start_scan(self, scan_type: int, channel_mask: int, duration: int) -> None:
        """Start a scan; results and completion arrive as frames through the feed."""
        self._scan = asyncio.run_coroutine_threadsafe(
            self._ezsp.startScan(scanType=t.EzspNetworkScanType(scan_type), channelMask=t.Channels(channel_mask),
                                 duration=duration), self._loop)

    def scan_failure(self) -> str | None:
        """Why the scan command itself failed (bad status), once it has."""
        if self._scan is None or not self._scan.done() or self._scan.cancelled():
            return None
        exc = self._scan.exception()
        return None if exc is None else f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._closing = True
        if self._scan is not None:
            self._scan.cancel()
        try:
            if self._loop.is_running():
                self._run(self._ezsp.disconnect(), 5.0, "disconnect")
        except HanError as exc:
            log.warning("%s", exc)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()


class DirectStick(Protocol):
    """The virtual stick as an in-process session needs it."""

    def attach_direct(self, receive: Callable[[bytes], None], on_reset: Callable[[str], None] | None = None) -> None: ...

    def command(self, frame: bytes) -> None: ...


class InProcessSession:
    """EZSP frames to and from the virtual stick in-process, serialised with bellows' tables."""

    def __init__(self, stick: DirectStick, feed: NcpFeed, name: str = "virtual"):
        self.port = name
        self._stick = stick
        self._feed = feed
        self._seq = 0
        self._replies: dict[int, bytes] = {}
        self._lost: str | None = None
        stick.attach_direct(self._receive, self._reset)
        self.protocol_version = 4
        ours = self.command("version", desiredProtocolVersion=4)[0]
        self.protocol_version = int(ours)
        self.command("version", desiredProtocolVersion=int(ours))

    @property
    def lost(self) -> str | None:
        return self._lost

    def _reset(self, why: str) -> None:
        if self._lost is None:
            self._lost = why
            self._feed.link(LOST, why)

    def _receive(self, frame: bytes) -> None:
        self._feed.frame(frame)
        seq, _frame_id, callback, _params = split(frame)
        if not callback:
            self._replies[seq] = frame

    def _table(self) -> dict[str, tuple[int, Any, Any]]:
        version = self.protocol_version if self.protocol_version in SUPPORTED_PROTOCOLS else 13
        return importlib.import_module(f"bellows.ezsp.v{version}.commands").COMMANDS

    def command(self, name: str, **params: Any) -> list[Any]:
        cmd_id, tx, rx = self._table()[name]
        seq, self._seq = self._seq, (self._seq + 1) % 256
        if self.protocol_version < 5:
            header = bytes((seq, 0x00, cmd_id))
        elif self.protocol_version < 8:
            header = bytes((seq, 0x00, 0xFF, 0x00, cmd_id))
        else:
            header = bytes((seq, 0x00, 0x01)) + cmd_id.to_bytes(2, "little")
        self._stick.command(header + t.serialize_dict((), params, tx))
        reply = self._replies.pop(seq, None)
        if reply is None:
            raise HanError(f"HAN stick {self.port}: {name} got no answer")
        _seq, frame_id, _cb, body = split(reply)
        if frame_id != cmd_id:
            raise HanError(f"HAN stick {self.port}: {name} answered with frame 0x{frame_id:04X} (invalid command?)")
        values, _rest = t.deserialize_dict(body, rx)
        return list(values.values())

    def start_scan(self, scan_type: int, channel_mask: int, duration: int) -> None:
        (status,) = self.command("startScan", scanType=scan_type, channelMask=channel_mask, duration=duration)
        if int(status) != 0:
            raise HanError(f"HAN stick {self.port}: startScan refused with status {status!r}")

    def scan_failure(self) -> str | None:
        return None

    def close(self) -> None:
        self._stick.attach_direct(lambda frame: None)

