"""The use-case and alert tables: names as the DCC tools print them, cited, and loaded once."""

from __future__ import annotations

import json

import pytest

from hubrig.harness.gbcs import tables
from hubrig.harness.gbcs.tables import AlertInfo, alert_info, use_case_name


def test_use_case_names_for_the_codes_the_harness_sends_and_receives():
    assert use_case_name(0x0067) == "ECS80 Supply Outage Restore Alert from ESME"
    assert use_case_name(0x010F) == "CCS06 Read CHF device log and check HAN communications"
    assert use_case_name(0x00FE) == "CCS07 Read CHF Device Logs"
    assert use_case_name(0x0001) == "CCS01 Add Device to CHF device log"
    assert use_case_name(0x0062) == "ECS70 Set Clock on ESME"
    assert use_case_name(0x00EC) == "ECS25a3 Set Event Behaviours - ESME logging - Supplier"
    assert use_case_name(0x0018) == "CS14 Device Addition To / Removal From HAN Whitelist Alerts"
    assert use_case_name(0x0128) == "CCS08 Firmware Transfer Alert"


def test_unknown_message_code_has_no_name():
    assert use_case_name(0xFFFF) is None
    assert use_case_name(0x0004) == "CCS05CCS04 Read Device Log (SR 8.9, third mapping)"


@pytest.mark.parametrize("code,name,device,critical", [
    (0x8F35, "Supply Outage Restored", "ESME", True),
    (0x8F36, "Supply Outage Restored - Outage >= 3 minutes", "ESME", True),
    (0x81C6, "Clock not adjusted (outside tolerance)", "ESME, GSME", False),
    (0x8F0C, "Clock not adjusted (adjustment greater than 10 seconds)", "ESME, GSME, CHF", True),
    (0x8145, "Clock adjusted (within tolerance)", "ESME, GSME", False),
    (0x8F12, "CHF Device Log Changed", "CHF", True),
    (0x8F57, "Supply interrupted", "ESME", True),
])
def test_alert_info_for_the_alerts_the_plans_measure(code, name, device, critical):
    assert alert_info(code) == AlertInfo(code, name, device, critical)


def test_all_phase_variants_of_the_restoration_alert_are_present():
    for code in range(0x8F35, 0x8F3D):
        info = alert_info(code)
        assert info is not None and info.device == "ESME" and "Restored" in info.name


def test_alert_info_is_frozen_and_unknown_codes_are_none():
    info = alert_info(0x8F36)
    with pytest.raises(AttributeError):
        info.name = "x"  # type: ignore[misc]
    assert alert_info(0x8F85) is None


def test_critical_is_the_0x8F_range():
    for code, info in tables.alert_codes().items():
        assert info.critical == (code >> 8 == 0x8F)


def test_tables_are_loaded_once():
    assert tables.use_cases() is tables.use_cases()
    assert tables.alert_codes() is tables.alert_codes()


def test_data_files_cite_their_source():
    for name in ("use_cases.json", "alert_codes.json"):
        doc = json.loads((tables.DATA / name).read_text(encoding="utf-8"))
        assert "SmartDCCInnovation/gbcs-parser" in doc["source"]


def test_names_equal_the_independent_decoders_facts(rtds):
    """Every named use case and alert in RTDS 4.5.0 matches the facts the CLI is checked against."""
    checked = 0
    for line in (rtds / "facts.jsonl").read_text().splitlines():
        fact = json.loads(line)
        name = use_case_name(int(fact["message_code"], 16))
        # the facts leave codes their table lacks as ""; those are checked in test_gbcs_rtds.py
        assert not fact["use_case"] or name == fact["use_case"], fact["file"]
        if fact.get("alert_code"):
            info = alert_info(int(fact["alert_code"], 16))
            assert (info.name if info else "") == fact.get("alert_name", ""), fact["file"]
        checked += 1
    assert checked == 1275
