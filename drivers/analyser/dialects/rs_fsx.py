"""Rohde & Schwarz FSV / FSVA, FSW and FPL1000 signal and spectrum analysers.

Sources: *R&S FSW User Manual* and *R&S FPL1000 User Manual*, chapter "Remote Commands":
``[SENSe:]FREQuency:CENTer|SPAN|STARt|STOP``, ``[SENSe:]SWEep[:WINDow<n>]:POINts``,
``[SENSe:]BANDwidth[:RESolution]``, ``[SENSe:]BANDwidth:VIDeo``,
``DISPlay[:WINDow<n>]:TRACe<t>:Y[:SCALe]:RLEVel``, ``INPut:ATTenuation``,
``[SENSe:][WINDow<n>:]DETector<t>[:FUNCtion] APEak|NEGative|POSitive|RMS|AVERage|SAMPle|QPEak``,
``DISPlay[:WINDow<n>]:TRACe<t>:MODE WRITe|MAXHold|MINHold|AVERage|VIEW|BLANk`` (the R&S verb is
MODE on the DISPlay node, where Keysight uses TRACe:TYPE), ``[SENSe:]SWEep:COUNt`` (the number
of sweeps a single sweep performs, which is the average or max-hold count), ``INITiate:CONTinuous
OFF``, ``INITiate[:IMMediate]``, ``*OPC?``, ``[SENSe:]SWEep:TIME?``, ``TRACe<n>[:DATA]? TRACE1``,
``TRACe<n>[:DATA]:X? TRACE1`` (the frequency of every point), ``FORMat[:DATA] ASCii|REAL,32`` and
``FORMat:BORDer NORMal|SWAPped`` (*RST SWAPped: least significant byte first),
``SYSTem:ERRor[:NEXT]?``. R&S writes its commands without a leading colon.
"""

from hubrig.drivers.analyser.dialects import Dialect

FSW = "R&S FSW User Manual 1173.9411.02-19, Remote Commands,"
P922 = "https://www.easymanua.ls/rohde-and-schwarz/fsw26/manual?p=922"
P925 = "https://manualshive.com/en/manual/rohde-and-schwarz/fsw13/fsw13_user-manual_1477847-925.html"
BORDER = ("R&S FORMat:BORDer NORMal|SWAPped, *RST SWAPped (LSB first), as given in the R&S Spectrum Rider FPH "
          "User Manual 1321.1011.02-11 p. 444 (the FSW/FPL pages not seen); "
          "https://manualshive.com/en/manual/rohde-and-schwarz/1321-0615-02/1477771?page=451")
NOTE = "section not seen in a public copy"

DIALECTS = {"rs-fsx": Dialect(
    name="rs-fsx",
    title="Rohde & Schwarz FSV/FSW/FPL analyser",
    manual="R&S FSW User Manual; R&S FPL1000 User Manual (Remote Commands)",
    idn_pattern=r"^Rohde&Schwarz,(FSV|FSVA|FSW|FPL)",
    idn="Rohde&Schwarz,FPL1007,1304.0004K07/000001,1.80",
    center="FREQ:CENT {value}", span="FREQ:SPAN {value}", start="FREQ:STAR {value}", stop="FREQ:STOP {value}",
    start_query="FREQ:STAR?", stop_query="FREQ:STOP?",
    points="SWE:POIN {value}", points_query="SWE:POIN?",
    rbw="BAND {value}", vbw="BAND:VID {value}",
    reference_level="DISP:TRAC{trace}:Y:RLEV {value}",
    attenuation="INP:ATT {value}",
    detector="DET{trace} {word}",
    detectors={"peak": "POS", "sample": "SAMP", "average": "AVER", "rms": "RMS", "negative": "NEG",
               "quasi-peak": "QPE"},
    trace_mode="DISP:TRAC{trace}:MODE {word}",
    trace_modes={"write": "WRIT", "max-hold": "MAXH", "average": "AVER"},
    average_count="SWE:COUN {value}",
    sweep_time_query="SWE:TIME?",
    continuous_off="INIT:CONT OFF",
    single_sweep="INIT",
    trace_query="TRAC:DATA? TRACE{trace}",
    x_axis_query="TRAC:DATA:X? TRACE{trace}",
    formats={"ascii": "ASC", "real32": "REAL,32"},
    format_command="FORM {word}",
    byte_order_command="FORM:BORD {word}",
    byte_order_query="FORM:BORD?",
    reset_byte_order="little",
    error_query="SYST:ERR?",
    sources={
        **{name: f"{FSW} [SENSe:]FREQuency:CENTer|SPAN|STARt|STOP ({NOTE})"
           for name in ("center", "span", "start", "stop", "start_query", "stop_query")},
        "points": f"{FSW} [SENSe:]SWEep[:WINDow<n>]:POINts ({NOTE})",
        "points_query": f"{FSW} [SENSe:]SWEep[:WINDow<n>]:POINts? ({NOTE})",
        "rbw": f"{FSW} [SENSe:]BANDwidth[:RESolution] ({NOTE})",
        "vbw": f"{FSW} [SENSe:]BANDwidth:VIDeo ({NOTE})",
        "reference_level": f"{FSW} DISPlay[:WINDow<n>]:TRACe<t>:Y[:SCALe]:RLEVel ({NOTE})",
        "attenuation": f"{FSW} INPut:ATTenuation ({NOTE})",
        "detector": f"{FSW} [SENSe:][WINDow<n>:]DETector<t>[:FUNCtion] ({NOTE})",
        "detectors": f"{FSW} DETector: APEak|NEGative|POSitive|RMS|AVERage|SAMPle|QPEak ({NOTE})",
        "trace_mode": f"{FSW} DISPlay[:WINDow<n>]:TRACe<t>:MODE ({NOTE})",
        "trace_modes": f"{FSW} TRACe:MODE WRITe|MAXHold|MINHold|AVERage|VIEW|BLANk ({NOTE})",
        "average_count": f"{FSW} [SENSe:]SWEep:COUNt ({NOTE})",
        "continuous_off": f"{FSW} INITiate<n>:CONTinuous OFF ({NOTE})",
        "single_sweep": f"{FSW} INITiate<n>[:IMMediate] ({NOTE})",
        "opc_query": "IEEE 488.2-1992 10.19 *OPC?",
        "sweep_time_query": f"{FSW} [SENSe:]SWEep:TIME? ({NOTE})",
        "trace_query": f"{FSW} p. 922, TRACe<n>[:DATA]? <Trace> (TRACE1..TRACE6), in the FORMat[:DATA] format; "
                       f"{P922}",
        "x_axis_query": f"{FSW} p. 925, TRACe<n>[:DATA]:X? <TraceNumber> (example TRAC3:X? TRACE1); {P925}",
        "format_command": f"{FSW} p. 922, FORMat[:DATA] <Format> (example FORM REAL,32); {P922}",
        "formats": f"{FSW} p. 922, FORMat[:DATA] ASCii|REAL,32, *RST ASCII; {P922}",
        "byte_order_command": BORDER, "byte_order_query": BORDER, "byte_orders": BORDER,
        "error_query": f"{FSW} SYSTem:ERRor[:NEXT]? ({NOTE})",
    },
    unchecked=frozenset({"center", "span", "start", "stop", "start_query", "stop_query", "points",
                         "points_query", "rbw", "vbw", "reference_level", "attenuation", "detector",
                         "detectors", "trace_mode", "trace_modes", "average_count", "continuous_off",
                         "single_sweep", "opc_query", "sweep_time_query", "byte_order_command",
                         "byte_order_query", "byte_orders", "error_query"}),
)}
