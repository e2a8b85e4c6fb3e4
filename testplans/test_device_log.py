"""SR8.9 'Read Device Log' and the CHF historic device log (CRP535), through the ITCH.

Runs unchanged on the virtual rig and on a real bench (see docs/testplans.md, "SR8.9 device log
plan"). Every failure names the frames (journal ids) that prove it.
"""

from __future__ import annotations

import functools
from collections import deque
from datetime import datetime

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from hubrig.fixtures.recording import frame_ids
from hubrig.harness.gbcs.clockstatus import NOT_SPECIFIED, doubtful_marks
from hubrig.harness.rig.commands import DEVICE_LOG_CHANGED, CommandSender, DeviceFailure, Exchange, sender_for

pytestmark = pytest.mark.gbcs_feature("historic_device_log")

HISTORIC_MAX = 15
JOIN_TIMEOUT_S = 120
JOIN_POLL_S = 5.0


@pytest.fixture
def ccs(rig) -> CommandSender:
    return sender_for(rig)


@pytest.fixture
def esme_install_code(rig) -> bytes:
    """The ESME's install code (CCS01 re-adds it with this), from the rig file."""
    code = rig.rig.dut.esme.install_code_bytes
    if code is None:
        pytest.skip(f"re-adding the ESME needs its install code: set dut.esme.install_code in {rig.path}")
    return code


def require(ex: Exchange) -> Exchange:
    if not ex.ok:
        raise DeviceFailure(f"{ex.name} failed with {ex.results} ({ex.evidence})")
    return ex


def active(ccs: CommandSender) -> tuple[dict[str, dict], Exchange]:
    ex = require(ccs.read_device_log())
    return {row["mac_address"]: row for row in ex.body.get("active_devices") or []}, ex


def backups(ccs: CommandSender) -> tuple[dict[str, str], list[tuple[str, str]], Exchange]:
    """(active EUI -> hashed key, historic [(EUI, hashed key)] in the CH's order, exchange)."""
    ex = require(ccs.read_backups())
    act = {d["mac_address"]: d["tc_link_key_hash"] for d in ex.body["device_log"]["devices"]}
    hist = [(d["mac_address"], d["tc_link_key_hash"]) for d in ex.body["historic_device_log"]["devices"]]
    return act, hist, ex


def joined(row: dict) -> bool:
    """Status bit 0, "authorised on PAN" (class 104 active_devices; RTDS shows ``11001000``)."""
    return row["status"][:1] == "1"


def wait_joined(ccs: CommandSender, clock, eui: str) -> dict | None:
    """Poll CCS06 until ``eui`` shows as joined, up to the join timeout."""
    waited = 0.0
    while waited <= JOIN_TIMEOUT_S:
        rows, _ = active(ccs)
        if eui in rows and joined(rows[eui]):
            return rows[eui]
        clock.sleep(JOIN_POLL_S)
        waited += JOIN_POLL_S
    return None


def change(ccs: CommandSender, itch, action) -> Exchange:
    """Run a device-log change and require its CS14 0x8F12 alert."""
    mark = itch.mark()
    ex = require(action())
    try:
        ccs.wait_alert(DEVICE_LOG_CHANGED, mark)
    except DeviceFailure as exc:
        raise DeviceFailure(f"{ex.name} changed the device log but raised no 0x8F12 "
                            f"({ex.evidence}): {exc}") from None
    return ex


def insane_fields(row: dict, eui: str, read_at: datetime, evidence: str) -> list[str]:
    """What is wrong with one CCS06 entry (all 14 fields), as sentences."""
    bad = []
    if row.get("mac_address") != eui:
        bad.append(f"mac_address {row.get('mac_address')} is not {eui}")
    if not (isinstance(row.get("status"), str) and set(row["status"]) <= {"0", "1"} and row["status"]):
        bad.append(f"status {row.get('status')!r} is not a bit string")
    for kind, lo, hi in (("rssi", -128, 127), ("lqi", 0, 255)):
        values = [row.get(f"{p}_{kind}") for p in ("max", "avg", "min")]
        if not all(isinstance(v, int) and lo <= v <= hi for v in values):
            bad.append(f"{kind} {values} outside {lo}..{hi}")
        elif not min(values[0], values[2]) <= values[1] <= max(values[0], values[2]):
            bad.append(f"avg {kind} {values[1]} is not between max and min {values[0]}, {values[2]}")
    last = row.get("last_communication")
    if isinstance(last, str):
        if datetime.fromisoformat(last) > read_at:
            bad.append(f"last_communication {last} is after the read ({read_at.isoformat()})")
    elif not isinstance(last, dict):
        bad.append(f"last_communication {last!r} is not a date-time")
    elif marks := doubtful_marks(last.get("clock_status", NOT_SPECIFIED)):
        bad.append(f"last_communication is marked {', '.join(marks)} by the CH")
    for name in ("hops", "tx_failures", "tx_successes", "app_version", "stack_version"):
        if not (isinstance(row.get(name), int) and 0 <= row[name] <= 255):
            bad.append(f"{name} {row.get(name)!r} is not an unsigned byte")
    return [f"{b} ({evidence})" for b in bad]


@pytest.mark.measures("ccs06_drops_removed_esme", "historic_log_keeps_removed_esme", "ccs06_entry_fields_sane",
                      "restored_esme_keeps_its_key")
def test_sr8_9_remove_then_restore_the_esme(ccs, rig, itch, clock, esme_install_code, measure):
    esme = rig.rig.dut.esme.eui
    rows, _ = active(ccs)
    if esme not in rows:  # start from a commissioned ESME
        change(ccs, itch, lambda: ccs.add_device(esme, esme_install_code, 0, JOIN_TIMEOUT_S))
        assert wait_joined(ccs, clock, esme), f"the ESME {esme} did not join within {JOIN_TIMEOUT_S} s"
    keys, _, before = backups(ccs)
    key = keys.get(esme)
    assert key and len(key) == 32, f"no hashed TC link key for the joined ESME ({before.evidence})"

    removed = change(ccs, itch, lambda: ccs.remove_device(esme))
    rows, read = active(ccs)
    measure.check("ccs06_drops_removed_esme", esme not in rows, evidence=frame_ids(removed, read),
                  rule="SR8.9: CCS06 no longer lists a device CCS02 removed")
    assert esme not in rows, f"CCS06 still shows {esme} after {removed.evidence} ({read.evidence})"
    keys, historic, ex = backups(ccs)
    assert esme not in keys, f"device log backup still has {esme} ({ex.evidence})"
    measure.check("historic_log_keeps_removed_esme", (esme, key) in historic, evidence=frame_ids(ex),
                  rule="CRP535: CCS07 lists a removed device in the historic log with its hashed TC link key")
    assert (esme, key) in historic, (f"historic device log lacks {esme} with its hashed key {key}; "
                                     f"it has {historic} ({ex.evidence})")

    change(ccs, itch, lambda: ccs.add_device(esme, esme_install_code, 0, JOIN_TIMEOUT_S))
    row = wait_joined(ccs, clock, esme)
    assert row is not None, f"the re-added ESME {esme} did not join within {JOIN_TIMEOUT_S} s"
    rows, read = active(ccs)
    insane = insane_fields(rows.get(esme, {}), esme, clock.wall(), read.evidence)
    measure.check("ccs06_entry_fields_sane", not insane, evidence=frame_ids(read),
                  rule="SR8.9: the CCS06 entry's 14 fields in range", note="; ".join(insane))
    assert not insane, insane
    keys, historic, ex = backups(ccs)
    measure.check("restored_esme_keeps_its_key", keys.get(esme) == key and esme not in dict(historic),
                  evidence=frame_ids(ex),
                  rule="CRP535: a re-added device is restored with its old key and leaves the historic log")
    assert keys.get(esme) == key, (f"restored ESME has hashed key {keys.get(esme)}, not its old {key} "
                                   f"({ex.evidence})")
    assert esme not in dict(historic), f"restored ESME still in the historic log ({ex.evidence})"


def churn_euis(rig, n: int, block: int = 0) -> list[str]:
    """EUIs for HAN devices the plan adds and removes (same OUI as the CH, high serials); each
    check uses its own ``block`` so one check's history does not hide another's."""
    base = int(rig.rig.dut.comms_hub.eui, 16) & ~0xFFFF
    return [f"{base | 0xF000 | block << 8 | i:016X}" for i in range(n)]


@pytest.mark.measures("historic_log_keeps_newest_15")
def test_historic_log_keeps_15_and_overwrites_the_oldest(ccs, rig, itch, clock, measure):
    euis = churn_euis(rig, HISTORIC_MAX + 2)
    for eui in euis:
        change(ccs, itch, lambda: ccs.add_device(eui, bytes(16), 128, JOIN_TIMEOUT_S))
        if wait_joined(ccs, clock, eui) is None:
            ccs.remove_device(eui)
            pytest.skip(f"{eui} did not join: this check needs {len(euis)} HAN devices that join")
        change(ccs, itch, lambda: ccs.remove_device(eui))
    _, historic, ex = backups(ccs)
    kept = [e for e, _ in historic]
    measure.check("historic_log_keeps_newest_15",
                  len(kept) <= HISTORIC_MAX and kept[-HISTORIC_MAX:] == euis[-HISTORIC_MAX:], value=len(kept),
                  unit="entry", evidence=frame_ids(ex),
                  rule=f"CRP535: at most {HISTORIC_MAX} historic entries, the oldest overwritten")
    assert len(kept) <= HISTORIC_MAX, f"historic log holds {len(kept)} entries, over {HISTORIC_MAX} ({ex.evidence})"
    assert kept[-HISTORIC_MAX:] == euis[-HISTORIC_MAX:], (
        f"historic log should end with the newest {HISTORIC_MAX} removed devices {euis[-HISTORIC_MAX:]}, "
        f"has {kept} ({ex.evidence})")


def recorded(step):
    """Keep the first device failure of a machine step: a device keeps its state between
    examples, so Hypothesis' replay of a failing example may fail elsewhere (or not at all)."""
    @functools.wraps(step)
    def run(self, *args, **kwargs):
        try:
            return step(self, *args, **kwargs)
        except AssertionError as exc:
            self.failures.append(exc)
            raise
    return run


class HistoricLogMachine(RuleBasedStateMachine):
    """Adds and removes HAN devices; every read must match the model.

    The model starts from what the CH reports, so it works on a CH with history: the historic log
    (oldest first, at most 15) gains a device when a *joined* device is removed and loses it when
    the device is re-added. The first failure of any step lands in ``failures``.
    """

    def __init__(self, ccs: CommandSender, itch, clock, euis: list[str], failures: list[AssertionError]):
        super().__init__()
        self.ccs, self.itch, self.clock, self.euis, self.failures = ccs, itch, clock, euis, failures
        self.active: dict[str, bool] = {}
        self.keys: dict[str, str] = {}
        self.historic: deque[str] = deque(maxlen=HISTORIC_MAX)

    @initialize()
    @recorded
    def observe(self):
        rows, _ = active(self.ccs)
        for eui in self.euis:  # each example starts with none of its devices in the log
            if eui in rows:
                change(self.ccs, self.itch, lambda: self.ccs.remove_device(eui))
        rows, _ = active(self.ccs)
        self.active = {e: joined(r) for e, r in rows.items()}
        keys, historic, _ = backups(self.ccs)
        self.keys = dict(keys)
        self.historic = deque((e for e, _ in historic), maxlen=HISTORIC_MAX)

    @rule(i=st.integers(0, 5))
    @recorded
    def add(self, i):
        eui = self.euis[i]
        if eui in self.active or len(self.active) >= 16:
            ex = self.ccs.add_device(eui, bytes(16), 128, JOIN_TIMEOUT_S)
            assert not ex.ok, f"CCS01 of {eui} should be refused ({ex.evidence})"
            return
        change(self.ccs, self.itch, lambda: self.ccs.add_device(eui, bytes(16), 128, JOIN_TIMEOUT_S))
        self.active[eui] = False
        if eui in self.historic:
            self.historic.remove(eui)

    @rule()
    @recorded
    def time_passes(self):
        self.clock.sleep(JOIN_POLL_S * 2)
        rows, _ = active(self.ccs)
        for eui in self.active:
            if eui in rows:
                self.active[eui] = joined(rows[eui])
        self.keys, _, _ = backups(self.ccs)

    @rule(i=st.integers(0, 5))
    @recorded
    def remove(self, i):
        eui = self.euis[i]
        if eui not in self.active:
            ex = self.ccs.remove_device(eui)
            assert not ex.ok, f"CCS02 of {eui}, not in the log, should be refused ({ex.evidence})"
            return
        change(self.ccs, self.itch, lambda: self.ccs.remove_device(eui))
        if self.active.pop(eui):
            self.historic.append(eui)

    @invariant()
    @recorded
    def reads_match_the_model(self):
        rows, read = active(self.ccs)
        assert set(rows) == set(self.active), f"CCS06 shows {sorted(rows)}, model {sorted(self.active)} ({read.evidence})"
        _, historic, ex = backups(self.ccs)
        assert [e for e, _ in historic] == list(self.historic), (
            f"historic log {[e for e, _ in historic]}, model {list(self.historic)} ({ex.evidence})")
        for eui, hashed in historic:
            if eui in self.keys and self.keys[eui]:
                assert hashed == self.keys[eui], f"{eui} kept hash {hashed}, had {self.keys[eui]} ({ex.evidence})"


def test_historic_log_state_machine(ccs, rig, itch, clock):
    euis = churn_euis(rig, 6, block=1)
    steps, examples = (25, 8) if rig.is_virtual else (8, 1)
    failures: list[AssertionError] = []
    try:
        run_state_machine_as_test(
            lambda: HistoricLogMachine(ccs, itch, clock, euis, failures),
            # no shrinking: every shrink step would drive the device again (and on a real CH the
            # history it leaves changes the next run); the failure names its frames instead
            settings=settings(max_examples=examples, stateful_step_count=steps, deadline=None,
                              suppress_health_check=list(HealthCheck), derandomize=True, database=None,
                              phases=[Phase.explicit, Phase.generate]))
    except Exception:
        if failures:  # the device's first failure, not what a replay on a changed device did
            raise failures[0] from None
        raise
    finally:
        rows, _ = active(ccs)
        for eui in euis:
            if eui in rows:
                ccs.remove_device(eui)
