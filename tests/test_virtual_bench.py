"""The virtual bench in virtual time: outages, alerts, POA, defects, determinism, commands."""

from __future__ import annotations

import math

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hubrig.drivers.transport import InProcessTransport
from hubrig.harness.clock import NS_PER_S, VirtualClock, to_ns
from hubrig.harness.gbcs import security
from hubrig.harness.gbcs.builder import build_command
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.envelope import decode_cosem_datetime, parse
from hubrig.harness.capture.framing import Frame, GfiFraming, Notification
from hubrig.harness.rig.session import default_rig_file
from hubrig.harness.rig.file import load_rig
from hubrig.harness.virtual.bench import VirtualBench
from hubrig.harness.virtual.esme import OUTAGE_RESTORED, OUTAGE_RESTORED_3_MIN, SUPPLY_INTERRUPTED
from hubrig.harness.virtual.params import VirtualParams
from hubrig.harness.virtual.presets import STUDY
from hubrig.harness.virtual.supply import VirtualSupply
from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

ESME, CH, ACB = "00DB1234567890A0", "00DB1234567890A3", "90B3D51F30000002"
DUT = load_rig(default_rig_file()).dut
assert (DUT.esme.eui, DUT.comms_hub.eui, DUT.acb) == (ESME, CH, ACB)
POA_PATTERN = r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"
CH_PRA_PATTERN = r"^DCC:ALERT#0:PRA:(?P<eui>[0-9A-F]{16})$"


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
        self.framing = GfiFraming(notifications={"poa": POA_PATTERN, "ch-pra": CH_PRA_PATTERN})
        self.received: list[tuple[int, object]] = []
        self.transport.start(lambda chunk, t: self.received.extend((t, i) for i in self.framing.feed(chunk)))
        self.supply.write("OUTP ON")
        self.clock.advance(1.237)  # off the whole second, so sub-second times are checked

    def outage(self, seconds: float, then: float = 4000) -> tuple[int, int]:
        cut = self.clock.now_ns()
        self.supply.write("OUTP OFF")
        self.clock.advance(seconds)
        restore = self.clock.now_ns()
        self.supply.write("OUTP ON")
        self.clock.advance(then)
        return cut, restore

    def poas(self) -> list[tuple[int, Notification]]:
        return [(t, i) for t, i in self.received if isinstance(i, Notification) and i.name == "poa"]

    def ch_pras(self) -> list[tuple[int, Notification]]:
        return [(t, i) for t, i in self.received if isinstance(i, Notification) and i.name == "ch-pra"]

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


def test_north_option_b_reports_restoration_from_the_ch_instead_of_forwarding_the_ecs80(keys):
    rig = Rig(keys, {"preset": "north-option-b"})
    cut, restore = rig.outage(400)
    (t, note), = rig.ch_pras()
    assert note.fields["eui"] == CH and t > restore
    assert [alert_fields(m)[0] for _, m in rig.alerts()] == []  # the ESME's 8F36 stays on the HAN
    (truth,) = rig.bench.ground_truth.select("pra")
    assert truth.t_ns == t
    assert any("not forwarded" in e.detail for e in rig.bench.ground_truth.select("event"))


def test_an_esme_reboot_with_mains_on_is_no_outage_for_any_preset(keys):
    for preset in ("compliant", "central-south", "north", "north-option-b"):
        rig = Rig(keys, {"preset": preset, "esme": {"reboot_power_gap_s": 30.0}})
        rig.bench.esme.reboot()
        rig.clock.advance(3000)
        assert rig.poas() == [] and rig.alerts() == [] and rig.ch_pras() == [], preset
        assert rig.bench.esme.booted and SUPPLY_INTERRUPTED not in [e.code for e in rig.bench.esme.event_log]


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
    rig = Rig(keys, {"preset": "central-south-option-a"})  # no POA window: both wait for the CH alone
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


# ---------------------------------------------------------------- the 3-minute boundary

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(duration_ms=st.integers(175_000, 185_000), drift_ppm=st.integers(-1000, 1000),
       offset_s=st.floats(-300, 300))
def test_the_restoration_alert_lands_on_the_right_side_of_3_minutes_by_the_esme_clock(
        keys, duration_ms, drift_ppm, offset_s):
    measured_s = duration_ms / 1000 * (1 + drift_ppm * 1e-6)
    assume(abs(measured_s - 180) >= 1e-5)  # beyond the device clock's microsecond resolution
    rig = Rig(keys, {"preset": "compliant",
                     "esme": {"clock_drift_ppm": drift_ppm, "clock_offset_s": offset_s}})
    rig.outage(duration_ms / 1000, then=60)
    codes = [alert_fields(m)[0] for _, m in rig.alerts()]
    assert codes == [OUTAGE_RESTORED_3_MIN if measured_s >= 180 else OUTAGE_RESTORED]
    assert len(rig.poas()) == (1 if duration_ms >= 180_000 else 0)  # the CH's own 3-minute timer


# ---------------------------------------------------------------- the ESME's alerts

def test_alert_counters_rise_and_every_alert_verifies(keys):
    rig = run(keys, {"preset": "compliant"}, outages=(200, 10, 190))
    messages = [m for _, m in rig.alerts()]
    counters = [m.originator_counter for m in messages]
    assert counters == sorted(set(counters)) and len(counters) == 3
    assert all(security.verify_signature(m, keys) is True for m in messages)


# ---------------------------------------------------------------- commands from the harness

READ_DEVICE_LOG = 0x010F  # CCS06


def command(keys, recipient=CH, counter=0x100, sign=False):
    return build_command(originator=ACB, recipient=recipient, counter=counter, message_code=READ_DEVICE_LOG,
                         content=bytes.fromhex("D9"), keys=keys, acb=ACB, sign=sign)


def responder(seen):
    def handle(message, raw):
        seen.append((message.originator_counter, raw))
        return [bytes.fromhex("DF0902") + message.originator_counter.to_bytes(8, "big")]
    return handle


@pytest.mark.parametrize("sign", [False, True])
def test_a_good_command_reaches_the_ch_handler_and_its_response_goes_back(keys, sign):
    rig, seen = Rig(keys, {"preset": "compliant"}), []
    rig.bench.ch.handlers[READ_DEVICE_LOG] = responder(seen)
    raw = command(keys, sign=sign)
    rig.transport.write(GfiFraming().encode(raw))
    rig.clock.advance(1)
    assert seen == [(0x100, raw)]
    responses = [i.payload for _, i in rig.received if isinstance(i, Frame)]
    assert responses == [bytes.fromhex("DF0902") + (0x100).to_bytes(8, "big")]
    assert [e.kind for e in rig.bench.ground_truth.on_link()] == ["response"]


def corrupt_mac(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0x01])


def corrupt_signature(raw: bytes) -> bytes:
    message = parse(raw)
    at = raw.index(message.signature)
    return raw[:at] + bytes([raw[at] ^ 0x80]) + raw[at + 1:]


@pytest.mark.parametrize("damage, sign, reason", [
    (corrupt_mac, False, "MAC"),
    (corrupt_signature, True, "signature"),
])
def test_a_command_with_a_bad_signature_or_mac_is_rejected_silently_and_recorded(keys, damage, sign, reason):
    rig, seen = Rig(keys, {"preset": "compliant"}), []
    rig.bench.ch.handlers[READ_DEVICE_LOG] = responder(seen)
    bad = damage(command(keys, sign=sign))
    rig.transport.write(GfiFraming().encode(bad))
    rig.clock.advance(5)
    assert seen == [] and rig.received == []
    assert len(rig.bench.ch.rejected) == 1 and reason in rig.bench.ch.rejected[0][1]
    events = rig.bench.ground_truth.select("event", alert_code=0x8F53)
    assert len(events) == 1 and reason in events[0].detail


def test_an_unauthenticated_command_is_rejected(keys):
    from hubrig.harness.gbcs.builder import build_message

    rig, seen = Rig(keys, {"preset": "compliant"}), []
    rig.bench.ch.handlers[READ_DEVICE_LOG] = responder(seen)
    bare = build_message(cra="command", originator=ACB, recipient=CH, counter=1, message_code=READ_DEVICE_LOG,
                         content=b"\xd9", keys=keys, general_ciphering=False, sign=False)
    rig.transport.write(GfiFraming().encode(bare))
    rig.clock.advance(1)
    assert seen == [] and "neither signed nor MACed" in rig.bench.ch.rejected[0][1]


def test_a_command_for_the_esme_is_forwarded_over_the_han_and_answered(keys):
    rig, seen = Rig(keys, {"preset": "compliant"}), []
    rig.bench.esme.handlers[READ_DEVICE_LOG] = responder(seen)
    rig.transport.write(GfiFraming().encode(command(keys, recipient=ESME, counter=7)))
    sent = rig.clock.now_ns()
    rig.clock.advance(5)
    assert [c for c, _ in seen] == [7]
    (t, item), = rig.received
    han = to_ns(2 * rig.bench.params.esme.han_latency_s)
    assert t >= sent + han and isinstance(item, Frame)


@pytest.mark.parametrize("recipient, message_code", [(CH, 0x0001), (ESME, 0x0062)])  # CCS01, ECS70
def test_a_command_whose_content_is_not_its_use_case_is_not_answered_and_the_devices_carry_on(
        keys, recipient, message_code):
    rig = Rig(keys, {"preset": "compliant"})
    ccs06 = builders.ccs06_command(invoke_id=9)
    wrong = build_command(originator=ACB, recipient=recipient, counter=9, message_code=message_code,
                          content=ccs06, keys=keys, acb=ACB)
    rig.transport.write(GfiFraming().encode(wrong))
    rig.clock.advance(5)
    assert rig.received == []
    assert "content not understood" in rig.bench.ch.rejected[-1][1]
    good = build_command(originator=ACB, recipient=CH, counter=10, message_code=READ_DEVICE_LOG, content=ccs06,
                         keys=keys, acb=ACB)
    rig.transport.write(GfiFraming().encode(good))  # the devices carry on: a real CCS06 is answered
    rig.clock.advance(5)
    [(_, frame)] = rig.received
    assert parse(frame.payload).message_code == READ_DEVICE_LOG


def test_a_ch_that_is_down_hears_no_command(keys):
    rig, seen = Rig(keys, {"preset": "central-south"}), []
    rig.bench.ch.handlers[READ_DEVICE_LOG] = responder(seen)
    rig.supply.write("OUTP OFF")
    rig.clock.advance(60)  # past the 20 s hold-up
    rig.transport.write(GfiFraming().encode(command(keys)))
    rig.clock.advance(1)
    assert seen == [] and "not connected" in rig.bench.ch.rejected[0][1]


# ---------------------------------------------------------------- presets against the DCC study

def latencies(keys, preset: str, outage_s: float, trials: int, then: float):
    """(POA seconds from cut, PRA seconds from restore) per trial, from the ground truth."""
    rig = Rig(keys, {"preset": preset}, seed=5)
    poa, pra = [], []
    for _ in range(trials):
        cut, restore = rig.outage(outage_s, then=then)
        emitted = rig.bench.ground_truth.select(since_ns=cut)
        poa += [(e.t_ns - cut) / NS_PER_S for e in emitted if e.kind == "poa"]
        pra += [(e.t_ns - restore) / NS_PER_S for e in emitted
                if (e.kind == "alert" and e.alert_code in PRA_CODES) or e.kind == "pra"]
    return poa, pra


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


FIDELITY_TRIALS = 1000


def percentile_interval(values, q):
    """The sample's 95 % confidence interval for the ``q`` quantile (order statistics, normal
    approximation of the binomial): sampling alone moves a percentile within it."""
    ordered, n = sorted(values), len(values)
    half = 1.96 * math.sqrt(q * (1 - q) / n)
    return ordered[max(0, math.floor((q - half) * n))], ordered[min(n - 1, math.ceil((q + half) * n))]


@pytest.mark.parametrize("preset", sorted(STUDY))
def test_each_preset_reproduces_its_column_of_the_dcc_study_within_15_s(keys, preset):
    """POA from the interruption and PRA from the restoration at p50 and p80, from the ground truth
    of 1,000 seeded outages: the study's figure lies within 15 s of the percentile's 95 % interval."""
    column = STUDY[preset]
    poa, pra = latencies(keys, preset, column.outage_s, FIDELITY_TRIALS, then=3000)
    assert len(poa) == len(pra) == FIDELITY_TRIALS
    checks = [("POA", 0.5, poa, column.poa_s[0]), ("POA", 0.8, poa, column.poa_s[1]),
              ("PRA", 0.5, pra, column.pra_s[0]), ("PRA", 0.8, pra, column.pra_s[1])]
    for alert, q, values, study in checks:
        low, high = percentile_interval(values, q)
        assert low - 15.0 <= study <= high + 15.0, (
            f"{preset} at {column.outage_s:g} s: {alert} p{round(100 * q)} = {pct(values, q):.0f} s "
            f"(95 % interval {low:.0f}..{high:.0f} s), study {study:.0f} s")


def test_the_bench_gives_its_devices_the_device_log_and_clock_rules_from_the_rig_file(keys):
    rig = Rig(keys, {"preset": "compliant", "defects": {"no_8F12": True, "no_81C6": True}})
    bench = rig.bench
    assert {0x0001, 0x0002, 0x010F, 0x00FE} <= set(bench.ch.handlers)  # CCS01/02/06/07
    assert {0x0062, 0x00AC, 0x00EC, 0x00EE, 0x0048} <= set(bench.esme.handlers)  # ECS70, ECS25a, ECS25a3, ECS25r1, ECS35a
    (commissioned,) = bench.device_log.log.active
    assert (commissioned.eui, commissioned.install_code, commissioned.joined) == (
        ESME, DUT.esme.install_code_bytes, True)
    assert not bench.device_log.log.raises_change_alert() and bench.clock_rules.clock.defects.no_81C6
    assert bench.clock_rules.clock.gbcs == (3, 2) and bench.clock_rules.clock.tolerance_s == DUT.clock_tolerance_s
    assert bench.clock_rules.clock.bit_of == {0x81C6: 0xC6}


def test_an_accepted_set_clock_moves_the_esme_device_time_its_alerts_and_its_event_log(keys):
    rig = Rig(keys, {"preset": "central-south"})
    esme, rules = rig.bench.esme, rig.bench.clock_rules
    shift = timedelta(seconds=7)
    outcome = rules.clock.set_clock(esme.device_time() + shift)
    assert outcome.adjusted
    assert abs(esme.device_time() - (rig.clock.wall() + shift)) <= timedelta(microseconds=1)
    cut, restore = rig.outage(200)
    (_, message), = rig.alerts()
    code, stamp, interrupted, restored = alert_fields(message)
    assert abs(interrupted - (rig.clock.wall(cut) + shift)) <= timedelta(milliseconds=10)
    assert abs(restored - (rig.clock.wall(restore) + shift)) <= timedelta(milliseconds=10)
    assert abs(esme.event_log[-1].device_time - (rig.clock.wall(cut) + shift)) <= timedelta(milliseconds=1)
    # an adjustment is not retroactive: the device time of an instant before it is unchanged
    assert esme.device_time(0) == rig.clock.wall(0)


def test_a_refused_set_clock_leaves_the_device_time_alone(keys):
    rig = Rig(keys, {"preset": "compliant"})
    before = rig.bench.esme.device_time()
    assert not rig.bench.clock_rules.clock.set_clock(before + timedelta(minutes=5)).adjusted
    assert rig.bench.esme.device_time() == before
