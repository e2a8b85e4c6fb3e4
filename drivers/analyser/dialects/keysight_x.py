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
)}
