"""Keysight (Agilent) E36xx multi-output DC supplies, E3631A style.

Source: Agilent *E3631A Triple Output DC Power Supply User's Guide*, chapter 4 "Remote
Interface Reference": ``INSTrument:NSELect 1|2|3`` selects the output that ``VOLTage``,
``CURRent`` and ``MEASure`` act on; ``OUTPut[:STATe] ON|OFF`` switches all outputs together and
its query returns 0/1; ``MEASure[:SCALar][:VOLTage][:DC]?``, ``MEASure:CURRent?``;
``SYSTem:ERRor?`` (``+0,"No error"``); ``*OPC?``.
"""

from hubrig.drivers.psu.dialects import Dialect

GUIDE = "Agilent E3631A User's Guide, ch. 4 Remote Interface Reference"
E3648A_P86 = "https://www.easymanua.ls/agilent-technologies/e3648a/manual?p=86"

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
    sources={
        "select_channel": f"{GUIDE}, Output Setting and Operation Commands: INSTrument:NSELect {{1|2|3}} "
                          f"(the same command in the sibling E3648A guide p. 86: {E3648A_P86})",
        "output_on": f"{GUIDE}, Output On/Off Commands: OUTPut[:STATe] {{OFF|ON}} (all outputs)",
        "output_off": f"{GUIDE}, Output On/Off Commands: OUTPut[:STATe] {{OFF|ON}} (all outputs)",
        "output_query": f"{GUIDE}, Output On/Off Commands: OUTPut[:STATe]? returns 0|1",
        "set_voltage": f"{GUIDE}, Output Setting Commands: [SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]",
        "set_current": f"{GUIDE}, Output Setting Commands: [SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]",
        "measure_voltage": f"{GUIDE}, Measurement Commands: MEASure[:SCALar][:VOLTage][:DC]?",
        "measure_current": f"{GUIDE}, Measurement Commands: MEASure:CURRent[:DC]?",
        "error_query": f"{GUIDE}, System-Related Commands: SYSTem:ERRor?",
        "opc_query": f"{GUIDE}, IEEE 488.2 Common Commands: *OPC?",
    },
    unchecked=frozenset({"select_channel", "output_on", "output_off", "output_query", "set_voltage",
                         "set_current", "measure_voltage", "measure_current", "error_query", "opc_query"}),
)
