"""Siglent SSA3000X / SSA3000X Plus spectrum analysers (SSA3021X, SSA3032X, SSA3075X Plus ...).

Source: Siglent *SSA3000X Series Spectrum Analyzer Programming Guide* (PG0703X):
``[:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP``, ``[:SENSe]:BWIDth[:RESolution]``,
``[:SENSe]:BWIDth:VIDeo``, ``:DISPlay:WINDow:TRACe:Y[:SCALe]:RLEVel``,
``[:SENSe]:POWer[:RF]:ATTenuation``, ``[:SENSe]:DETector:TRACe<n>[:FUNCtion] NEGative|POSitive|SAMPle|
AVERage|NORMAL|QUASi`` (per trace, as the SVA1000X guide of the same platform gives it; the bare
``:DETector`` form was not found in any public Siglent guide), ``:TRACe<n>:MODE WRITe|MAXHold|MINHold|VIEW|BLANk|AVERage``,
``:AVERage:TRACe<n>:COUNt``, ``:INITiate:CONTinuous OFF``, ``:INITiate[:IMMediate]``, ``*OPC?``,
``[:SENSe]:SWEep:TIME?``, ``:TRACe[:DATA]? <n>`` (the trace argument is the bare number) and
``:FORMat[:DATA] ASCii|REAL``, ``:SYSTem:ERRor?``. The sweep has a fixed 751 points. ASCII traces
end with a trailing comma. The guide names no byte-order command or query, so hubrig reads this
family's traces in ASCII only (a byte order is read from the instrument, never assumed).
"""

from hubrig.drivers.analyser.dialects import Dialect

GUIDE = "Siglent SSA3000X Series Programming Guide (PG0703X),"
SVA = ("Siglent SVA1000X Programming Guide p. 35, 3.5.6 Detector: [:SENSe]:DETector:TRACe[1]|2|3|4[:FUNCtion] "
       "NEGative|POSitive|SAMPle|AVERage|NORMAL|QUASi, example :DETector:TRAC1 AVERage (the SVA1000X shares the "
       "SSA3000X Plus platform); http://38.142.81.21:8001/manual/siglent/sva1075x/programming-guide-english-no/page-35.html"
       "; also sent by a public SSA3000X Plus driver (L. Maisenbacher, UC Berkeley: :DETector:TRACe<n>)")
QMI = ("public QuTech QMI SSA3000X driver (secondary): :FORM? answers ASCii|REAL, :TRAC:DATA? <n> with the bare "
       "trace number, ASCII values ending in a trailing comma")
NOTE = "section not seen in a public copy"

DIALECTS = {"siglent-ssa3000x": Dialect(
    name="siglent-ssa3000x",
    title="Siglent SSA3000X spectrum analyser",
    manual="Siglent SSA3000X Series Spectrum Analyzer Programming Guide (PG0703X)",
    idn_pattern=r"^Siglent Technologies,SSA3\d{3}X",
    idn="Siglent Technologies,SSA3032X Plus,SSA3PCAX000001,3.2.2.5.1",
    points=None, points_query=None, fixed_points=751,
    rbw=":BWID {value}", vbw=":BWID:VID {value}",
    detector=":DET:TRAC{trace} {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "AVER", "negative": "NEG", "quasi-peak": "QUAS"},
    trace_mode=":TRAC{trace}:MODE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "AVER"},
    average_count=":AVER:TRAC{trace}:COUN {value}",
    trace_query=":TRAC:DATA? {trace}",
    formats={"ascii": "ASC", "real32": "REAL"},
    format_command=":FORM {word}",
    ascii_trailing_separator=True,
    preferred_encoding="ascii",
    sources={
        **{name: f"{GUIDE} [:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP ({NOTE})"
           for name in ("center", "span", "start", "stop", "start_query", "stop_query")},
        "rbw": f"{GUIDE} [:SENSe]:BWIDth[:RESolution] ({NOTE})",
        "vbw": f"{GUIDE} [:SENSe]:BWIDth:VIDeo ({NOTE})",
        "reference_level": f"{GUIDE} :DISPlay:WINDow:TRACe:Y[:SCALe]:RLEVel ({NOTE})",
        "attenuation": f"{GUIDE} [:SENSe]:POWer[:RF]:ATTenuation ({NOTE})",
        "detector": SVA,
        "detectors": SVA,
        "trace_mode": f"{GUIDE} :TRACe<n>:MODE ({NOTE}; the SSA3000X User Manual 2.2.2.2 lists the trace types "
                      "Clear Write, Max Hold, Min Hold, View, Average, Blank)",
        "trace_modes": f"{GUIDE} :TRACe<n>:MODE WRITe|MAXHold|MINHold|VIEW|BLANk|AVERage ({NOTE})",
        "average_count": f"{GUIDE} :AVERage:TRACe<n>:COUNt ({NOTE})",
        "continuous_off": f"{GUIDE} :INITiate:CONTinuous OFF ({NOTE})",
        "single_sweep": f"{GUIDE} :INITiate[:IMMediate] ({NOTE})",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC?",
        "sweep_time_query": f"{GUIDE} [:SENSe]:SWEep:TIME? ({NOTE})",
        "trace_query": f"{GUIDE} :TRACe[:DATA]? <n>; {QMI}",
        "format_command": f"{GUIDE} :FORMat[:DATA]; {QMI}",
        "formats": f"{GUIDE} :FORMat[:DATA] ASCii|REAL; {QMI}",
        "error_query": f"{GUIDE} :SYSTem:ERRor? ({NOTE})",
    },
    unchecked=frozenset({"center", "span", "start", "stop", "start_query", "stop_query", "rbw", "vbw",
                         "reference_level", "attenuation", "trace_mode", "trace_modes", "average_count",
                         "continuous_off", "single_sweep", "opc_query", "sweep_time_query", "error_query"}),
)}
