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

DSA_GUIDE = "Rigol DSA800 Series Programming Guide, ch. 2 Command System,"
DSA_TRACE = ("Rigol DSA800E Programming Guide p. 2-182, :TRACe[:DATA]? TRACE<n> in a #9 block header "
             "(the DSA800E shares the DSA800 command set); https://www.easymanua.ls/rigol/dsa832e/manual/38204?p=204")
RSA_GUIDE = "Rigol RSA5000 Series Programming Guide, ch. 2 Command System,"
RSA = "https://www.manualshelf.com/manual/rigol/rsa5065/instructions-english/page-{}.html"
RSA_BORDER = ("Rigol RSA5000 VSA Programming Guide p. 2-29, :FORMat:BORDer NORMal|SWAPped, default NORMal; "
              "http://88.208.23.73:8080/en/manual/rigol/rsa5032/1461068?page=43")
NOTE = "section not seen in a public copy"


def _common(guide: str) -> dict[str, str]:
    """The citations the DSA800 and RSA5000 guides share (sections not seen in a public copy)."""
    return {
        **{name: f"{guide} [:SENSe]:FREQuency:CENTer|SPAN|STARt|STOP ({NOTE})"
           for name in ("center", "span", "start", "stop", "start_query", "stop_query")},
        "rbw": f"{guide} [:SENSe]:BANDwidth|BWIDth[:RESolution] ({NOTE})",
        "vbw": f"{guide} [:SENSe]:BANDwidth|BWIDth:VIDeo ({NOTE})",
        "reference_level": f"{guide} :DISPlay:WINdow:TRACe:Y[:SCALe]:RLEVel ({NOTE})",
        "attenuation": f"{guide} [:SENSe]:POWer[:RF]:ATTenuation ({NOTE})",
        "continuous_off": f"{guide} :INITiate:CONTinuous OFF ({NOTE})",
        "single_sweep": f"{guide} :INITiate[:IMMediate] ({NOTE})",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC?",
        "sweep_time_query": f"{guide} [:SENSe]:SWEep:TIME? ({NOTE})",
        "error_query": f"{guide} :SYSTem:ERRor[:NEXT]? ({NOTE})",
    }


COMMON_UNCHECKED = frozenset({"center", "span", "start", "stop", "start_query", "stop_query", "rbw", "vbw",
                              "reference_level", "attenuation", "continuous_off", "single_sweep", "opc_query",
                              "sweep_time_query", "error_query"})

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
    sources={
        **_common(DSA_GUIDE),
        "detector": f"{DSA_GUIDE} [:SENSe]:DETector[:FUNCtion] (one detector for all traces) ({NOTE})",
        "detectors": f"{DSA_GUIDE} NEGative|NORMal|POSitive|RMS|SAMPle|VAVerage|QPEak ({NOTE})",
        "trace_mode": f"{DSA_GUIDE} :TRACe<n>:MODE ({NOTE})",
        "trace_modes": f"{DSA_GUIDE} :TRACe<n>:MODE WRITe|MAXHold|MINHold|VIEW|BLANk|VIDeoavg|POWeravg ({NOTE})",
        "average_count": f"{DSA_GUIDE} :TRACe:AVERage:COUNt ({NOTE})",
        "trace_query": DSA_TRACE,
        "format_command": f"{DSA_GUIDE} :FORMat:TRACe[:DATA] ({NOTE})",
        "formats": f"{DSA_GUIDE} :FORMat:TRACe[:DATA] ASCii|REAL ({NOTE})",
        "byte_order_command": f"{DSA_GUIDE} :FORMat:BORDer NORMal|SWAPped ({NOTE})",
        "byte_order_query": f"{DSA_GUIDE} :FORMat:BORDer? ({NOTE})",
        "byte_orders": f"{DSA_GUIDE} :FORMat:BORDer NORMal|SWAPped ({NOTE})",
    },
    unchecked=COMMON_UNCHECKED | {"detector", "detectors", "trace_mode", "trace_modes", "average_count",
                                  "format_command", "formats", "byte_order_command", "byte_order_query",
                                  "byte_orders"},
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
    sources={
        **_common(RSA_GUIDE),
        "points": f"{RSA_GUIDE} [:SENSe]:SWEep:POINts ({NOTE})",
        "points_query": f"{RSA_GUIDE} [:SENSe]:SWEep:POINts? ({NOTE})",
        "detector": f"{RSA_GUIDE} p. 2-134, [:SENSe]:DETector:TRACe<n> (per trace); {RSA.format(152)}",
        "detectors": f"{RSA_GUIDE} p. 2-134, AVERage|NEGative|NORMal|POSitive|SAMPle|QPEak|RMS; {RSA.format(152)}",
        "trace_mode": f"{RSA_GUIDE} :TRACe<n>:TYPE ({NOTE})",
        "trace_modes": f"{RSA_GUIDE} :TRACe<n>:TYPE WRITe|AVERage|MAXHold|MINHold ({NOTE})",
        "average_count": f"{RSA_GUIDE} [:SENSe]:AVERage:COUNt ({NOTE})",
        "trace_query": f"{RSA_GUIDE} p. 2-192, :TRACe[:DATA]? TRACE1..TRACE6 (ASCII points separated by a comma "
                       f"and a space); {RSA.format(210)}",
        "format_command": f"{RSA_GUIDE} p. 2-80, :FORMat[:TRACe][:DATA]; {RSA.format(98)}",
        "formats": f"{RSA_GUIDE} p. 2-80, ASCii|INTeger,32|REAL,32|REAL,64; {RSA.format(98)}",
        "byte_order_command": RSA_BORDER, "byte_order_query": RSA_BORDER, "byte_orders": RSA_BORDER,
    },
    unchecked=COMMON_UNCHECKED | {"points", "points_query", "trace_mode", "trace_modes", "average_count"},
)

DIALECTS = {"rigol-dsa": DSA, "rigol-rsa": RSA}
