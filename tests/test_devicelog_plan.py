"""The SR8.9 device log plan against the virtual CH: passes on GBCS 3.2, skips with the rule on a
GBCS 2.1 rig file, fails with frame evidence on each defect, and blames the harness (not the device)
for a command the CH rejects for authentication."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import commands
from harness.commands import CCS06, DeviceFailure, HarnessConfigError, sender_for
from harness.gbcs.envelope import parse
from harness.rig import default_rig_file, open_rig
from harness.virtual import devicelog
from harness.virtual.devicelog import DeviceLogDefects
from harness.run_cli import plugin_args
from testplans import test_device_log as plan

pytest_plugins = ["pytester"]
PLAN = Path(plan.__file__)


def rig_file(tmp: Path, esme_gbcs="3.2", ch_gbcs="3.2") -> Path:
    text = default_rig_file().read_text()
    text = text.replace('type: ESMETS, spec_version: "4.2", gbcs_version: "3.2"',
                        f'type: ESMETS, spec_version: "4.2", gbcs_version: "{esme_gbcs}"')
    text = text.replace('type: CHTS, spec_version: "1.3", gbcs_version: "3.2"',
                        f'type: CHTS, spec_version: "1.3", gbcs_version: "{ch_gbcs}"')
    path = tmp / "rig.yaml"
    path.write_text(text)
    return path


def run(pytester, rig: Path, out: Path, *extra: str):
    return pytester.runpytest_inprocess(str(PLAN), *plugin_args(), "--rig", str(rig), "--out", str(out),
                                        "-p", "no:cacheprovider", "-rs", *extra)


def test_plan_passes_on_gbcs_3_2(pytester, tmp_path):
    run(pytester, rig_file(tmp_path), tmp_path / "out").assert_outcomes(passed=3)


def test_plan_skips_on_a_gbcs_2_1_comms_hub_quoting_the_rule(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, ch_gbcs="2.1"), tmp_path / "out")
    result.assert_outcomes(skipped=3)
    text = "\n".join(result.stdout.lines)
    assert "historic_device_log needs GBCS >= 3.2 but dut.comms_hub runs GBCS 2.1" in text
    assert "CRP535" in text and "CHTS 1.3 / GBCS 3.2" in text


@pytest.fixture
def session(tmp_path):
    with open_rig(default_rig_file(), tmp_path / "out") as rig:
        yield rig


def defective(rig, **switch):
    devicelog.install(rig.bench, DeviceLogDefects(**switch))
    return sender_for(rig)


def lifecycle(rig, ccs):
    plan.test_sr8_9_remove_then_restore_the_esme(ccs, rig, rig.itch, rig.clock, plan.VIRTUAL_ESME_INSTALL_CODE)


def test_historic_log_not_kept_fails_the_lifecycle_with_evidence(session):
    with pytest.raises(AssertionError, match=r"historic device log lacks 00DB1234567890A0.*CCS07 command journal #\d+, "
                                             r"response journal #\d+"):
        lifecycle(session, defective(session, historic_log_not_kept=True))


def test_missing_8F12_fails_the_lifecycle_with_evidence(session):
    with pytest.raises(DeviceFailure, match=r"CCS02 changed the device log but raised no 0x8F12 "
                                            r"\(CCS02 command journal #\d+, response journal #\d+\)"):
        lifecycle(session, defective(session, no_8F12=True))


def test_oldest_not_overwritten_fails_the_overwrite_check(session):
    ccs = defective(session, oldest_not_overwritten=True)
    with pytest.raises(AssertionError, match=r"should end with the newest 15 removed devices.*CCS07 command journal"):
        plan.test_historic_log_keeps_15_and_overwrites_the_oldest(ccs, session, session.itch, session.clock)


@pytest.mark.parametrize("switch", ["historic_log_not_kept", "oldest_not_overwritten"])
def test_state_machine_catches_historic_log_defects(session, switch):
    ccs = defective(session, **{switch: True})
    if switch == "oldest_not_overwritten":  # fill the historic log first, so overwriting is due
        with pytest.raises(AssertionError):
            plan.test_historic_log_keeps_15_and_overwrites_the_oldest(ccs, session, session.itch, session.clock)
    with pytest.raises(Exception, match="historic log"):
        plan.test_historic_log_state_machine(ccs, session, session.itch, session.clock)


def test_a_bad_mac_is_a_harness_configuration_error(session):
    ccs = sender_for(session, timeout_s=30)
    counter = ccs.next_counter()
    raw = bytearray(ccs.build(CCS06, ccs.ch, counter, commands.builders.ccs06_command(invoke_id=counter & 0xFFFFFF)))
    raw[-1] ^= 0xFF  # the MAC is the last 12 bytes
    assert parse(bytes(raw)).general_ciphering
    with pytest.raises(HarnessConfigError, match=r"harness configuration error \(not a device failure\): "
                                                 r"00DB1234567890A3 rejected CCS06 .*MAC"):
        ccs.send_raw("CCS06", CCS06, ccs.ch, counter, bytes(raw))


def test_commands_decode_and_verify_with_the_test_keys(session):
    from harness.gbcs.decode import decode_record

    ccs = sender_for(session)
    for code, content in [(0x0001, commands.builders.ccs01_command(mac_address="00DB1234567890AA", install_code="00" * 16,
                                                                   device_type=0, invoke_id=1)),
                          (0x0002, commands.builders.ccs02_command(mac_address="00DB1234567890AA", invoke_id=2)),
                          (CCS06, commands.builders.ccs06_command(invoke_id=3)),
                          (0x00FE, commands.builders.ccs07_command(invoke_id=4))]:
        record = decode_record(ccs.build(code, ccs.ch, ccs.next_counter(), content), session.keys, ccs.acb)
        assert record["mac"] == "valid" and record["body"]["decoded_as"] == commands.NAMES[code]
