"""Every command string of every shipped dialect (supply and analyser) names a public source, and
docs/rigs.md lists it with that source's verdict."""

from pathlib import Path

import pytest

from hubrig.drivers.analyser.dialects import all_dialects as analyser_dialects
from hubrig.drivers.psu.dialects import all_dialects as supply_dialects

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rigs.md"
DIALECTS = [(d.name, d.commands(), d.sources, d.unchecked) for d in supply_dialects()] + \
           [(d.name, d.commands(), d.sources, d.unchecked) for d in analyser_dialects()]


@pytest.mark.parametrize(("name", "commands", "sources", "unchecked"), DIALECTS, ids=[d[0] for d in DIALECTS])
def test_every_command_cites_a_source(name, commands, sources, unchecked):
    assert commands, f"{name} has no commands"
    uncited = sorted(set(commands) - {k for k, v in sources.items() if v.strip()})
    assert not uncited, f"{name}: commands without a cited source: {uncited}"
    assert set(sources) <= set(commands), f"{name}: sources for commands it lacks: {set(sources) - set(commands)}"
    assert unchecked <= set(commands), f"{name}: unchecked names no command: {unchecked - set(commands)}"


@pytest.mark.parametrize(("name", "commands", "sources", "unchecked"), DIALECTS, ids=[d[0] for d in DIALECTS])
def test_docs_list_every_command_with_its_verdict(name, commands, sources, unchecked):
    rows = {line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{name}` |")}
    for field, text in commands.items():
        verdicts = ("| unchecked |",) if field in unchecked else ("| matches", "| fixed |")
        row = [r for r in rows if f"| `{field}` |" in r]
        assert row, f"docs/rigs.md has no row for {name} {field}"
        assert f"`{text.replace('|', chr(92) + '|')}`" in row[0], f"docs/rigs.md shows another {name} {field}"
        assert any(v in row[0] for v in verdicts), f"docs/rigs.md gives {name} {field} another verdict"



def test_the_virtual_siglent_takes_the_per_trace_detector_its_guide_gives_and_refuses_the_bare_form():
    from hubrig.harness.clock import VirtualClock
    from hubrig.harness.virtual.analyser import VirtualAnalyser
    from hubrig.harness.virtual.rfparams import RfParams

    device = VirtualAnalyser(VirtualClock(), dialect="siglent-ssa3000x", rf=RfParams(), spurs=[], noise_bands=[],
                             powered=lambda: True, last_command_ns=lambda: None, idn=None)
    device.write(":DETector:TRACe1 SAMPle")
    assert (device.settings.detector, device.errors) == ("sample", [])
    device.write(":DET POS")
    assert device.errors == [(-113, "Undefined header")] and device.settings.detector == "sample"


def test_the_virtual_chroma_measures_rms_volts_with_acdc_and_has_no_volt_ac_query():
    from hubrig.harness.clock import VirtualClock
    from hubrig.harness.virtual.supply import VirtualSupply

    clock = VirtualClock()
    supply = VirtualSupply(clock, dialect="chroma-61500")
    supply.write("VOLT:AC 230;:OUTP ON")
    clock.advance(1.0)
    assert float(supply.query("MEASure:SCALar:VOLTage:ACDC?")) == pytest.approx(230.0)
    supply.write("MEAS:VOLT:AC?")
    assert supply.query("SYST:ERR?") == '-113,"Undefined header"'
