"""Properties of the TSAT judgement that hold for any table, shipped or lab-supplied."""

from __future__ import annotations

from datetime import date, timedelta

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.rules import tsat

SHIPPED = tsat.load()
DAYS = st.dates(min_value=date(2010, 1, 1), max_value=date(2040, 12, 31))
ALL_ROWS = [r for rows in SHIPPED.rows.values() for r in rows]


def ask(table: tsat.TsatTable, row: tsat.TsatRow, day: date, **kw) -> tsat.Verdict:
    gbcs = None if row.gbcs is None else tsat.version_text(row.gbcs)
    return table.judge(row.device_type, tsat.version_text(row.spec), gbcs, day, **kw)


def flags(v: tsat.Verdict) -> tuple:
    return v.installable, v.maintainable, v.gbcs_applicable


def iso(d: date | None) -> str:
    return tsat.OPEN if d is None else d.isoformat()


def dump(table: tsat.TsatTable) -> str:
    """A table as a data file, the way a lab would write a newer one."""
    types = {}
    for dtype, rows in table.rows.items():
        out = []
        for r in rows:
            row = {"spec": tsat.version_text(r.spec),
                   "installation": [iso(r.installation.start), iso(r.installation.end)],
                   "maintenance": [iso(r.maintenance.start), iso(r.maintenance.end)],
                   "gbcs": tsat.NOT_APPLICABLE if r.gbcs is None else tsat.version_text(r.gbcs),
                   "applicability": tsat.NOT_APPLICABLE if r.applicability is None
                   else [iso(r.applicability.start), iso(r.applicability.end)],
                   "cite": r.cite}
            if r.ppm_installation_end:
                row["ppm_installation_end"] = r.ppm_installation_end.isoformat()
            out.append(row)
        types[dtype] = {"aliases": [a for a, t in table.aliases.items() if t == dtype], "rows": out}
    return yaml.safe_dump({"schema": tsat.SCHEMA, "schedule_11_version": table.schedule_11_version,
                           "modifications": [{"id": m} for m in table.modifications],
                           "device_types": types}, sort_keys=False)


@st.composite
def periods(draw) -> tsat.Period:
    start = draw(st.none() | DAYS)
    end = draw(st.none() | DAYS)
    if start and end and end < start:
        start, end = end, start
    return tsat.Period(start, end)


@st.composite
def scrambled_rows(draw, dtype: str) -> list[tsat.TsatRow]:
    """Random rows for ``dtype``: any number, any dates, any versions."""
    n = draw(st.integers(1, 4))
    rows = []
    for i in range(n):
        rows.append(tsat.TsatRow(dtype, (9, i), draw(periods()), draw(periods()), (9, i),
                                 draw(periods()), f"random row {i}"))
    return rows


@settings(max_examples=60)
@given(row=st.sampled_from(ALL_ROWS), day=DAYS, data=st.data())
def test_verdict_never_depends_on_other_device_types_rows(row, day, data):
    others = {t: data.draw(scrambled_rows(t)) for t in SHIPPED.rows if t != row.device_type}
    mixed = tsat.TsatTable("x", [], {**others, row.device_type: SHIPPED.rows[row.device_type]},
                           dict(SHIPPED.aliases))
    assert flags(ask(mixed, row, day)) == flags(ask(SHIPPED, row, day))


@settings(max_examples=100)
@given(row=st.sampled_from(ALL_ROWS), days=st.lists(DAYS, min_size=3, max_size=3, unique=True))
def test_each_verdict_holds_on_one_unbroken_run_of_days(row, days):
    """If a verdict holds on two days it holds on every day between (periods have no holes)."""
    a, b, c = sorted(days)
    for ends, middle in zip(zip(flags(ask(SHIPPED, row, a)), flags(ask(SHIPPED, row, c))),
                            flags(ask(SHIPPED, row, b))):
        if ends == (True, True):
            assert middle is True


@settings(max_examples=100)
@given(row=st.sampled_from(ALL_ROWS), day=DAYS)
def test_once_past_a_determined_end_the_verdict_stays_false(row, day):
    verdict = ask(SHIPPED, row, day)
    later = ask(SHIPPED, row, day + timedelta(days=3650))
    for name, period in (("installable", row.installation), ("maintainable", row.maintenance),
                         ("gbcs_applicable", row.applicability)):
        if period is not None and period.end is not None and day > period.end:
            assert getattr(verdict, name) is False and getattr(later, name) is False


@settings(max_examples=50)
@given(row=st.sampled_from(ALL_ROWS), day=DAYS)
def test_aliases_give_the_same_verdict(row, day):
    for alias, dtype in SHIPPED.aliases.items():
        if dtype == row.device_type:
            gbcs = None if row.gbcs is None else tsat.version_text(row.gbcs)
            via_alias = SHIPPED.judge(alias.lower(), tsat.version_text(row.spec), gbcs, day)
            assert flags(via_alias) == flags(ask(SHIPPED, row, day))


@settings(max_examples=60)
@given(day=DAYS, spec=st.sampled_from(["2.0", "3.1", "4.2"]))
def test_smets2_device_tables_are_identical(day, spec):
    gbcs = {"2.0": "1.1", "3.1": "2.1", "4.2": "3.2"}[spec]
    verdicts = {flags(SHIPPED.judge(t, spec, gbcs, day))
                for t in ("ESMETS", "GSMETS", "IHDTS", "PPMIDTS", "HCALCSTS")}
    assert len(verdicts) == 1


@settings(max_examples=30, deadline=None)
@given(day=DAYS, data=st.data())
def test_a_table_written_to_a_file_judges_the_same(tmp_path_factory, day, data):
    path = tmp_path_factory.mktemp("tsat") / "lab-table.yaml"
    path.write_text(dump(SHIPPED))
    reloaded = tsat.load(path)
    row = data.draw(st.sampled_from(ALL_ROWS))
    assert flags(ask(reloaded, row, day)) == flags(ask(SHIPPED, row, day))
    assert flags(ask(reloaded, row, day, ppm=True)) == flags(ask(SHIPPED, row, day, ppm=True))
