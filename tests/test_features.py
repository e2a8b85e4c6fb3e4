"""Version-aware gating: a plan's GBCS feature against the rig file's DUT."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.rules import features

from hubrig.harness.rules import tsat


def dut(ch_gbcs="3.2", esme_gbcs="3.2", ch_spec="1.3", esme_spec="4.2"):
    return {"comms_hub": {"type": "CHTS", "spec_version": ch_spec, "gbcs_version": ch_gbcs},
            "esme": {"type": "ESMETS", "spec_version": esme_spec, "gbcs_version": esme_gbcs}}


@pytest.mark.parametrize("name", ["historic_device_log", "alert_0x81C6", "0x81C6", "81c6", "0x81c6", "CRP535"])
def test_gbcs_3_2_dut_has_the_feature(name):
    assert features.check(name, dut()) is None


def test_older_esme_skips_0x81C6_quoting_irp511_and_the_tsat_row():
    reason = features.check("alert_0x81C6", dut(esme_gbcs="2.1", esme_spec="3.1"))
    assert reason.startswith("alert_0x81C6 needs GBCS >= 3.2 but dut.esme runs GBCS 2.1")
    assert "IRP511" in reason and "GBCS v3.2" in reason
    assert "ESMETS 4.2 / GBCS 3.2 from 2019-11-29" in reason
    assert "Schedule 11 v9.0 + MP139" in reason


def test_feature_is_judged_on_the_device_that_carries_it():
    # an old ESME does not stop the CH's historic log, and an old CH does not stop 0x81C6
    assert features.check("historic_device_log", dut(esme_gbcs="2.1")) is None
    assert features.check("alert_0x81C6", dut(ch_gbcs="2.1")) is None
    reason = features.check("historic_device_log", dut(ch_gbcs="2.1", ch_spec="1.1"))
    assert "dut.comms_hub runs GBCS 2.1" in reason and "CRP535" in reason
    assert "CHTS 1.3 / GBCS 3.2" in reason


def test_unknown_feature_and_missing_version_are_user_errors():
    with pytest.raises(features.FeatureError, match="unknown GBCS feature 'teleport'"):
        features.check("teleport", dut())
    with pytest.raises(features.FeatureError, match="dut.esme.gbcs_version"):
        features.check("alert_0x81C6", {"comms_hub": dut()["comms_hub"]})


def test_works_with_the_rig_file_model():
    from hubrig.harness.rig.file import CommsHubIdentity, DeviceIdentity
    esme = DeviceIdentity(eui="00DB1234567890A0", type="ESMETS", spec_version="3.1",
                          gbcs_version="2.1", firmware="1")
    ch = CommsHubIdentity(eui="00DB1234567890A1", spec_version="1.3", gbcs_version="3.2",
                          firmware="1", csp_region="north")

    class Dut:
        pass

    d = Dut()
    d.esme, d.comms_hub = esme, ch
    assert features.check("historic_device_log", d) is None
    assert "runs GBCS 2.1" in features.check("alert_0x81C6", d)
    verdicts = tsat.judge_dut(d, date(2026, 11, 22))
    assert verdicts["comms_hub"].compliant is True
    assert (verdicts["esme"].installable, verdicts["esme"].maintainable) == (False, True)


VERSIONS = st.tuples(st.integers(0, 9), st.integers(0, 9)).map(lambda v: f"{v[0]}.{v[1]}")


@given(gbcs=VERSIONS, name=st.sampled_from(sorted(features.FEATURES)))
def test_skip_exactly_below_the_minimum(gbcs, name):
    feat = features.FEATURES[name]
    devices = dut(ch_gbcs=gbcs, esme_gbcs=gbcs)
    reason = features.check(name, devices)
    assert (reason is None) == (tsat.parse_version(gbcs) >= feat.min_gbcs)
    if reason is not None:
        assert feat.rule in reason
