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
)}
