"""Keysight AC6800B basic AC sources (AC6801B..AC6804B): the usual bench source for ESME mains.

Source: Keysight *AC6800B Series Operating and Service Guide*, chapter 3 "SCPI Programming
Reference": ``OUTPut[:STATe] ON|OFF`` (boolean queries return 0/1), ``[SOURce:]VOLTage``
(AC rms set-point), ``[SOURce:]CURRent`` (rms current limit), ``[SOURce:]FREQuency``,
``MEASure[:SCALar]:VOLTage:AC?`` / ``CURRent:AC?`` (rms, returned as ``+1.23456E+00``),
``SYSTem:ERRor?``; common command ``*OPC?``. Single output.
"""

from hubrig.drivers.psu.dialects import Dialect

GUIDE = "Keysight AC6800B Series Operating and Service Guide, ch. 3 SCPI Programming Reference"
P93 = "https://manualshive.com/ru/manual/keysight-technologies/ac6800-series/1961704?page=93"
P99 = "https://manualshive.com/ru/manual/keysight-technologies/ac6801b/1961705?page=99"
P163 = "https://manualshive.com/ru/manual/keysight-technologies/ac6800-series/1961704?page=153"
P126 = "https://www.easymanua.ls/keysight-technologies/ac6801b/manual?p=126"

DIALECT = Dialect(
    name="keysight-ac6800",
    title="Keysight AC6800B AC source",
    manual="Keysight AC6800B Series Operating and Service Guide, ch. 3 SCPI Programming Reference",
    ac=True,
    channels=1,
    set_frequency="FREQ {value}",
    measure_voltage="MEAS:VOLT:AC?",
    measure_current="MEAS:CURR:AC?",
    volts_format="{:+.5E}",
    amps_format="{:+.5E}",
    no_error_reply='+0,"No error"',
    idn="Keysight Technologies,AC6801B,MY00000001,A.01.00",
    makers=("KEYSIGHT", "AGILENT"),
    models=r"AC6\d\d\d",
    sources={
        "output_on": f"{GUIDE} p. 93, Introduction to SCPI (OUTPut[:STATe] keyword tree); {P93}",
        "output_off": f"{GUIDE} p. 93, Introduction to SCPI (OUTPut[:STATe] keyword tree); {P93}",
        "output_query": f"{GUIDE} p. 99, Boolean Parameters: a boolean query always returns 0 or 1; {P99}",
        "set_voltage": f"{GUIDE} p. 163, VOLTage Subsystem: [SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude], "
                       f"volts rms (example VOLT 20); {P163}",
        "set_current": f"{GUIDE} p. 121, CURRent Subsystem ([SOURce:]CURRent, rms limit)",
        "set_frequency": f"{GUIDE} p. 130, FREQuency Subsystem",
        "measure_voltage": f"{GUIDE} pp. 125-126, FETCh and MEASure Subsystems (VOLTage:AC?)",
        "measure_current": f"{GUIDE} p. 126, FETCh/MEASure table: CURRent:AC? = AC current (Arms), "
                           f"returned as +1.23456E+00; {P126}",
        "error_query": f"{GUIDE} p. 151, SYSTem Subsystem (SYSTem:ERRor?)",
        "opc_query": f"{GUIDE} p. 133, IEEE-488 Common Commands (*OPC?)",
    },
    unchecked=frozenset({"set_current", "set_frequency", "measure_voltage", "error_query",
                         "opc_query"}),
)
