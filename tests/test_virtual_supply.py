"""The virtual supply speaks each dialect's SCPI, keeps state and an error queue, tells the
virtual ESME when mains really changes, and serves the real driver stack over loopback TCP."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyvisa.errors import VisaIOError

from hubrig.drivers.psu import InstrumentError, open_supply
from hubrig.drivers.psu.dialects import MODULES, get_dialect
from hubrig.harness.clock import RealTimeScheduler, VirtualClock, to_ns
from hubrig.harness.capture.events import SUPPLY, EventBus
from hubrig.harness.virtual.supply import VirtualSupply, normalise, serve_tcp
from tests.test_psu_dialects import Safety, SupplyCfg


def virtual(dialect="generic-scpi", **kw):
    clock = VirtualClock()
    return clock, VirtualSupply(clock, dialect=dialect, **kw)


def cfg_for(dialect: str, **kw) -> SupplyCfg:
    ac = get_dialect(dialect).ac
    base = dict(dialect=dialect, voltage=230.0 if ac else 12.0, current_limit=2.0,
                frequency=50.0 if ac else None, safety=Safety(253.0 if ac else 15.0, 5.0))
    base.update(kw)
    return SupplyCfg(**base)


@pytest.mark.parametrize("dialect", sorted(MODULES))
def test_real_driver_drives_the_virtual_supply_in_every_dialect(dialect):
    clock, supply = virtual(dialect, settle_s=0.25)
    seen = []
    supply.on_output(lambda on, t: seen.append((on, t)))
    bus = EventBus(clock)
    driver = open_supply(cfg_for(dialect, verify=True), clock, bus, endpoint=supply)
    assert driver.identify() == get_dialect(dialect).idn
    t_on = driver.set_output(True)
    assert t_on == to_ns(0.25) and supply.output and driver.output_state()
    assert driver.measure_voltage() == pytest.approx(driver.cfg.voltage, abs=0.01)
    clock.advance(10)
    t_off = driver.set_output(False)
    assert t_off == to_ns(10.5) and not supply.output and not driver.output_state()
    assert driver.measure_voltage() == 0.0
    assert seen == [(True, t_on), (False, t_off)]
    assert [(e.t_ns, e.data["output"]) for e in bus.events() if e.kind == SUPPLY] == [(t_on, True), (t_off, False)]
    assert supply.errors == [] and supply.eer == 0


def test_output_query_reports_the_command_before_the_terminals_settle():
    clock, supply = virtual(settle_s=1.0)
    supply.write("OUTP ON")
    assert supply.query("OUTP?") == "1" and not supply.output
    clock.advance(1.0)
    assert supply.output and supply.changes == [(to_ns(1.0), 1, True)]


def test_long_forms_optional_nodes_and_case_are_understood():
    clock, supply = virtual(settle_s=0.0)
    supply.write(":SOURce:VOLTage:LEVel:IMMediate:AMPLitude 12.5;:source:current 1")
    supply.write("OUTPut:STATe 1")
    assert supply.query("*opc?") == "1"
    assert float(supply.query("MEASure:SCALar:VOLTage:DC?")) == pytest.approx(12.5)
    assert supply.query("SYSTem:ERRor:NEXT?") == '0,"No error"'


def test_chroma_takes_on_off_only_as_its_manual_says():
    _, supply = virtual("chroma-61500")
    supply.write("OUTP 1")
    assert supply.query("SYST:ERR?") == '-113,"Undefined header"' and supply.query("OUTP?") == "OFF"


def test_scpi_error_queue_uses_standard_codes_in_order_and_overflows():
    _, supply = virtual(queue_size=3)
    supply.write("BOGUS 1")
    supply.write("VOLT 9999")
    assert supply.query("SYST:ERR?") == '-113,"Undefined header"'
    assert supply.query("SYST:ERR?") == '-222,"Data out of range"'
    assert supply.query("SYST:ERR?") == '0,"No error"'
    for _ in range(5):
        supply.write("NOPE")
    assert supply.errors[-1] == (-350, "Queue overflow") and len(supply.errors) == 3


def test_unread_reply_then_new_command_is_query_interrupted_and_empty_read_times_out():
    _, supply = virtual()
    supply.write("*IDN?")
    supply.write("OUTP?")
    assert supply.read() == "0"
    with pytest.raises(VisaIOError):
        supply.read()
    assert [code for code, _ in supply.errors] == [-410, -420]


def test_register_dialect_reports_range_and_command_errors_like_aimtti():
    _, supply = virtual("aimtti-pl", rated_voltage=30.0)
    supply.write("V1 31")
    assert supply.query("EER?") == "100" and supply.query("EER?") == "0"
    supply.write("V9 1")
    assert supply.query("EER?") == "103"
    supply.write("XYZ")
    assert int(supply.query("*ESR?")) & 0x20 and supply.query("*ESR?") == "0"


def test_driver_fails_loudly_with_the_virtual_instruments_error_text():
    clock, supply = virtual()
    driver = open_supply(cfg_for("generic-scpi"), clock, None, endpoint=supply)
    supply.write("FROB")
    with pytest.raises(InstrumentError, match=r'-113,"Undefined header"'):
        driver.check_errors()


def test_multi_channel_outputs_are_independent_or_global_as_the_instrument_is():
    clock, rigol = virtual("rigol-dp800")
    rigol.write(":OUTP CH2,ON;*OPC?")
    assert [s.on for s in rigol.channels.values()] == [False, True, False] and not rigol.output
    clock, e36 = virtual("keysight-e36xx")
    e36.write("INST:NSEL 3;VOLT 5;OUTP ON;*OPC?")
    assert all(s.on for s in e36.channels.values()) and e36.channels[3].voltage == 5.0


commands = st.sampled_from(["OUTP ON", "OUTP OFF", "OUTP 1", "OUTP 0", "VOLT 12", "VOLT 400",
                            "CURR 1", "*CLS", "JUNK", "*RST"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(commands, st.floats(0, 5)), max_size=25), st.floats(0, 2))
def test_output_callbacks_follow_the_commands_as_a_model_predicts(steps, settle):
    clock, supply = virtual(settle_s=settle)
    seen = []
    supply.on_output(lambda on, t: seen.append((t, on)))
    expected, state, errors = [], False, 0
    for command, gap in steps:
        supply.write(command)
        want = {"OUTP ON": True, "OUTP 1": True, "OUTP OFF": False, "OUTP 0": False, "*RST": False}.get(command)
        if command in ("JUNK", "VOLT 400"):
            errors += 1
        if command == "*CLS":
            errors = 0
        assert supply.query("*OPC?") == "1"
        if want is not None and want != state:
            state = want
            expected.append(state)
        clock.advance(gap)
    assert [on for _, on in seen] == expected and supply.output == state
    assert [t for t, _ in seen] == sorted(t for t, _ in seen)
    assert len(supply.errors) == min(errors, supply.queue_size)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["OUTPut", "OUTP", "outp", "OutPut"]), st.sampled_from(["", ":STATe", ":stat"]),
       st.sampled_from(["ON", "on", "1"]))
def test_normalise_accepts_any_spelling_scpi_allows(header, node, value):
    assert normalise(f"{header}{node} {value}") in ("OUTP ON", "OUTP 1")


@pytest.mark.realtime
def test_real_driver_stack_reaches_the_virtual_supply_over_loopback_tcp_via_pyvisa_py():
    scheduler = RealTimeScheduler()
    supply = VirtualSupply(scheduler, dialect="keysight-ac6800", settle_s=0.02)
    seen = []
    supply.on_output(lambda on, t: seen.append(on))
    server = serve_tcp(supply)
    from hubrig.harness.clock import RealClock

    clock = RealClock()
    driver = None
    try:
        cfg = cfg_for("keysight-ac6800", resource=server.resource, verify=True, timeout_s=2.0)
        driver = open_supply(cfg, clock, EventBus(clock))
        assert driver.identify().startswith("Keysight Technologies,AC6801B")
        # commands leave at once (no Nagle hold-back skewing the cut instant by tens of ms)
        resource = driver.scpi.endpoint
        sock = resource.visalib.sessions[resource.session].interface
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        before = clock.now_ns()
        t_off = driver.set_output(False)
        t_on = driver.set_output(True)
        assert before < t_off < t_on and t_on - t_off >= to_ns(0.02)
        assert driver.output_state() and seen == [True]  # OFF on an off output changes nothing
        assert supply.changes[-1][2] is True
        driver.scpi.endpoint.write("VOLT 9999")
        with pytest.raises(InstrumentError, match="-222"):
            driver.check_errors()
        driver.check_errors()  # the queue is empty again
    finally:
        if driver is not None:
            driver.close()
        server.close()
        scheduler.close()
        clock.close()
