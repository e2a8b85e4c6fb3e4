"""Generic SCPI-1999 programmable supply (the common subset every SCPI supply implements).

Source: SCPI Consortium, *Standard Commands for Programmable Instruments*, 1999.0, Vol. 2
Command Reference: ch. 15 OUTPut (``OUTPut[:STATe]``), ch. 18 SOURce (``[SOURce:]VOLTage``,
``[SOURce:]CURRent``, ``[SOURce:]FREQuency``), ch. 3 MEASure (``MEASure:VOLTage?``,
``MEASure:CURRent?``), ch. 21 SYSTem (``SYSTem:ERRor?``); IEEE 488.2 ``*OPC?``.
"""

from hubrig.drivers.psu.dialects import Dialect

DIALECT = Dialect(
    name="generic-scpi",
    title="generic SCPI-1999 supply",
    manual="SCPI-1999.0 Vol. 2: OUTPut, SOURce, MEASure, SYSTem:ERRor; IEEE 488.2 *OPC?",
    ac=False,
    channels=1,
    set_frequency="FREQ {value}",
    idn="HUBRIG,GENERIC-SCPI,0,1.0",
)
