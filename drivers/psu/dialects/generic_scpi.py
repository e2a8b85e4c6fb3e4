"""Generic SCPI-1999 programmable supply (the common subset every SCPI supply implements).

Source: SCPI Consortium, *Standard Commands for Programmable Instruments*, 1999.0, Vol. 2
Command Reference: ch. 15 OUTPut (``OUTPut[:STATe]``), ch. 18 SOURce (``[SOURce:]VOLTage``,
``[SOURce:]CURRent``, ``[SOURce:]FREQuency``), ch. 3 MEASure (``MEASure:VOLTage?``,
``MEASure:CURRent?``), ch. 21 SYSTem (``SYSTem:ERRor?``); IEEE 488.2 ``*OPC?``.
"""

from hubrig.drivers.psu.dialects import Dialect

SCPI = "SCPI Consortium, Standard Commands for Programmable Instruments 1999.0, Vol. 2 Command Reference,"

DIALECT = Dialect(
    name="generic-scpi",
    title="generic SCPI-1999 supply",
    manual="SCPI-1999.0 Vol. 2: OUTPut, SOURce, MEASure, SYSTem:ERRor; IEEE 488.2 *OPC?",
    ac=False,
    channels=1,
    set_frequency="FREQ {value}",
    idn="HUBRIG,GENERIC-SCPI,0,1.0",
    sources={
        "output_on": f"{SCPI} ch. 15 OUTPut: OUTPut[:STATe] <Boolean>",
        "output_off": f"{SCPI} ch. 15 OUTPut: OUTPut[:STATe] <Boolean>",
        "output_query": f"{SCPI} ch. 15 OUTPut: OUTPut[:STATe]? (Boolean queries return 0|1, Vol. 1 7.3)",
        "set_voltage": f"{SCPI} ch. 18 SOURce: [SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]",
        "set_current": f"{SCPI} ch. 18 SOURce: [SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]",
        "set_frequency": f"{SCPI} ch. 18 SOURce: [SOURce:]FREQuency[:CW|:FIXed]",
        "measure_voltage": f"{SCPI} ch. 3 MEASure: MEASure[:SCALar]:VOLTage[:DC]?",
        "measure_current": f"{SCPI} ch. 3 MEASure: MEASure[:SCALar]:CURRent[:DC]?",
        "error_query": f"{SCPI} ch. 21 SYSTem: SYSTem:ERRor[:NEXT]?",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC?",
    },
    unchecked=frozenset({"output_on", "output_off", "output_query", "set_voltage", "set_current",
                         "set_frequency", "measure_voltage", "measure_current", "error_query", "opc_query"}),
)
