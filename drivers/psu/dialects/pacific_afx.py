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
)
