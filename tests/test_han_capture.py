"""The HAN stick's frames go through the shared capture pipeline: nothing lost, nothing reordered.

Ground truth is the virtual stick's own log of every EZSP frame it sent and when
(:meth:`VirtualHanStick.log_sent`). Each test compares it with what the harness journalled
(exact bytes, order, arrival instants), with what the pipeline published (one event per frame,
in journal order, link changes in their place) and with the scans' readings: in virtual time in
process, in real time through unmodified bellows over a pty and loopback TCP, and in a child
process killed outright (SIGKILL) mid-scan.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace
from typing import Callable, TypeVar

import pytest

from hubrig.drivers.han import HAN_ENERGY, HAN_FRAME, HAN_NETWORK, HAN_SCAN_COMPLETE, HanStick, Scan, open_han
from hubrig.drivers.han.frames import COMPLETE, ENERGY, decode
from hubrig.harness.capture.events import LINK, Event, EventBus
from hubrig.harness.capture.journal import Journal, JournalFrame
from hubrig.harness.clock import RealClock, RealTimeScheduler, VirtualClock
from hubrig.harness.virtual.han.ezsp import dwell_s
from hubrig.harness.virtual.han.radio import SERIAL_SETTINGS, HanRadioParams, RadioWorld
from hubrig.harness.virtual.han.stick import PtyServer, TcpServer, VirtualHanStick, stick_for

CH = "00DB1234567890A3"
PARAMS = HanRadioParams()
T = TypeVar("T")
FRAME_KINDS = {HAN_ENERGY, HAN_NETWORK, HAN_SCAN_COMPLETE, HAN_FRAME}


def han_frames(journal: Journal) -> list[JournalFrame]:
    """The NCP frames the stick journalled (link changes are journalled too, as kind ``link``)."""
    return [f for f in journal.frames(source="han", direction="in") if f.kind != "link"]


def han_events(bus: EventBus) -> list[Event]:
    return [e for e in bus.events() if e.source == "han"]


def assert_published_once_in_order(bus: EventBus, stored: list[JournalFrame]) -> None:
    """Every journalled frame is published exactly once, in journal order, with its arrival instant."""
    published = [e for e in han_events(bus) if e.kind in FRAME_KINDS]
    assert [(e.journal_id, e.t_ns) for e in published] == [(f.id, f.t_ns) for f in stored]
    assert all(f.record is not None and f.error is None for f in stored)
    assert all(e.data["name"] == f.record["name"] for e, f in zip(published, stored))


def assert_readings_are_the_journalled_frames(scan, stored: list[JournalFrame]) -> None:
    by_id = {f.id: f for f in stored}
    for r in scan.energy:
        f = by_id[r.journal_id]
        assert (f.t_ns, f.record["name"], f.record["channel"], f.record["maxRssiValue"]) == \
            (r.t_ns, ENERGY, r.channel, r.max_rssi_dbm)
    for n in scan.networks:
        f = by_id[n.journal_id]
        assert (f.t_ns, f.record["networkFound"]["panId"]) == (n.t_ns, n.pan_id)
    if scan.complete:
        assert by_id[scan.complete_journal_id].record["name"] == COMPLETE


# ----------------------------------------------------------------------------- virtual time, in process


def test_in_process_journal_events_and_readings_equal_what_the_stick_sent(tmp_path):
    clock = VirtualClock()
    radio = RadioWorld(PARAMS, clock, ch_eui=CH)
    stick = stick_for(PARAMS, clock, radio)
    truth = stick.log_sent()
    reset_at: list[int] = []

    def reset() -> None:
        reset_at.append(clock.now_ns())
        stick.fault_reset()

    with Journal(tmp_path / "j.sqlite") as journal:
        bus = EventBus(clock)
        han = open_han(None, clock, bus, journal, stick=stick)
        energy = han.energy_scan(duration=2)
        active = han.active_scan(duration=1)
        clock.call_later(6.5 * dwell_s(2), reset)
        cut = han.energy_scan(duration=2)
        after = han.energy_scan(channels=[PARAMS.channel], duration=0)
        han.close()
        stored = han_frames(journal)
        # the journal holds exactly what the stick sent, in order, stamped at the instant it was sent
        assert [(f.t_ns, f.raw) for f in stored] == truth
        assert_published_once_in_order(bus, stored)
        for scan in (energy, active, cut, after):
            assert_readings_are_the_journalled_frames(scan, stored)
        # the readings are the truth's scan results, one for one
        sent_energy = [(t, decode(raw, 13)) for t, raw in truth if decode(raw, 13).get("name") == ENERGY]
        readings = energy.energy + cut.energy + after.energy
        assert [(r.t_ns, r.channel, r.max_rssi_dbm) for r in readings] == \
            [(t, rec["channel"], rec["maxRssiValue"]) for t, rec in sent_energy]
        assert energy.complete and len(energy.energy) == 16 and not cut.complete and len(cut.energy) == 6
        assert active.networks[0].pan_id == PARAMS.pan_id and after.complete
        # the reset is published in its place: after every frame sent before it, before every frame after
        events = han_events(bus)
        links = [i for i, e in enumerate(events) if e.kind == LINK]
        assert [events[i].data["state"] for i in links] == ["lost", "restored"]
        lost, restored = links
        assert events[lost].t_ns == reset_at[0] and "NCP reset" in events[lost].data["detail"]
        assert all(e.t_ns <= reset_at[0] for e in events[:lost])
        assert all(e.t_ns >= reset_at[0] for e in events[lost:])
        reconnect = [e.data["name"] for e in events[lost + 1:restored]]
        assert reconnect and reconnect[0] == "version"  # the new session's negotiation, between the two


# ----------------------------------------------------------------------------- real time, unmodified bellows


@pytest.fixture
def world(tmp_path):
    scheduler = RealTimeScheduler()
    clock = RealClock()
    journal = Journal(tmp_path / "journal.sqlite")
    yield SimpleNamespace(scheduler=scheduler, radio=RadioWorld(PARAMS, scheduler, ch_eui=CH), clock=clock,
                          journal=journal, bus=EventBus(clock, str(journal.path)))
    journal.close()
    clock.close()
    scheduler.close()


def serve(world, transport: str):
    stick = stick_for(PARAMS, world.scheduler, world.radio)
    server = PtyServer(stick) if transport == "pty" else TcpServer(stick)
    return stick, server, server.port if transport == "pty" else server.url


def driver(world, path: str):
    baud, flow = SERIAL_SETTINGS["emberznet-7.4"]
    return open_han(SimpleNamespace(port=path, baudrate=baud, flow_control=flow), world.clock, world.bus,
                    world.journal)


def assert_journal_is_what_was_sent(stored: list[JournalFrame], truth: list[tuple[int, bytes]], at_least: int):
    """The journal is the sent frames' prefix (at least ``at_least`` of them), each stamped after it was sent."""
    assert len(stored) >= at_least
    assert [f.raw for f in stored] == [raw for _, raw in truth[:len(stored)]]
    assert all(f.t_ns >= t for f, (t, _) in zip(stored, truth))
    assert [f.t_ns for f in stored] == sorted(f.t_ns for f in stored)


def through_bellows(world, transport: str, scans: Callable[[HanStick, VirtualHanStick], T]):
    """Run ``scans`` through bellows against the virtual stick, close, and check that the journal
    is what the stick sent and that every journalled frame was published once, in order."""
    stick, server, path = serve(world, transport)
    truth = stick.log_sent()
    han = driver(world, path)
    try:
        result = scans(han, stick)
        sent_before_close = len(truth)
    finally:
        han.close()
        server.close()
    stored = han_frames(world.journal)
    assert_journal_is_what_was_sent(stored, truth, sent_before_close)
    assert_published_once_in_order(world.bus, stored)
    return SimpleNamespace(stick=stick, han=han, truth=truth, stored=stored, result=result)


@pytest.mark.realtime
@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_bellows_journal_events_and_readings_equal_what_the_stick_sent(world, transport):
    def scans(han: HanStick, stick: VirtualHanStick) -> tuple[Scan, Scan]:
        stick.corrupt_next(3)  # retransmitted by ASH: still journalled once each
        return han.energy_scan(duration=1), han.active_scan(duration=1)

    run = through_bellows(world, transport, scans)
    (energy, active), stick, truth, stored = run.result, run.stick, run.truth, run.stored
    for scan in (energy, active):
        assert scan.complete
        assert_readings_are_the_journalled_frames(scan, stored)
    assert [r.channel for r in energy.energy] == list(range(11, 27))
    sent_energy = [decode(raw, 13) for _, raw in truth if decode(raw, 13).get("name") == ENERGY]
    assert [(r.channel, r.max_rssi_dbm) for r in energy.energy] == \
        [(rec["channel"], rec["maxRssiValue"]) for rec in sent_energy]
    assert stick.ash.counters.retransmits >= 1
    stats = run.han.capture.stats()
    assert stats.frames == len(stored) and stats.pending == 0


@pytest.mark.realtime
def test_bellows_reset_mid_scan_is_published_between_the_frames_around_it(world):
    def scans(han: HanStick, stick: VirtualHanStick) -> tuple[Scan, Scan]:
        world.scheduler.call_later(6.5 * dwell_s(2), stick.fault_reset)
        return han.energy_scan(duration=2), han.energy_scan(channels=[PARAMS.channel], duration=0)

    run = through_bellows(world, "pty", scans)
    (cut, after), stored = run.result, run.stored
    assert not cut.complete and 4 <= len(cut.energy) < 16 and after.complete
    assert_readings_are_the_journalled_frames(cut, stored)
    events = han_events(world.bus)
    links = [i for i, e in enumerate(events) if e.kind == LINK]
    assert [events[i].data["state"] for i in links] == ["lost", "restored"]
    lost, restored = links
    last_reading = max(i for i, e in enumerate(events) if e.journal_id == cut.energy[-1].journal_id)
    assert last_reading < lost < restored
    assert [e.data["name"] for e in events[lost + 1:restored]][:1] == ["version"]
    assert all(e.kind != HAN_ENERGY for e in events[lost:restored])
    stamps = [e.t_ns for e in events]
    assert stamps == sorted(stamps)


# ----------------------------------------------------------------------------- SIGKILL mid-scan

CHILD = textwrap.dedent("""
    import sys
    from hubrig.drivers.han import open_han
    from hubrig.drivers.han.config import HanConfig
    from hubrig.harness.capture.events import EventBus
    from hubrig.harness.capture.journal import Journal
    from hubrig.harness.clock import RealClock

    clock = RealClock()
    journal = Journal(sys.argv[2])
    han = open_han(HanConfig(port=sys.argv[1]), clock, EventBus(clock), journal)
    n = 0
    while True:
        scan = han.energy_scan(duration=1)
        n += 1
        print(f"scan {n} {int(scan.complete)} {scan.complete_journal_id}", flush=True)
""")


@pytest.mark.realtime
def test_sigkill_mid_scan_leaves_the_journal_a_prefix_of_what_was_sent(tmp_path):
    scheduler = RealTimeScheduler()
    stick = stick_for(PARAMS, scheduler, RadioWorld(PARAMS, scheduler, ch_eui=CH))
    server = TcpServer(stick)
    truth = stick.log_sent()
    path = tmp_path / "journal.sqlite"
    child = subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(path)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = []
        assert child.stdout is not None
        while len(lines) < 3:
            line = child.stdout.readline()
            assert line, f"the child ended early (exit {child.poll()})"
            lines.append(line.split())
        # the child knows scan 3 complete only once its scan-complete frame is journalled (and published)
        completes = [i for i, (_, raw) in enumerate(list(truth)) if decode(raw, 13).get("name") == COMPLETE]
        assert len(completes) >= 3
        durable = completes[2] + 1
        deadline = time.monotonic() + 60
        while sum(decode(raw, 13).get("name") == ENERGY for _, raw in truth[durable:]) < 5:  # mid-scan 4
            assert time.monotonic() < deadline, "the stick never got into the fourth scan"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        server.close()
        scheduler.close()
    assert all(complete == "1" for _, _, complete, _ in lines)
    with Journal.open_existing(path) as journal:
        stored = han_frames(journal)
        assert_journal_is_what_was_sent(stored, list(truth), durable)
        ids = {f.id: f for f in stored}
        assert all(ids[int(jid)].record["name"] == COMPLETE for _, _, _, jid in lines)

