"""The pytest plugin: inert unless its fixtures are used, --rig errors as file:line usage errors,
markers that skip with reasons, fixtures that restore mains however a test ends, progress lines
that read well in a CI log. Runs pytest inside pytest (pytester) against a bench-shaped rig: a
virtual supply behind loopback TCP (pyvisa-py) and a ``loop://`` ITCH port."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import bench_rig_file


pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

def bench_file(tmp_path: Path, resource: str = "TCPIP0::127.0.0.1::9::SOCKET", esme_gbcs: str = "3.2",
               esme_spec: str = "4.2") -> Path:
    return bench_rig_file(tmp_path, name="bench-p", resource=resource, esme_gbcs=esme_gbcs, esme_spec=esme_spec)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a child process, as a user runs it (the plugin loads through its entry point;
    an in-process run would unload modules such as cryptography's under the outer session)."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", *args)


def test_sessions_without_rig_fixtures_open_nothing(pytester, tmp_path):
    # The supply's resource is a closed port: opening it would fail the run.
    rig = bench_file(tmp_path)
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    before = datetime.now(timezone.utc).date().isoformat()
    result = run(pytester, f"--rig={rig}", f"--out={tmp_path / 'out'}")
    result.assert_outcomes(passed=1)
    assert not (tmp_path / "out" / "journal.sqlite").exists() and not (pytester.path / "runs").exists()
    # the run is still recorded where --out says, with the DUT judged against the TSAT on the real date
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert doc["rig"]["name"] == "bench-p" and doc["instruments"] == [] and doc["tsat"]["devices"]
    assert doc["tsat"]["date"] in {before, datetime.now(timezone.utc).date().isoformat()}


def test_bad_rig_file_is_a_usage_error_naming_file_and_line(pytester, tmp_path):
    rig = bench_file(tmp_path)
    rig.write_text(rig.read_text().replace("dialect: keysight-ac6800", "dialect: keysite"))
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = run(pytester, f"--rig={rig}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bench.yaml:7: instruments.supply.dialect: 'keysite' is not one of generic-scpi*"])


def test_trials_must_be_positive(pytester):
    pytester.makepyfile("def test_plain():\n    pass\n")
    assert run(pytester, "--trials=0").ret == pytest.ExitCode.USAGE_ERROR


def test_virtual_only_skips_on_a_real_bench_without_opening_it(pytester, tmp_path):
    rig = bench_file(tmp_path)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.virtual_only
        def test_marked(ground_truth):
            raise AssertionError("must not run")

        def test_unmarked(ground_truth, limit_sets):
            raise AssertionError("must not run")
    """)
    result = run(pytester, f"--rig={rig}", "-rs", f"--out={tmp_path / 'out'}")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*virtual rig only; 'bench-p' is a real bench*",
                                 "*ground truth exists on the virtual rig only; 'bench-p' is a real bench*"])
    assert not (tmp_path / "out" / "journal.sqlite").exists()
    skipped = json.loads((tmp_path / "out" / "results.json").read_text())["tests"]
    assert [t["outcome"] for t in skipped] == ["skipped", "skipped"]
    assert "virtual rig only" in skipped[0]["message"]


@pytest.mark.parametrize("gbcs, outcome", [("2.0", "skipped"), ("3.2", "passed")])
def test_gbcs_feature_skips_an_older_dut_with_the_tsat_reason(pytester, tmp_path, gbcs, outcome):
    rig = bench_file(tmp_path, esme_gbcs=gbcs, esme_spec="3.1" if gbcs == "2.0" else "4.2")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gbcs_feature("alert_0x81C6")
        def test_clock_alert():
            pass
    """)
    result = run(pytester, f"--rig={rig}", "-rs")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "skipped":
        result.stdout.fnmatch_lines(["*alert_0x81C6 needs GBCS >= 3.2 but dut.esme runs GBCS 2.0*"])


def test_fixtures_share_one_rig_and_mains_comes_back_after_a_failing_test(pytester, tmp_path, served_supply):
    supply, server = served_supply
    rig = bench_file(tmp_path, resource=server.resource)
    pytester.makepyfile("""
        from hubrig.harness.rig.mains import MAINS
        from hubrig.harness.capture.events import match

        def test_fails_during_outage(mains, rig):
            mains.cut()
            assert rig.mains is mains and mains.is_off
            raise AssertionError("plan failed mid-outage")

        def test_next_test_finds_mains_on(rig, mains, clock, bus, supply, itch, limit_sets, trials):
            states = [e.data["state"] for e in bus.events(match(MAINS))]
            assert states == ["on", "off", "on"]  # on at start, cut, restored when the failing test ended
            assert not mains.is_off and supply.output_state() is True
            assert clock is rig.clock and itch is rig.itch
            assert limit_sets == ["dno-ena-2019"] and trials == 3
    """)
    result = run(pytester, f"--rig={rig}", f"--out={tmp_path / 'out'}", "--limit-set=dno-ena-2019",
                 "--trials=3")
    result.assert_outcomes(passed=1, failed=1)
    assert supply.changes[-1][2] is True  # the instrument's output really is on again
    assert (tmp_path / "out" / "journal.sqlite").exists()
    assert not (tmp_path / "state" / "bench-p.mains-off").exists()


def test_progress_in_a_log_is_one_line_per_labelled_wait_start_and_end(pytester, tmp_path):
    """Not a terminal, virtual time: a 3-minute outage with a 100 s labelled wait prints the wait's
    start and end, nothing per rig second (the old display printed a line every 30 rig seconds)."""
    pytester.makepyfile("""
        import pytest
        from hubrig.harness.capture.events import WaitTimeout, match

        @pytest.mark.rig_time(180)
        def test_outage_with_a_labelled_wait(mains, bus, progress):
            with mains.outage(seconds=180, progress=progress):  # the fixture is a clock progress callback
                with progress.waiting("POA", trial=(2, 3)):
                    with pytest.raises(WaitTimeout):
                        bus.wait_for(match("notification", name="never"), timeout_s=100)
    """)
    # default --rig: the embedded virtual rig, in virtual time
    result = run(pytester, f"--out={tmp_path / 'out'}", "--progress-every=30")
    result.assert_outcomes(passed=1)
    lines = [line for line in result.outlines if line.startswith("hubrig: ") and not line.startswith("hubrig: run ")]
    assert len(lines) == 2, lines
    assert lines[0].endswith(" outage-with-a-labelled-wait trial 2/3: waiting for POA started")
    assert " outage-with-a-labelled-wait trial 2/3: waiting for POA ended after 01:40 rig time (" in lines[1]
    assert "\r" not in result.stdout.str() and "\x1b[" not in result.stdout.str()  # no redraws in a CI log


def test_progress_in_a_log_repeats_a_long_wait_at_most_every_progress_every_wall_seconds(pytester, tmp_path):
    """A wait that lasts long in wall time (here: --progress-every 0.05 s and a real-time sleep
    between rig seconds) gets periodic lines with the outage and the wait in rig time."""
    pytester.makepyfile("""
        import time

        def test_slow_wait(mains, clock, progress):
            clock.report_every_s = 1.0
            with mains.outage(seconds=4):
                with progress.waiting("PRA"):
                    for _ in range(3):
                        time.sleep(0.06)
                        progress(1.0 + _, 3.0)
    """)
    result = run(pytester, f"--out={tmp_path / 'out'}", "--progress-every=0.05")
    result.assert_outcomes(passed=1)
    periodic = [line for line in result.outlines if line.startswith("hubrig: ") and " slow-wait · outage" in line]
    assert len(periodic) == 3, result.outlines
    assert "waiting for PRA 00:01 / 00:03" in periodic[0] and "test 1/1" in periodic[0]


def test_unknown_gbcs_feature_fails_with_a_message_not_a_traceback(pytester, tmp_path):
    rig = bench_file(tmp_path)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.gbcs_feature("teleportation")
        def test_x():
            pass
    """)
    result = run(pytester, f"--rig={rig}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gbcs_feature('teleportation'): unknown GBCS feature 'teleportation'; known:*"])
    assert "Traceback" not in result.stdout.str()


def test_a_rig_that_cannot_open_fails_each_test_with_one_message(pytester, tmp_path):
    rig = bench_file(tmp_path, resource="TCPIP0::127.0.0.1::1::SOCKET")  # nothing listens there
    pytester.makepyfile("""
        def test_a(mains):
            pass

        def test_b(itch):
            pass
    """)
    result = run(pytester, f"--rig={rig}", f"--out={tmp_path / 'out'}")
    result.assert_outcomes(errors=2)
    assert result.stdout.str().count("cannot open rig") >= 2
    assert "Connection refused" in result.stdout.str() and "Traceback" not in result.stdout.str()


def test_virtual_time_and_realtime_sessions_share_one_run_folder(pytester):
    """Without --out the run folder is named once per session, even when the real-time rig opens
    in a later second than the virtual-time one."""
    pytester.makepyfile("""
        import time
        import pytest

        opened = []

        def test_virtual_time(rig):
            opened.append(rig.out_dir)
            time.sleep(1.05 - time.time() % 1)  # the next test opens its rig in another second

        @pytest.mark.realtime
        def test_real_time(rig):
            assert rig.realtime and rig.out_dir == opened[0] / "realtime"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    (folder,) = (pytester.path / "runs").iterdir()
    assert (folder / "journal.sqlite").exists() and (folder / "realtime" / "journal.sqlite").exists()


def test_closing_the_pool_closes_every_session_even_when_one_fails(pytestconfig):
    from hubrig.fixtures.plugin import RigPool

    closed: list[str] = []

    class Session:
        def __init__(self, name: str, fails: bool):
            self.name, self.fails = name, fails

        def close(self) -> None:
            closed.append(self.name)
            if self.fails:
                raise ConnectionError(f"{self.name}: instrument gone")

    pool = RigPool(pytestconfig)
    pool._sessions = {False: Session("virtual time", True), True: Session("real time", False)}
    with pytest.raises(ConnectionError, match="virtual time: instrument gone"):
        pool.close()
    assert sorted(closed) == ["real time", "virtual time"]
