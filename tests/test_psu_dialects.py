"""Each supply dialect against command/response transcripts taken from its programming manual."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hubrig.drivers.psu import InstrumentError, SafetyLimitError, Supply, SupplyConfigError
from hubrig.drivers.psu.dialects import MODULES, all_dialects, format_number
from hubrig.drivers.scpi.transcript import TranscriptEndpoint, TranscriptMismatch, load_transcript
from hubrig.harness.clock import VirtualClock
from hubrig.harness.capture.events import SUPPLY, EventBus

TRANSCRIPTS = Path(__file__).parent / "transcripts"
ERRORS = {"InstrumentError": InstrumentError, "SafetyLimitError": SafetyLimitError,
          "SupplyConfigError": SupplyConfigError}


@dataclass
class Safety:
    """Stand-in for hubrig.harness.rig.file.SafetyLimits that may also lack a limit (the driver refuses)."""

    max_voltage: float | None = None
    max_current: float | None = None
    min_frequency: float | None = None
    max_frequency: float | None = None


@dataclass
class SupplyCfg:
    """Stand-in for hubrig.harness.rig.file.SupplyConfig (same fields; mutable, and unchecked so the
    driver's own checks are reached)."""

    resource: str = "virtual"
    dialect: str = "generic-scpi"
    channel: int = 1
    safety: Safety = field(default_factory=lambda: Safety(253.0, 5.0))
    voltage: float = 230.0
    current_limit: float = 2.0
    frequency: float | None = None
    verify: bool = False
    verify_on_min_v: float | None = None
    verify_off_max_v: float | None = None
    verify_timeout_s: float = 1.0
    timeout_s: float = 5.0
    visa_library: str = "@py"


def test_the_stand_ins_have_the_rig_file_schemas_fields():
    from dataclasses import fields

    from hubrig.harness.rig.file import SafetyLimits, SupplyConfig

    assert [f.name for f in fields(SupplyCfg)] == list(SupplyConfig.model_fields)
    assert [f.name for f in fields(Safety)] == list(SafetyLimits.model_fields)


def cfg_from(settings: dict[str, str]) -> SupplyCfg:
    num = lambda k: float(settings[k]) if k in settings else None  # noqa: E731
    return SupplyCfg(resource=settings.get("resource", "virtual"), dialect=settings["dialect"],
                     channel=int(settings.get("channel", 1)), voltage=num("voltage"),
                     current_limit=num("current_limit"), frequency=num("frequency"),
                     safety=Safety(num("max_voltage"), num("max_current")),
                     verify=settings.get("verify") == "true")


def run_step(supply: Supply, step) -> object:
    if step.action == "set_output":
        return supply.set_output(step.args == ["on"])
    if step.action == "configure":
        kwargs = {k: float(v) for k, v in (a.split("=") for a in step.args)}
        return supply.configure(**kwargs)
    return getattr(supply, step.action)(*step.args)


def check_result(result: object, expect: str) -> None:
    if isinstance(result, bool):
        assert str(result) == expect
    elif isinstance(result, float):
        assert result == pytest.approx(float(expect), rel=1e-9)
    else:
        assert result == expect


@pytest.mark.parametrize("name", sorted(MODULES))
def test_dialect_matches_its_manual_transcript(name):
    transcript = load_transcript(TRANSCRIPTS / f"{name}.txt")
    assert transcript.settings["dialect"] == name
    clock = VirtualClock()
    bus = EventBus(clock)
    endpoint = TranscriptEndpoint([], where=str(transcript.path))
    supply = Supply(cfg_from(transcript.settings), clock, bus, endpoint)
    outputs = []
    for step in transcript.steps:
        endpoint.__init__(step.exchanges, where=str(transcript.path))
        if step.raises:
            kind, _, text = step.raises.partition(": ")
            with pytest.raises(ERRORS[kind]) as caught:
                run_step(supply, step)
            assert text in str(caught.value), f"{transcript.path}:{step.line}"
        else:
            result = run_step(supply, step)
            if step.expect is not None:
                check_result(result, step.expect)
            if step.action == "set_output":
                outputs.append(step.args == ["on"])
        endpoint.assert_done()
    events = bus.events(lambda e: e.kind == SUPPLY)
    assert [e.data["output"] for e in events] == outputs
    assert outputs, "every transcript switches the output"


def test_every_dialect_has_a_transcript_citing_a_manual():
    for dialect in all_dialects():
        text = (TRANSCRIPTS / f"{dialect.name}.txt").read_text()
        assert "Source:" in text and dialect.manual
        assert f"(dialect {dialect.name})" in text.splitlines()[0]


def test_replayer_rejects_a_command_the_manual_does_not_list():
    transcript = load_transcript(TRANSCRIPTS / "generic-scpi.txt")
    supply = Supply(cfg_from(transcript.settings), VirtualClock(), None,
                    TranscriptEndpoint(transcript.steps[0].exchanges))
    with pytest.raises(InstrumentError) as caught:
        supply.output_state()  # the transcript expects *IDN? here
    assert isinstance(caught.value.__cause__, TranscriptMismatch)


def test_replayer_reports_exchanges_the_driver_skipped(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("% dialect=generic-scpi\n@ identify\n> *IDN?\n< A,B,C,D\n> *IDN?\n< A,B,C,D\n")
    step = load_transcript(path).steps[0]
    endpoint = TranscriptEndpoint(step.exchanges, where=str(path))
    endpoint.write("*IDN?")
    assert endpoint.read() == "A,B,C,D"
    with pytest.raises(TranscriptMismatch, match=r"t.txt:5: driver never sent"):
        endpoint.assert_done()


@pytest.mark.parametrize("text, where", [("@ identify\n< reply\n", ":2:"), ("> *IDN?\n", ":1:"),
                                         ("% dialect\n", ":1:"), ("? what\n", ":1:")])
def test_malformed_transcripts_name_the_line(tmp_path, text, where):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=where):
        load_transcript(path)


@pytest.mark.parametrize("value, text", [(230.0, "230"), (0.5, "0.5"), (1.25e-3, "0.00125"),
                                         (12, "12"), (0.0, "0"), (49.999999, "49.999999")])
def test_set_points_are_written_as_plain_decimals(value, text):
    assert format_number(value) == text
