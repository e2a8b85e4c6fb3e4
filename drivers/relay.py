"""HID USB relay boards (16c0:05df, "USBRelay1".."USBRelay8") as a mains switch, through pyusb.

The boards (www.dcttech.com design, V-USB firmware) speak HID feature reports on interface 0:

* SET_REPORT (``bmRequestType 0x21``, ``bRequest 0x09``, ``wValue 0x0300``) with 8 bytes
  ``[cmd, relay, 0...]``: ``0xFF`` closes relay *n*, ``0xFD`` opens it, ``0xFE``/``0xFC`` close/open all;
* GET_REPORT (``0xA1``, ``0x01``, ``0x0300``, 8 bytes): bytes 0-4 are the board's name (its
  "serial", settable, used to tell boards apart), byte 7 the relay states (bit *n-1* = relay *n* closed).

:class:`HidRelay` is a mains switch like the supply driver (``name``, ``set_output``,
``identify``, ``close``): ``set_output(on)`` closes or opens the relay according to
``mains_on_when``, reads the state back, and returns the rig-clock instant the board confirmed it.
Every byte the board returns is untrusted: short reports and odd names are errors, not crashes.
"""

from __future__ import annotations

import errno
import re
import threading
from typing import Any

import usb.core
import usb.util

from hubrig.harness.cli import UserError
from hubrig.harness.clock import Clock
from hubrig.harness.capture.events import SUPPLY, EventBus

FIELD = "instruments.relay"
HID_SET, HID_GET = 0x21, 0xA1
"""bmRequestType: class request to interface 0, host-to-device / device-to-host."""
SET_REPORT, GET_REPORT = 0x09, 0x01
FEATURE_REPORT = 0x0300
"""wValue: report type 3 (feature) in the high byte, report id 0."""
REPORT_LENGTH = 8
CLOSE_RELAY, OPEN_RELAY = 0xFF, 0xFD
INTERFACE = 0
TIMEOUT_MS = 1000
CONFIRM_READS = 3
"""State reads after a switch before the board counts as not having switched."""
MAX_CHANNELS = 8
_PRODUCT = re.compile(r"USBRelay(\d)")
UDEV_HINT = ('add a udev rule such as SUBSYSTEM=="usb", ATTR{idVendor}=="16c0", '
             'ATTR{idProduct}=="05df", MODE="0660", GROUP="plugdev" and re-plug the board')


class RelayError(Exception):
    """The relay board failed, is missing, or answered nonsense."""


class RelayConfigError(RelayError, UserError):
    """The relay section of the rig file cannot work (no such board, several boards, bad channel)."""


def _report_name(report: bytes) -> str:
    name = report[:5].rstrip(b"\0")
    text = name.decode("ascii", errors="replace")
    return text if text.isprintable() and text.strip() else "0x" + report[:5].hex()


class HidRelay:
    """One relay of a HID USB relay board, used as the mains switch."""

    def __init__(self, cfg: Any, clock: Clock, bus: EventBus | None, device: Any, *,
                 product: str, detached: bool, name: str = "relay"):
        self.cfg = cfg
        self.clock = clock
        self.bus = bus
        self.name = name
        self.channel = int(cfg.channel)
        self.product = product
        self._device = device
        self._detached = detached
        self._lock = threading.Lock()
        self.board = self._read_report()[0]
        self.description = f"relay {self.board} channel {self.channel} ({product}, " \
                           f"{device.idVendor:04x}:{device.idProduct:04x})"
        channels = channels_of(product)
        if not 1 <= self.channel <= channels:
            raise RelayConfigError(f"{FIELD}.channel = {self.channel}: board {self.board} ({product}) "
                                   f"has relays 1..{channels}")

    def identify(self) -> str:
        """Product, board name and USB ids, e.g. ``USBRelay2 QAAMZ 16c0:05df``."""
        return f"{self.product} {self.board} {self._device.idVendor:04x}:{self._device.idProduct:04x}"

    def describe(self) -> dict[str, str]:
        """Where the board is, its name and channel, for the results."""
        return {"resource": f"USB {self._device.idVendor:04x}:{self._device.idProduct:04x}", "board": self.board,
                "channel": str(self.channel), "mains_on_when": self.cfg.mains_on_when}

    def set_output(self, on: bool) -> int:
        """Switch mains on/off; return the rig-clock instant (ns) the board confirmed the relay state."""
        closed = bool(on) == (self.cfg.mains_on_when == "closed")
        with self._lock:
            self._control(HID_SET, SET_REPORT, bytes([CLOSE_RELAY if closed else OPEN_RELAY, self.channel])
                          + bytes(REPORT_LENGTH - 2))
            for _ in range(CONFIRM_READS):
                if self._closed(self._read_report()[1]) == closed:
                    confirmed_ns = self.clock.now_ns()
                    break
            else:
                raise RelayError(f"{self.description}: the board did not confirm the relay "
                                 f"{'closed' if closed else 'open'} after {CONFIRM_READS} state reads")
        if self.bus is not None:
            self.bus.publish(SUPPLY, self.name, {"output": bool(on), "instrument": self.description},
                             t_ns=confirmed_ns)
        return confirmed_ns

    def relay_closed(self) -> bool:
        """Whether the relay contact is closed, as the board reports it."""
        with self._lock:
            return self._closed(self._read_report()[1])

    def output_state(self) -> bool:
        """Whether mains is on (the relay state read through ``mains_on_when``)."""
        return self.relay_closed() == (self.cfg.mains_on_when == "closed")

    def close(self) -> None:
        """Release the board (the relay keeps its state) and hand it back to the kernel's HID driver."""
        with self._lock:
            _release([(self._device, self._detached, self.product, self.board)])

    def __repr__(self) -> str:
        return f"<HidRelay {self.description}>"

    def _closed(self, states: int) -> bool:
        return bool(states >> (self.channel - 1) & 1)

    def _read_report(self) -> tuple[str, int]:
        report = bytes(self._control(HID_GET, GET_REPORT, REPORT_LENGTH))
        if len(report) < REPORT_LENGTH:
            raise RelayError(f"relay board {self._device.idVendor:04x}:{self._device.idProduct:04x}: "
                             f"feature report of {len(report)} bytes, expected {REPORT_LENGTH}: {report.hex()}")
        return _report_name(report), report[7]

    def _control(self, request_type: int, request: int, data: Any) -> Any:
        try:
            return self._device.ctrl_transfer(request_type, request, FEATURE_REPORT, INTERFACE, data, TIMEOUT_MS)
        except usb.core.USBError as exc:
            what = "SET_REPORT" if request == SET_REPORT else "GET_REPORT"
            raise RelayError(f"{getattr(self, 'description', 'relay board')}: {what} failed: {exc}"
                             f"{_usb_hint(exc)}") from exc


def channels_of(product: str) -> int:
    """How many relays a board has, from its product string ``USBRelay<n>`` (8 when unknown)."""
    found = _PRODUCT.fullmatch(product or "")
    return int(found.group(1)) if found else MAX_CHANNELS


def _usb_hint(exc: usb.core.USBError) -> str:
    if getattr(exc, "errno", None) == errno.EACCES:
        return f" (permission denied: {UDEV_HINT})"
    if getattr(exc, "errno", None) in (errno.ENODEV, errno.EIO, errno.ENOENT):
        return " (the board was unplugged or re-enumerated)"
    return ""


def _claim(device: Any) -> tuple[bool, str]:
    """Detach the kernel HID driver when bound; return (detached, product string)."""
    detached = False
    try:
        if device.is_kernel_driver_active(INTERFACE):
            device.detach_kernel_driver(INTERFACE)
            detached = True
    except NotImplementedError:
        pass  # backends without kernel drivers (Windows, test fakes)
    except usb.core.USBError as exc:
        usb.util.dispose_resources(device)
        raise RelayError(f"relay board {device.idVendor:04x}:{device.idProduct:04x}: cannot take it from the "
                         f"kernel's HID driver: {exc}{_usb_hint(exc)}") from exc
    try:
        product = usb.util.get_string(device, device.iProduct) or "USBRelay?"
    except (usb.core.USBError, ValueError, UnicodeDecodeError):
        product = "USBRelay?"
    if not product.isprintable() or len(product) > 64:
        product = "USBRelay?"
    return detached, product


def open_relay(cfg: Any, clock: Clock, bus: EventBus | None, backend: Any = None) -> HidRelay:
    """Open the rig's relay board (``cfg`` is ``instruments.relay``, a ``RelayConfig``).

    ``cfg.serial`` picks one of several boards by the name in its feature report; ``backend`` is a
    pyusb backend (default: libusb found by pyusb; tests pass a fake).
    """
    vid, pid = cfg.vendor_id, cfg.product_id
    try:
        devices = list(usb.core.find(find_all=True, idVendor=vid, idProduct=pid, backend=backend))
    except usb.core.NoBackendError as exc:
        raise RelayError("pyusb found no USB backend: install libusb-1.0 (Debian: libusb-1.0-0)") from exc
    except usb.core.USBError as exc:
        raise RelayError(f"cannot list USB devices {vid:04x}:{pid:04x}: {exc}{_usb_hint(exc)}") from exc
    if not devices:
        raise RelayError(f"no HID relay board {vid:04x}:{pid:04x} found: is it plugged in "
                         f"({FIELD}.vendor_id/product_id)?")
    wanted = cfg.serial
    found = []  # (device, detached, product, board name)
    try:
        for device in devices:
            detached, product = _claim(device)
            found.append((device, detached, product, _board_name(device)))
    except RelayError:
        _release(found)
        raise
    chosen = [f for f in found if wanted is None or f[3] == wanted]
    if len(chosen) != 1:
        _release(found)
        names = ", ".join(sorted(str(f[3]) for f in found))
        if not chosen:
            raise RelayConfigError(f"{FIELD}.serial = {wanted!r}: no such board; boards found: {names}")
        raise RelayConfigError(f"{len(chosen)} relay boards found ({names}): set {FIELD}.serial "
                               "to the one that switches mains")
    _release([f for f in found if f is not chosen[0]])
    device, detached, product, _ = chosen[0]
    try:
        return HidRelay(cfg, clock, bus, device, product=product, detached=detached)
    except RelayError:
        _release(chosen)
        raise


def _board_name(device: Any) -> str | None:
    try:
        report = bytes(device.ctrl_transfer(HID_GET, GET_REPORT, FEATURE_REPORT, INTERFACE, REPORT_LENGTH,
                                            TIMEOUT_MS))
    except usb.core.USBError:
        return None
    return _report_name(report) if len(report) >= REPORT_LENGTH else None


def _release(found: list[tuple[Any, bool, str, str | None]]) -> None:
    """Give boards we will not use back to the kernel's HID driver."""
    for device, detached, _, _ in found:
        try:
            usb.util.release_interface(device, INTERFACE)
            if detached:
                device.attach_kernel_driver(INTERFACE)
        except (usb.core.USBError, NotImplementedError):
            pass  # the board stays usable; the kernel re-binds it on the next plug-in
        finally:
            usb.util.dispose_resources(device)
