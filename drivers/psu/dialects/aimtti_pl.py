"""Aim-TTi PL-P series DC supplies (PL068-P .. PL601-P, PL303QMD-P, PL303QMT-P).

Source: Aim-TTi *New PL & PL-P Series Instruction Manual* (issue 18), "Remote Commands":
``OP<n> <nrf>`` (1 on, 0 off) and ``OP<n>?`` (returns ``<nr1>``), ``V<n> <nrf>``, ``I<n> <nrf>``,
``V<n>O?`` / ``I<n>O?`` (readback, returned as ``<nr2>V`` / ``<nr2>A``), ``EER?`` (query and clear
the Execution Error Register: 0 none, 100 range error, ...), ``*ESR?`` (command errors set
bit 5), ``*OPC?``. Not SCPI: there is no error queue, the register holds the latest error.
"""

from hubrig.drivers.psu.dialects import ERROR_REGISTER, Dialect

MANUAL = "Aim-TTi New PL & PL-P Series Instruction Manual iss. 18, Remote Commands"
LD400_P43 = "https://manualshive.com/en/manual/aim-tti/ld400/2871871?page=43"

DIALECT = Dialect(
    name="aimtti-pl",
    title="Aim-TTi PL-P DC supply",
    manual="Aim-TTi New PL & PL-P Series Instruction Manual iss. 18, Remote Commands",
    ac=False,
    channels=3,
    global_output=False,
    output_on="OP{ch} 1",
    output_off="OP{ch} 0",
    output_query="OP{ch}?",
    set_voltage="V{ch} {value}",
    set_current="I{ch} {value}",
    measure_voltage="V{ch}O?",
    measure_current="I{ch}O?",
    error_query="EER?",
    error_style=ERROR_REGISTER,
    volts_format="{:.2f}V",
    amps_format="{:.3f}A",
    no_error_reply="0",
    register_errors={
        100: "Range error: the numeric value sent is not allowed",
        101: "Corrupted data found on recall",
        102: "No set-up data to recall",
        103: "Attempt to address a non-existent output",
        104: "Command not valid with the output on",
        200: "Read only: settings cannot be changed",
    },
    idn="THURLBY THANDAR,PL303QMT-P,000001,3.02-4.06",
    makers=("THURLBY THANDAR", "AIM-TTI", "AIM & THURLBY THANDAR", "TTI"),
    models=r"PL\d",
    sources={
        "output_on": f"{MANUAL}: OP<n> <nrf> (1 = on)",
        "output_off": f"{MANUAL}: OP<n> <nrf> (0 = off)",
        "output_query": f"{MANUAL}: OP<n>? returns <nr1>",
        "set_voltage": f"{MANUAL}: V<n> <nrf>",
        "set_current": f"{MANUAL}: I<n> <nrf>",
        "measure_voltage": f"{MANUAL}: V<n>O? returns <nr2>V",
        "measure_current": f"{MANUAL}: I<n>O? returns <nr2>A",
        "error_query": f"{MANUAL}: EER? (Execution Error Register, cleared when read; the same register "
                       f"in the Aim-TTi LD400 manual's status model: {LD400_P43})",
        "opc_query": f"{MANUAL}: *OPC? (always 1: commands are sequential)",
    },
    unchecked=frozenset({"output_on", "output_off", "output_query", "set_voltage", "set_current",
                         "measure_voltage", "measure_current", "error_query", "opc_query"}),
)
