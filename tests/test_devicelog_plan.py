"""The SR8.9 device log plan against the virtual CH, run as a user runs it (pytest on the plan with
a rig file): passes on GBCS 3.2, skips with the rule on a GBCS 2.1 rig file, fails with frame
evidence on each defect switched on in the rig file, and blames the harness (not the device) for a
command the CH rejects for authentication."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from hubrig.harness.rig import commands
from hubrig.harness.rig.commands import CCS06, HarnessConfigError, sender_for
from hubrig.harness.gbcs.envelope import parse
from hubrig.harness.rig.session import default_rig_file, open_rig
from hubrig.testplans import test_device_log as plan

pytest_plugins = ["pytester"]
PLAN = Path(plan.__file__)
EVIDENCE = re.compile(r"CCS0[1267] command journal #\d+, response journal #\d+")


def rig_file(tmp: Path, esme_gbcs="3.2", ch_gbcs="3.2", defects: dict[str, bool] | None = None,
             install_code: bool = True) -> Path:
    """The virtual rig file with other GBCS versions, defect switches, or no ESME install code."""
    data = yaml.safe_load(default_rig_file().read_text())
    data["dut"]["esme"]["gbcs_version"] = esme_gbcs
    data["dut"]["comms_hub"]["gbcs_version"] = ch_gbcs
    if not install_code:
        del data["dut"]["esme"]["install_code"]
    if defects:
        data["virtual"]["defects"] = dict(defects)
    path = tmp / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(pytester, rig: Path, out: Path, plan: Path = PLAN):
    """pytest on ``plan``, in this process (tests/conftest.py loads the modules that cannot be
    loaded twice before pytester's in-process runs), with a JUnit file beside the results."""
    return pytester.runpytest_inprocess(str(plan), "--rig", str(rig), "--out", str(out), "-p", "no:cacheprovider",
                                        "-rs", "--junitxml", str(out / "plan-junit.xml"))


def failures(out: Path) -> dict[str, str]:
    """Test name -> its failure message, for every test of the run in ``out`` that failed."""
    tree = ElementTree.parse(out / "plan-junit.xml")
    return {case.get("name"): case.find("failure").get("message", "") + "\n" + (case.find("failure").text or "")
            for case in tree.iter("testcase") if case.find("failure") is not None}


def test_plan_passes_on_gbcs_3_2(pytester, tmp_path):
    run(pytester, rig_file(tmp_path), tmp_path / "out").assert_outcomes(passed=3)


def test_plan_skips_on_a_gbcs_2_1_comms_hub_quoting_the_rule(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, ch_gbcs="2.1"), tmp_path / "out")
    result.assert_outcomes(skipped=3)
    text = "\n".join(result.stdout.lines)
    assert "historic_device_log needs GBCS >= 3.2 but dut.comms_hub runs GBCS 2.1" in text
    assert "CRP535" in text and "CHTS 1.3 / GBCS 3.2" in text


def test_without_an_install_code_the_restore_check_skips_naming_the_rig_field(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, install_code=False), tmp_path / "out")
    result.assert_outcomes(passed=2, skipped=1)
    assert "set dut.esme.install_code in" in "\n".join(result.stdout.lines)


def test_historic_log_not_kept_fails_every_check_with_evidence(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"historic_log_not_kept": True}), tmp_path / "out")
    result.assert_outcomes(failed=3)
    failed = failures(tmp_path / "out")
    assert re.search(r"historic device log lacks 00DB1234567890A0 .*\(CCS07 command journal #\d+, "
                     r"response journal #\d+\)", failed["test_sr8_9_remove_then_restore_the_esme"])
    assert "should end with the newest 15 removed devices" in failed["test_historic_log_keeps_15_and_overwrites_the_oldest"]
    assert "historic log" in failed["test_historic_log_state_machine"]
    assert all(EVIDENCE.search(text) for text in failed.values()), failed


def test_missing_8F12_fails_every_check_with_evidence(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"no_8F12": True}), tmp_path / "out")
    result.assert_outcomes(failed=3)
    for name, text in failures(tmp_path / "out").items():
        assert re.search(r"CCS0[12] changed the device log but raised no 0x8F12 \(CCS0[12] command journal "
                         r"#\d+, response journal #\d+\)", text), name


def test_oldest_not_overwritten_fails_the_overwrite_checks_with_evidence(pytester, tmp_path):
    result = run(pytester, rig_file(tmp_path, defects={"oldest_not_overwritten": True}), tmp_path / "out")
    result.assert_outcomes(passed=1, failed=2)  # the restore check never fills the historic log
    failed = failures(tmp_path / "out")
    assert set(failed) == {"test_historic_log_keeps_15_and_overwrites_the_oldest", "test_historic_log_state_machine"}
    assert "should end with the newest 15 removed devices" in failed["test_historic_log_keeps_15_and_overwrites_the_oldest"]
    assert "historic log" in failed["test_historic_log_state_machine"]
    assert all(re.search(r"CCS07 command journal #\d+, response journal #\d+", t) for t in failed.values())


@pytest.fixture
def session(tmp_path):
    with open_rig(default_rig_file(), tmp_path / "out") as rig:
        yield rig


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
    from hubrig.harness.gbcs.decode import decode_record

    ccs = sender_for(session)
    assert (ccs.acb, ccs.supplier) == ("90B3D51F30000002", "90B3D51F30010000")
    for code, content in [(0x0001, commands.builders.ccs01_command(mac_address="00DB1234567890AA", install_code="00" * 16,
                                                                   device_type=0, invoke_id=1)),
                          (0x0002, commands.builders.ccs02_command(mac_address="00DB1234567890AA", invoke_id=2)),
                          (CCS06, commands.builders.ccs06_command(invoke_id=3)),
                          (0x00FE, commands.builders.ccs07_command(invoke_id=4))]:
        record = decode_record(ccs.build(code, ccs.ch, ccs.next_counter(), content), session.keys, ccs.acb)
        assert record["mac"] == "valid" and record["body"]["decoded_as"] == commands.NAMES[code]
