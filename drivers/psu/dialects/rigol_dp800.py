"""Rigol DP800 series DC supplies (DP811, DP821, DP831, DP832).

Source: Rigol *DP800 Series Programming Guide* (Dec 2015), chapter 2 "Command System":
``:OUTPut[:STATe] [CH<n>,]ON|OFF`` and ``:OUTPut[:STATe]? [CH<n>]`` (returns ON|OFF),
``[:SOURce[<n>]]:VOLTage`` and ``:CURRent``, ``:MEASure[:VOLTage][:DC]? [CH<n>]`` and
``:MEASure:CURRent[:DC]? [CH<n>]``, ``:SYSTem:ERRor?``; ``*OPC?``. Channel in every command.
"""

from hubrig.drivers.psu.dialects import Dialect

GUIDE = "Rigol DP800 Series Programming Guide, ch. 2 Command System,"
P29 = "https://azmanual.top/manuals/841573/rigol-dp832a.html?page=33"

DIALECT = Dialect(
    name="rigol-dp800",
    title="Rigol DP800 DC supply",
    manual="Rigol DP800 Series Programming Guide, ch. 2 Command System (:OUTPut, :SOURce, :MEASure, :SYSTem)",
    ac=False,
    channels=3,
    global_output=False,
    output_on=":OUTP CH{ch},ON",
    output_off=":OUTP CH{ch},OFF",
    output_query=":OUTP? CH{ch}",
    output_replies=("OFF", "ON"),
    set_voltage=":SOUR{ch}:VOLT {value}",
    set_current=":SOUR{ch}:CURR {value}",
    measure_voltage=":MEAS:VOLT? CH{ch}",
    measure_current=":MEAS:CURR? CH{ch}",
    error_query=":SYST:ERR?",
    volts_format="{:.3f}",
    amps_format="{:.4f}",
    idn="RIGOL TECHNOLOGIES,DP832,DP8A000000001,00.01.14",
    makers=("RIGOL",),
    models=r"DP8\d\d",
    sources={
        "output_on": f"{GUIDE} :OUTPut[:STATe] [CH<n>,]ON|OFF",
        "output_off": f"{GUIDE} :OUTPut[:STATe] [CH<n>,]ON|OFF",
        "output_query": f"{GUIDE} :OUTPut[:STATe]? [CH<n>] (returns ON|OFF)",
        "set_voltage": f"{GUIDE} p. 2-9 (:APPLy names [:SOURce[<n>]]:VOLTage as the voltage setting command); "
                       f"{P29}",
        "set_current": f"{GUIDE} p. 2-9 (:APPLy names [:SOURce[<n>]]:CURRent as the current setting command); "
                       f"{P29}",
        "measure_voltage": f"{GUIDE} :MEASure[:VOLTage][:DC]? [CH<n>]",
        "measure_current": f"{GUIDE} :MEASure:CURRent[:DC]? [CH<n>]",
        "error_query": f"{GUIDE} :SYSTem:ERRor?",
        "opc_query": f"{GUIDE} IEEE488.2 Common Commands, *OPC?",
    },
    unchecked=frozenset({"output_on", "output_off", "output_query", "measure_voltage", "measure_current",
                         "error_query", "opc_query"}),
)
