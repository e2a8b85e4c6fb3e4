"""Clopper-Pearson bounds and ratio verdicts: known values, the brief's 598 trials, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubrig.harness.results.confidence import (RatioVerdict, judge_ratio, lower_bound, trials_needed,
                                               upper_bound)


def test_all_successes_give_the_closed_form_lower_bound():
    for n in (1, 5, 20, 598):
        assert lower_bound(n, n) == pytest.approx(0.05 ** (1 / n))


def test_known_values():
    # one-sided 95 %: 9/10 -> lower 0.6058 (Beta(0.05; 9, 2)); 1/10 -> upper 0.3942
    assert lower_bound(9, 10) == pytest.approx(0.60584, abs=1e-4)
    assert upper_bound(1, 10) == pytest.approx(0.39416, abs=1e-4)
    assert upper_bound(0, 10) == pytest.approx(1 - 0.05 ** 0.1)


def test_five_of_five_delivered_cannot_show_99_5_percent():
    judged = judge_ratio(5, 5, 0.995)
    assert judged.verdict is RatioVerdict.INCONCLUSIVE and judged.trials_needed == 598
    assert "needs 598 trials with no failure" in judged.explain()


def test_598_failure_free_trials_show_it_and_597_do_not():
    assert trials_needed(0.995) == 598
    assert judge_ratio(598, 598, 0.995).verdict is RatioVerdict.PASS
    assert judge_ratio(597, 597, 0.995).verdict is RatioVerdict.INCONCLUSIVE


def test_a_ratio_clearly_below_the_requirement_fails():
    judged = judge_ratio(15, 20, 0.995)
    assert judged.verdict is RatioVerdict.FAIL and judged.upper < 0.995


@given(n=st.integers(1, 400), data=st.data())
def test_bounds_bracket_the_observed_ratio_and_rise_with_successes(n, data):
    k = data.draw(st.integers(0, n))
    low, high = lower_bound(k, n), upper_bound(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
    if k < n:
        assert lower_bound(k + 1, n) >= low and upper_bound(k + 1, n) >= high


@given(n=st.integers(1, 200), data=st.data())
def test_the_lower_bound_is_where_the_tail_probability_is_five_percent(n, data):
    k = data.draw(st.integers(1, n - 1)) if n > 1 else 1
    if k == n:
        return
    p = lower_bound(k, n)
    tail = sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert tail == pytest.approx(0.05, abs=1e-6)


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        lower_bound(3, 2)
