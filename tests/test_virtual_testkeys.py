"""Test keys for the virtual rig and the ground-truth record."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hubrig.harness.virtual.groundtruth import Emission, GroundTruth, Outage
from hubrig.harness.virtual.testkeys import NETWORK_OPERATOR, default_key_dir, ensure_test_keys, rig_parties

DUT = SimpleNamespace(esme=SimpleNamespace(eui="00DB1234567890A0"),
                      comms_hub=SimpleNamespace(eui="00DB1234567890A3"), acb="90B3D51F30000002")


def test_keys_are_made_once_for_every_party_and_kept(tmp_path):
    store = ensure_test_keys(tmp_path / "k", rig_parties(DUT))
    assert store.euis() == {"00DB1234567890A0", "00DB1234567890A3", "90B3D51F30000002", NETWORK_OPERATOR}
    assert all(store.has_private(e, "ds") and store.has_private(e, "ka") for e in store.euis())
    before = {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()}
    ensure_test_keys(tmp_path / "k", rig_parties(DUT))
    assert {p.name: p.read_bytes() for p in (tmp_path / "k").iterdir()} == before


def test_the_supplier_named_by_the_rig_file_gets_keys_too(tmp_path):
    from hubrig.harness.rig.session import default_rig_file
    from hubrig.harness.rig.file import load_rig

    dut = load_rig(default_rig_file()).dut
    store = ensure_test_keys(tmp_path / "k", rig_parties(dut))
    assert dut.supplier and store.has_private(dut.supplier, "ds") and store.has_private(dut.supplier, "ka")
    assert rig_parties(dut)[dut.supplier] == "supplier"
    assert dut.supplier not in rig_parties(DUT)  # a rig file without one: the ACB stands in


def test_keys_default_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_key_dir() == tmp_path / "hubrig" / "virtual-keys"
    assert ensure_test_keys(None, {"00DB1234567890A0": "esme"}).path == tmp_path / "hubrig" / "virtual-keys"


def test_keys_are_never_written_into_a_vectors_tree(tmp_path):
    with pytest.raises(ValueError, match="test-vector tree"):
        ensure_test_keys(tmp_path / "vectors" / "rtds" / "keystore", {"00DB1234567890A0": "esme"})
    assert not (tmp_path / "vectors").exists()


def test_ground_truth_pairs_cuts_with_restores_and_filters_emissions():
    truth = GroundTruth()
    truth.mains(True, 0)  # the initial state is not a change
    truth.mains(False, 10)
    truth.mains(False, 11)  # a repeat is not a change
    truth.mains(True, 30)
    truth.mains(False, 50)
    assert truth.outages() == [Outage(10, 30), Outage(50, None)]
    assert truth.outages()[0].duration_ns == 20
    truth.record(Emission(12, "esme", "event", 0x8F57, ""))
    truth.record(Emission(40, "esme", "alert", 0x8F35, "DF"))
    truth.record(Emission(45, "ch", "poa", None, "44"))
    assert [e.t_ns for e in truth.on_link()] == [40, 45]
    assert truth.select("alert", alert_code=0x8F35) == [truth.emissions[1]]
    assert [e.t_ns for e in truth.select(since_ns=13, until_ns=45)] == [40]
    assert truth.select(device="ch") == [truth.emissions[2]]
