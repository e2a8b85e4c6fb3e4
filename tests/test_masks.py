"""Masks and bands as data: file:line errors, the example masks say they are examples, the ZigBee
channel plan, unit conversion, and the judgement (emission = powered - reference; a point is a
violation exactly when its emission is above the limit)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.harness.rules.masks import (DBUV_TO_DBM, MaskError, emission_dbm, judge, load_bands, load_mask,
                                        shipped_masks, zigbee_channels)

GOOD = """\
schema: hubrig-mask/1
name: lab-han
version: "2.0"
citation: "Lab X, ICHIS test specification section n"
segments:
  - {start_mhz: 2400, stop_mhz: 2450, limit: -70, unit: dBm, rbw_hz: 100000, detector: peak}
  - {start_mhz: 2450, stop_mhz: 2483.5, limit: 40, unit: dBuV, rbw_hz: 100000, detector: average}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mask.yaml"
    path.write_text(text)
    return path


def test_zigbee_channels_11_to_26_at_2405_plus_5_per_channel():
    channels = zigbee_channels()
    assert list(channels) == list(range(11, 27))
    assert channels[11] == 2405.0 and channels[26] == 2480.0
    assert all(channels[k] == 2405 + 5 * (k - 11) for k in channels)
    band = load_bands().bands["zigbee-2g4"]
    assert all(band.start_mhz < f < band.stop_mhz for f in channels.values())


def test_shipped_masks_say_they_are_examples_not_ichis_values():
    assert shipped_masks()
    for name in shipped_masks():
        mask = load_mask(name)
        assert mask.example and "example" in name and "not-ichis" in name
        assert "EXAMPLE" in mask.citation and "not taken from the ICHIS" in mask.citation
    wan = [b for b in load_bands().bands.values() if b.kind == "wan"]
    assert wan and all(b.name.startswith("wan-example") and "EXAMPLE" in b.citation for b in wan)


def test_a_lab_mask_loads_and_converts_dbuv_to_dbm(tmp_path):
    mask = load_mask(write(tmp_path, GOOD))
    assert mask.name == "lab-han" and not mask.example
    limits = mask.limit_at(np.array([2399e6, 2400e6, 2449.9e6, 2450e6, 2483.5e6, 2490e6]))
    assert np.isnan(limits[0]) and np.isnan(limits[-1])
    assert limits[1:5].tolist() == [-70.0, -70.0, 40 + DBUV_TO_DBM, 40 + DBUV_TO_DBM]


@pytest.mark.parametrize("change, line, message", [
    (("stop_mhz: 2450, limit: -70", "stop_mhz: 2300, limit: -70"), 6, "segments.0: stop_mhz 2300 is not above start_mhz 2400"),
    (("start_mhz: 2450, stop_mhz: 2483.5", "start_mhz: 2440, stop_mhz: 2483.5"), 7, "segments.1.start_mhz: segment 1 starts at 2440 MHz, inside segment 0"),
    (("unit: dBuV", "unit: dBuA"), 7, "segments.1.unit: "),
    (("detector: average", "detector: median"), 7, "segments.1.detector: "),
    (('version: "2.0"', "version: 2.0"), 3, "version: YAML read 2.0 as a number"),
    (("name: lab-han", "name: lab-han\nexample: true"), 2, "name: an example mask says so in its name and its citation"),
    (("limit: -70,", "limit: .nan,"), 6, "segments.0.limit: "),
    (("name: lab-han", "name: lab-han\nname: again"), 3, "name: duplicate key"),
])
def test_bad_mask_files_are_refused_at_their_line(tmp_path, change, line, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(MaskError) as err:
        load_mask(path)
    assert f"{path}:{line}: {message}" in str(err.value)


def test_a_missing_mask_lists_the_shipped_ones(tmp_path):
    with pytest.raises(MaskError, match="no mask file at nowhere.yaml .shipped masks: example-han-2g4-not-ichis"):
        load_mask("nowhere.yaml")


def test_rig_file_names_an_unknown_band_at_its_line(tmp_path):
    from hubrig.harness.rig.file import RigFileError, load_rig
    from hubrig.harness.rig.session import default_rig_file

    text = default_rig_file().read_text().replace("{band: han-868,", "{band: han-869,")
    path = tmp_path / "rig.yaml"
    path.write_text(text)
    line = text.splitlines().index("    - {band: han-869, mask: example-han-868-not-ichis}") + 1
    with pytest.raises(RigFileError, match=rf"rig.yaml:{line}: rf_noise.bands.1.band: unknown band 'han-869'"):
        load_rig(path)


levels = st.floats(min_value=-130, max_value=-20, allow_nan=False)


@given(st.lists(st.tuples(levels, levels, st.floats(min_value=-100, max_value=-40)), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_emission_and_violations(points):
    reference = np.array([p[0] for p in points])
    powered = np.array([p[1] for p in points])
    emission = emission_dbm(powered, reference)
    # the ESME adds no more than the powered trace holds, and nothing where the powered is not above the reference
    assert np.all(emission <= powered + 1e-9)
    assert np.all(emission[powered <= reference] == -300.0)
    # where the reference is 20 dB under, the emission is the powered level within 0.05 dB
    far = powered - reference >= 20
    assert np.allclose(emission[far], powered[far], atol=0.05)
    freq = np.linspace(2400e6, 2483.5e6, len(points))
    mask = load_mask("example-han-2g4-not-ichis")
    violations, margin, worst = judge(freq, emission, mask)
    assert [v.freq_hz for v in violations] == freq[emission > -70.0].tolist()
    assert all(v.margin_db < 0 for v in violations)
    assert margin == pytest.approx(float(np.min(-70.0 - emission)))
    assert (margin < 0) == bool(violations) and not math.isnan(worst)


def test_the_rf_noise_bench_example_validates_and_plans_every_band():
    from hubrig.harness.rig.file import load_rig

    rig = load_rig(Path(__file__).resolve().parent.parent / "rigs" / "examples" / "bench-rf-noise.yaml")
    plans = rig.rf_noise.plan()
    assert [p.band.name for p in plans] == ["zigbee-2g4", "han-868", "wan-example-cellular-800"]
    assert [len(p.sweeps) for p in plans] == [1, 2, 1]  # one sweep per mask segment inside the band
    wan = plans[2].sweeps[0]
    assert (wan.start_hz, wan.stop_hz, wan.rbw_hz, wan.vbw_hz) == (791e6, 821e6, 100e3, 300e3)  # clipped to the band
