"""The HAN stick served by the bench in another process (``hubrig bench serve``), reached through
unmodified bellows over loopback TCP or a pty: a harness killed outright does not take the stick
with it, and a stick that resets or whose port drops mid-scan costs the harness only that scan's
tail. What happened is judged from the bench's own ground-truth log."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from bench import ROOT, ServedBench, serve_bench
from hubrig.harness.rig.file import RigFileError, load_rig
from hubrig.harness.virtual.serve import real_rig

CH_EPID = "00DB1234567890A3"
"""The embedded rig's Comms Hub EUI-64: its PAN's extended PAN id."""

WATCH = """
import sys
from hubrig.drivers.han.stick import HanStick
from hubrig.harness.rig.session import open_rig

with open_rig(sys.argv[1], sys.argv[2]) as session:
    han = session.instrument("han", HanStick)
    watch = han.watch(0.2, (20,), 0)
    session.clock.wait_until(lambda: sum(s.complete for s in watch.scans) >= 2, 30.0)
    print("scanning", flush=True)
    session.clock.sleep(3600)
"""
"""A harness that keeps scanning until it is killed."""

SCAN = """
import json, sys
from hubrig.drivers.han.stick import HanStick
from hubrig.harness.rig.session import open_rig

with open_rig(sys.argv[1], sys.argv[2]) as session:
    han = session.instrument("han", HanStick)
    out = []
    for _ in range(int(sys.argv[3])):
        scan = han.active_scan(range(11, 27), duration=0)
        heard = [{"channel": n.channel, "epid": n.extended_pan_id, "journal_id": n.journal_id} for n in scan.networks]
        out.append({"complete": scan.complete, "interrupted": scan.interrupted, "heard": heard})
    frames = {f.id: f for f in session.journal.frames(source="han")}
    for scan in out:
        for n in scan["heard"]:
            n["journalled"] = (frames[n["journal_id"]].record or {}).get("name")
    links = [f.raw.decode() for f in frames.values() if f.kind == "link"]
    print(json.dumps({"scans": out, "links": links}), flush=True)
"""
"""A harness that runs active scans over channels 11 to 26 and prints what each heard, how each
ended, and the stick's link events from its journal."""


def run_harness(bench: ServedBench, script: str, out, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, str(bench.rig), str(out), *args], capture_output=True,
                          text=True, timeout=120)


def han_connects(bench: ServedBench) -> list[dict]:
    return [e for e in bench.entries("connect") if e["peer"].startswith("han")]


def virtual_rig(tmp_path, extra: str):
    path = tmp_path / "virtual.yaml"
    path.write_text((ROOT / "rigs" / "virtual.yaml").read_text() + extra)
    return path


def test_the_printed_han_section_follows_the_stick_firmware_and_its_pan(tmp_path):
    """An EmberZNet 6.10 stick runs 57600 baud with XON/XOFF; a PAN id the rig file sets is carried
    over; the result loads as a kind: real rig whose han section is the served port."""
    rig = load_rig(virtual_rig(tmp_path, "  han: {firmware: emberznet-6.10, extended_pan_id: 00DB1234567890FF}\n"))
    served = dict(supply_resource="TCPIP0::127.0.0.1::5025::SOCKET", itch_port="socket://127.0.0.1:5026",
                  keystore=tmp_path, state_dir=None)
    doc = real_rig(rig, **served, han_port="socket://127.0.0.1:5027")
    assert doc["instruments"]["han"] == {"port": "socket://127.0.0.1:5027", "radio": "ezsp", "baudrate": 57600,
                                         "flow_control": "software", "scan_cadence_s": 5.0, "scan_duration": 2,
                                         "channel": 20, "extended_pan_id": "00DB1234567890FF"}
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    real = load_rig(tmp_path / "real.yaml")
    assert real.kind == "real" and real.instruments.section("han").port == "socket://127.0.0.1:5027"
    assert "han" not in real_rig(rig, **served)["instruments"]  # not served: left out, not 'virtual'


@pytest.mark.parametrize("faults, where", [
    ("[{kind: unplug, scan: 1}]", r"bench\.han_faults\.0\.kind"),
    ("[{kind: reset, scan: 0}]", r"bench\.han_faults\.0\.scan"),
    ("[{kind: reset, scan: 2}, {kind: drop, scan: 2}]", r"bench\.han_faults: .*one fault a scan: scan 2 has 2"),
])
def test_a_han_fault_the_bench_cannot_inject_is_a_located_error(tmp_path, faults, where):
    with pytest.raises(RigFileError, match=where):
        load_rig(virtual_rig(tmp_path, f"bench:\n  han_faults: {faults}\n"))


@pytest.mark.realtime
def test_the_printed_rig_reaches_the_served_stick_on_loopback(tmp_path):
    bench = serve_bench(tmp_path)
    try:
        han = yaml.safe_load(bench.rig.read_text())["instruments"]["han"]
        (serve,) = bench.entries("serve")
    finally:
        bench.stop()
    assert han["port"].startswith("socket://127.0.0.1:") and han["port"] == serve["han"]
    assert (han["baudrate"], han["flow_control"], han["channel"]) == (115200, "hardware", 20)  # EmberZNet 7.4
    assert serve["pan_up"] is True


@pytest.mark.realtime
@pytest.mark.parametrize("link", ["tcp", "pty"])
def test_a_killed_harness_leaves_the_stick_serving_and_the_next_harness_connects(tmp_path, link):
    bench = serve_bench(tmp_path, f"  han: {link}\n")
    try:
        first = subprocess.Popen([sys.executable, "-c", WATCH, str(bench.rig), str(tmp_path / "first")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert first.stdout.readline().strip() == "scanning", first.stderr.read()[-2000:]
        finally:
            first.kill()  # SIGKILL, wherever the watch's scans are
            first.wait(timeout=30)
        scans_before = len(bench.entries("han_scan"))
        second = run_harness(bench, SCAN, tmp_path / "second", "1")
        assert bench.process.poll() is None  # the bench kept serving throughout
    finally:
        bench.stop()
    assert second.returncode == 0, second.stderr[-3000:]
    (scan,) = json.loads(second.stdout.splitlines()[-1])["scans"]
    assert scan["complete"] and [n["epid"] for n in scan["heard"]] == [CH_EPID]
    assert len(bench.entries("han_scan")) == scans_before + 1  # the new harness's scan reached the same stick
    if link == "tcp":
        assert len(han_connects(bench)) == 2
        assert any(e["peer"] == "han" for e in bench.entries("disconnect"))


@pytest.mark.realtime
@pytest.mark.parametrize("link", ["tcp", "pty"])
def test_a_port_dropped_mid_scan_keeps_what_was_heard_and_the_harness_reconnects(tmp_path, link):
    """The port drops after channel 23 of 11..26 (the CH's PAN is on 20): the interrupted scan keeps
    the PAN it heard, journalled; the link is lost then restored; the next scan completes."""
    fault = "  han_faults:\n    - {kind: drop, scan: 1, after_channels: 13, down_s: 0.5}\n"
    bench = serve_bench(tmp_path, f"  han: {link}\n" + fault)
    try:
        run = run_harness(bench, SCAN, tmp_path / "run", "2")
    finally:
        bench.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.splitlines()[-1])
    interrupted, after = got["scans"]
    assert not interrupted["complete"] and interrupted["interrupted"]
    assert [(n["channel"], n["epid"], n["journalled"]) for n in interrupted["heard"]] == \
        [(20, CH_EPID, "networkFoundHandler")]
    assert after["complete"] and [n["epid"] for n in after["heard"]] == [CH_EPID]
    assert [line.split(":")[0] for line in got["links"]] == ["lost", "restored"]
    (hit,) = bench.entries("fault")
    assert (hit["fault"], hit["scan"]) == ("han_drop", 1)
    if link == "tcp":
        assert len(han_connects(bench)) == 2
    else:
        assert bench.entries("han_port") and bench.entries("han_port")[0]["t_ns"] > hit["t_ns"]
