"""Rig-file safety that cannot be argued away, and the loader's caps: every attack from issue 8
is refused with a located ``file:line: field: problem`` error (never coerced, never a traceback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hubrig.harness.rig.file import (MAX_DEPTH, MAX_INT_DIGITS, MAX_KEYS, MAX_NODES, MAX_STRING, RigFileError,
                                     parse_rig)

from test_rigfile import GOOD, error_of, line_of

SUPPLY = "    safety: {max_voltage: 253.0, max_current: 5.0, min_frequency: 45.0, max_frequency: 55.0}"
assert SUPPLY in GOOD


def with_safety(**fields: str) -> str:
    """GOOD with the safety limits (and optional extra supply lines) replaced."""
    limits = {"max_voltage": "253.0", "max_current": "5.0", "min_frequency": "45.0", "max_frequency": "55.0"}
    extra = fields.pop("extra", "")
    limits.update(fields)
    body = ", ".join(f"{k}: {v}" for k, v in limits.items() if v is not None)
    return GOOD.replace(SUPPLY, f"    safety: {{{body}}}" + (f"\n{extra}" if extra else ""))


def test_off_verification_above_a_quarter_of_the_set_point_is_refused(tmp_path):
    text = with_safety(extra="    verify_off_max_v: 250")
    assert error_of(tmp_path, text) == (
        f"bench.yaml:{line_of(text, 'verify_off_max_v')}: instruments.supply.verify_off_max_v: 250 V would accept "
        "a live output as off: at most 25% of voltage 230 V (57.5 V)")


def test_on_threshold_not_above_the_off_threshold_is_refused(tmp_path):
    text = with_safety(extra="    verify_off_max_v: 20\n    verify_on_min_v: 15")
    assert (f"bench.yaml:{line_of(text, 'verify_on_min_v')}: instruments.supply.verify_on_min_v: 15 V is not above "
            "the off threshold 20 V") in error_of(tmp_path, text)


@pytest.mark.parametrize("field, value", [("max_voltage", ".inf"), ("max_current", ".inf"), ("max_voltage", ".nan"),
                                          ("max_frequency", ".inf"), ("min_frequency", "-.inf")])
def test_limits_are_finite(tmp_path, field, value):
    text = with_safety(**{field: value})
    msg = error_of(tmp_path, text)
    assert re.search(rf"^bench\.yaml:{line_of(text, 'safety:')}: instruments\.supply\.safety\.{field}: "
                     r"input should be a finite number", msg, re.M), msg


def test_an_infinite_limit_cannot_admit_a_1000_volt_set_point(tmp_path):
    text = with_safety(max_voltage=".inf").replace("voltage: 230.0", "voltage: 1000.0")
    assert "instruments.supply.safety.max_voltage: input should be a finite number" in error_of(tmp_path, text)


@pytest.mark.parametrize("missing", [("min_frequency",), ("max_frequency",), ("min_frequency", "max_frequency")])
def test_an_ac_source_without_frequency_limits_is_refused(tmp_path, missing):
    """Even a 1 kHz set-point: with no frequency limits nothing would have refused it."""
    text = with_safety(**{m: None for m in missing}).replace("frequency: 50.0", "frequency: 1000.0")
    if len(missing) == 1:
        text = text.replace("frequency: 1000.0", "frequency: 50.0")
    assert (f"bench.yaml:{line_of(text, 'safety:')}: instruments.supply.safety: {' and '.join(missing)} required: "
            "an AC source's frequency is always bounded") in error_of(tmp_path, text)


def test_an_ac_source_needs_a_frequency_set_point(tmp_path):
    text = "\n".join(line for line in GOOD.splitlines() if not line.strip().startswith("frequency:")) + "\n"
    assert "instruments.supply.frequency: required for the AC source keysight-ac6800" in error_of(tmp_path, text)


def test_min_frequency_above_max_frequency_is_refused(tmp_path):
    text = with_safety(min_frequency="60.0", max_frequency="40.0")
    assert (f"bench.yaml:{line_of(text, 'safety:')}: instruments.supply.safety.min_frequency: 60 Hz is above "
            "max_frequency 40 Hz") in error_of(tmp_path, text)


@pytest.mark.parametrize("value, shown", [('"230"', "got str '230' (write the number without quotes)"),
                                          ("true", "got bool True"), ("yes", "got bool True")])
def test_set_points_are_strictly_numbers(tmp_path, value, shown):
    text = GOOD.replace("voltage: 230.0", f"voltage: {value}")
    assert (f"bench.yaml:{line_of(text, 'voltage: ')}: instruments.supply.voltage: expected a number, "
            f"{shown}") in error_of(tmp_path, text)


def test_a_quoted_limit_is_not_coerced(tmp_path):
    text = with_safety(max_current='"5"')
    assert "instruments.supply.safety.max_current: expected a number, got str '5'" in error_of(tmp_path, text)


# ---------------------------------------------------------------------------------- loader caps

def test_an_alias_bomb_in_a_typed_field_is_refused_without_echoing_it(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "\n".join(lines) + "\n" + GOOD.replace("name: bench-3", "name: *a8")
    msg = error_of(tmp_path, text)
    assert msg == (f"bench.yaml:{line_of(text, 'a4:')}: this section expands (through YAML aliases) to more than "
                   f"{MAX_NODES:,} values; a rig file has far fewer")


def test_an_alias_of_moderate_size_in_a_typed_field_is_echoed_briefly(tmp_path):
    text = "big: &big [" + ", ".join(["xxxxxxxx"] * 200) + "]\n" + GOOD.replace("name: bench-3", "name: *big")
    msg = error_of(tmp_path, text)
    assert len(msg) < 1000 and "bench.yaml:" in msg and "name:" in msg


def test_twenty_thousand_unknown_keys_are_refused_at_the_cap(tmp_path):
    text = GOOD + "".join(f"junk{i}: {i}\n" for i in range(20_000))
    found = re.fullmatch(rf"bench\.yaml:(\d+): more than {MAX_KEYS:,} keys; a rig file has far fewer",
                         error_of(tmp_path, text))
    assert found and line_of(text, "junk0:") < int(found.group(1)) <= line_of(text, f"junk{MAX_KEYS}:")


def test_a_few_unknown_keys_are_each_named_and_the_rest_counted(tmp_path):
    text = GOOD + "".join(f"junk{i}: {i}\n" for i in range(50))
    lines = error_of(tmp_path, text).splitlines()
    assert lines[0] == f"bench.yaml:{line_of(text, 'junk0:')}: junk0: unknown field 'junk0' (expected one of: " \
        "name, kind, seed, limit_sets, instruments, dut, tsat, state_dir, virtual, rf_noise, bench)"
    assert lines[-1] == "bench.yaml: ... and 30 more problems"


def test_a_five_thousand_digit_seed_is_refused_at_its_line(tmp_path):
    text = GOOD.replace("kind: real", "kind: real\nseed: " + "7" * 5000)
    assert error_of(tmp_path, text) == (f"bench.yaml:{line_of(text, 'seed:')}: an integer of 5,000 digits; at most "
                                        f"{MAX_INT_DIGITS}")


def test_deep_nesting_is_refused_at_the_level_past_the_cap(tmp_path):
    text = GOOD + "deep: " + "[" * 5000 + "]" * 5000 + "\n"
    assert error_of(tmp_path, text) == f"bench.yaml:{line_of(text, 'deep:')}: nested more than {MAX_DEPTH} levels deep"


def test_deep_block_nesting_is_located_too(tmp_path):
    text = GOOD + "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * (MAX_DEPTH + 5) + "v\n"
    assert error_of(tmp_path, text) == (f"bench.yaml:{line_of(text, f'k{MAX_DEPTH}:')}: nested more than "
                                        f"{MAX_DEPTH} levels deep")


def test_a_ten_megabyte_name_is_refused_by_the_size_cap(tmp_path):
    text = GOOD.replace("name: bench-3", "name: " + "n" * 10_000_000)
    assert error_of(tmp_path, text) == (f"bench.yaml:1: the rig file is {len(text.encode()):,} bytes; a rig file is "
                                        "at most 1,000,000")


def test_a_long_string_is_refused_at_its_line_without_echoing_it(tmp_path):
    text = GOOD.replace("name: bench-3", "name: " + "n" * (MAX_STRING + 1))
    msg = error_of(tmp_path, text)
    assert msg == (f"bench.yaml:{line_of(text, 'name: ')}: a value of {MAX_STRING + 1:,} characters (starting "
                   f"'nnnnnnnnnnnnnnnnnnnn'); at most {MAX_STRING:,}")


def test_parse_rig_caps_text_it_is_handed_directly():
    with pytest.raises(RigFileError, match=r"^x\.yaml:1: the rig file is 1,000,001 characters"):
        parse_rig("#" * 1_000_001, "x.yaml", Path("/tmp"))
