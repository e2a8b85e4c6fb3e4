"""``hubrig rig check`` proves each instrument can do its job, not just that it answers ``*IDN?``.

The supply checks run against a third-party simulator, pyvisa-sim, with an instrument file written
from Rigol's DP800 programming guide (``rigs/examples/sim/rigol-dp832.yaml``, shipped with the
example rig file that uses it): the right dialect passes every check; a wrong one (issue 14: a
DP832 configured as ``keysight-e36xx``) fails, naming the dialect that fits. Instruments that
answer garbage, another series of the same maker, old errors, and an ITCH link carrying bytes that
never frame are each caught with what to check.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from pathlib import Path

import pytest

from hubrig.drivers.psu import open_supply
from hubrig.drivers.psu.checks import check_supply
from hubrig.harness.cli import main
from hubrig.harness.clock import VirtualClock
from hubrig.harness.rig.file import SafetyLimits, SupplyConfig, load_rig
from hubrig.harness.rig.session import probe_rig
from hubrig.harness.virtual.supply import VirtualSupply

pytest.importorskip("pyvisa_sim")

ROOT = Path(__file__).resolve().parent.parent
SIM_RIG = ROOT / "rigs" / "examples" / "bench-sim-dp832.yaml"


@pytest.fixture
def sim_rig(tmp_path):
    """The shipped simulator rig, copied (with its instrument file) so its state folder is private."""
    shutil.copytree(SIM_RIG.parent / "sim", tmp_path / "sim")
    path = tmp_path / SIM_RIG.name

    def write(**replace: str) -> Path:
        text = SIM_RIG.read_text()
        for old, new in replace.items():
            text = text.replace(old, new)
        path.write_text(text)
        return path

    return write


def rows_of(path: Path) -> dict[tuple[str, str], object]:
    return {(r.name, r.check): r for r in probe_rig(path)}


def test_the_sim_rig_passes_every_check(sim_rig, capsys):
    path = sim_rig()
    assert load_rig(path).instruments.supply.visa_library == f"{path.parent / 'sim' / 'rigol-dp832.yaml'}@sim"
    assert main(["rig", "check", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {(c["instrument"], c["check"]): c for c in report["checks"]}
    assert report["ok"] and all(c["status"] == "pass" for c in checks.values())
    assert checks["supply", "identity"]["detail"].startswith("RIGOL TECHNOLOGIES,DP832")
    assert checks["supply", "output state"]["detail"].startswith("output off (channel 1")
    assert checks["supply", "measurement"]["detail"].startswith("0 V measured")
    assert checks["supply", "error queue"]["detail"].startswith("empty")
    assert "offers no link-level request" in checks["itch", "link"]["detail"]


def test_a_dp832_configured_as_keysight_e36xx_is_caught_and_the_fitting_dialect_named(sim_rig, capsys,
                                                                                   monkeypatch):
    path = sim_rig(**{"dialect: rigol-dp800": "dialect: keysight-e36xx"})
    rows = rows_of(path)
    identity = rows["supply", "identity"]
    assert not identity.ok and "RIGOL TECHNOLOGIES,DP832" in identity.detail and "keysight-e36xx" in identity.detail
    assert identity.fix == "set instruments.supply.dialect: rigol-dp800"
    state = rows["supply", "output state"]  # the E36xx's OUTP? is not a DP832 command
    assert not state.ok and "'OUTP?'" in state.detail and "instruments.supply.dialect" in state.fix
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["rig", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "set instruments.supply.dialect: rigol-dp800" in out and "check(s) failed" in out


def test_a_dialect_of_the_same_maker_but_another_series_warns(sim_rig):
    path = sim_rig()  # the simulated instrument now says it is a model outside the DP800 series
    (path.parent / "sim" / "rigol-dp832.yaml").write_text(
        (path.parent / "sim" / "rigol-dp832.yaml").read_text().replace("DP832,DP8C", "DP932,DP8C"))
    identity = rows_of(path)["supply", "identity"]
    assert identity.ok and identity.warning and "not a Rigol DP800 DC supply" in identity.detail


def served(dialect: str, idn: str | None = None):
    scheduler = VirtualClock()
    return VirtualSupply(scheduler, dialect=dialect, idn=idn), scheduler


def cfg(dialect: str) -> SupplyConfig:
    return SupplyConfig(resource="virtual", dialect=dialect, voltage=12.0, current_limit=1.0, verify=False,
                        safety=SafetyLimits(max_voltage=13.0, max_current=2.0))


def test_generic_scpi_on_a_known_instrument_passes_with_advice():
    virtual, clock = served("generic-scpi", idn="RIGOL TECHNOLOGIES,DP832,X,1")
    rows = check_supply(open_supply(cfg("generic-scpi"), clock, None, endpoint=virtual), cfg("generic-scpi"))
    identity = rows[0]
    assert identity.ok and identity.warning and identity.fix == "set instruments.supply.dialect: rigol-dp800"
    assert all(r.ok for r in rows)


def test_old_errors_are_reported_as_a_warning_and_do_not_fail_the_queue_check():
    virtual, clock = served("keysight-e36xx")
    virtual.write("BOGUS:COMMAND")  # left by someone else
    rows = {r.check: r for r in check_supply(open_supply(cfg("keysight-e36xx"), clock, None, endpoint=virtual),
                                             cfg("keysight-e36xx"))}
    assert rows["old errors"].warning and '-113,"Undefined header"' in rows["old errors"].detail
    assert rows["error queue"].ok


class Garbage:
    """An instrument that answers every query with the same nonsense."""

    timeout = 1000.0

    def write(self, message: str) -> None:
        pass

    def read(self) -> str:
        return "\x1b[2Jhello"

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_an_instrument_answering_garbage_fails_every_check_saying_what_to_check():
    rows = check_supply(open_supply(cfg("rigol-dp800"), VirtualClock(), None, endpoint=Garbage()),
                        cfg("rigol-dp800"))
    assert rows[0].check == "identity" and not rows[0].ok and "non-printable" in rows[0].detail
    assert "instruments.supply.resource" in rows[0].fix


def test_an_itch_link_carrying_bytes_that_never_frame_fails_naming_baudrate_and_framing(tmp_path, served_supply):
    from tests.conftest import bench_rig_file

    _, server = served_supply
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def babble() -> None:
        conn, _ = listener.accept()
        with conn:
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"\x15\x8a noise at the wrong baud rate \x99\r\n")
                except OSError:
                    return

    thread = threading.Thread(target=babble, daemon=True)
    thread.start()
    try:
        path = bench_rig_file(tmp_path, resource=server.resource,
                              port=f"socket://127.0.0.1:{listener.getsockname()[1]}")
        link = rows_of(path)["itch", "link"]
    finally:
        stop.set()
        listener.close()
    assert not link.ok and "none of them gfi" in link.detail
    assert link.fix == "check instruments.itch.baudrate and instruments.itch.framing"


def test_a_relay_board_is_identified_and_its_state_read_back_without_switching(tmp_path, served_supply, monkeypatch):
    from hubrig.drivers import relay as relay_driver
    from tests.conftest import bench_rig_file
    from tests.test_relay import Board, FakeBackend

    board = Board(relays=2)
    board.state = 0b10
    real_open = relay_driver.open_relay
    monkeypatch.setattr(relay_driver, "open_relay",
                        lambda cfg, clock, bus, backend=None: real_open(cfg, clock, bus, FakeBackend(board)))
    _, server = served_supply
    path = bench_rig_file(tmp_path, resource=server.resource)
    path.write_text(path.read_text().replace("  itch:", "  relay: {channel: 2}\n  mains_switch: relay\n  itch:"))
    rows = rows_of(path)
    assert rows["relay", "identity"].ok and "channel 2" in rows["relay", "identity"].detail
    assert rows["relay", "state"].detail == "mains on (relay closed, mains on when closed)"
    assert board.state == 0b10  # probing switched nothing


@pytest.mark.parametrize("given, expected", [("@py", "@py"), ("", ""), ("@ivi", "@ivi"),
                                             ("lib/libvisa.so", "{dir}/lib/libvisa.so"),
                                             ("sim/x.yaml@sim", "{dir}/sim/x.yaml@sim"),
                                             ("/opt/visa.so", "/opt/visa.so")])
def test_visa_library_paths_resolve_against_the_rig_files_folder(sim_rig, given, expected):
    path = sim_rig(**{'visa_library: "sim/rigol-dp832.yaml@sim"': f'visa_library: "{given}"'})
    assert load_rig(path).instruments.supply.visa_library == expected.format(dir=path.parent.resolve())
