"""``hubrig han serve``: a separate process serves the virtual stick; the HAN driver (bellows) uses it."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from hubrig.drivers.han import open_han
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import Journal
from hubrig.harness.clock import RealClock
from hubrig.harness.cli import main

pytestmark = pytest.mark.realtime


@pytest.mark.parametrize("how", [["--pty"], ["--tcp", "127.0.0.1:0"]])
def test_served_stick_is_reachable_by_the_driver(tmp_path, how):
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from hubrig.harness.cli import main; sys.exit(main())", "han", "serve", *how, "--seconds", "60"],
                            stdout=subprocess.PIPE, text=True)
    clock = RealClock()
    try:
        first = proc.stdout.readline()
        assert "serving at" in first, first
        where = first.rsplit(" ", 1)[1].strip()
        assert where.startswith("socket://127.0.0.1:") if how[0] == "--tcp" else where.startswith("/")
        with Journal(tmp_path / "j.sqlite") as journal:
            han = open_han(SimpleNamespace(port=where, baudrate=115200, flow_control="hardware"), clock,
                           EventBus(clock), journal)
            try:
                assert han.read_identity().protocol_version == 13
                scan = han.active_scan(channels=[20], duration=0)
            finally:
                han.close()
        assert scan.complete and scan.networks[0].pan_id == 0x1A62
    finally:
        proc.terminate()
        proc.wait(10)
        clock.close()


def test_serve_refuses_a_non_loopback_address(capsys):
    assert main(["han", "serve", "--tcp", "192.0.2.1:9999"]) == 2
    assert "loopback only" in capsys.readouterr().err
