"""Rig assembly and probing: the virtual rig runs deterministically in virtual time, a real bench
is reached through the real drivers (here: a virtual supply behind loopback TCP and a ``loop://``
ITCH), a failed open leaves mains on and nothing open, and ``hubrig rig check`` reports each
instrument."""

from __future__ import annotations

import os

import json
from pathlib import Path

import pytest

from tests.conftest import bench_rig_file

from hubrig.harness.cli import main
from hubrig.harness.clock import NS_PER_S, RealClock, VirtualClock
from hubrig.harness.capture.events import FRAME, NOTIFICATION, match
from hubrig.harness.rig.mains import MAINS, MainsRecoveredWarning
from hubrig.harness.rig.session import default_rig_file, open_rig, probe_rig

ROOT = Path(__file__).resolve().parent.parent
VIRTUAL = ROOT / "rigs" / "virtual.yaml"



@pytest.fixture
def bench(tmp_path, served_supply):
    """A real-kind rig file whose supply is a virtual one served over TCP (pyvisa-py reaches it)."""
    supply, server = served_supply

    def write(port: str = "loop://", resource: str = server.resource, limit_sets: str = "sec-h3.14h") -> Path:
        return bench_rig_file(tmp_path, name="bench-r", resource=resource, port=port, limit_sets=limit_sets)

    return write, supply


def outage_run(out: Path, seconds: float = 200) -> tuple[list[tuple], list[tuple]]:
    """The events and the journal (every frame's instants and raw bytes) of one outage."""
    with open_rig(VIRTUAL, out) as rig:
        rig.clock.sleep(600)  # let the virtual Comms Hub come up
        with rig.mains.outage(seconds=seconds):
            pass
        rig.clock.sleep(900)
        events = [(e.kind, e.t_ns, e.source, json.dumps(e.data, sort_keys=True, default=str))
                  for e in rig.bus.events()]
        journal = [(f.direction, f.t_ns, f.wall_ns, f.source, f.kind, f.raw) for f in rig.journal.frames()]
        return events, journal


def test_virtual_rig_runs_an_outage_in_virtual_time_and_ground_truth_agrees(tmp_path):
    with open_rig(VIRTUAL, tmp_path) as rig:
        assert isinstance(rig.clock, VirtualClock) and rig.is_virtual
        assert rig.supply.output_state() is True  # a run starts with mains on
        rig.clock.sleep(600)
        with rig.mains.outage(seconds=200) as out:
            pass
        rig.clock.sleep(900)
        truth = rig.ground_truth.outages()
        assert [(o.cut_ns, o.restore_ns) for o in truth] == [(out.cut_ns, out.restore_ns)]
        assert out.duration_s == pytest.approx(200)
        assert rig.bus.events(match(NOTIFICATION, name="AD1"))  # the CH's stand-in for the AD1 POA
        assert rig.bus.events(match(FRAME, cra="alert"))  # the ESME's restoration alert
        assert rig.journal_path.exists() and len(rig.journal.frames()) >= 2


def test_same_rig_file_and_seed_give_identical_runs(tmp_path):
    events, journal = outage_run(tmp_path / "a")
    assert len(journal) >= 2  # the POA line and the signed 8F36, byte for byte below
    assert (events, journal) == outage_run(tmp_path / "b")


def test_closing_the_session_restores_mains(tmp_path):
    rig = open_rig(VIRTUAL, tmp_path)
    rig.mains.cut()
    rig.close()
    outages = rig.ground_truth.outages()
    assert len(outages) == 1 and outages[0].restore_ns is not None
    assert [e.data["state"] for e in rig.bus.events(match(MAINS))] == ["on", "off", "on"]


def test_closing_restores_mains_before_the_itch_and_instruments_close(tmp_path):
    rig = open_rig(VIRTUAL, tmp_path)
    mains_at_itch_close = []
    close_link = rig.itch.transport.close
    rig.itch.transport.close = lambda: (mains_at_itch_close.append(rig.mains.is_off), close_link())
    rig.mains.cut()
    rig.close()
    assert mains_at_itch_close == [False]


def test_realtime_virtual_rig_uses_real_transports(tmp_path):
    with open_rig(VIRTUAL, tmp_path, realtime=True) as rig:
        assert isinstance(rig.clock, RealClock)
        assert rig.supply.cfg.resource.startswith("TCPIP0::127.0.0.1::")  # pyvisa-py over TCP
        assert rig.itch.transport.url.startswith("/")  # a pty path opened with pyserial
        with rig.mains.outage(seconds=0.3) as out:
            pass
        (cut,) = rig.ground_truth.outages()
        # the device changed between the command and its confirmation
        assert cut.cut_ns <= out.cut_ns and cut.restore_ns <= out.restore_ns
        assert out.restore_ns - cut.restore_ns < NS_PER_S


def test_real_bench_goes_through_the_real_drivers(tmp_path, bench):
    write, supply = bench
    with open_rig(write(), tmp_path / "out") as rig:
        assert isinstance(rig.clock, RealClock) and rig.ground_truth is None
        assert "AC6801B" in rig.supply.identify()
        t_cut = rig.mains.cut()
        assert supply.output is False and (tmp_path / "state" / "bench-r.mains-off").exists()
        assert rig.mains.restore() > t_cut
    assert supply.output is True and not (tmp_path / "state" / "bench-r.mains-off").exists()


def test_open_after_a_killed_run_restores_first_and_says_so(tmp_path, bench):
    write, supply = bench
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "bench-r.mains-off").write_text(json.dumps({"rig": "bench-r", "cut_at": "yesterday"}))
    with pytest.warns(MainsRecoveredWarning, match="rig 'bench-r': mains was left cut since yesterday"):
        rig = open_rig(write(), tmp_path / "out")
    with rig:
        assert rig.mains.recovered == {"rig": "bench-r", "cut_at": "yesterday"}
        assert supply.output is True


def test_a_failed_open_leaves_mains_on_and_names_the_port(tmp_path, bench):
    write, supply = bench
    with pytest.raises(Exception, match="/dev/hubrig-no-such-port"):
        open_rig(write(port="/dev/hubrig-no-such-port"), tmp_path / "out")
    assert supply.output is True
    assert not (tmp_path / "state" / "bench-r.mains-off").exists()


def test_realtime_is_for_the_virtual_rig_only(tmp_path, bench):
    write, _ = bench
    with pytest.raises(ValueError, match="realtime applies to the virtual rig"):
        open_rig(write(), tmp_path / "out", realtime=True)


def test_probe_reports_each_instrument_on_its_own(tmp_path, bench):
    write, _ = bench
    rows = {(r.name, r.check): r for r in probe_rig(write(resource="TCPIP0::127.0.0.1::1::SOCKET"))}
    supply = rows["supply", "identity"]
    assert not supply.ok and supply.resource == "TCPIP0::127.0.0.1::1::SOCKET"
    assert "Connection refused" in supply.detail and "instruments.supply.resource" in supply.fix
    assert rows["itch", "open"].ok and rows["itch", "open"].resource == "loop://"
    assert rows["itch", "link"].ok and "offers no link-level request" in rows["itch", "link"].detail
    assert rows["mains", "reachable"].ok
    limits = rows["limit sets", "known"]
    assert not limits.ok and "sec-h3.14h" in limits.detail  # a typo is caught


def test_probe_reports_a_missing_relay_board(tmp_path, bench):
    write, _ = bench
    path = write()
    path.write_text(path.read_text().replace("  itch:\n", "  relay: {serial: NOPE1, channel: 2}\n  itch:\n"))
    rows = {(r.name, r.check): r for r in probe_rig(path)}
    relay = rows["relay", "open"]
    assert relay.resource == "USB 16c0:05df serial NOPE1"
    assert not relay.ok and "RelayError" in relay.detail and "instruments.relay" in relay.fix
    assert all(r.ok for (name, _), r in rows.items() if name == "supply")  # one silent instrument hides no other


def test_probe_flags_a_mains_left_cut(tmp_path, bench):
    write, _ = bench
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "bench-r.mains-off").write_text('{"cut_at": "03:00"}')
    rows = {(r.name, r.check): r for r in probe_rig(write())}
    assert rows["supply", "identity"].ok and "Keysight" in rows["supply", "identity"].detail
    mains = rows["mains", "reachable"]
    marker = tmp_path / "state" / "bench-r.mains-off"
    assert not mains.ok and mains.detail.startswith("MAINS IS STILL OFF on rig 'bench-r'")
    assert f"marker {marker}" in mains.detail and "Switch the supply or relay on by hand" in mains.detail


def test_probe_names_a_live_run_holding_the_rig_instead_of_its_marker(tmp_path, bench):
    from hubrig.harness.rig.lock import RigLock

    write, _ = bench
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "bench-r.mains-off").write_text('{"cut_at": "03:00"}')  # mid-outage, not stale
    lock = RigLock(tmp_path / "state", "bench-r")
    lock.acquire()
    try:
        rows = {(r.name, r.check): r for r in probe_rig(write())}
    finally:
        lock.release()
    mains = rows["mains", "reachable"]
    assert mains.ok and f"in use by a live run: pid {os.getpid()}" in mains.detail


def test_rig_check_cli_prints_the_table_and_fails_when_an_instrument_is_silent(tmp_path, bench, capsys,
                                                                              monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    write, _ = bench
    assert main(["rig", "check", str(write(limit_sets="sec-h3.14g"))]) == 0
    out = capsys.readouterr().out
    assert "valid rig file for bench-r (real)" in out and "Keysight" in out and "loop://" in out
    assert main(["rig", "check", str(write(port="/dev/hubrig-no-such-port"))]) == 1
    assert "/dev/hubrig-no-such-port" in capsys.readouterr().out


def test_rig_check_cli_on_the_virtual_rig(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["rig", "check", str(VIRTUAL)]) == 0
    out = capsys.readouterr().out
    assert "supply" in out and "itch" in out and "AC6801B" in out


def test_rig_check_cli_bad_file_is_one_message(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(VIRTUAL.read_text().replace("seed: 1", "seed: one"))
    assert main(["rig", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"bad.yaml:{VIRTUAL.read_text().splitlines().index('seed: 1') + 1}: seed: " in err and "Traceback" not in err


def test_default_rig_is_the_shipped_virtual_rig():
    assert default_rig_file() == VIRTUAL.resolve()


def test_a_relay_bench_switches_mains_through_the_relay_and_restores_it(tmp_path, bench, monkeypatch):
    """mains_switch: relay on a real-kind rig: cut and restore go through the HID relay board
    (a fake pyusb backend), the supply is left alone, and closing the session leaves the relay closed."""
    from hubrig.drivers import relay as relay_driver
    from tests.test_relay import Board, FakeBackend

    board = Board(relays=2)
    real_open = relay_driver.open_relay
    monkeypatch.setattr(relay_driver, "open_relay",
                        lambda cfg, clock, bus, backend=None: real_open(cfg, clock, bus, FakeBackend(board)))
    write, supply = bench
    path = write()
    path.write_text(path.read_text().replace(
        "  itch:", "  relay: {channel: 2, mains_on_when: closed}\n  mains_switch: relay\n  itch:"))
    with open_rig(path, tmp_path / "run") as rig:
        assert board.state == 0b10  # a run starts with mains on: relay 2 closed
        with rig.mains.outage(seconds=0.05) as out:
            assert board.state == 0  # the relay cut mains
        assert not supply.changes  # the supply (powering something else) was never switched
        assert board.state == 0b10 and out.restore_ns > out.cut_ns
        rig.mains.cut()
    assert board.state == 0b10  # closing the session restored mains
