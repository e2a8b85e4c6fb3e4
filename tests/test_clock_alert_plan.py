"""The 0x81C6 clock alert plan against the virtual ESME, run as a user runs it (pytest on the plan
with a rig file): passes on GBCS 3.2, skips with the IRP511 reason on a GBCS 2.1 rig file, and fails
with frame evidence (the ECS70 exchange and the ECS35a event-log reads) on each clock defect."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from hubrig.harness.rig.commands import Behaviour, behaviour_write, sender_for
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.rig.session import default_rig_file, open_rig
from hubrig.testplans import test_clock_alert as plan
from tests.test_devicelog_plan import failures, rig_file, run

pytest_plugins = ["pytester"]
PLAN = Path(plan.__file__)
EXCHANGE = r"ECS70 command journal #\d+, response journal #\d+"
LOG_READS = r"ECS35a before: ECS35a command journal #\d+, response journal #\d+; after: ECS35a command journal #\d+"


def test_plan_passes_on_gbcs_3_2(pytester, tmp_path):
    run(pytester, rig_file(tmp_path), tmp_path / "out", PLAN).assert_outcomes(passed=4)
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    restored = [m for m in doc["measurements"] if m["name"].endswith("_restored")]
    assert [m["name"] for m in restored] == ["alert_behaviours_restored"] * 2 + ["logging_behaviours_restored"]
    assert all(m["verdict"] == "pass" and len(m["evidence"]) == 8 for m in restored)  # read, write, restore, read


def test_plan_skips_on_a_gbcs_2_1_esme_quoting_irp511(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, esme_gbcs="2.1"), tmp_path / "out", PLAN)
    result.assert_outcomes(skipped=4)
    text = "\n".join(result.stdout.lines)
    assert "alert_0x81C6 needs GBCS >= 3.2 but dut.esme runs GBCS 2.1" in text and "IRP511" in text


def test_0x81C6_not_raised_fails_both_refusals_naming_the_event_log_reads(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"no_81C6": True}), tmp_path / "out", PLAN)
    result.assert_outcomes(passed=2, failed=2)  # within tolerance and logging-off are unaffected
    failed = failures(tmp_path / "out")
    assert set(failed) == {"test_outside_tolerance_with_0x81C6_enabled_logs_and_alerts_it",
                           "test_outside_tolerance_with_0x81C6_disabled_logs_it_but_sends_none"}
    for name, text in failed.items():
        assert re.search(rf"0x81C6 is not in the event log after a refused adjustment \({EXCHANGE}\); "
                         rf"entries added: \[0x8F0C\] \({LOG_READS}", text), name
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    logged = [m for m in doc["measurements"] if m["name"] == "0x81C6_logged"]
    assert [(m["verdict"], m["value"], len(m["evidence"])) for m in logged] == [("fail", "[0x8F0C]", 6)] * 2


def test_an_esme_that_sends_0x81C6_while_disabled_fails_naming_the_alert_frame(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"alert_81C6_always_sent": True}), tmp_path / "out", PLAN)
    result.assert_outcomes(passed=3, failed=1)
    (text,) = failures(tmp_path / "out").values()
    assert re.search(rf"0x81C6 sent while disabled \(journal \[\d+\]\) after {EXCHANGE}", text)


def test_an_esme_that_logs_0x81C6_with_logging_off_fails_naming_the_event_log_reads(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"logs_81C6_when_logging_off": True}), tmp_path / "out", PLAN)
    result.assert_outcomes(passed=3, failed=1)
    ((name, text),) = failures(tmp_path / "out").items()
    assert name == "test_outside_tolerance_with_0x81C6_logging_off_logs_no_0x81C6"
    assert re.search(rf"0x81C6 was logged after a refused adjustment with 0x81C6 logging switched off by ECS25a3 "
                     rf"\({EXCHANGE}\); entries added: \[0x81C6, 0x8F0C\] \({LOG_READS}", text)


def test_an_esme_whose_behaviour_write_loses_the_other_settings_fails_the_restore(pytester, tmp_path):
    """A meter that takes a behaviour write as the whole object (ignoring the change mask) loses the
    supplier's logging settings: the read-back after the restore differs, and the plan says so."""
    result = run(pytester, rig_file(tmp_path, defects={"behaviour_write_ignores_mask": True}), tmp_path / "out", PLAN)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    logging = [m for m in doc["measurements"] if m["name"] == "logging_behaviours_restored"]
    assert [m["verdict"] for m in logging] == ["fail"] and "NOT restored" in str(logging[0]["value"])
    failed = failures(tmp_path / "out")
    assert any("were not restored: before '1111" in text and "ECS25r1 command journal #" in text
               for text in failed.values()), failed


@pytest.fixture
def session(tmp_path):
    with open_rig(default_rig_file(), tmp_path / "out") as rig:
        yield rig


def test_clock_commands_decode_and_verify_with_the_test_keys(session):
    esme = sender_for(session)
    assert esme.supplier == session.rig.dut.supplier != esme.acb
    when = session.clock.wall().replace(microsecond=0)
    for code, content in [(0x0062, builders.ecs70_command(preset_time=when, validity_interval_start=when - timedelta(seconds=10),
                                                          validity_interval_end=when + timedelta(seconds=10), invoke_id=1)),
                          (0x00EC, builders.ecs25a3_command(event_filter=behaviour_write(
                              esme.filter_bits[0x81C6], True), invoke_id=2)),
                          (0x00AC, builders.ecs25a_command(alert_filter=behaviour_write(
                              esme.filter_bits[0x81C6], False), invoke_id=4)),
                          (0x00EE, builders.ecs25r1_command(invoke_id=5)),
                          (0x0048, builders.ecs35a_command(start=when, end=when + timedelta(hours=1), invoke_id=3))]:
        record = decode_record(esme.build(code, esme.esme, esme.next_counter(), content), session.keys, esme.acb)
        assert record["mac"] == "valid" and record["originator"] == esme.supplier
        assert record["signature_valid"] == ([True] if code == 0x0062 else [])


def test_a_behaviour_change_is_read_first_touches_one_bit_and_is_restored_however_the_test_ends(session):
    esme, meter = sender_for(session), session.bench.clock_rules.clock
    meter.logging_behaviours = "10" * 128  # a supplier's own settings, not the factory's
    before = (meter.alert_behaviours, meter.logging_behaviours)
    bit = esme.filter_bits[0x81C6]
    with pytest.raises(RuntimeError, match="the test failed"):
        with esme.behaviour(Behaviour.ALERT, 0x81C6, True) as change:
            assert meter.alert_behaviours[bit] == "1"
            assert meter.alert_behaviours.count("1") == 1 and meter.logging_behaviours == before[1]
            raise RuntimeError("the test failed")
    assert (meter.alert_behaviours, meter.logging_behaviours) == before and change.restored
    assert [e.name for e in change.exchanges] == ["ECS25r1", "ECS25a", "ECS25a", "ECS25r1"]
    assert change.before == before[0] == change.after


def test_the_event_log_read_back_holds_what_the_esme_logged_in_the_range(session):
    esme, bench = sender_for(session), session.bench
    refused = esme.set_clock(session.clock.wall() + timedelta(minutes=10), 10)
    assert not refused.ok
    start = session.clock.wall() - timedelta(minutes=1)
    ex = esme.read_event_log(start, session.clock.wall() + timedelta(minutes=1))
    assert ex.ok and ex.response.data["mac"] == "valid"
    logged = [(e.code, e.device_time.replace(microsecond=0)) for e in bench.esme.event_log]
    assert [(int(e["event_code"], 16), e["timestamp"]) for e in ex.body["event_log"]] == [
        (code, when.isoformat()) for code, when in logged] == [
        (0x81C6, logged[0][1].isoformat()), (0x8F0C, logged[0][1].isoformat())]
    empty = esme.read_event_log(start - timedelta(days=2), start - timedelta(days=1))
    assert empty.ok and empty.body["event_log"] == []
