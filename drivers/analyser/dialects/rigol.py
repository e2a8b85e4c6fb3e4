"""Rigol spectrum analysers: DSA800 (DSA815/832/875) and RSA5000/RSA3000.

Sources: Rigol *DSA800 Series Programming Guide* and *RSA5000 Series Programming Guide*.
Both: ``[:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP``, ``[:SENSe]:BANDwidth|BWIDth[:RESolution]``,
``:BANDwidth:VIDeo``, ``:DISPlay:WINdow:TRACe:Y[:SCALe]:RLEVel``, ``[:SENSe]:POWer[:RF]:ATTenuation``,
``:INITiate:CONTinuous OFF``, ``:INITiate[:IMMediate]``, ``*OPC?``, ``[:SENSe]:SWEep:TIME?``,
``:TRACe[:DATA]? TRACE1``, ``:FORMat:TRACe[:DATA] ASCii|REAL``, ``:FORMat:BORDer NORMal|SWAPped``,
``:SYSTem:ERRor[:NEXT]?``. Traces in ASCII come inside a ``#9``-style block header, values
separated by a comma and a blank.

DSA800: a fixed sweep of 601 points, one detector for all traces
(``[:SENSe]:DETector[:FUNCtion] NEGative|NORMal|POSitive|RMS|SAMPle|VAVerage|QPEak``), the trace
mode ``:TRACe<n>:MODE WRITe|MAXHold|MINHold|VIEW|BLANk|VIDeoavg|POWeravg`` and the average count
``:TRACe:AVERage:COUNt``. RSA5000/3000: ``[:SENSe]:SWEep:POINts``, a per-trace detector
``[:SENSe]:DETector:TRACe<n>``, ``:TRACe<n>:TYPE WRITe|AVERage|MAXHold|MINHold`` and
``[:SENSe]:AVERage:COUNt``.
"""

from dataclasses import replace

from hubrig.drivers.analyser.dialects import Dialect

DSA = Dialect(
    name="rigol-dsa",
    title="Rigol DSA800 spectrum analyser",
    manual="Rigol DSA800 Series Programming Guide",
    idn_pattern=r"^Rigol Technologies,DSA8\d\d",
    idn="Rigol Technologies,DSA815,DSA8A000000001,00.01.19.00.02",
    points=None, points_query=None, fixed_points=601,
    detector=":DET {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "VAV", "rms": "RMS", "negative": "NEG",
               "quasi-peak": "QPE"},
    trace_mode=":TRAC{trace}:MODE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "POW"},
    average_count=":TRAC:AVER:COUN {value}",
    trace_query=":TRAC:DATA? TRACE{trace}",
    formats={"ascii": "ASC", "real32": "REAL"},
    format_command=":FORM:TRAC:DATA {word}",
    byte_order_command=":FORM:BORD {word}",
    byte_order_query=":FORM:BORD?",
    reset_byte_order="big",
    ascii_header="required",
    ascii_separator=", ",
    preferred_encoding="ascii",
)

RSA = replace(
    DSA,
    name="rigol-rsa",
    title="Rigol RSA5000/RSA3000 real-time spectrum analyser",
    manual="Rigol RSA5000 Series Programming Guide",
    idn_pattern=r"^Rigol Technologies,RSA[35]\d{3}",
    idn="Rigol Technologies,RSA5065,RSA5A000000001,00.01.04.00.02",
    points=":SWE:POIN {value}", points_query=":SWE:POIN?", fixed_points=None,
    detector=":DET:TRAC{trace} {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "AVER", "rms": "RMS", "negative": "NEG",
               "quasi-peak": "QPE"},
    trace_mode=":TRAC{trace}:TYPE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "AVER"},
    average_count=":AVER:COUN {value}",
    formats={"ascii": "ASC", "real32": "REAL,32"},
    preferred_encoding="real32",
)

DIALECTS = {"rigol-dsa": DSA, "rigol-rsa": RSA}
