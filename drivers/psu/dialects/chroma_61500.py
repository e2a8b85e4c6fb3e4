"""Chroma 61500 programmable AC sources (61501..61504).

Source: Chroma *Programmable AC Source 61501/61502/61503/61504 User's Manual*, v1.6 (Jan 2010),
chapter 8 "Remote Operation": 8.6.1 Common Command Dictionary (``*IDN?``, ``*OPC?``), 8.6.2
Instrument Command Dictionary: ``OUTPut[:STATe] ON|OFF`` (boolean data is ON|OFF only, and the
query returns ON|OFF), ``[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]:AC``,
``[SOURce:]CURRent:LIMit``, ``[SOURce:]FREQuency``, ``MEASure|FETCh[:SCALar]:VOLTage:AC?`` and
``CURRent:AC?``, ``SYSTem:ERRor?``. Single output.
"""

from hubrig.drivers.psu.dialects import Dialect

MANUAL = "Chroma 61501-61504 User's Manual v1.6, ch. 8 Remote Operation,"
P812 = "https://www.easymanua.ls/chroma/61503/manual?p=94"
P87 = "https://www.easymanua.ls/chroma/61501/manual?p=89"

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
    measure_voltage="MEAS:VOLT:AC?",
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
        "measure_voltage": f"{MANUAL} 8.6.2 Instrument Command Dictionary, MEASure[:SCALar]:VOLTage:AC?",
        "measure_current": f"{MANUAL} 8.6.2 Instrument Command Dictionary, MEASure[:SCALar]:CURRent:AC?",
        "error_query": f"{MANUAL} 8.6.2 Instrument Command Dictionary, SYSTem:ERRor?",
        "opc_query": f"{MANUAL} p. 8-7, 8.6.1 Common Command Dictionary (*OPC?, *IDN?); {P87}",
    },
    unchecked=frozenset({"output_on", "output_off", "output_query", "measure_voltage", "measure_current",
                         "error_query", "opc_query"}),
)
