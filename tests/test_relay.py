"""The HID USB relay driver against a fake pyusb backend that records every control transfer."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import usb.backend
import usb.core
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.drivers.relay import (CLOSE_RELAY, FEATURE_REPORT, GET_REPORT, HID_GET, HID_SET, OPEN_RELAY,
                           SET_REPORT, RelayConfigError, RelayError, open_relay)
from hubrig.harness.cli import UserError
from hubrig.harness.clock import VirtualClock, to_ns
from hubrig.harness.capture.events import SUPPLY, EventBus


@dataclass
class RelayCfg:
    """Stand-in for hubrig.harness.rig.file.RelayConfig (same field names)."""

    vendor_id: int = 0x16C0
    product_id: int = 0x05DF
    serial: str | None = None
    channel: int = 1
    mains_on_when: str = "closed"


class Board:
    """One emulated board: a name, relays, and how it misbehaves."""

    def __init__(self, name=b"QAAMZ", relays=2, *, kernel_bound=True, stuck=False, short_report=False,
                 deny=False, deny_detach=False, product=None):
        self.name, self.relays, self.state = name, relays, 0
        self.product = product if product is not None else f"USBRelay{relays}"
        self.kernel_bound, self.stuck, self.short_report, self.deny = kernel_bound, stuck, short_report, deny
        self.deny_detach = deny_detach
        self.transfers: list[tuple[int, int, int, int, bytes]] = []
        self.opened = False


class FakeBackend(usb.backend.IBackend):
    """Just enough of a pyusb backend for HID relay boards."""

    def __init__(self, *boards: Board):
        self.boards = list(boards)

    def enumerate_devices(self):
        return iter(self.boards)

    def get_device_descriptor(self, board):
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x110, bDeviceClass=0, bDeviceSubClass=0, bDeviceProtocol=0,
            bMaxPacketSize0=8, idVendor=0x16C0, idProduct=0x05DF, bcdDevice=0x100, iManufacturer=1, iProduct=2,
            iSerialNumber=0, bNumConfigurations=1, address=self.boards.index(board) + 2, bus=1, port_number=1,
            port_numbers=(1,), speed=1)

    def open_device(self, board):
        board.opened = True
        return board

    def close_device(self, board):
        board.opened = False

    def claim_interface(self, board, intf):
        if board.kernel_bound:
            raise usb.core.USBError("Resource busy", None, errno.EBUSY)

    def release_interface(self, board, intf):
        pass

    def is_kernel_driver_active(self, board, intf):
        return board.kernel_bound

    def detach_kernel_driver(self, board, intf):
        if board.deny_detach:
            raise usb.core.USBError("Access denied (insufficient permissions)", None, errno.EACCES)
        board.kernel_bound = False

    def attach_kernel_driver(self, board, intf):
        board.kernel_bound = True

    def ctrl_transfer(self, board, request_type, request, value, index, data, timeout):
        if board.deny:
            raise usb.core.USBError("Access denied (insufficient permissions)", None, errno.EACCES)
        if request_type == 0x80 and request == 6:  # GET_DESCRIPTOR: strings
            kind, idx = value >> 8, value & 0xFF
            assert kind == 3
            payload = b"\x09\x04" if idx == 0 else {1: "www.dcttech.com", 2: board.product}[idx].encode("utf-16-le")
            blob = bytes([len(payload) + 2, 3]) + payload
            data[: len(blob)] = type(data)("B", blob)
            return len(blob)
        board.transfers.append((request_type, request, value, index, bytes(data)))
        if request_type == HID_SET and request == SET_REPORT:
            cmd, relay = data[0], data[1]
            if not board.stuck and 1 <= relay <= board.relays:
                bit = 1 << (relay - 1)
                board.state = board.state | bit if cmd == CLOSE_RELAY else board.state & ~bit
            return len(data)
        if request_type == HID_GET and request == GET_REPORT:
            report = board.name.ljust(5, b"\0")[:5] + b"\0\0" + bytes([board.state])
            if board.short_report:
                report = report[:3]
            data[: len(report)] = type(data)("B", report)
            return len(report)
        raise AssertionError(f"unexpected transfer {request_type:#x} {request:#x}")


def open_with(*boards, **cfg):
    clock = VirtualClock()
    bus = EventBus(clock)
    return clock, bus, open_relay(RelayCfg(**cfg), clock, bus, backend=FakeBackend(*boards))


def sets(board):
    return [t for t in board.transfers if t[0] == HID_SET]


def test_switching_sends_the_feature_reports_and_confirms_by_reading_state():
    board = Board(relays=2)
    clock, bus, relay = open_with(board, channel=2)
    clock.advance(3)
    t_ns = relay.set_output(True)
    assert sets(board)[-1] == (HID_SET, SET_REPORT, FEATURE_REPORT, 0, bytes([CLOSE_RELAY, 2, 0, 0, 0, 0, 0, 0]))
    assert board.state == 0b10 and relay.output_state() and relay.relay_closed()
    relay.set_output(False)
    assert sets(board)[-1][4][:2] == bytes([OPEN_RELAY, 2]) and board.state == 0
    events = bus.events(lambda e: e.kind == SUPPLY)
    assert [(e.data["output"], e.source) for e in events] == [(True, "relay"), (False, "relay")]
    assert events[0].t_ns == t_ns == to_ns(3)
    assert "QAAMZ channel 2" in events[0].data["instrument"]


def test_mains_on_when_open_inverts_the_relay():
    board = Board()
    _, _, relay = open_with(board, mains_on_when="open")
    relay.set_output(True)
    assert board.state == 0 and relay.output_state() and not relay.relay_closed()
    relay.set_output(False)
    assert board.state == 1 and not relay.output_state()


def test_identify_names_product_board_and_ids_and_the_kernel_driver_is_handed_back():
    board = Board(name=b"ABCDE", relays=4)
    _, _, relay = open_with(board)
    assert relay.identify() == "USBRelay4 ABCDE 16c0:05df"
    assert not board.kernel_bound
    relay.close()
    assert board.kernel_bound and not board.opened


def test_serial_picks_one_of_several_boards_and_releases_the_others():
    a, b = Board(name=b"AAAAA"), Board(name=b"BBBBB")
    _, _, relay = open_with(a, b, serial="BBBBB")
    relay.set_output(True)
    assert (a.state, b.state) == (0, 1) and a.kernel_bound and not b.kernel_bound


def test_several_boards_without_serial_is_a_config_error_listing_them():
    with pytest.raises(RelayConfigError, match=r"2 relay boards found \(AAAAA, BBBBB\): set instruments.relay.serial"):
        open_with(Board(name=b"AAAAA"), Board(name=b"BBBBB"))


def test_unknown_serial_and_missing_board_and_bad_channel_are_clear():
    with pytest.raises(RelayConfigError, match=r"serial = 'ZZZZZ': no such board; boards found: AAAAA"):
        open_with(Board(name=b"AAAAA"), serial="ZZZZZ")
    with pytest.raises(RelayError, match="no HID relay board 16c0:05df found"):
        open_with()
    with pytest.raises(RelayConfigError, match=r"channel = 3: board QAAMZ \(USBRelay2\) has relays 1..2") as caught:
        open_with(Board(relays=2), channel=3)
    assert isinstance(caught.value, UserError)


def test_a_board_that_does_not_switch_is_reported_not_trusted():
    board = Board(stuck=True)
    _, bus, relay = open_with(board)
    with pytest.raises(RelayError, match="did not confirm the relay closed after 3 state reads"):
        relay.set_output(True)
    assert bus.events() == []


def test_permission_denied_explains_the_udev_rule():
    with pytest.raises(RelayError, match="permission denied: add a udev rule"):
        open_with(Board(deny=True))


def test_a_board_the_kernel_will_not_hand_over_is_a_relay_error_and_the_others_go_back():
    first, denied = Board(name=b"AAAAA"), Board(name=b"BBBBB", deny_detach=True)
    with pytest.raises(RelayError, match=r"cannot take it from the kernel's HID driver: .*permission denied: "
                                         r"add a udev"):
        open_with(first, denied, serial="AAAAA")
    assert first.kernel_bound and not first.opened  # handed back to the kernel, released
    assert denied.kernel_bound


def test_short_feature_reports_are_errors_not_crashes():
    with pytest.raises(RelayError, match="feature report of 3 bytes, expected 8"):
        open_with(Board(short_report=True))


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=5, max_size=5), st.integers(1, 8), st.lists(st.booleans(), max_size=12))
def test_any_board_name_and_switch_sequence_leaves_exactly_the_requested_state(name, relays, switches):
    board = Board(name=name, relays=relays)
    _, _, relay = open_with(board, channel=relays)
    for on in switches:
        relay.set_output(on)
        assert relay.output_state() is on
    assert relay.board.isprintable()
    assert board.state == (1 << (relays - 1) if switches and switches[-1] else 0)
