"""The analyser driver against the virtual analyser: safety limits refused before anything is sent,
the error queue read after every change, the *OPC? timeout from sweep time x count + margin, the
byte order read back from the instrument, identity warnings in rig check, overload detection."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hubrig.drivers.analyser.analyser import Analyser, SweepSettings
from hubrig.drivers.analyser.config import AnalyserConfig
from hubrig.drivers.analyser.dialects import MODULES, get_dialect
from hubrig.drivers.analyser.errors import AnalyserConfigError, AnalyserInstrumentError, AnalyserSafetyError
from hubrig.drivers.families.analyser import probe
from hubrig.harness.clock import VirtualClock
from hubrig.harness.rig.file import RigFileError, load_rig
from hubrig.harness.rig.session import default_rig_file
from hubrig.harness.virtual.analyser import VirtualAnalyser, normalise
from hubrig.harness.virtual.rfparams import RfParams, Spur

HAN = SweepSettings(2400e6, 2483.5e6, 100e3, 300e3, "peak", "max-hold", 5, 1001)
SAFETY = {"max_input_dbm": 0.0, "min_attenuation_db": 10.0}


def bench(dialect: str = "keysight-x", *, spurs: list[Spur] | None = None, idn: str | None = None,
          powered: bool = True, **cfg: object) -> tuple[Analyser, VirtualAnalyser, VirtualClock]:
    clock = VirtualClock()
    device = VirtualAnalyser(clock, dialect=dialect, rf=RfParams(), spurs=spurs or [], noise_bands=[],
                             powered=lambda: powered, last_command_ns=lambda: None, idn=idn)
    config = AnalyserConfig(resource="virtual", dialect=dialect, safety=SAFETY, **cfg)
    return Analyser(config, clock, device), device, clock


@pytest.mark.parametrize("dialect", list(MODULES))
def test_every_dialect_finds_a_spur_at_its_frequency_and_level(dialect):
    analyser, device, clock = bench(dialect, spurs=[Spur(freq_mhz=2450.0, level_dbm=-50.0)])
    trace = analyser.measure(HAN)
    points = get_dialect(dialect).fixed_points or 1001
    assert trace.freq_hz.size == trace.levels_dbm.size == points
    assert trace.freq_hz[0] == pytest.approx(2400e6) and trace.freq_hz[-1] == pytest.approx(2483.5e6, rel=1e-6)
    peak = int(trace.levels_dbm.argmax())
    assert abs(trace.freq_hz[peak] - 2450e6) <= 100e3 and -53.5 <= trace.levels_dbm[peak] <= -49.0
    # the floor: ambient -164 dBm/Hz in 100 kHz = -114 dBm, max-held over 5 sweeps
    assert -116 < float(np.median(trace.levels_dbm)) < -108
    assert len(device.radiated) == 5 and device.errors == []


@pytest.mark.parametrize("reference, attenuation, message", [
    (5.0, 10.0, r"reference level 5 dBm is above instruments.analyser.safety.max_input_dbm = 0 dBm"),
    (-20.0, 5.0, r"attenuation 5 dB is below instruments.analyser.safety.min_attenuation_db = 10 dB"),
    (float("nan"), 10.0, r"reference level nan is not a finite number"),
    (-20.0, float("inf"), r"attenuation inf is not a finite number"),
])
def test_settings_outside_the_safety_limits_are_refused_before_anything_is_sent(reference, attenuation, message):
    analyser, device, _ = bench()
    with pytest.raises(AnalyserSafetyError, match=message + ".*nothing was sent"):
        analyser.configure(HAN, reference_dbm=reference, attenuation_db=attenuation)
    assert device.commands == []


def test_rig_file_refuses_an_attenuation_below_its_safety_minimum_at_its_line(tmp_path):
    data = yaml.safe_load(default_rig_file().read_text())
    data["instruments"]["analyser"]["attenuation_db"] = 0
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "attenuation_db: 0" in text)
    with pytest.raises(RigFileError, match=rf"rig.yaml:{line}: instruments.analyser.attenuation_db: 0 dB is below "
                                           r"safety.min_attenuation_db 10 dB"):
        load_rig(path)


def test_unknown_dialect_is_refused_at_its_line_listing_the_known_ones(tmp_path):
    text = default_rig_file().read_text().replace("dialect: keysight-x", "dialect: keysite-x")
    path = tmp_path / "rig.yaml"
    path.write_text(text)
    with pytest.raises(RigFileError, match=r"instruments.analyser.dialect: 'keysite-x' is not one of keysight-x, rs-fsx"):
        load_rig(path)


def test_instrument_errors_after_a_change_name_the_commands():
    analyser, device, _ = bench()
    too_wide = SweepSettings(2400e6, 2483.5e6, 20e6, 30e6, "peak", "max-hold", 1, 1001)  # RBW above 10 MHz
    with pytest.raises(AnalyserInstrumentError, match=r'reported -222,"Data out of range" after .*\':BAND 20000000\''):
        analyser.configure(too_wide)


def test_opc_timeout_is_the_sweep_time_times_the_count_plus_the_margin():
    analyser, device, clock = bench(sweep_margin_s=5.0, timeout_s=1.0)
    seen: list[tuple[str, float | None]] = []
    original = device.write

    def spy(message: str) -> int:
        seen.append((message, device.timeout))
        return original(message)

    device.write = spy  # type: ignore[method-assign]
    device.timeout = 1000.0
    started = clock.now()
    analyser.measure(HAN)
    sweep_s = 2.5 * 83.5e6 / 100e3 ** 2
    assert [t for m, t in seen if m == "*OPC?"] == [pytest.approx((sweep_s * 5 + 5.0) * 1000)]
    assert device.timeout == 1000.0  # put back afterwards
    assert clock.now() - started == pytest.approx(sweep_s * 5, rel=1e-3)  # *OPC? answered when the sweeps ended


@pytest.mark.parametrize("dialect, order", [("keysight-x", "big"), ("rs-fsx", "little")])
def test_binary_traces_are_read_in_the_byte_order_the_instrument_reports(dialect, order):
    analyser, device, _ = bench(dialect, spurs=[Spur(freq_mhz=2450.0, level_dbm=-50.0)])
    assert device.settings.byte_order == order  # each family's *RST byte order
    first = analyser.measure(HAN)
    other = "little" if order == "big" else "big"
    device.write(get_dialect(dialect).command(get_dialect(dialect).byte_order_command,
                                              word=get_dialect(dialect).byte_orders[other]))
    second = analyser.measure(HAN)  # someone swapped the order at the front panel: still read right
    for trace in (first, second):
        assert trace.encoding == "real32"
        assert abs(trace.freq_hz[int(trace.levels_dbm.argmax())] - 2450e6) <= 100e3
    assert any(c.endswith("BORD?") for c in device.commands)


def test_binary_traces_are_refused_for_a_family_without_a_byte_order_query():
    with pytest.raises(AnalyserConfigError, match="no byte-order query"):
        bench("siglent-ssa3000x", trace_format="binary")


def test_a_trace_above_the_maximum_input_level_stops_the_plan():
    analyser, _, _ = bench(spurs=[Spur(freq_mhz=2450.0, level_dbm=3.0)])
    with pytest.raises(AnalyserInstrumentError, match=r"above instruments.analyser.safety.max_input_dbm = 0 dBm"):
        analyser.measure(HAN)


def test_rig_check_warns_when_the_identity_is_another_family():
    analyser, _, _ = bench("keysight-x", idn="Rohde&Schwarz,FSW-26,1312.8000K26/101234,2.30")
    (identity, errors) = probe(analyser, analyser.cfg)
    assert identity.ok and identity.warning and "does not look like a Keysight X-Series" in identity.detail
    assert errors.ok and not errors.warning
    analyser, _, _ = bench("rs-fsx", idn="Rohde&Schwarz,FSW-26,1312.8000K26/101234,2.30")
    assert not probe(analyser, analyser.cfg)[0].warning


def test_virtual_analyser_takes_long_forms_and_units():
    _, device, _ = bench("keysight-x")
    device.write(":SENSe:FREQuency:STARt 2.4 GHz;:SENSe:FREQuency:STOP 2483.5MHz;:SENSe:BANDwidth:RESolution 100 kHz")
    assert (device.settings.start_hz, device.settings.stop_hz, device.settings.rbw_hz) == (2.4e9, 2483.5e6, 100e3)
    device.write(":TRACe1:TYPE MAXHold;:DETector:TRACe1 POSitive")
    assert (device.settings.mode, device.settings.detector, device.errors) == ("max-hold", "peak", [])
    device.write(":TRACe1:TYPE MAXIMUM")
    assert device.errors == [(-224, "Illegal parameter value")]
    assert normalise(":TRACe:DATA? TRACE1") == "TRAC? TRACE1"
    device.write(":BOGUS 1")
    assert device.errors[-1] == (-113, "Undefined header")


def test_rig_check_on_the_virtual_rig_identifies_the_analyser():
    from hubrig.harness.rig.session import probe_rig

    rows = [p for p in probe_rig(default_rig_file()) if p.name == "analyser"]
    assert [(p.check, p.ok, p.warning) for p in rows] == [("identity", True, False), ("errors", True, False)]
    assert rows[0].detail.startswith("Keysight Technologies,N9020B")


@pytest.mark.realtime
def test_a_binary_trace_whose_bytes_hold_line_feeds_reads_whole_through_pyvisa_py():
    """pyvisa's read_raw stops at the termination character: a REAL,32 block is read by its header."""
    import struct

    from hubrig.drivers.analyser.analyser import open_analyser
    from hubrig.harness.clock import RealClock, RealTimeScheduler
    from hubrig.harness.virtual.analyser import serve_tcp

    with_lf = struct.unpack(">f", b"\xc2\x0a\x0a\x0a")[0]  # -34.51 dBm, three LF bytes big-endian
    clock, scheduler = RealClock(), None
    try:
        scheduler = RealTimeScheduler(clock)
        device = VirtualAnalyser(scheduler, dialect="keysight-x", rf=RfParams(), spurs=[], noise_bands=[],
                                 powered=lambda: True, last_command_ns=lambda: None)
        server = serve_tcp(device)
        try:
            cfg = AnalyserConfig(resource=server.resource, dialect="keysight-x", safety=SAFETY, trace_format="binary")
            analyser = open_analyser(cfg, clock)
            try:
                analyser.configure(HAN)  # REAL,32 among the settings
                device.trace = np.array([-90.0, with_lf, -91.0, with_lf])
                levels = analyser.read_trace(analyser.read_byte_order(), expected_points=4)
            finally:
                analyser.close()
        finally:
            server.close()
    finally:
        if scheduler is not None:
            scheduler.close()
        clock.close()
    assert levels.tolist() == pytest.approx([-90.0, with_lf, -91.0, with_lf])
    assert b"\n" in struct.pack(">f", with_lf)
