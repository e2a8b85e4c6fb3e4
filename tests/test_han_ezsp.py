"""The virtual stick's EZSP subset (frame formats, negotiation, invalidCommand, scans), its radio
world (noise, the CH's PAN, the ESME's frames), the driver in virtual time, and a fuzz test of the
NCP's EZSP frame parser."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.drivers.han import open_han
from hubrig.drivers.han.frames import decode, split
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import Journal
from hubrig.harness.clock import VirtualClock
from hubrig.harness.virtual.han import ezsp as z
from hubrig.harness.virtual.han.radio import HanRadioParams, RadioWorld
from hubrig.harness.virtual.han.stick import stick_for

CH = "00DB1234567890A3"


class Ncp:
    def __init__(self, protocol: int = 13, params: HanRadioParams | None = None):
        self.clock = VirtualClock()
        self.radio = RadioWorld(params or HanRadioParams(), self.clock, ch_eui=CH)
        self.out: list[bytes] = []
        self.ncp = z.EzspNcp(z.Firmware(protocol_version=protocol), self.clock, self.radio, self.out.append)

    def ask(self, frame: str | bytes) -> bytes:
        self.out.clear()
        self.ncp.handle(bytes.fromhex(frame) if isinstance(frame, str) else frame)
        (reply,) = self.out
        return reply

    def negotiate(self) -> None:
        v = self.ncp.firmware.protocol_version
        self.ask(bytes((0, 0, 0, 4)))
        self.ask(bytes((1, 0, 1, 0, 0, v)) if v >= 8 else bytes((1, 0, 0xFF, 0, 0, v)) if v >= 5
                 else bytes((1, 0, 0, v)))


def test_version_negotiation_legacy_then_v8_format():
    n = Ncp(13)
    # legacy request (seq 0, fc 0, id 0, desired 4) -> legacy reply with our version 13, stack 7.4.3.0
    assert n.ask("00000004") == bytes.fromhex("00 80 00 0d 02 3074".replace(" ", ""))
    assert n.ncp.negotiated is None
    assert n.ask("0100010000" + "0d") == bytes.fromhex("01 80 01 0000 0d 02 3074".replace(" ", ""))
    assert n.ncp.negotiated == 13


def test_extended_format_for_protocols_5_to_7():
    n = Ncp(7)
    n.negotiate()
    reply = n.ask(bytes((2, 0, 0xFF, 0, z.GET_EUI64)))
    assert reply[:5] == bytes((2, 0x80, 0xFF, 0, z.GET_EUI64)) and reply[5:] == bytes.fromhex("00124B00DEADBEEF")[::-1]


def test_commands_before_version_are_invalid_with_version_not_set():
    n = Ncp()
    assert n.ask(bytes((5, 0, 1, z.GET_EUI64, 0))) == bytes((5, 0x80, 0x01, 0x58, 0x00, 0x30))


def test_unknown_frame_id_is_invalid_command():
    n = Ncp()
    n.negotiate()
    assert n.ask(bytes((7, 0, 1, 0x47, 0x00, 0x00))) == bytes((7, 0x80, 0x01, 0x58, 0x00, 0x31))


def test_malformed_parameters_are_invalid_value_not_a_crash():
    n = Ncp()
    n.negotiate()
    assert n.ask(bytes((8, 0, 1, z.GET_MFG_TOKEN, 0))) == bytes((8, 0x80, 0x01, 0x58, 0x00, 0x36))


def test_statuses_are_sl_status_from_protocol_14():
    n = Ncp(14)
    n.negotiate()
    reply = n.ask(bytes((2, 0, 1, z.GET_VALUE, 0, 0x11)))
    status, length = struct.unpack_from("<IB", reply, 5)
    assert status == 0 and length == 6


def test_energy_scan_reports_each_channel_after_its_dwell_then_completes():
    n = Ncp()
    n.negotiate()
    mask = (1 << 11) | (1 << 20)
    assert n.ask(bytes((3, 0, 1, z.START_SCAN, 0, 0)) + struct.pack("<IB", mask, 2))[-1] == 0
    n.out.clear()
    n.clock.advance(z.dwell_s(2) * 1.5)
    assert [split(f)[1] for f in n.out] == [z.ENERGY_SCAN_RESULT_HANDLER]
    n.clock.advance(z.dwell_s(2))
    frames = [decode(f, 13) for f in n.out]
    assert [f["name"] for f in frames] == ["energyScanResultHandler", "energyScanResultHandler", "scanCompleteHandler"]
    assert frames[1]["channel"] == 20 and frames[1]["maxRssiValue"] == HanRadioParams().ch_rssi_dbm
    assert all(f["callback"] for f in frames)


def test_scan_refusals():
    n = Ncp()
    n.negotiate()
    scan = lambda mask, d=1, kind=0: n.ask(bytes((4, 0, 1, z.START_SCAN, 0, kind)) + struct.pack("<IB", mask, d))[-1]
    assert scan(1 << 5) == 0x35  # outside 11..26
    assert scan(1 << 11, d=15) == 0x02
    assert scan(1 << 11, kind=7) == 0x02
    assert scan(1 << 11) == 0
    assert scan(1 << 12) == 0x3D  # already scanning


def test_noise_per_channel_and_esme_emissions_show_in_energy_scans():
    params = HanRadioParams(noise_dbm={15: -70.0}, noise_jitter_db=0, esme_emissions=True, esme_airtime_s=0.5)
    clock = VirtualClock()
    radio = RadioWorld(params, clock, ch_eui=CH)
    assert radio.max_rssi(15, 0, 10**9) == -70 and radio.max_rssi(16, 0, 10**9) == -95
    radio.ch_phase("down", 0)
    assert radio.max_rssi(params.channel, 0, 10**9) == -95
    radio.esme_sent()
    assert radio.max_rssi(params.channel, 0, 10**8) == params.esme_rssi_dbm
    assert radio.max_rssi(params.channel, 6 * 10**8, 10**9) == -95  # after its airtime


def test_driver_in_virtual_time_identity_scans_and_reset_recovery(tmp_path):
    clock = VirtualClock()
    params = HanRadioParams(firmware="emberznet-6.10")
    radio = RadioWorld(params, clock, ch_eui=CH)
    stick = stick_for(params, clock, radio)
    with Journal(tmp_path / "j.sqlite") as journal:
        bus = EventBus(clock)
        han = open_han(None, clock, bus, journal, stick=stick)
        ident = han.read_identity()
        assert (ident.protocol_version, ident.board, ident.eui64) == (8, "virtual-em3581", params.stick_eui)
        start = clock.now_ns()
        scan = han.energy_scan(duration=3)
        assert scan.complete and len(scan.energy) == 16
        # virtual time: each reading lands exactly one dwell after the previous one
        assert [r.t_ns - start for r in scan.energy] == [round((i + 1) * z.dwell_s(3) * 1e9) for i in range(16)]
        clock.call_later(5.5 * z.dwell_s(3), stick.fault_reset)
        cut = han.energy_scan(duration=3)
        assert not cut.complete and len(cut.energy) == 5
        assert [e.data["state"] for e in bus.events() if e.kind == "link"] == ["lost", "restored"]
        assert han.active_scan(channels=[params.channel], duration=0).networks[0].pan_id == params.pan_id


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=40), max_size=12), st.sampled_from([4, 7, 8, 13, 14]))
def test_fuzz_ezsp_parser_answers_or_ignores_never_raises(frames, protocol):
    n = Ncp(protocol)
    n.negotiate()
    for f in frames:
        n.out.clear()
        n.ncp.handle(f)
        assert len(n.out) <= 1
        for reply in n.out:
            assert reply[0] == (f[0] if f else None)
    n.clock.advance(60)
    for reply in n.out:
        assert "error" not in decode(reply, protocol if protocol != 15 else 14)
