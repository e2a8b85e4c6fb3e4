"""Limit sets as data, and the verdicts measurements get from them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.rules.limits import DEFAULT_LIMITS_FILE, LimitError, load_limits
from hubrig.harness.results.measurements import Verdict, check, judge_quantity
from hubrig.harness.results.stats import delivered_by, fmt_duration
from hubrig.testplans.outage_results import TrialTiming, latency_table

CATALOG = load_limits()


def test_shipped_sets_are_versioned_and_every_limit_is_cited():
    assert CATALOG.version
    assert set(CATALOG.names()) == {"sec-h3.14g", "sec-relaxed", "dno-ena-2019"}
    for ls in CATALOG.select(None):
        assert ls.citation and ls.version == CATALOG.version
        assert all(lim.cite for lim in ls.limits)


@pytest.mark.parametrize("name, poa, pra", [("sec-h3.14g", 240, 60), ("sec-relaxed", 300, 120),
                                            ("dno-ena-2019", 300, 60)])
def test_latency_limits_match_the_brief(name, poa, pra):
    ls = CATALOG.get(name)
    assert ls.latency_limit("poa_latency_s", 200).max == poa
    assert ls.latency_limit("pra_latency_s", 30).max == pra
    assert ls.latency_limit("pra_latency_s", 600).max == pra
    assert ls.latency_limit("poa_latency_s", 179.9) is None


def test_exactly_three_minutes_needs_a_poa_under_sec_but_not_under_the_dnos():
    assert CATALOG.get("sec-h3.14g").latency_limit("poa_latency_s", 180.0) is not None
    assert CATALOG.get("dno-ena-2019").latency_limit("poa_latency_s", 180.0) is None


def test_selection_keeps_order_drops_duplicates_and_names_unknown_sets():
    assert [s.name for s in CATALOG.select(["dno-ena-2019", "sec-h3.14g", "dno-ena-2019"])] == [
        "dno-ena-2019", "sec-h3.14g"]
    with pytest.raises(LimitError, match="unknown limit set 'sec-h3' .*known: sec-h3.14g"):
        CATALOG.select(["sec-h3"])


@given(outage=st.floats(0, 3600), latency=st.one_of(st.none(), st.floats(0, 3600)))
def test_poa_verdicts_follow_the_rule_for_every_set(outage, latency):
    for m in judge_quantity(CATALOG.select(None), "poa_latency_s", scenario="s", value=latency,
                            outage_s=outage, missing="no POA arrived"):
        limit = 240 if m.limit_set == "sec-h3.14g" else 300
        due = outage > 180 or (outage == 180 and m.limit_set != "dno-ena-2019")
        if not due:
            assert m.verdict is Verdict.NOT_APPLICABLE
        elif latency is None:
            assert m.verdict is Verdict.FAIL and m.note == "no POA arrived"
        else:
            assert m.verdict is (Verdict.PASS if latency <= limit else Verdict.FAIL)
        assert m.limit_set in m.explain()


@given(outage=st.floats(0, 3600), count=st.integers(0, 3))
def test_a_poa_for_a_short_outage_is_a_false_positive(outage, count):
    for m in judge_quantity(CATALOG.select(None), "poa_count", scenario="s", value=count, outage_s=outage):
        if outage >= 180:
            assert m.verdict is Verdict.NOT_APPLICABLE
        else:
            assert m.verdict is (Verdict.PASS if count == 0 else Verdict.FAIL)


def test_a_failure_explains_scenario_limit_set_limit_and_evidence():
    [m] = judge_quantity([CATALOG.get("sec-relaxed")], "pra_latency_s", scenario="long-outage",
                         value=130.5, outage_s=200, evidence=[7, 9], trial=2)
    text = m.explain()
    assert m.verdict is Verdict.FAIL
    for part in ("[long-outage]", "trial 2", "130.500 s", "sec-relaxed", "<= 120 s", "journal #7",
                 "journal #9", "FAIL", "DP096"):
        assert part in text
    assert "FAIL" in check("code", False, scenario="x", rule="8F36 due").explain()


def test_a_broken_limits_file_names_the_file_and_the_field(tmp_path: Path):
    bad = tmp_path / "limits.yaml"
    bad.write_text(DEFAULT_LIMITS_FILE.read_text().replace("quantity: pra_latency_s", "quantity: pra_latency", 1))
    with pytest.raises(LimitError) as err:
        load_limits(bad)
    assert str(bad) in str(err.value) and "limit_sets.sec-h3.14g.limits" in str(err.value)
    bad.write_text("schema: [unclosed\n")
    with pytest.raises(LimitError, match=r"limits.yaml:\d+: not valid YAML"):
        load_limits(bad)
    with pytest.raises(LimitError, match="cannot read"):
        load_limits(tmp_path / "missing.yaml")


def test_a_lab_can_ship_its_own_limits_file(tmp_path: Path):
    mine = tmp_path / "lab.yaml"
    mine.write_text(DEFAULT_LIMITS_FILE.read_text().replace('version: "2026.1"', 'version: "lab-7"')
                    .replace("max: 240", "max: 200"))
    lab = load_limits(mine)
    assert lab.version == "lab-7"
    assert lab.get("sec-h3.14g").latency_limit("poa_latency_s", 200).max == 200


@given(st.lists(st.one_of(st.none(), st.floats(0, 1e4)), max_size=60), st.sampled_from([50, 80, 95, 99]))
def test_delivered_by_is_the_time_by_which_that_share_had_arrived(values, percent):
    t = delivered_by(values, percent)
    if t is None:
        assert not values or sum(v is not None for v in values) < percent / 100 * len(values)
    else:
        by_t = sum(1 for v in values if v is not None and v <= t)
        assert by_t >= percent / 100 * len(values) - 1e-9
        assert sum(1 for v in values if v is not None and v < t) < percent / 100 * len(values)


def test_delivery_ratio_counts_missing_and_late_alerts():
    trials = [TrialTiming(60.0, None, pra) for pra in (10.0, None, 70.0, 20.0)]
    sec, relaxed = (latency_table(CATALOG.get(name), trials).pra for name in ("sec-h3.14g", "sec-relaxed"))
    assert (sec.expected, sec.arrived, sec.ratio_within_limit) == (4, 3, 0.5)  # 70 s is over 60 s
    assert relaxed.ratio_within_limit == 0.75  # within 120 s
    assert latency_table(CATALOG.get("sec-h3.14g"), trials).poa.ratio_within_limit is None  # none expected
    assert fmt_duration(227) == "3m47s" and fmt_duration(12.25) == "12.2s" and fmt_duration(None) == "not reached"
