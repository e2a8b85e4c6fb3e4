"""The virtual bench in virtual time: outages, alerts, POA, defects, determinism, commands."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.transport import InProcessTransport
from harness.clock import NS_PER_S, VirtualClock, to_ns
from harness.gbcs import security
from harness.gbcs.builder import build_command
from harness.gbcs.envelope import decode_cosem_datetime, parse
from harness.linkframing import Frame, GfiFraming, Notification
from harness.virtual.bench import VirtualBench
from harness.virtual.esme import OUTAGE_RESTORED, OUTAGE_RESTORED_3_MIN, SUPPLY_INTERRUPTED
from harness.virtual.params import VirtualParams
from harness.virtual.supply import VirtualSupply
from harness.virtual.testkeys import ensure_test_keys, rig_parties

ESME, CH, ACB = "00DB1234567890A0", "00DB1234567890A3", "90B3D51F30000002"
DUT = SimpleNamespace(esme=SimpleNamespace(eui=ESME), comms_hub=SimpleNamespace(eui=CH), acb=ACB)
POA_PATTERN = r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return ensure_test_keys(tmp_path_factory.mktemp("virtual-keys"), rig_parties(DUT))


class Rig:
    """A virtual bench with its supply and the harness side of the wire, in virtual time."""

    def __init__(self, keys, virtual: dict | None = None, seed: int = 1):
        self.clock = VirtualClock()
        self.keys = keys
        self.transport = InProcessTransport(self.clock)
        self.supply = VirtualSupply(self.clock, dialect="generic-scpi")
        self.bench = VirtualBench(VirtualParams.model_validate(virtual or {}), DUT, self.clock, keys,
                                  self.transport, self.supply, seed=seed)
        self.framing = GfiFraming(notifications={"poa": POA_PATTERN})
        self.received: list[tuple[int, object]] = []
        self.transport.start(lambda chunk, t: self.received.extend((t, i) for i in self.framing.feed(chunk)))
        self.supply.write("OUTP ON")
        self.clock.advance(1)

    def outage(self, seconds: float, then: float = 4000) -> tuple[int, int]:
        cut = self.clock.now_ns()
        self.supply.write("OUTP OFF")
        self.clock.advance(seconds)
        restore = self.clock.now_ns()
        self.supply.write("OUTP ON")
        self.clock.advance(then)
        return cut, restore

    def poas(self) -> list[tuple[int, Notification]]:
        return [(t, i) for t, i in self.received if isinstance(i, Notification)]

    def alerts(self) -> list[tuple[int, object]]:
        found = []
        for t, item in self.received:
            if isinstance(item, Frame):
                found.append((t, parse(item.payload)))
        return found


def alert_fields(message):
    """(alert code, alert time, interruption, restoration) from an ECS80 DLMS data-notification."""
    body = message.content
    at = body.index(b"\x12") + 1
    code = int.from_bytes(body[at:at + 2], "big")
    times = []
    pos = at + 2
    for _ in range(3):
        assert body[pos:pos + 2] == b"\x09\x0c"
        times.append(decode_cosem_datetime(body[pos + 2:pos + 14]))
        pos += 14
    return code, *times


def test_a_200_s_outage_gives_one_poa_and_one_signed_8f36_with_the_true_times(keys):
    rig = Rig(keys, {"preset": "central-south", "esme": {"clock_offset_s": 7.0}})
    cut, restore = rig.outage(200)
    poas, alerts = rig.poas(), rig.alerts()
    assert [n.fields["eui"] for _, n in poas] == [CH]
    assert len(alerts) == 1
    _, message = alerts[0]
    assert message.originator == ESME and message.message_code == 0x0067
    assert security.verify_signature(message, keys) is True
    code, _, interrupted, restored = alert_fields(message)
    assert code == OUTAGE_RESTORED_3_MIN
    offset = timedelta(seconds=7)
    assert abs(interrupted - (rig.clock.wall(cut) + offset)) <= timedelta(milliseconds=10)
    assert abs(restored - (rig.clock.wall(restore) + offset)) <= timedelta(milliseconds=10)
    assert [e.code for e in rig.bench.esme.event_log] == [SUPPLY_INTERRUPTED]


def test_a_60_s_outage_gives_an_8f35_and_no_poa(keys):
    rig = Rig(keys)
    rig.outage(60)
    assert rig.poas() == []
    assert [alert_fields(m)[0] for _, m in rig.alerts()] == [OUTAGE_RESTORED]


def test_ground_truth_holds_what_reached_the_wire_at_the_instant_it_arrived(keys):
    rig = Rig(keys, {"preset": "north"})
    cut, restore = rig.outage(250)
    truth = rig.bench.ground_truth
    on_wire = truth.on_link()
    assert [e.kind for e in on_wire] == ["poa", "alert"]  # North: the POA waits for its window
    assert [e.t_ns for e in on_wire] == [t for t, _ in rig.received]
    assert truth.outages()[0].cut_ns == cut and truth.outages()[0].restore_ns == restore


def run(keys, virtual: dict, seed: int = 1, outages=(200, 60, 400, 30, 190)):
    rig = Rig(keys, virtual, seed)
    for seconds in outages:
        rig.outage(seconds, then=3000)
    return rig


def signature(emissions):
    return [(e.t_ns, e.device, e.kind, e.alert_code, e.payload_hex) for e in emissions]


def test_same_seed_same_emissions_at_the_same_instants(keys):
    a = run(keys, {"preset": "central-south"}, seed=11).bench.ground_truth
    b = run(keys, {"preset": "central-south"}, seed=11).bench.ground_truth
    assert signature(a.emissions) == signature(b.emissions)
    assert [e.kind for e in a.on_link()].count("poa") == 3  # the 200, 400 and 190 s outages
    assert [e.kind for e in a.on_link()].count("alert") == 5


def test_another_seed_changes_the_dither_and_so_the_instants_only(keys):
    a = run(keys, {"preset": "central-south"}, seed=11).bench.ground_truth
    b = run(keys, {"preset": "central-south"}, seed=12).bench.ground_truth
    assert [e.t_ns for e in a.on_link()] != [e.t_ns for e in b.on_link()]
    assert [(e.kind, e.alert_code) for e in a.on_link()] == [(e.kind, e.alert_code) for e in b.on_link()]


def test_central_south_delivers_poa_and_pra_only_after_reboot_reconnect_and_dither(keys):
    rig = Rig(keys, {"preset": "central-south"})
    cut, restore = rig.outage(300)
    ch = rig.bench.params.ch
    earliest = restore + to_ns(ch.reboot_s + ch.reconnect_s + ch.dither.min_s)
    latest = restore + to_ns(ch.reboot_s + ch.reconnect_s + ch.dither.max_s + 1)
    assert all(earliest <= e.t_ns <= latest for e in rig.bench.ground_truth.on_link())


# ---------------------------------------------------------------- defects

BASE = {"preset": "compliant"}
SCENARIO = (200, 60)
PRA_CODES = {OUTAGE_RESTORED, OUTAGE_RESTORED_3_MIN}


def with_defect(keys, **defect):
    base = run(keys, BASE, outages=SCENARIO).bench.ground_truth
    faulty = run(keys, {**BASE, "defects": defect}, outages=SCENARIO).bench.ground_truth
    return signature(base.on_link()), signature(faulty.on_link()), faulty


def is_pra(entry) -> bool:
    return entry[3] in PRA_CODES


def test_no_poa_removes_exactly_the_poa(keys):
    base, faulty, _ = with_defect(keys, no_poa=True)
    assert any(e[2] == "poa" for e in base)
    assert faulty == [e for e in base if e[2] != "poa"]


def test_poa_delay_moves_exactly_the_poa(keys):
    base, faulty, _ = with_defect(keys, poa_delay_s=100)
    late = [((e[0] + 100 * NS_PER_S) if e[2] == "poa" else e[0], *e[1:]) for e in base]
    assert sorted(faulty) == sorted(late)
    assert faulty != base


def test_no_pra_removes_exactly_the_restoration_alerts(keys):
    base, faulty, _ = with_defect(keys, no_pra=True)
    assert faulty == [e for e in base if not is_pra(e)]
    assert len(faulty) < len(base)


def test_pra_delay_moves_exactly_the_restoration_alerts(keys):
    base, faulty, _ = with_defect(keys, pra_delay_s=45)
    moved = [((e[0] + 45 * NS_PER_S) if is_pra(e) else e[0], *e[1:]) for e in base]
    assert sorted(faulty) == sorted(moved)
    assert faulty != base


def test_wrong_pra_code_turns_the_8f36_into_an_8f35_and_nothing_else(keys):
    base, faulty, _ = with_defect(keys, wrong_pra_code=True)
    assert [e[3] for e in base if is_pra(e)] == [OUTAGE_RESTORED_3_MIN, OUTAGE_RESTORED]
    assert [e[3] for e in faulty if is_pra(e)] == [OUTAGE_RESTORED, OUTAGE_RESTORED]
    assert [e[:3] for e in faulty] == [e[:3] for e in base]
    assert [e for e in faulty if not is_pra(e)] == [e for e in base if not is_pra(e)]


def test_timestamp_error_shifts_the_times_inside_the_alert_only(keys):
    base, faulty, _ = with_defect(keys, timestamp_error_s=30)
    assert [e[:4] for e in faulty] == [e[:4] for e in base]
    for good, bad in zip((e for e in base if is_pra(e)), (e for e in faulty if is_pra(e))):
        g, b = alert_fields(parse(bytes.fromhex(good[4]))), alert_fields(parse(bytes.fromhex(bad[4])))
        assert g[0] == b[0] and g[1] == b[1]
        assert (b[2] - g[2], b[3] - g[3]) == (timedelta(seconds=30), timedelta(seconds=30))


def test_pra_before_poa_sends_the_poa_right_after_its_pra(keys):
    base, faulty, _ = with_defect(keys, pra_before_poa=True)
    kinds = lambda entries: [("pra" if is_pra(e) else e[2]) for e in entries]
    assert kinds(base)[:2] == ["poa", "pra"] and kinds(faulty)[:2] == ["pra", "poa"]
    assert faulty[0] == base[1] and faulty[2:] == base[2:]
    assert faulty[1][1:] == base[0][1:] and faulty[1][0] > faulty[0][0]


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_dropped_frames_are_exactly_what_is_missing_from_the_wire(keys, ratio):
    base, faulty, truth = with_defect(keys, drop_ratio=ratio)
    dropped = signature(truth.dropped)
    assert sorted(faulty + dropped) == sorted(base)
    assert dropped and (ratio == 1.0) == (faulty == [])
