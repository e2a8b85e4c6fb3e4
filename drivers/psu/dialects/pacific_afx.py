"""Pacific Power Source AFX series programmable AC sources (three-phase models).

Source: Pacific Power Source *AFX Series Power Source Operation Manual* (2018), section 8 "Remote
Control Programming": 8.1.1 Programming Conventions and Notations (SCPI-1992 command forms,
optional keywords in brackets; note 13: Voltage parameters carry a channel (phase) number suffix
1, 2 or 3 to set one phase, and without it set all three), and the measurement commands' phase
suffix ``#`` = 1, 2 or 3. Per-phase voltage: ``[:SOURce]:VOLTage{1|2|3} <Vrms>``; all phases:
``[:SOURce]:VOLTage <Vrms>``. Output, current limit, frequency, measurement and error forms are the
SCPI ones the section follows (``OUTPut[:STATe]``, ``CURRent:LIMit``, ``FREQuency``,
``MEASure:VOLTage:AC#?``, ``SYSTem:ERRor?``); confirm them on an instrument with ``hubrig rig check``.
"""

from hubrig.drivers.psu.dialects import Dialect

MANUAL = "Pacific Power Source AFX Series Operation Manual (2018), section 8 Remote Control Programming,"

DIALECT = Dialect(
    name="pacific-afx",
    title="Pacific Power Source AFX three-phase AC source",
    manual="Pacific Power Source AFX Series Power Source Operation Manual (2018), section 8 Remote Control "
           "Programming (8.1.1 note 13: phase suffix 1/2/3 on Voltage)",
    ac=True,
    channels=1,
    phases=3,
    phase_voltage="VOLT{phase} {value}",
    set_voltage="VOLT {value}",
    set_current="CURR:LIM {value}",
    set_frequency="FREQ {value}",
    measure_voltage="MEAS:VOLT:AC1?",
    measure_current="MEAS:CURR1?",
    idn="Pacific Power Source,AFX,000001,1.0",
    makers=("PACIFIC",),
    models=r"(AFX|3\d\d\dAFX)",
    sources={
        "phase_voltage": f"{MANUAL} 8.1.1 note 13: Voltage takes a phase suffix 1, 2 or 3 "
                         "(from the manual excerpt issue 10 worked from)",
        "set_voltage": f"{MANUAL} 8.1.1 note 13: Voltage without the suffix sets all three phases",
        "output_on": f"{MANUAL} (SCPI-1992 form OUTPut[:STATe]; not quoted in the excerpt)",
        "output_off": f"{MANUAL} (SCPI-1992 form OUTPut[:STATe]; not quoted in the excerpt)",
        "output_query": f"{MANUAL} (SCPI-1992 form OUTPut[:STATe]?; not quoted in the excerpt)",
        "set_current": f"{MANUAL} (SCPI form [:SOURce]:CURRent:LIMit; not quoted in the excerpt)",
        "set_frequency": f"{MANUAL} (SCPI form [:SOURce]:FREQuency; not quoted in the excerpt)",
        "measure_voltage": f"{MANUAL} measurement phase suffix # = 1, 2 or 3 (MEASure:VOLTage:AC#?)",
        "measure_current": f"{MANUAL} measurement phase suffix # = 1, 2 or 3 (MEASure:CURRent#?)",
        "error_query": f"{MANUAL} (SCPI form SYSTem:ERRor?; not quoted in the excerpt)",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC? (section 8 follows SCPI-1992, which requires it)",
    },
    unchecked=frozenset({"phase_voltage", "set_voltage", "output_on", "output_off", "output_query",
                         "set_current", "set_frequency", "measure_voltage", "measure_current",
                         "error_query", "opc_query"}),
)
