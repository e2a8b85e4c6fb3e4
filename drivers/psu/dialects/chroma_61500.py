"""Chroma 61500 programmable AC sources (61501..61504).

Source: Chroma *Programmable AC Source 61501/61502/61503/61504 User's Manual*, v1.6 (Jan 2010),
chapter 8 "Remote Operation": 8.6.1 Common Command Dictionary (``*IDN?``, ``*OPC?``), 8.6.2
Instrument Command Dictionary: ``OUTPut[:STATe] ON|OFF`` (boolean data is ON|OFF only, and the
query returns ON|OFF), ``[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]:AC``,
``[SOURce:]CURRent:LIMit``, ``[SOURce:]FREQuency``, ``MEASure|FETCh[:SCALar]:VOLTage:AC?`` and
``CURRent:AC?``, ``SYSTem:ERRor?``. Single output.
"""

from hubrig.drivers.psu.dialects import Dialect

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
)
