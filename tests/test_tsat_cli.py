"""``hubrig tsat check|table`` and loading a lab's own table file."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hubrig.harness import cli

from hubrig.harness.rules import tsat

from hubrig.harness.cli import tsat as tsat_cli
from hubrig.harness.clock import VirtualClock


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_json(capsys):
    code, out, _ = run(capsys, "tsat", "check", "--device-type", "ESMETS", "--spec", "4.2",
                       "--gbcs", "3.2", "--date", "2026-11-22", "--json")
    verdict = json.loads(out)
    assert code == 0
    assert (verdict["installable"], verdict["maintainable"], verdict["gbcs_applicable"]) == (True, True, True)
    assert verdict["table"] == "Schedule 11 v9.0 + MP139" and len(verdict["reasons"]) == 3


def test_check_outside_a_period_exits_1_and_says_why(capsys):
    code, out, _ = run(capsys, "tsat", "check", "--device-type", "CHF", "--spec", "1.1",
                       "--gbcs", "2.0", "--date", "2022-03-01")
    assert code == 1
    assert "GBCS applicable:    NO" in out
    assert "Applicability Period 2018-10-28 to 2022-02-28 excludes 2022-03-01" in out


@pytest.mark.parametrize("argv,message", [
    (["--device-type", "ESME", "--spec", "4.3", "--gbcs", "3.2"], "unknown ESMETS version 4.3"),
    (["--device-type", "ESME", "--spec", "4.2", "--gbcs", "3.2", "--date", "22/11/26"], "not a date"),
    (["--device-type", "METER", "--spec", "4.2"], "unknown device type 'METER'"),
])
def test_user_errors_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, "tsat", "check", *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_default_date_comes_from_the_injected_clock(capsys):
    args = cli.build_parser().parse_args(["tsat", "check", "--device-type", "CHTS", "--spec", "1.0",
                              "--gbcs", "1.1", "--json"])
    inside = VirtualClock(start=datetime(2022, 1, 31, 12, tzinfo=timezone.utc))
    tsat_cli.check(args, clock=inside)
    assert json.loads(capsys.readouterr().out)["installable"] is True
    after = VirtualClock(start=datetime(2022, 2, 1, tzinfo=timezone.utc))
    assert tsat_cli.check(args, clock=after) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["date"] == "2022-02-01" and verdict["installable"] is False


def newer_table(tmp_path: Path) -> Path:
    """The shipped table with a made-up later modification closing ESMETS 4.2 installation."""
    text = tsat.DEFAULT_TABLE.read_text()
    text = text.replace('schedule_11_version: "9.0"', 'schedule_11_version: "99.0"')
    text = text.replace(
        '- {spec: "4.2", installation: [2019-11-29, not determined]',
        '- {spec: "4.2", installation: [2019-11-29, 2030-06-30]', 1)
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    return path


def test_a_newer_table_file_needs_no_code_change(capsys, tmp_path):
    # the first 4.2 row in the file is ESMETS's
    table = newer_table(tmp_path)
    argv = ["tsat", "check", "--device-type", "ESMETS", "--spec", "4.2", "--gbcs", "3.2",
            "--date", "2030-07-01", "--json", "--table", str(table)]
    code, out, _ = run(capsys, *argv)
    verdict = json.loads(out)
    assert code == 1 and verdict["installable"] is False
    assert verdict["table"] == "Schedule 11 v99.0 + MP139"
    code, out, _ = run(capsys, *argv[:-2])
    assert code == 0 and json.loads(out)["installable"] is True


@pytest.mark.parametrize("edit,message", [
    (("installation: [2019-11-29, not determined]", "installation: [2019-11-29, 2019-11-01]"),
     "ends (2019-11-01) before it starts (2019-11-29)"),
    (("maintenance: [2016-09-30, 2022-02-28]", "maintenance: [2016-09-30, someday]"),
     "not a date or 'not determined': 'someday'"),
    (("schema: hubrig-tsat/1", "schema: other/2"), "expected schema: hubrig-tsat/1"),
    (('gbcs: "3.2"', 'gbcs: "three"'), "not a version number"),
    (('gbcs: "3.2"', 'gbcs: 3.20'), 'quote the version ("3.2")'),
    (("installation: [2019-11-29, not determined]", "installation: [2019-11-29 10:00:00, not determined]"),
     "a date, not a date-time: 2019-11-29 10:00:00"),
])
def test_bad_table_files_name_file_and_line(tmp_path, edit, message):
    text = tsat.DEFAULT_TABLE.read_text().replace(*edit, 1)
    assert text != tsat.DEFAULT_TABLE.read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if edit[1] in ln)
    with pytest.raises(tsat.TsatError) as err:
        tsat.load(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")


def test_missing_table_file(tmp_path):
    with pytest.raises(tsat.TsatError, match="cannot read TSAT table"):
        tsat.load(tmp_path / "nope.yaml")


def test_table_listing(capsys):
    code, out, _ = run(capsys, "tsat", "table", "--device-type", "CH")
    assert code == 0 and "Schedule 11 v9.0 + MP139" in out
    assert "1.0   IVP 2016-09-30 to 2022-01-31  MVP 2016-09-30 to 2022-02-28" in out
