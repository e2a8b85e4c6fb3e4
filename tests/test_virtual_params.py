"""Virtual device parameters: delay distributions, presets, overrides."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hubrig.harness.virtual.params import Delay, VirtualParams
from hubrig.harness.virtual.presets import PRESETS

delays = st.one_of(
    st.builds(lambda lo, span: Delay(distribution="uniform", min_s=lo, max_s=lo + span),
              st.floats(0, 1e4), st.floats(0, 1e4)),
    st.builds(lambda lo, a, b: Delay(distribution="triangular", min_s=lo, max_s=lo + a + b, mode_s=lo + a),
              st.floats(0, 1e4), st.floats(0, 1e4), st.floats(0, 1e4)),
    st.builds(lambda m, s, cap: Delay(distribution="lognormal", median_s=m, sigma=s, max_s=cap),
              st.floats(0.01, 1e4), st.floats(0.01, 3), st.one_of(st.none(), st.floats(0, 1e5))),
    st.builds(lambda lo, mean: Delay(distribution="exponential", min_s=lo, mean_s=mean),
              st.floats(0, 1e4), st.floats(0.01, 1e4)),
    st.builds(Delay.fixed, st.floats(0, 1e4)),
)


@given(delays, st.integers(0, 2**32))
def test_a_delay_draw_stays_within_its_bounds_and_costs_one_rng_call(delay, seed):
    rng, twin = random.Random(seed), random.Random(seed)
    value = delay.sample(rng)
    assert value >= delay.min_s
    if delay.max_s is not None:
        assert value <= delay.max_s
    twin.random()
    assert rng.random() == twin.random()


def test_distributions_have_the_shape_they_name():
    rng = random.Random(7)
    uniform = [Delay(distribution="uniform", min_s=20, max_s=122).sample(rng) for _ in range(4000)]
    assert statistics.median(uniform) == pytest.approx(71, abs=4)
    lognormal = [Delay(distribution="lognormal", median_s=210, sigma=0.59).sample(rng) for _ in range(4000)]
    assert statistics.median(lognormal) == pytest.approx(210, rel=0.06)
    expo = [Delay(distribution="exponential", min_s=5, mean_s=10).sample(rng) for _ in range(4000)]
    assert statistics.mean(expo) == pytest.approx(15, rel=0.08)
    tri = [Delay(distribution="triangular", min_s=0, max_s=10, mode_s=10).sample(rng) for _ in range(4000)]
    assert statistics.mean(tri) == pytest.approx(20 / 3, rel=0.04)


@pytest.mark.parametrize("bad, says", [
    ({"distribution": "uniform", "min_s": 5}, "needs max_s"),
    ({"distribution": "uniform", "min_s": 5, "max_s": 1}, "below min_s"),
    ({"distribution": "lognormal", "median_s": 5}, "needs sigma"),
    ({"distribution": "triangular", "min_s": 0, "max_s": 1, "mode_s": 2}, "mode_s"),
    ({"distribution": "gamma", "min_s": 0}, "distribution"),
])
def test_an_inconsistent_delay_is_refused_with_the_reason(bad, says):
    with pytest.raises(ValidationError, match=says):
        Delay.model_validate(bad)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_resolves_to_valid_parameters(preset):
    resolved = VirtualParams(preset=preset).resolve()
    assert resolved.ch.poa_after_s == 180
    assert resolved.esme.outage_threshold_s == 180


def test_the_study_root_causes_show_in_the_presets():
    north, cs = VirtualParams(preset="north").resolve(), VirtualParams(preset="central-south").resolve()
    cs_b = VirtualParams(preset="central-south-option-b").resolve()
    assert north.ch.hold_up_s >= 540 and cs.ch.hold_up_s < 180  # ~10 min vs cannot stay up 3 min
    assert north.ch.windows.poa is not None and cs.ch.windows.pra is None
    assert cs_b.ch.reboot_s < cs.ch.reboot_s and cs_b.ch.dither.max_s < cs.ch.dither.max_s
    assert VirtualParams(preset="north-option-b").resolve().ch.pra_source == "ch"
    assert VirtualParams(preset="north-option-a").resolve().ch.pra_source == "ch"  # change 2 is in option A


def test_an_explicit_field_overrides_the_preset_and_only_that_field():
    params = VirtualParams.model_validate({"preset": "north", "ch": {"hold_up_s": 5},
                                           "esme": {"clock_drift_ppm": 50}})
    resolved, north = params.resolve(), VirtualParams(preset="north").resolve()
    assert resolved.ch.hold_up_s == 5 and resolved.esme.clock_drift_ppm == 50
    assert resolved.ch.model_dump(exclude={"hold_up_s"}) == north.ch.model_dump(exclude={"hold_up_s"})


def test_overriding_one_window_keeps_the_other():
    params = VirtualParams.model_validate({"preset": "north", "ch": {"windows": {"pra": None}}})
    windows = params.resolve().ch.windows
    assert windows.pra is None
    assert windows.poa == VirtualParams(preset="north").resolve().ch.windows.poa


@pytest.mark.parametrize("bad, where", [
    ({"ch": {"hold_upp_s": 5}}, "ch.hold_upp_s"),
    ({"preset": "east"}, "preset"),
    ({"defects": {"drop_ratio": 1.5}}, "defects.drop_ratio"),
    ({"ch": {"poa_notification": "AD1:{serial}"}}, "ch"),
    ({"ch": {"poa_notification": "AD1:{eui}\r\nX"}}, "ch"),
    ({"esme": {"alert_recipient": "xyz"}}, "esme.alert_recipient"),
])
def test_a_bad_virtual_section_names_the_field(bad, where):
    with pytest.raises(ValidationError) as info:
        VirtualParams.model_validate(bad)
    locations = [".".join(str(p) for p in e["loc"]) for e in info.value.errors()]
    assert any(loc.startswith(where) for loc in locations), locations
