"""The virtual ESME's power event log and its ECS35e read, through the real command sender."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hubrig.harness.rig.commands import sender_for
from hubrig.harness.rig.session import open_rig
from hubrig.harness.virtual.esme import PowerLogEntry
from tests.test_power_outage_plan import COMPLIANT, make_rig


@pytest.fixture
def session(tmp_path):
    rig = make_rig(tmp_path, COMPLIANT + "  esme: {clock_offset_s: 4.6}\n")
    with open_rig(rig, tmp_path / "out") as s:
        s.mains.restore()
        yield s


def outage(session, seconds: float) -> tuple[int, int]:
    with session.mains.outage(seconds) as out:
        pass
    session.clock.sleep(120)
    return out.cut_ns, out.restore_ns


def test_each_outage_logs_its_interruption_and_restoration_by_the_esme_clock_with_rising_counters(session):
    esme = session.bench.esme
    (cut1, restore1), (cut2, restore2) = outage(session, 60), outage(session, 200)
    log = esme.power_event_log
    assert [(e.code, e.counter) for e in log] == [(0x8F57, 1), (0x8F35, 2), (0x8F57, 3), (0x8F36, 4)]
    for entry, instant in zip(log, (cut1, restore1, cut2, restore2)):
        # the ESME notices at once (no sense delay here) and stamps by its own clock, 4.6 s fast
        assert entry.t_ns == instant
        assert entry.device_time == session.clock.wall(instant) + timedelta(seconds=4.6)


def test_the_ecs35e_read_returns_the_entries_in_its_range_in_whole_seconds(session):
    esme, sender = session.bench.esme, sender_for(session)
    outage(session, 60)
    first_restore = esme.power_event_log[-1]
    outage(session, 60)
    ex = sender.read_power_event_log(first_restore.device_time - timedelta(seconds=0.5), session.clock.wall())
    assert ex.ok and ex.response.data["mac"] == "valid" and ex.name == "ECS35e"
    want = [e for e in esme.power_event_log if e.device_time.replace(microsecond=0)
            >= first_restore.device_time.replace(microsecond=0)]
    assert [(e["event_code"], e["counter"], e["timestamp"]) for e in ex.body["power_event_log"]] == [
        (f"{e.code:04X}", e.counter, e.device_time.replace(microsecond=0).isoformat()) for e in want]
    assert len(want) == 3
    empty = sender.read_power_event_log(session.clock.wall() + timedelta(days=1), session.clock.wall() + timedelta(days=2))
    assert empty.ok and empty.body["power_event_log"] == []


def test_the_defects_drop_the_restoration_entry_or_shift_the_time_stamps(tmp_path):
    rig = make_rig(tmp_path, COMPLIANT + "  defects: {power_log_missing_restoration: true, power_log_time_error_s: -7}\n")
    with open_rig(rig, tmp_path / "out") as s:
        s.mains.restore()
        with s.mains.outage(60) as out:
            pass
        log: list[PowerLogEntry] = s.bench.esme.power_event_log
        assert [e.code for e in log] == [0x8F57]
        assert log[0].device_time == s.clock.wall(out.cut_ns) - timedelta(seconds=7)
