"""Keysight (formerly Agilent) X-Series signal analysers: PXA/MXA/EXA/CXA (N9030/N9020/N9010/N9000).

Source: Keysight *X-Series Signal Analyzers, Spectrum Analyzer Mode User's & Programmer's
Reference*: ``[:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP``, ``[:SENSe]:SWEep:POINts`` (1..100,001),
``[:SENSe]:BANDwidth[:RESolution]`` and ``:BANDwidth:VIDeo``,
``:DISPlay:WINDow[1]:TRACe:Y[:SCALe]:RLEVel``, ``[:SENSe]:POWer[:RF]:ATTenuation``,
``[:SENSe]:DETector:TRACe[n] AVERage|NEGative|NORMal|POSitive|SAMPle|QPEak``,
``:TRACe[n]:TYPE WRITe|AVERage|MAXHold|MINHold``, ``[:SENSe]:AVERage:COUNt`` (also the number of
sweeps a max hold accumulates in single sweep), ``:INITiate:CONTinuous OFF``,
``:INITiate[:IMMediate]``, ``*OPC?``, ``[:SENSe]:SWEep:TIME?``, ``:TRACe[:DATA]? TRACE1``,
``:FORMat[:TRACe][:DATA] ASCii|REAL,32|REAL,64`` and ``:FORMat:BORDer NORMal|SWAPped`` (*RST
NORMal: most significant byte first), ``:SYSTem:ERRor[:NEXT]?`` (``+0,"No error"``). ASCII traces
are comma-separated values in exponential notation without a block header.
"""

from hubrig.drivers.analyser.dialects import Dialect

GUIDE = "Keysight X-Series Signal Analyzers, Spectrum Analyzer Mode User's & Programmer's Reference,"
P691 = "https://www.easymanua.ls/keysight/x-series/manual?p=691"
BORDER = ("X-Series (U9072A cdma2000 mode) User's & Programmer's Reference p. 1045, Format Data: Byte Order: "
          ":FORMat:BORDer NORMal|SWAPped, preset NORMal (MSB first); "
          "https://manualsdump.com/en/manuals/agilent_technologies-u9072a_cdma-2000/248597/1045")
SCPI_NOTE = "section not seen in a public copy"

DIALECTS = {"keysight-x": Dialect(
    name="keysight-x",
    title="Keysight X-Series signal analyser",
    manual="Keysight X-Series Signal Analyzers, Spectrum Analyzer Mode User's & Programmer's Reference",
    idn_pattern=r"^(Keysight|Agilent) Technologies,N90[0-4]\d[AB]",
    idn="Keysight Technologies,N9020B,MY00000001,A.25.05",
    detector=":DET:TRAC{trace} {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "AVER", "negative": "NEG", "quasi-peak": "QPE"},
    trace_mode=":TRAC{trace}:TYPE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "AVER"},
    average_count=":AVER:COUN {value}",
    trace_query=":TRAC:DATA? TRACE{trace}",
    formats={"ascii": "ASC", "real32": "REAL,32", "real64": "REAL,64"},
    format_command=":FORM:TRAC:DATA {word}",
    byte_order_command=":FORM:BORD {word}",
    byte_order_query=":FORM:BORD?",
    reset_byte_order="big",
    no_error_reply='+0,"No error"',
    sources={
        **{name: f"{GUIDE} Frequency: [:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP ({SCPI_NOTE})"
           for name in ("center", "span", "start", "stop", "start_query", "stop_query")},
        "points": f"{GUIDE} Sweep: [:SENSe]:SWEep:POINts ({SCPI_NOTE})",
        "points_query": f"{GUIDE} Sweep: [:SENSe]:SWEep:POINts? ({SCPI_NOTE})",
        "rbw": f"{GUIDE} BW: [:SENSe]:BANDwidth[:RESolution] ({SCPI_NOTE})",
        "vbw": f"{GUIDE} BW: [:SENSe]:BANDwidth:VIDeo ({SCPI_NOTE})",
        "reference_level": f"{GUIDE} Amplitude: :DISPlay:WINDow[1]:TRACe:Y[:SCALe]:RLEVel ({SCPI_NOTE})",
        "attenuation": f"{GUIDE} Amplitude: [:SENSe]:POWer[:RF]:ATTenuation ({SCPI_NOTE})",
        "detector": f"{GUIDE} Trace: [:SENSe]:DETector:TRACe[n] ({SCPI_NOTE})",
        "detectors": f"{GUIDE} Trace: AVERage|NEGative|NORMal|POSitive|SAMPle|QPEak ({SCPI_NOTE})",
        "trace_mode": f"{GUIDE} p. 691, Trace Type: :TRAC2:TYPE WRIT; {P691}",
        "trace_modes": f"{GUIDE} p. 691, Trace Type: WRITe|AVERage|MAXHold|MINHold; {P691}",
        "average_count": f"{GUIDE} BW/Avg: [:SENSe]:AVERage:COUNt ({SCPI_NOTE})",
        "continuous_off": f"{GUIDE} Sweep: :INITiate:CONTinuous OFF ({SCPI_NOTE})",
        "single_sweep": f"{GUIDE} Sweep: :INITiate[:IMMediate] ({SCPI_NOTE})",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC?",
        "sweep_time_query": f"{GUIDE} Sweep: [:SENSe]:SWEep:TIME? ({SCPI_NOTE})",
        "trace_query": f"{GUIDE} Trace data: :TRACe[:DATA]? TRACE1 ({SCPI_NOTE})",
        "format_command": f"{GUIDE} :FORMat[:TRACe][:DATA] ({SCPI_NOTE})",
        "formats": f"{GUIDE} :FORMat[:TRACe][:DATA] ASCii|REAL,32|REAL,64 ({SCPI_NOTE})",
        "byte_order_command": BORDER, "byte_order_query": BORDER, "byte_orders": BORDER,
        "error_query": f"{GUIDE} System: :SYSTem:ERRor[:NEXT]? ({SCPI_NOTE})",
    },
    unchecked=frozenset({"center", "span", "start", "stop", "start_query", "stop_query", "points",
                         "points_query", "rbw", "vbw", "reference_level", "attenuation", "detector",
                         "detectors", "average_count", "continuous_off", "single_sweep", "opc_query",
                         "sweep_time_query", "trace_query", "format_command", "formats", "error_query"}),
)}
