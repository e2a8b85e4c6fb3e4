"""Rig files: the shipped rigs validate, and every kind of broken rig file gets one clear
message naming the file, the line, the field and what was expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from hubrig.harness.rig.file import DIALECTS, RigFileError, load_rig, parse_rig

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name: bench-3
kind: real
limit_sets: [sec-h3.14g]
instruments:
  supply:
    resource: "TCPIP0::192.168.1.50::5025::SOCKET"
    dialect: keysight-ac6800
    channel: 1
    voltage: 230.0
    current_limit: 2.0
    frequency: 50.0
    safety: {max_voltage: 253.0, max_current: 5.0, min_frequency: 45.0, max_frequency: 55.0}
  mains_switch: supply
  itch:
    port: /dev/ttyUSB0
    baudrate: 115200
dut:
  esme: {eui: 00DB1234567890A0, type: ESMETS, spec_version: "4.2", gbcs_version: "3.2", firmware: "1.0.0"}
  comms_hub: {eui: 00DB1234567890A3, type: CHTS, spec_version: "1.3", gbcs_version: "3.2", firmware: "2.0.0", csp_region: north}
  keystore: keys/
  acb: 90B3D51F30000002
"""


def write(tmp_path: Path, text: str, name: str = "bench.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(RigFileError) as info:
        load_rig(write(tmp_path, text))
    return str(info.value).replace(f"{tmp_path}/", "")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("rig", sorted(p for p in (ROOT / "rigs").rglob("*.yaml") if p.parent.name != "sim"),
                         ids=lambda p: p.name)  # rigs/examples/sim/ holds pyvisa-sim instrument files
def test_every_shipped_rig_file_is_valid(rig: Path):
    loaded = load_rig(rig)
    assert loaded.name
    assert loaded.is_virtual or loaded.dut.keystore.is_absolute()


def test_good_rig_file_loads_and_resolves_paths_against_its_folder(tmp_path):
    rig = load_rig(write(tmp_path, GOOD + "state_dir: state\n"))
    assert rig.instruments.supply.dialect == "keysight-ac6800"
    assert rig.instruments.supply.visa_library == "@py"  # default
    assert rig.dut.keystore == (tmp_path / "keys").resolve()
    assert rig.state_dir == (tmp_path / "state").resolve()
    assert rig.dut.comms_hub.type == "CHTS"
    assert not rig.is_virtual


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = GOOD.replace("    channel: 1\n", "    channel: [1\n")
    msg = error_of(tmp_path, text)
    assert re.match(rf"^bench\.yaml:{line_of(text, 'channel: [1')}: YAML syntax: ", msg)


def test_an_unclosed_bracket_is_named_where_it_opened_not_where_parsing_gave_up(tmp_path):
    text = GOOD.replace("    channel: 1\n", "    channel: [1,\n")
    msg = error_of(tmp_path, text)
    opened = line_of(text, "channel: [1,")
    assert re.match(rf"^bench\.yaml:{opened}: YAML syntax: a flow sequence opened here is not closed "
                    rf"\(.* at line (\d+)\)$", msg), msg
    assert int(re.search(r"at line (\d+)\)$", msg)[1]) > opened


def test_unknown_field_names_its_line_and_the_fields_allowed(tmp_path):
    text = GOOD.replace("    channel: 1\n", "    chanel: 1\n")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'chanel')}: instruments.supply.chanel: unknown field 'chanel'" in msg
    assert "channel" in msg.split("expected one of:")[1]


def test_wrong_type_names_field_and_value(tmp_path):
    text = GOOD.replace("current_limit: 2.0", "current_limit: lots")
    msg = error_of(tmp_path, text)
    assert f":{line_of(text, 'current_limit')}: instruments.supply.current_limit:" in msg
    assert "'lots'" in msg and "number" in msg


def test_unknown_dialect_lists_the_known_ones(tmp_path):
    text = GOOD.replace("dialect: keysight-ac6800", "dialect: keysite")
    msg = error_of(tmp_path, text)
    expected = f"bench.yaml:{line_of(text, 'keysite')}: instruments.supply.dialect: 'keysite' is not one of "
    assert expected in msg
    assert all(d in msg for d in DIALECTS)


def test_the_schema_names_exactly_the_dialects_the_driver_has():
    from hubrig.drivers.psu.dialects import MODULES

    assert sorted(DIALECTS) == sorted(MODULES)


def test_bad_eui_is_named(tmp_path):
    text = GOOD.replace("eui: 00DB1234567890A3", "eui: 00DB12345678ZZ")
    msg = error_of(tmp_path, text)
    assert f":{line_of(text, '00DB12345678ZZ')}: dut.comms_hub.eui: expected an EUI-64 as 16 hex digits" in msg


def test_eui_that_yaml_read_as_a_number_asks_for_quotes(tmp_path):
    text = GOOD.replace("acb: 90B3D51F30000002", "acb: 1234567890123456")
    msg = error_of(tmp_path, text)
    assert "dut.acb: YAML read this EUI-64 as the number 1234567890123456; quote it" in msg


def test_missing_required_section(tmp_path):
    start = GOOD.index("  itch:")
    text = GOOD[:start] + GOOD[GOOD.index("dut:"):]
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'instruments:')}: instruments.itch: required section is missing" in msg


def test_safety_limit_below_set_point_points_at_the_set_point(tmp_path):
    text = GOOD.replace("max_voltage: 253.0", "max_voltage: 120.0")
    msg = error_of(tmp_path, text)
    assert (f"bench.yaml:{line_of(text, 'voltage: 230')}: instruments.supply.voltage: "
            "230 V is above safety.max_voltage 120 V") in msg


@pytest.mark.parametrize("limits, problem", [("max_frequency: 45.0", "50 Hz is above safety.max_frequency 45 Hz"),
                                             ("min_frequency: 55.0", "50 Hz is below safety.min_frequency 55 Hz")])
def test_a_frequency_outside_the_safety_limits_points_at_the_frequency(tmp_path, limits, problem):
    text = GOOD.replace(limits.split(":")[0] + (": 55.0" if limits.startswith("max") else ": 45.0"), limits)
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'frequency: 50')}: instruments.supply.frequency: {problem}" in msg


def test_real_rig_needs_a_keystore(tmp_path):
    text = GOOD.replace("  keystore: keys/\n", "")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'dut:')}: dut.keystore: required on a real bench" in msg


def test_mains_switch_needs_its_instrument(tmp_path):
    text = GOOD.replace("mains_switch: supply", "mains_switch: relay")
    msg = error_of(tmp_path, text)
    assert "instruments.mains_switch: mains_switch is 'relay' but instruments.relay is not configured" in msg


def test_a_relay_on_the_virtual_rig_is_refused_at_its_line(tmp_path):
    """The virtual rig emulates no relay board: opening it would go looking for real USB hardware."""
    text = (ROOT / "rigs" / "virtual.yaml").read_text().replace("  mains_switch: supply\n",
                                                                "  mains_switch: supply\n  relay: {channel: 1}\n")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'relay:')}: instruments.relay: the virtual rig has no relay board" in msg


def test_virtual_resource_on_a_real_rig_is_refused_at_its_line(tmp_path):
    text = GOOD.replace("port: /dev/ttyUSB0", "port: virtual")
    msg = error_of(tmp_path, text)
    assert f":{line_of(text, 'port: virtual')}: instruments.itch.port: 'virtual' is only for kind: virtual" in msg


def test_unquoted_version_asks_for_quotes(tmp_path):
    text = GOOD.replace('spec_version: "4.2"', "spec_version: 4.2")
    msg = error_of(tmp_path, text)
    assert "dut.esme.spec_version: YAML read 4.2 as a number; quote versions" in msg


def test_duplicate_key_is_an_error(tmp_path):
    text = GOOD.replace("    channel: 1\n", "    channel: 1\n    channel: 2\n")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'channel: 2')}: channel: duplicate key" in msg


def test_several_problems_are_reported_together_in_line_order(tmp_path):
    text = GOOD.replace("dialect: keysight-ac6800", "dialect: nope").replace("baudrate: 115200", "baudrate: fast")
    lines = error_of(tmp_path, text).splitlines()
    assert len(lines) == 2
    assert "dialect" in lines[0] and "baudrate" in lines[1]


def test_not_a_mapping_and_empty_and_missing_file(tmp_path):
    assert "a rig file is a mapping" in error_of(tmp_path, "- just\n- a list\n")
    assert "the rig file is empty" in error_of(tmp_path, "# nothing\n")
    with pytest.raises(RigFileError, match="cannot read rig file"):
        load_rig(tmp_path / "absent.yaml")


@pytest.mark.parametrize("text", ["instruments: &i {itch: *i}\n", "limit_sets: &l [*l]\n"])
def test_an_alias_that_contains_itself_is_a_located_message_not_a_recursion_error(tmp_path, text):
    assert error_of(tmp_path, text).startswith("bench.yaml:1: a YAML alias refers to a section that contains it")


def test_nested_aliases_are_checked_once_not_expanded(tmp_path):
    """Nine aliases of nine aliases, nine deep, are 9**9 nodes if expanded: the loader must answer at once."""
    lines = ["x0: &x0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = GOOD + "\n".join(lines) + "\n"
    assert error_of(tmp_path, text) == (f"bench.yaml:{line_of(text, 'x4:')}: this section expands (through YAML "
                                        "aliases) to more than 50,000 values; a rig file has far fewer")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_loads_or_gives_a_located_message(text):
    """Whatever the bytes, the loader answers with a model or a file:line message, never a traceback."""
    try:
        parse_rig(text, "fuzz.yaml", Path("/tmp"))
    except RigFileError as exc:
        assert all(re.match(r"^fuzz\.yaml(:\d+)?: ", line) for line in str(exc).splitlines())


@pytest.mark.parametrize("key", ["name", "kind", "esme", "comms_hub",
                                 "safety", "voltage", "current_limit", "resource", "port", "acb", "keystore"])
def test_deleting_any_required_key_names_it(key):
    text = "\n".join(line for line in GOOD.splitlines() if not line.lstrip().startswith(f"{key}:"))
    assert text != GOOD.rstrip("\n")
    with pytest.raises(RigFileError) as info:
        parse_rig(text, "bench.yaml", Path("/tmp"))
    assert re.search(rf"^bench\.yaml:\d+: \S*{key}\S*: ", str(info.value), re.M)


GOOD_CODE = "83FED3407A939723A5C639B26916D505C3B5"  # the ZigBee specification's example, with its CRC


def with_esme(extra: str) -> str:
    return GOOD.replace('firmware: "1.0.0"}', f'firmware: "1.0.0", {extra}}}')


def test_esme_install_code_supplier_and_filter_bits(tmp_path):
    text = with_esme(f'install_code: "{GOOD_CODE.lower()}", alert_filter_bits: {{"0x81c6": 12}}')
    text = text.replace("  acb: 90B3D51F30000002\n", "  acb: 90B3D51F30000002\n  supplier: 90b3d51f30010000\n")
    dut = load_rig(write(tmp_path, text)).dut
    assert dut.esme.install_code == GOOD_CODE
    assert dut.esme.install_code_bytes == bytes.fromhex(GOOD_CODE)[:16]
    assert GOOD_CODE not in repr(dut)  # kept out of logs and reports
    assert dut.esme.filter_bits == {0x81C6: 12}
    assert dut.supplier == dut.supplier_party == "90B3D51F30010000"


def test_without_the_optional_fields_the_acb_stands_in_and_the_default_filter_bit_applies(tmp_path):
    dut = load_rig(write(tmp_path, GOOD)).dut
    assert dut.esme.install_code is None and dut.esme.install_code_bytes is None
    assert dut.supplier is None and dut.supplier_party == dut.acb
    assert dut.esme.filter_bits == {0x81C6: 0xC6}


@given(code=st.binary(min_size=16, max_size=16), flip=st.integers(0, 17 * 8 + 7))
@settings(max_examples=40, deadline=None)
def test_install_code_crc_catches_every_single_bit_error(code, flip):
    from hubrig.harness.rig.file import install_code_crc

    good = code + install_code_crc(code)
    bad = bytearray(good)
    bad[flip // 8] ^= 1 << (flip % 8)
    parse_rig(with_esme(f'install_code: "{good.hex()}"'), "bench.yaml", Path("/tmp"))
    with pytest.raises(RigFileError, match=r"dut\.esme\.install_code: CRC [0-9A-F]{4} does not match the code"):
        parse_rig(with_esme(f'install_code: "{bytes(bad).hex()}"'), "bench.yaml", Path("/tmp"))


@pytest.mark.parametrize("value, problem", [
    (f'"{GOOD_CODE[:32]}"', "expected 16 bytes and their 2-byte CRC (36 hex digits), got 32 hex digits"),
    ('"not hex"', "expected the install code as hex digits"),
    ("123456", "expected the install code as hex digits (quote it)"),
])
def test_a_malformed_install_code_is_named_at_its_line(tmp_path, value, problem):
    text = with_esme(f"install_code: {value}")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'install_code')}: dut.esme.install_code: {problem}" in msg


@pytest.mark.parametrize("bits, problem", [
    ("{8145: 3}", "expected an alert code as 4 quoted hex digits"),
    ('{"81C6": 256}', "81C6: expected a bit number 0..255, got 256"),
])
def test_a_bad_alert_filter_bit_is_named(tmp_path, bits, problem):
    msg = error_of(tmp_path, with_esme(f"alert_filter_bits: {bits}"))
    assert "dut.esme.alert_filter_bits: " + problem in msg


def test_bad_supplier_eui_is_named(tmp_path):
    text = GOOD.replace("  acb: 90B3D51F30000002\n", "  acb: 90B3D51F30000002\n  supplier: 90B3D51F3001\n")
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'supplier')}: dut.supplier: expected an EUI-64 as 16 hex digits" in msg


def test_tsat_table_is_relative_to_the_rig_file_and_loads(tmp_path):
    from hubrig.harness.rules import tsat

    (tmp_path / "tables").mkdir()
    shipped = tsat.DEFAULT_TABLE.read_text().replace('schedule_11_version: "9.0"', 'schedule_11_version: "9.9"')
    (tmp_path / "tables" / "lab.yaml").write_text(shipped)
    rig = load_rig(write(tmp_path, GOOD + "tsat: {on_violation: fail, table: tables/lab.yaml}\n"))
    assert rig.tsat.table == (tmp_path / "tables" / "lab.yaml").resolve()
    assert "9.9" in rig.tsat.load_table().version
    assert load_rig(write(tmp_path, GOOD)).tsat.load_table() is tsat.default_table()


def test_a_missing_tsat_table_is_named_at_its_line(tmp_path):
    text = GOOD + "tsat:\n  table: nowhere.yaml\n"
    msg = error_of(tmp_path, text)
    assert f"bench.yaml:{line_of(text, 'nowhere')}: tsat.table: no TSAT table file at " in msg
