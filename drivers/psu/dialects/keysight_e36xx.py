"""Keysight (Agilent) E36xx multi-output DC supplies, E3631A style.

Source: Agilent *E3631A Triple Output DC Power Supply User's Guide*, chapter 4 "Remote
Interface Reference": ``INSTrument:NSELect 1|2|3`` selects the output that ``VOLTage``,
``CURRent`` and ``MEASure`` act on; ``OUTPut[:STATe] ON|OFF`` switches all outputs together and
its query returns 0/1; ``MEASure[:SCALar][:VOLTage][:DC]?``, ``MEASure:CURRent?``;
``SYSTem:ERRor?`` (``+0,"No error"``); ``*OPC?``.
"""

from hubrig.drivers.psu.dialects import Dialect

DIALECT = Dialect(
    name="keysight-e36xx",
    title="Keysight E36xx DC supply",
    manual="Agilent E3631A User's Guide, ch. 4 Remote Interface Reference",
    ac=False,
    channels=3,
    select_channel="INST:NSEL {ch}",
    volts_format="{:+.8E}",
    amps_format="{:+.8E}",
    no_error_reply='+0,"No error"',
    idn="HEWLETT-PACKARD,E3631A,0,2.1-5.0-1.0",
    makers=("KEYSIGHT", "AGILENT", "HEWLETT-PACKARD"),
    models=r"E36\d\d",
)
