"""The virtual bench in real time behind a pty: the same devices, reached with pyserial."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import serial

from hubrig.drivers.transport import PtyPair
from hubrig.harness.clock import RealTimeScheduler
from hubrig.harness.gbcs.builder import build_command
from hubrig.harness.capture.framing import Frame, GfiFraming, Notification
from hubrig.harness.rig.session import default_rig_file
from hubrig.harness.rig.file import load_rig
from hubrig.harness.virtual.bench import VirtualBench
from hubrig.harness.virtual.params import VirtualParams
from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

ESME, CH, ACB = "00DB1234567890A0", "00DB1234567890A3", "90B3D51F30000002"
DUT = load_rig(default_rig_file()).dut
assert (DUT.esme.eui, DUT.comms_hub.eui, DUT.acb) == (ESME, CH, ACB)
FAST = {"preset": "compliant",
        "esme": {"boot_s": 0.05, "han_latency_s": 0.01, "outage_threshold_s": 0.5},
        "ch": {"poa_after_s": 0.5, "windows": {"poa": None, "pra": None}}}


@pytest.fixture
def bench(tmp_path):
    scheduler, pty = RealTimeScheduler(), PtyPair()
    keys = ensure_test_keys(tmp_path / "keys", rig_parties(DUT))
    bench = VirtualBench(VirtualParams.model_validate(FAST), DUT, scheduler, keys, pty)
    port = serial.Serial(pty.port, 115200, timeout=0.2)
    yield SimpleNamespace(bench=bench, scheduler=scheduler, port=port, keys=keys)
    port.close()
    scheduler.close()
    pty.close()


def read_items(port, framing, want: int, timeout_s: float = 5.0):
    items, deadline = [], time.monotonic() + timeout_s
    while len(items) < want and time.monotonic() < deadline:
        items += framing.feed(port.read(4096))
    return items


def test_an_outage_in_real_time_reaches_a_serial_port_as_poa_then_8f36(bench):
    framing = GfiFraming(notifications={"poa": r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"})
    def switch(on: bool) -> None:
        bench.bench.mains_changed(on, bench.scheduler.now_ns())

    bench.scheduler.call_later(0, lambda: switch(False))
    bench.scheduler.call_later(0.8, lambda: switch(True))
    items = read_items(bench.port, framing, 2)
    assert isinstance(items[0], Notification) and items[0].fields["eui"] == CH
    assert isinstance(items[1], Frame) and items[1].payload.hex().upper() == \
        bench.bench.ground_truth.select("alert")[0].payload_hex
    assert bench.bench.ground_truth.select("alert")[0].alert_code == 0x8F36


def test_a_command_written_to_the_serial_port_is_answered(bench):
    bench.bench.ch.handlers[0x010F] = lambda message, raw: [b"\xdf\x09\x02" + raw[-4:]]
    raw = build_command(originator=ACB, recipient=CH, counter=3, message_code=0x010F, content=b"\xd9",
                        keys=bench.keys, acb=ACB)
    bench.port.write(GfiFraming().encode(raw))
    items = read_items(bench.port, GfiFraming(), 1)
    assert [i.payload for i in items] == [b"\xdf\x09\x02" + raw[-4:]]
