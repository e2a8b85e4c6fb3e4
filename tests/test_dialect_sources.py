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

