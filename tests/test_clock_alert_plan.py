"""The 0x81C6 clock alert plan against the virtual ESME: passes on GBCS 3.2, skips with the IRP511
reason on a GBCS 2.1 rig file, fails with frame evidence when 0x81C6 is not raised."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from harness.commands import DeviceFailure, sender_for
from harness.gbcs.decode import decode_record
from harness.rig import default_rig_file, open_rig
from harness.run_cli import plugin_args
from harness.virtual import meterclock
from harness.virtual.meterclock import ClockDefects
from testplans import test_clock_alert as plan
from tests.test_devicelog_plan import rig_file

pytest_plugins = ["pytester"]
PLAN = Path(plan.__file__)


def run(pytester, rig: Path, out: Path):
    return pytester.runpytest_inprocess(str(PLAN), *plugin_args(), "--rig", str(rig), "--out", str(out),
                                        "-p", "no:cacheprovider", "-rs")


def test_plan_passes_on_gbcs_3_2(pytester, tmp_path):
    run(pytester, rig_file(tmp_path), tmp_path / "out").assert_outcomes(passed=3)


def test_plan_skips_on_a_gbcs_2_1_esme_quoting_irp511(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, esme_gbcs="2.1"), tmp_path / "out")
    result.assert_outcomes(skipped=3)
    text = "\n".join(result.stdout.lines)
    assert "alert_0x81C6 needs GBCS >= 3.2 but dut.esme runs GBCS 2.1" in text and "IRP511" in text


@pytest.fixture
def session(tmp_path):
    with open_rig(default_rig_file(), tmp_path / "out") as rig:
        yield rig


def test_0x81C6_not_raised_fails_with_evidence(session):
    dut = session.rig.dut
    meterclock.install(session.bench, (3, 2), dut.clock_tolerance_s, ClockDefects(no_81C6=True))
    esme = sender_for(session)
    with pytest.raises(DeviceFailure, match=r"refused adjustment \(ECS70 command journal #\d+, response journal "
                                            r"#\d+\) raised no 0x81C6 although ECS25a3 enabled it"):
        plan.test_outside_tolerance_with_0x81C6_enabled_alerts_it(esme, session, session.clock)


def test_an_esme_that_alerts_while_disabled_fails(session):
    dut = session.rig.dut
    behaviour = meterclock.install(session.bench, (3, 2), dut.clock_tolerance_s)
    esme = sender_for(session)
    # a defective meter that ignores the filter: it keeps 0x81C6 on whatever ECS25a3 says
    behaviour.clock.configure_alert = lambda code, on: None
    behaviour.clock.alerts_enabled[meterclock.CLOCK_NOT_ADJUSTED_TOLERANCE] = True
    with pytest.raises(AssertionError, match=r"0x81C6 sent while disabled \(journal \[\d+\]\)"):
        plan.test_outside_tolerance_with_0x81C6_disabled_sends_no_0x81C6(esme, session, session.clock)


def test_clock_commands_decode_and_verify_with_the_test_keys(session):
    esme = sender_for(session)
    from harness.gbcs.content import builders
    when = session.clock.wall()
    for code, content in [(0x0062, builders.ecs70_command(preset_time=when, validity_interval_start=when - timedelta(seconds=10),
                                                          validity_interval_end=when + timedelta(seconds=10), invoke_id=1)),
                          (0x00EC, builders.ecs25a3_command(event_filter=meterclock.event_filter({0x81C6: True}),
                                                            invoke_id=2))]:
        record = decode_record(esme.build(code, esme.esme, esme.next_counter(), content), session.keys, esme.acb)
        assert record["mac"] == "valid"
        assert record["signature_valid"] == ([True] if code == 0x0062 else [])
