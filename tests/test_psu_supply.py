"""The supply driver: safety refusals before sending, error queues, verification, the confirmed
instant and event, untrusted replies, and opening through pyvisa."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubrig.drivers.psu import InstrumentError, SafetyLimitError, SupplyConfigError, open_supply
from hubrig.drivers.psu.dialects import MODULES, all_dialects
from hubrig.drivers.scpi.replies import MAX_REPLY, ReplyError, parse_number, parse_scpi_error, parse_state
from hubrig.harness.cli import UserError
from hubrig.harness.clock import VirtualClock, to_ns
from hubrig.harness.capture.events import SUPPLY, EventBus
from hubrig.harness.virtual.supply import VirtualSupply
from tests.test_psu_dialects import Safety, SupplyCfg


def rig(dialect="keysight-ac6800", settle_s=0.0, **cfg):
    clock = VirtualClock()
    bus = EventBus(clock)
    virtual = VirtualSupply(clock, dialect=dialect, settle_s=settle_s)
    base = dict(dialect=dialect, voltage=230.0, current_limit=2.0, frequency=50.0, safety=Safety(253.0, 5.0))
    base.update(cfg)
    return clock, bus, virtual, open_supply(SupplyCfg(**base), clock, bus, endpoint=virtual)


@pytest.mark.parametrize("override, field", [
    ({"voltage": 253.5}, "instruments.supply.voltage = 253.5 V exceeds instruments.supply.safety.max_voltage = 253 V"),
    ({"current_limit": 7.0}, "instruments.supply.current_limit = 7 A exceeds instruments.supply.safety.max_current"),
    ({"voltage": -1.0}, "instruments.supply.voltage = -1.0 is not a finite"),
    ({"voltage": math.nan}, "instruments.supply.voltage = nan is not a finite"),
    ({"safety": Safety(None, 5.0)}, "instruments.supply.safety.max_voltage is not set"),
])
def test_unsafe_rig_set_points_are_refused_before_anything_is_sent(override, field):
    _, bus, virtual, supply = rig(**override)
    with pytest.raises(SafetyLimitError) as caught:
        supply.set_output(True)
    assert field in str(caught.value) and "nothing was sent" in str(caught.value)
    assert isinstance(caught.value, UserError)
    assert virtual.commands == [] and not virtual.output and bus.events() == []


def test_configure_arguments_are_checked_and_named_as_arguments():
    _, _, virtual, supply = rig()
    with pytest.raises(SafetyLimitError, match=r"configure\(voltage=\.\.\.\) = 300 V exceeds"):
        supply.configure(voltage=300)
    assert virtual.commands == []


def test_optional_frequency_limits_are_honoured():
    _, _, virtual, supply = rig()
    supply.cfg.safety.max_frequency = 60.0
    with pytest.raises(SafetyLimitError, match="safety.max_frequency = 60 Hz"):
        supply.configure(frequency=400)
    assert virtual.commands == []


def test_frequency_on_a_dc_supply_is_a_config_error_before_sending():
    _, _, virtual, supply = rig("keysight-e36xx", voltage=12.0, safety=Safety(15.0, 5.0))
    with pytest.raises(SupplyConfigError, match="instruments.supply.frequency is set but the Keysight E36xx"):
        supply.configure()
    assert virtual.commands == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.floats(-10, 400, allow_nan=False), st.floats(-1, 10, allow_nan=False))
def test_any_set_point_is_either_refused_unsent_or_applied_exactly(voltage, current):
    _, _, virtual, supply = rig()
    safe = 0 <= voltage <= 253 and 0 <= current <= 5
    if not safe:
        with pytest.raises(SafetyLimitError):
            supply.configure(voltage=voltage, current_limit=current)
        assert virtual.commands == []
        return
    supply.configure(voltage=voltage, current_limit=current)
    assert virtual.channels[1].voltage == pytest.approx(voltage, abs=1e-6)
    assert virtual.channels[1].current_limit == pytest.approx(current, abs=1e-6)


def test_switching_on_applies_the_rig_set_points_first_and_returns_the_confirmed_instant():
    clock, bus, virtual, supply = rig(settle_s=0.3)
    clock.advance(5)
    t_ns = supply.set_output(True)
    assert virtual.commands[:3] == ["VOLT 230", "CURR 2", "FREQ 50"]
    assert t_ns == to_ns(5.3) == virtual.changes[-1][0]
    event = bus.events(lambda e: e.kind == SUPPLY)[-1]
    assert (event.t_ns, event.source, event.data["output"]) == (t_ns, "supply", True)
    assert "keysight-ac6800" in event.data["instrument"]


class StuckAt:
    """An endpoint whose output voltage reads ``volts`` whatever it is told (0: a blown fuse, a
    tripped breaker; more: an output that does not switch off)."""

    def __init__(self, inner, volts=0.0):
        self.inner, self.volts = inner, volts

        self.timeout, self.last = 5000.0, ""

    def write(self, m):
        self.last = m
        return self.inner.write(m)

    def read(self):
        reply = self.inner.read()
        return f"{self.volts:+.5E}" if self.last.startswith("MEAS:VOLT") else reply

    def clear(self):
        self.inner.clear()

    def close(self):
        self.inner.close()


def test_verification_by_measurement_fails_clearly_when_the_output_stays_dead():
    clock, bus, virtual, _ = rig()
    cfg = SupplyCfg(dialect="keysight-ac6800", voltage=230.0, frequency=50.0, verify=True)
    supply = open_supply(cfg, clock, bus, endpoint=StuckAt(virtual))
    with pytest.raises(InstrumentError, match=r"output on not confirmed by measurement: 0 V after 1 s, expected >= 207 V"):
        supply.set_output(True)
    assert clock.now() >= 1.0
    assert bus.events(lambda e: e.kind == SUPPLY) == []


def test_a_zero_off_threshold_is_honoured_not_replaced_by_the_default():
    """verify_off_max_v: 0 means 0 V, not 'unset' (the default would accept 23 V)."""
    clock, bus, virtual, _ = rig()
    cfg = SupplyCfg(dialect="keysight-ac6800", voltage=230.0, frequency=50.0, verify=True, verify_off_max_v=0.0)
    supply = open_supply(cfg, clock, bus, endpoint=StuckAt(virtual, 5.0))
    with pytest.raises(InstrumentError,
                       match=r"output off not confirmed by measurement: 5 V after 1 s, expected <= 0 V"):
        supply.set_output(False)


def test_verification_passes_for_off_and_on():
    _, _, _, supply = rig(verify=True)
    supply.set_output(True)
    supply.set_output(False)
    assert not supply.output_state()


class Scripted:
    """An endpoint answering every query with a fixed reply."""

    def __init__(self, reply="1", fail_write=None):
        self.reply, self.fail_write, self.sent = reply, fail_write, []
        self.timeout = 5000.0

    def clear(self):
        pass

    def write(self, m):
        if self.fail_write:
            raise self.fail_write
        self.sent.append(m)

    def query(self, m):
        self.sent.append(m)
        return self.reply

    def read(self):
        return self.reply

    def close(self):
        pass


def test_an_error_queue_that_never_empties_is_bounded_and_reported():
    endpoint = Scripted('-100,"Command error"')
    supply = open_supply(SupplyCfg(), VirtualClock(), None, endpoint=endpoint)
    with pytest.raises(InstrumentError, match="still not empty after 20 reads of SYST:ERR"):
        supply.check_errors()
    assert endpoint.sent.count("SYST:ERR?") == 20


def test_transport_failures_name_the_instrument_and_command():
    supply = open_supply(SupplyCfg(resource="TCPIP0::10.1.1.1::5025::SOCKET"), VirtualClock(), None,
                         endpoint=Scripted(fail_write=ConnectionResetError("peer reset")))
    with pytest.raises(InstrumentError, match=r"supply \(generic-scpi at TCPIP0::10.1.1.1::5025::SOCKET\): "
                                              r"sending 'OUTP OFF' failed: peer reset"):
        supply.set_output(False)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
                 st.just("x" * (MAX_REPLY + 1)), st.just("9.9E37"), st.just("nan")),
       st.sampled_from(sorted(MODULES)))
def test_untrusted_replies_yield_a_value_or_an_instrument_error_never_anything_else(reply, dialect):
    supply = open_supply(SupplyCfg(dialect=dialect, frequency=None), VirtualClock(), None,
                         endpoint=Scripted(reply))
    for call in (supply.identify, supply.output_state, supply.measure_voltage, supply.measure_current,
                 supply.check_errors, lambda: supply.set_output(False)):
        try:
            result = call()
        except InstrumentError as exc:
            message = str(exc)
            assert message.startswith(f"supply ({dialect} at virtual)") and len(message) < 400
        else:
            assert result is None or isinstance(result, (str, bool, float, int))
            if isinstance(result, float):
                assert math.isfinite(result)


@pytest.mark.parametrize("dialect", [d.name for d in all_dialects()])
@settings(max_examples=40, deadline=None)
@given(value=st.floats(0, 999.99, allow_nan=False))
def test_readings_in_each_dialects_own_format_parse_back(dialect, value):
    d = next(x for x in all_dialects() if x.name == dialect)
    unit = "V" if d.volts_format.endswith("V") else ""
    assert parse_number(d.volts_format.format(value), unit) == pytest.approx(value, abs=0.006)


@given(st.integers(-999, 999), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126,
                                                               blacklist_characters='"'), max_size=40))
def test_scpi_error_entries_round_trip(code, text):
    assert parse_scpi_error(f'{code},"{text}"') == (code, text.strip())


def test_state_replies_accept_both_boolean_spellings_and_nothing_else():
    assert parse_state(" ON\r\n", ("OFF", "ON")) and not parse_state("0", ("OFF", "ON"))
    with pytest.raises(ReplyError):
        parse_state("MAYBE", ("0", "1"))


def test_bad_rig_sections_are_config_errors_naming_the_field():
    with pytest.raises(SupplyConfigError, match="instruments.supply.dialect: unknown supply dialect 'acme'; known"):
        open_supply(SupplyCfg(dialect="acme"), VirtualClock(), None, endpoint=Scripted())
    with pytest.raises(SupplyConfigError, match=r"instruments.supply.channel = 4: the Rigol DP800 DC supply has channels 1..3"):
        open_supply(SupplyCfg(dialect="rigol-dp800", channel=4), VirtualClock(), None, endpoint=Scripted())
    with pytest.raises(SupplyConfigError, match="'virtual' but no virtual supply"):
        open_supply(SupplyCfg(resource="virtual"), VirtualClock(), None)


def test_an_instrument_that_is_not_there_fails_on_first_use_naming_resource_and_command():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    resource = f"TCPIP0::127.0.0.1::{port}::SOCKET"
    supply = open_supply(SupplyCfg(resource=resource, timeout_s=1.0), VirtualClock(), None)
    try:
        with pytest.raises(InstrumentError, match=rf"\(generic-scpi at {resource}\): sending '\*IDN\?' failed: .*"
                                                  r"instruments.supply.resource right\?"):
            supply.identify()
    finally:
        supply.close()


def test_a_malformed_resource_string_fails_to_open_naming_it():
    with pytest.raises(InstrumentError, match="supply at NOT::A::RESOURCE: cannot open it through pyvisa-py"):
        open_supply(SupplyCfg(resource="NOT::A::RESOURCE"), VirtualClock(), None)


def test_close_closes_the_connection():
    _, _, virtual, supply = rig()
    supply.close()
    assert virtual.closed


def test_the_rig_files_verification_threshold_reaches_the_driver():
    """A rig file asking for 240 V to confirm 'on' fails a 230 V output, naming what it measured."""
    from hubrig.harness.rig.file import SupplyConfig

    clock = VirtualClock()
    virtual = VirtualSupply(clock, dialect="keysight-ac6800")
    cfg = SupplyConfig.model_validate({
        "resource": "virtual", "dialect": "keysight-ac6800", "voltage": 230.0, "current_limit": 2.0,
        "frequency": 50.0, "safety": {"max_voltage": 253.0, "max_current": 5.0, "min_frequency": 45.0,
                                       "max_frequency": 55.0},
        "verify": True, "verify_on_min_v": 240.0, "verify_timeout_s": 2.0})
    supply = open_supply(cfg, clock, EventBus(clock), endpoint=virtual)
    with pytest.raises(InstrumentError, match=r"not confirmed by measurement: 230 V after 2 s, expected >= 240 V"):
        supply.set_output(True)
