"""Keysight AC6800B basic AC sources (AC6801B..AC6804B): the usual bench source for ESME mains.

Source: Keysight *AC6800B Series Operating and Service Guide*, chapter 3 "SCPI Programming
Reference": ``OUTPut[:STATe] ON|OFF`` (boolean queries return 0/1), ``[SOURce:]VOLTage``
(AC rms set-point), ``[SOURce:]CURRent`` (rms current limit), ``[SOURce:]FREQuency``,
``MEASure[:SCALar]:VOLTage:AC?`` / ``CURRent:AC?`` (rms, returned as ``+1.23456E+00``),
``SYSTem:ERRor?``; common command ``*OPC?``. Single output.
"""

from hubrig.drivers.psu.dialects import Dialect

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
)
