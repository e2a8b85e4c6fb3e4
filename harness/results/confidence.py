"""What a handful of trials can show about a ratio requirement (ENA's 99.5 % delivery).

A bench runs tens of outages, not thousands: 5 of 5 delivered does not show 99.5 %. A ratio is
judged by its exact (Clopper-Pearson) one-sided confidence bounds:

* PASS when the lower bound clears the requirement;
* FAIL when the upper bound is below it (the trials show the requirement is not met);
* INCONCLUSIVE otherwise, with the number of failure-free trials that would show it
  (``ceil(ln(1 - confidence) / ln(required))``: 598 for 99.5 % at 95 %).

The bounds are found by bisection on the binomial tail, in log space, so any trial count works
without a statistics library.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import Enum

CONFIDENCE = 0.95
"""One-sided confidence of every bound (the domain brief's 95 %)."""


class RatioVerdict(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class RatioJudgement:
    """A ratio of ``successes`` in ``trials`` judged against ``required``."""

    successes: int
    trials: int
    required: float
    confidence: float
    lower: float
    upper: float
    verdict: RatioVerdict
    trials_needed: int
    """Failure-free trials that would show ``required`` at ``confidence``."""

    @property
    def ratio(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def explain(self) -> str:
        """One line: the ratio, its bounds and why the verdict is what it is."""
        level = f"{100 * self.confidence:g} %"
        shown = f"{self.successes}/{self.trials}"
        bounds = f"one-sided {level} bounds {self.lower:.4f}..{self.upper:.4f}"
        if self.verdict is RatioVerdict.PASS:
            return f"{shown}: {bounds}; the lower bound clears {self.required:g}"
        if self.verdict is RatioVerdict.FAIL:
            return f"{shown}: {bounds}; the upper bound is below {self.required:g}"
        return (f"{shown}: {bounds}; cannot show {self.required:g} (needs {self.trials_needed} trials "
                f"with no failure)")


@functools.lru_cache(maxsize=64)
def _log_comb(n: int) -> tuple[float, ...]:
    """ln C(n, i) for i = 0..n (a bisection evaluates the same n a hundred times)."""
    top = math.lgamma(n + 1)
    return tuple(top - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(n + 1))


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return _log_comb(n)[k] + k * math.log(p) + (n - k) * math.log1p(-p)


def _tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    terms = [_log_binom_pmf(i, n, p) for i in range(k, n + 1)]
    top = max(terms)
    if top == -math.inf:
        return 0.0
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _bisect(f, target: float) -> float:
    """The p in [0, 1] where the increasing ``f(p)`` reaches ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def lower_bound(successes: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound: the smallest p at which ``successes`` or more in
    ``trials`` has probability at least ``1 - confidence``."""
    _check(successes, trials, confidence)
    if successes == 0:
        return 0.0
    if successes == trials:
        return (1.0 - confidence) ** (1.0 / trials)
    return _bisect(lambda p: _tail_at_least(successes, trials, p), 1.0 - confidence)


def upper_bound(successes: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound (1 when every trial succeeded or none ran)."""
    _check(successes, trials, confidence)
    if successes == trials:
        return 1.0
    if successes == 0:
        return 1.0 - (1.0 - confidence) ** (1.0 / trials)
    # P(X <= k) = 1 - P(X >= k+1) falls as p rises: find where it reaches 1 - confidence.
    return _bisect(lambda p: _tail_at_least(successes + 1, trials, p), confidence)


def trials_needed(required: float, confidence: float = CONFIDENCE) -> int:
    """Failure-free trials whose lower bound reaches ``required`` (a requirement of 1 can never be
    shown by trials: ValueError)."""
    if required <= 0.0:
        return 0
    if required >= 1.0:
        raise ValueError(f"a ratio requirement of {required:g} cannot be shown by any number of trials")
    return math.ceil(math.log(1.0 - confidence) / math.log(required) - 1e-12)


def judge_ratio(successes: int, trials: int, required: float, confidence: float = CONFIDENCE) -> RatioJudgement:
    """PASS, FAIL or INCONCLUSIVE for a ratio requirement, with the bounds that decide it."""
    if trials == 0:
        return RatioJudgement(0, 0, required, confidence, 0.0, 1.0, RatioVerdict.INCONCLUSIVE,
                              trials_needed(required, confidence))
    low, high = lower_bound(successes, trials, confidence), upper_bound(successes, trials, confidence)
    verdict = (RatioVerdict.PASS if low >= required else
               RatioVerdict.FAIL if high < required else RatioVerdict.INCONCLUSIVE)
    return RatioJudgement(successes, trials, required, confidence, low, high, verdict,
                          trials_needed(required, confidence))


def _check(successes: int, trials: int, confidence: float) -> None:
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
