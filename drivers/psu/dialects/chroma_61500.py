"""Chroma 61500 programmable AC sources (61501..61504).

Source: Chroma *Programmable AC Source 61501/61502/61503/61504 User's Manual*, v1.6 (Jan 2010),
chapter 8 "Remote Operation": 8.6.1 Common Command Dictionary (``*IDN?``, ``*OPC?``), 8.6.2
Instrument Command Dictionary: ``OUTPut[:STATe] ON|OFF`` (boolean data is ON|OFF only, and the
query returns ON|OFF), ``[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]:AC``,
``[SOURce:]CURRent:LIMit``, ``[SOURce:]FREQuency``, ``MEASure|FETCh[:SCALar]:VOLTage:ACDC?`` (the rms
voltage: Chroma's AC sources have no ``VOLTage:AC?`` query, see the 61600 manual below) and
``CURRent:AC?``, ``SYSTem:ERRor?``. Single output.
"""

from hubrig.drivers.psu.dialects import Dialect

MANUAL = "Chroma 61501-61504 User's Manual v1.6, ch. 8 Remote Operation,"
P812 = "https://www.easymanua.ls/chroma/61503/manual?p=94"
P87 = "https://www.easymanua.ls/chroma/61501/manual?p=89"
MEAS_61600 = ("Chroma 61601-61604 User's Manual 7.6.2.1 FETCH & MEASURE Sub-system (sibling manual: the 61600 "
              "shares the 61500 command set): FETCh|MEASure[:SCALar]:VOLTage:ACDC? = rms voltage, "
              ":CURRent:AC? = rms current, <NR2>; https://www.easymanua.ls/chroma/61604/manual?p=74; also sent by "
              "sigrok's scpi-pps Chroma 61604 profile (:FETC:VOLT:ACDC?, :FETC:CURR:AC?)")

DIALECT = Dialect(
    name="chroma-61500",
    title="Chroma 61500 AC source",
    manual="Chroma 61501-61504 User's Manual v1.6, ch. 8 Remote Operation, 8.6.1-8.6.2",
    ac=True,
    channels=1,
    output_replies=("OFF", "ON"),
    numeric_booleans=False,
    set_voltage="VOLT:AC {value}",
    set_current="CURR:LIM {value}",
    set_frequency="FREQ {value}",
    measure_voltage="MEAS:VOLT:ACDC?",
    measure_current="MEAS:CURR:AC?",
    volts_format="{:.2f}",
    amps_format="{:.3f}",
    no_error_reply='0,"No Error"',
    idn="Chroma ATE,61501,000001,1.00,1.00,1.00",
    makers=("CHROMA",),
    models=r"615\d\d",
    sources={
        "output_on": f"{MANUAL} 8.6.2 Instrument Command Dictionary, OUTPut[:STATe] ON|OFF",
        "output_off": f"{MANUAL} 8.6.2 Instrument Command Dictionary, OUTPut[:STATe] ON|OFF",
        "output_query": f"{MANUAL} 8.6.2 Instrument Command Dictionary, OUTPut[:STATe]? (returns ON|OFF)",
        "set_voltage": f"{MANUAL} p. 8-12, 8.6.2.3 SOURCE Sub-system: [SOURce:]VOLTage[:LEVel][:IMMediate]"
                       f"[:AMPLitude]:AC; {P812}",
        "set_current": f"{MANUAL} p. 8-12, 8.6.2.3 SOURCE Sub-system: [SOURce:]CURRent:LIMit, the rms "
                       f"current limit <NR2> A; {P812}",
        "set_frequency": f"{MANUAL} p. 8-12, 8.6.2.3 SOURCE Sub-system: [SOURce:]FREQuency[:{{CW|IMMediate}}]; "
                         f"{P812}",
        "measure_voltage": MEAS_61600,
        "measure_current": MEAS_61600,
        "error_query": f"{MANUAL} 8.6.2 Instrument Command Dictionary, SYSTem:ERRor?",
        "opc_query": f"{MANUAL} p. 8-7, 8.6.1 Common Command Dictionary (*OPC?, *IDN?); {P87}",
    },
    unchecked=frozenset({"output_on", "output_off", "output_query", "error_query", "opc_query"}),
)
