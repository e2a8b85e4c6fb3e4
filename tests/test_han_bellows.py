"""Real, unmodified bellows (the pinned version) against the virtual HAN stick, over a pty and over
loopback TCP, in real time; and the HAN driver on top of it, including every bad-input case."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import bellows.types as t
import pytest
import zigpy.config as zconf
from bellows.ezsp import EZSP

from hubrig.drivers.han import HAN_ENERGY, HAN_NETWORK, HanError, open_han
from hubrig.harness.capture.events import LINK, EventBus, match
from hubrig.harness.capture.journal import Journal
from hubrig.harness.clock import RealClock, RealTimeScheduler
from hubrig.harness.rig.file import load_rig
from hubrig.harness.rig.session import default_rig_file
from hubrig.harness.virtual.bench import VirtualBench
from hubrig.harness.virtual.han.ezsp import dwell_s
from hubrig.harness.virtual.han.radio import FIRMWARES, SERIAL_SETTINGS, HanRadioParams, RadioWorld
from hubrig.harness.virtual.han.stick import PtyServer, TcpServer, stick_for
from hubrig.harness.virtual.params import VirtualParams
from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

pytestmark = pytest.mark.realtime

CH = "00DB1234567890A3"
PARAMS = HanRadioParams()


def test_pinned_bellows():
    from importlib.metadata import version

    assert version("bellows").startswith("1.2.") and version("zigpy").startswith("2.4.")


@pytest.fixture
def world():
    scheduler = RealTimeScheduler()
    radio = RadioWorld(PARAMS, scheduler, ch_eui=CH)
    yield SimpleNamespace(scheduler=scheduler, radio=radio)
    scheduler.close()


def serve(world, transport: str, firmware: str = "emberznet-7.4", **kw):
    stick = stick_for(PARAMS.model_copy(update={"firmware": firmware}), world.scheduler, world.radio)
    server = PtyServer(stick) if transport == "pty" else TcpServer(stick, **kw)
    return stick, server, server.port if transport == "pty" else server.url


async def bellows_session(path: str, firmware: str):
    baud, flow = SERIAL_SETTINGS[firmware]
    ezsp = EZSP({zconf.CONF_DEVICE_PATH: path, zconf.CONF_DEVICE_BAUDRATE: baud,
                 zconf.CONF_DEVICE_FLOW_CONTROL: flow})
    await asyncio.wait_for(ezsp.connect(), 30)
    try:
        eui = await ezsp.getEui64()
        board = await ezsp.get_board_info()
        energy = await asyncio.wait_for(ezsp.startScan(scanType=t.EzspNetworkScanType.ENERGY_SCAN,
                                                       channelMask=t.Channels.ALL_CHANNELS, duration=1), 30)
        active = await asyncio.wait_for(ezsp.startScan(scanType=t.EzspNetworkScanType.ACTIVE_SCAN,
                                                       channelMask=t.Channels.ALL_CHANNELS, duration=1), 30)
        await ezsp.write_config({})
        return ezsp.ezsp_version, eui, board, energy, active
    finally:
        await ezsp.disconnect()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
@pytest.mark.parametrize("firmware", ["emberznet-7.4", "emberznet-6.10"])
def test_bellows_connects_identifies_and_scans(world, transport, firmware):
    stick, server, path = serve(world, transport, firmware)
    try:
        version, eui, board, energy, active = asyncio.run(bellows_session(path, firmware))
    finally:
        server.close()
    assert version == FIRMWARES[firmware].protocol_version
    assert repr(eui[0]).replace(":", "").upper() == PARAMS.stick_eui
    assert board == ("hubrig", FIRMWARES[firmware].board_name, f"{FIRMWARES[firmware].stack_version} build 0")
    assert [c for c, _ in energy] == list(range(11, 27))
    by_channel = dict(energy)
    assert by_channel[PARAMS.channel] == PARAMS.ch_rssi_dbm
    assert all(-96 <= rssi <= -92 for c, rssi in energy if c != PARAMS.channel)
    ((network, lqi, rssi),) = active
    assert (network.channel, network.panId, repr(network.extendedPanId).replace(":", "").upper()) == \
        (PARAMS.channel, PARAMS.pan_id, CH)
    assert (lqi, rssi) == (PARAMS.ch_lqi, PARAMS.ch_rssi_dbm)
    assert stick.ash.counters.errors == {}
    assert stick.ezsp.counters.commands["setConfigurationValue"] > 0  # bellows' write_config went through


def test_tcp_without_startup_reset_bellows_resets_itself(world):
    stick, server, path = serve(world, "tcp", announce_reset=False)
    try:
        version, *_ = asyncio.run(bellows_session(path, "emberznet-7.4"))
    finally:
        server.close()
    assert version == 13 and stick.ash.counters.resets >= 1


# ----------------------------------------------------------------------------- the driver over bellows


@pytest.fixture
def rig(world, tmp_path):
    clock = RealClock()
    journal = Journal(tmp_path / "journal.sqlite")
    bus = EventBus(clock, str(journal.path))
    yield SimpleNamespace(clock=clock, journal=journal, bus=bus, **vars(world))
    journal.close()
    clock.close()


def driver(rig, path: str, firmware: str = "emberznet-7.4"):
    baud, flow = SERIAL_SETTINGS[firmware]
    return open_han(SimpleNamespace(port=path, baudrate=baud, flow_control=flow), rig.clock, rig.bus, rig.journal)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_driver_identity_and_scans_are_stamped_journalled_and_published(rig, transport):
    stick, server, path = serve(rig, transport)
    han = driver(rig, path)
    try:
        ident = han.read_identity()
        before = rig.clock.now_ns()
        scan = han.energy_scan(duration=1)
        active = han.active_scan(duration=1)
    finally:
        han.close()
        server.close()
    assert (ident.eui64, ident.protocol_version, ident.firmware) == (PARAMS.stick_eui, 13, "7.4.3.0 build 0")
    assert "EmberZNet 7" in ident.family
    assert scan.complete and [r.channel for r in scan.energy] == list(range(11, 27))
    stamps = [r.t_ns for r in scan.energy]
    assert stamps == sorted(stamps) and stamps[0] > before
    # readings arrive one dwell apart (the NCP reports each channel when its dwell ends)
    assert (stamps[-1] - stamps[0]) / 1e9 >= 15 * dwell_s(1) * 0.9
    frames = {f.id: f for f in rig.journal.frames()}
    for r in scan.energy:
        assert frames[r.journal_id].t_ns == r.t_ns and frames[r.journal_id].record["channel"] == r.channel
    assert len(rig.bus.events(match(HAN_ENERGY))) == 16
    (net,) = active.networks
    assert (net.pan_id, net.extended_pan_id, net.channel) == (PARAMS.pan_id, CH, PARAMS.channel)
    published = rig.bus.events(match(HAN_NETWORK))[0]
    assert published.data["networkFound"]["panId"] == PARAMS.pan_id and published.journal_id == net.journal_id


def test_crc_errors_from_the_ncp_are_naked_and_retransmitted_without_loss(rig):
    stick, server, path = serve(rig, "pty")
    han = driver(rig, path)
    try:
        stick.corrupt_next(3)
        scan = han.energy_scan(duration=1)
    finally:
        han.close()
        server.close()
    assert scan.complete and [r.channel for r in scan.energy] == list(range(11, 27))
    assert stick.ash.counters.naks_received >= 1 and stick.ash.counters.retransmits >= 1


def test_ncp_reset_mid_scan_keeps_stamped_readings_and_recovers(rig):
    stick, server, path = serve(rig, "pty")
    han = driver(rig, path)
    try:
        rig.scheduler.call_later(8.5 * dwell_s(3), stick.fault_reset)
        scan = han.energy_scan(duration=3)
        after = han.energy_scan(channels=[PARAMS.channel], duration=0)
    finally:
        han.close()
        server.close()
    assert not scan.complete and "RESET_WATCHDOG" in scan.interrupted
    assert 4 <= len(scan.energy) < 16
    journalled = {f.id for f in rig.journal.frames()}
    assert all(r.journal_id in journalled for r in scan.energy)
    states = [e.data["state"] for e in rig.bus.events(match(LINK))]
    assert states == ["lost", "restored"]
    assert after.complete and after.energy[0].max_rssi_dbm == PARAMS.ch_rssi_dbm


def test_unknown_ezsp_version_is_a_clear_error(rig):
    from dataclasses import replace

    stick, server, path = serve(rig, "tcp")
    stick.firmware = stick.ezsp.firmware = replace(stick.firmware, protocol_version=42)
    try:
        with pytest.raises(HanError, match=r"EZSP protocol 42.*knows 4\.\.19") as err:
            driver(rig, path)
    finally:
        server.close()
    assert path in str(err.value)


def test_port_that_disappears_mid_scan_recovers_when_it_comes_back(rig):
    stick, server, path = serve(rig, "pty")
    han = driver(rig, path)
    try:
        rig.scheduler.call_later(4 * dwell_s(3), server.vanish)
        rig.scheduler.call_later(4 * dwell_s(3) + 0.5, server.reappear)
        scan = han.energy_scan(duration=3)
        after = han.energy_scan(channels=[11], duration=0)
    finally:
        han.close()
        server.close()
    assert not scan.complete and scan.interrupted
    assert [e.data["state"] for e in rig.bus.events(match(LINK))] == ["lost", "restored"]
    assert after.complete


def test_port_that_stays_gone_is_a_bounded_clear_error(rig):
    stick, server, path = serve(rig, "pty")
    han = driver(rig, path)
    han._reconnect_attempts = 2
    start = time.monotonic()
    try:
        rig.scheduler.call_later(2 * dwell_s(3), server.vanish)
        with pytest.raises(HanError, match="not back after 2 attempts"):
            han.energy_scan(duration=3)
    finally:
        server.close()
    assert time.monotonic() - start < 120


# ----------------------------------------------------------------------------- the PAN across an outage


def test_pan_vanishes_and_returns_across_a_virtual_outage_in_real_time(rig, tmp_path):
    dut = load_rig(default_rig_file()).dut
    keys = ensure_test_keys(tmp_path / "keys", rig_parties(dut))
    params = VirtualParams.model_validate({"preset": "central-south",
                                           "ch": {"hold_up_s": 0.5, "reboot_s": 1.5, "reconnect_s": 0.1,
                                                  "dither": {"distribution": "fixed", "min_s": 0.0}}})
    link = SimpleNamespace(write=lambda data: None, on_receive=lambda cb: None)
    bench = VirtualBench(params, dut, rig.scheduler, keys, link)
    stick = stick_for(bench.params.han, rig.scheduler, bench.radio)
    server = PtyServer(stick)
    han = driver(rig, server.port)
    seen: list[tuple[int, bool]] = []
    """(instant, heard): when a PAN was heard, the instant it was heard; when none was, the scan's end."""
    try:
        cut = rig.clock.now_ns()
        rig.scheduler.call_later(0, lambda: bench.mains_changed(False, rig.scheduler.now_ns()))
        rig.scheduler.call_later(1.0, lambda: bench.mains_changed(True, rig.scheduler.now_ns()))
        while rig.clock.now_ns() - cut < 4e9:
            scan = han.active_scan(channels=[bench.params.han.channel], duration=0)
            seen.append((scan.networks[0].t_ns, True) if scan.networks else (scan.ended_ns, False))
    finally:
        han.close()
        server.close()
    truth = bench.radio.pan_log
    assert [c.up for c in truth] == [False, True]
    heard = [up for _, up in seen]
    assert heard[0] and not all(heard) and heard[-1]
    down_seen = next(t for t, up in seen if not up)
    back_seen = next(t for t, up in seen if up and t > down_seen)
    assert down_seen >= truth[0].t_ns and back_seen >= truth[1].t_ns  # never seen before it happened
    assert (back_seen - truth[1].t_ns) / 1e9 < 1.0
