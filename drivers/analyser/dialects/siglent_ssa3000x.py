"""Siglent SSA3000X / SSA3000X Plus spectrum analysers (SSA3021X, SSA3032X, SSA3075X Plus ...).

Source: Siglent *SSA3000X Series Spectrum Analyzer Programming Guide* (PG0703X):
``[:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP``, ``[:SENSe]:BWIDth[:RESolution]``,
``[:SENSe]:BWIDth:VIDeo``, ``:DISPlay:WINDow:TRACe:Y[:SCALe]:RLEVel``,
``[:SENSe]:POWer[:RF]:ATTenuation``, ``[:SENSe]:DETector[:FUNCtion] NEGative|POSitive|SAMPle|
AVERage|NORMAL|QUASi``, ``:TRACe<n>:MODE WRITe|MAXHold|MINHold|VIEW|BLANk|AVERage``,
``:AVERage:TRACe<n>:COUNt``, ``:INITiate:CONTinuous OFF``, ``:INITiate[:IMMediate]``, ``*OPC?``,
``[:SENSe]:SWEep:TIME?``, ``:TRACe[:DATA]? <n>`` (the trace argument is the bare number) and
``:FORMat[:DATA] ASCii|REAL``, ``:SYSTem:ERRor?``. The sweep has a fixed 751 points. ASCII traces
end with a trailing comma. The guide names no byte-order command or query, so hubrig reads this
family's traces in ASCII only (a byte order is read from the instrument, never assumed).
"""

from hubrig.drivers.analyser.dialects import Dialect

DIALECTS = {"siglent-ssa3000x": Dialect(
    name="siglent-ssa3000x",
    title="Siglent SSA3000X spectrum analyser",
    manual="Siglent SSA3000X Series Spectrum Analyzer Programming Guide (PG0703X)",
    idn_pattern=r"^Siglent Technologies,SSA3\d{3}X",
    idn="Siglent Technologies,SSA3032X Plus,SSA3PCAX000001,3.2.2.5.1",
    points=None, points_query=None, fixed_points=751,
    rbw=":BWID {value}", vbw=":BWID:VID {value}",
    detector=":DET {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "AVER", "negative": "NEG", "quasi-peak": "QUAS"},
    trace_mode=":TRAC{trace}:MODE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "AVER"},
    average_count=":AVER:TRAC{trace}:COUN {value}",
    trace_query=":TRAC:DATA? {trace}",
    formats={"ascii": "ASC", "real32": "REAL"},
    format_command=":FORM {word}",
    ascii_trailing_separator=True,
    preferred_encoding="ascii",
)}
