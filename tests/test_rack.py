"""A rack in a box: more runners than rigs on one database, some SIGKILLed mid-job; the lease
history and the results store must show that every promise held (see harness/racks/rackbox.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubrig.harness.racks.rackbox import run_rack

TEMPLATE = Path(__file__).resolve().parent.parent / "rigs" / "virtual.yaml"


def _check(report) -> None:
    assert report.problems == []
    assert report.kills >= 1 and len(report.lapse_after_kill_s) >= report.kills
    assert report.ran + report.not_run == report.runners
    assert report.ran >= 1


def test_rack_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    report = run_rack(pg_url, tmp_path / "rack", TEMPLATE, rigs=3, runners=5, kills=2, ttl_s=2.0)
    _check(report)


@pytest.mark.parametrize("engine", ["sqlite"])
def test_rack_on_sqlite_one_host(engine: str, tmp_path: Path) -> None:
    report = run_rack(str(tmp_path / "rack.sqlite"), tmp_path / "rack", TEMPLATE, rigs=2, runners=3, kills=1,
                      ttl_s=2.0)
    _check(report)
