"""TSAT engine against an independent transcription of Schedule 11 v9.0 + MP139.

The expected rows below are typed from the source (MP139 Annex A, seed 003) in its own dd/mm/yy
form, not read from the shipped data file, so a wrong date in the data file fails here. Every
finite bound of every period is probed on the day before, the first/last day and the day after.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from hubrig.harness.rules import tsat

ND = "Not determined"


def d(text: str) -> date | None:
    return None if text == ND else datetime.strptime(text, "%d/%m/%y").date()


# (spec, inst start, inst end, maint start, maint end, GBCS, applic start, applic end)
CHTS = [
    ("1.0", "30/09/16", "31/01/22", "30/09/16", "28/02/22", "1.1", "06/11/17", ND),
    ("1.1", "28/10/18", ND, "28/10/18", ND, "2.0", "28/10/18", "28/02/22"),
    ("1.1", "28/10/18", "30/04/22", "28/10/18", "31/05/22", "2.1", "28/10/18", ND),
    ("1.3", "29/11/19", ND, "29/11/19", ND, "3.2", "29/11/19", ND),
]
SMETS2 = [
    ("2.0", "30/09/16", "27/04/21", "30/09/16", ND, "1.1", "06/11/17", ND),
    ("3.1", "08/11/18", "27/04/21", "08/11/18", ND, "2.0", "28/10/18", ND),
    ("3.1", "08/11/18", "27/04/21", "08/11/18", ND, "2.1", "28/10/18", ND),
    ("4.2", "29/11/19", ND, "29/11/19", ND, "3.2", "29/11/19", ND),
]
SMETS1 = [("1.2", "18/12/12", "05/12/18", "18/12/12", ND, None, None, None)]
EXPECTED = {
    "CHTS": CHTS, "ESMETS": SMETS2, "GSMETS": SMETS2, "IHDTS": SMETS1 + SMETS2,
    "PPMIDTS": SMETS2, "HCALCSTS": SMETS2, "ESMSTS": SMETS1, "GSMSTS": SMETS1,
}
SMETS1_PPM_INSTALL_END = date(2019, 3, 15)
FIELDS = {1: "installable", 3: "maintainable", 6: "gbcs_applicable"}


def boundary_cases():
    for dtype, rows in EXPECTED.items():
        for row in rows:
            for col, name in FIELDS.items():
                if row[5] is None and name == "gbcs_applicable":
                    continue
                start, end = d(row[col]), d(row[col + 1])
                probes = [(start - timedelta(days=1), False), (start, True)]
                if end is not None:
                    probes += [(end, True), (end + timedelta(days=1), False)]
                else:
                    probes.append((date(2099, 12, 31), True))
                for day, expected in probes:
                    yield pytest.param(dtype, row[0], row[5], name, day, expected,
                                       id=f"{dtype}-{row[0]}-gbcs{row[5]}-{name}-{day}")


@pytest.fixture(scope="module")
def table() -> tsat.TsatTable:
    return tsat.load()


@pytest.mark.parametrize("dtype,spec,gbcs,field,day,expected", list(boundary_cases()))
def test_every_row_boundary(table, dtype, spec, gbcs, field, day, expected):
    verdict = table.judge(dtype, spec, gbcs, day)
    assert getattr(verdict, field) is expected, verdict.reasons


def test_shipped_table_has_exactly_the_source_rows(table):
    assert set(table.rows) == set(EXPECTED)
    for dtype, rows in EXPECTED.items():
        have = [(tsat.version_text(r.spec), r.gbcs and tsat.version_text(r.gbcs))
                for r in table.rows[dtype]]
        assert have == [(r[0], r[5]) for r in rows]


def test_table_names_its_schedule_version_and_modifications(table):
    assert table.version == "Schedule 11 v9.0 + MP139"
    verdict = table.judge("CHTS", "1.0", "1.1", date(2021, 6, 1))
    assert verdict.table == "Schedule 11 v9.0 + MP139"
    assert "MP139" in verdict.row.cite


def test_mp139_extension_is_what_makes_chts_1_0_installable_in_2021(table):
    # before MP139 the IVP ended 31/01/21; MP139 extended it to 31/01/22
    verdict = table.judge("CHTS", "1.0", "1.1", date(2021, 2, 1))
    assert verdict.installable and verdict.maintainable


def test_shared_spec_version_rows_are_told_apart_by_gbcs(table):
    day = date(2022, 5, 1)  # after GBCS 2.0 applicability (28/02/22) and 2.1 IVP (30/04/22)
    v20 = table.judge("CHTS", "1.1", "2.0", day)
    v21 = table.judge("CHTS", "1.1", "2.1", day)
    assert (v20.installable, v20.gbcs_applicable) == (True, False)
    assert (v21.installable, v21.gbcs_applicable) == (False, True)


def test_smets1_ppm_installation_end(table):
    day = date(2019, 1, 1)
    assert table.judge("ESMSTS", "1.2", None, day).installable is False
    ppm = table.judge("ESMSTS", "1.2", None, day, ppm=True)
    assert ppm.installable is True and ppm.gbcs_applicable is None
    after = SMETS1_PPM_INSTALL_END + timedelta(days=1)
    assert table.judge("GSMSTS", "1.2", None, after, ppm=True).installable is False
    assert table.judge("GSMSTS", "1.2", None, SMETS1_PPM_INSTALL_END, ppm=True).installable is True


@pytest.mark.parametrize("alias,canonical", [
    ("ESME", "ESMETS"), ("esme", "ESMETS"), ("CH", "CHTS"), ("CHF", "CHTS"), ("GSME", "GSMETS"),
    ("IHD", "IHDTS"), ("PPMID", "PPMIDTS"), ("HCALCS", "HCALCSTS"),
])
def test_aliases(table, alias, canonical):
    assert table.device_type(alias) == canonical


@pytest.mark.parametrize("args,message", [
    (("ESMETS", "4.3", "3.2"), "unknown ESMETS version 4.3 in Schedule 11 v9.0 + MP139; the table has 2.0, 3.1, 4.2"),
    (("CHTS", "1.1", "3.2"), "CHTS 1.1 has no row for GBCS 3.2"),
    (("CHTS", "1.1", None), "one row per GBCS version (2.0, 2.1): give the GBCS version"),
    (("ESMSTS", "1.2", "1.1"), "SMETS1 specification with no GBCS version"),
    (("WATERMETER", "1.0", "1.0"), "unknown device type 'WATERMETER'"),
    (("ESMETS", "four", "3.2"), "not a version number: 'four'"),
])
def test_unknown_versions_are_clear_errors(table, args, message):
    with pytest.raises(tsat.TsatError) as err:
        table.judge(*args, date(2026, 1, 1))
    assert message in str(err.value)


def test_gbcs_may_be_omitted_when_one_row_fits(table):
    assert table.judge("ESMETS", "4.2", None, date(2026, 1, 1)).gbcs == "3.2"


def test_version_spelling_is_normalised(table):
    assert table.judge("ESMETS", "v4.2", "3.2", date(2026, 1, 1)).spec == "4.2"


def test_verdict_json_shape(table):
    out = table.judge("ESMETS", "4.2", "3.2", date(2026, 11, 22)).to_json()
    assert out["installable"] is True and out["maintainable"] is True and out["gbcs_applicable"] is True
    assert out["date"] == "2026-11-22" and out["table"] == "Schedule 11 v9.0 + MP139"
    assert len(out["reasons"]) == 3 and all("row 4" in r for r in out["reasons"])
