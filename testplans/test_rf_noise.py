"""RF noise (SEC H14.46, ICHIS): does the ESME radiate, in any operating state, above the masks a
lab configures for the Comms Hub's HAN and WAN bands?

Per band of the rig file's ``rf_noise:``: a reference max-hold sweep with the ESME's mains cut,
then max-hold sweeps with it powered (idle; active, commanded), the emission judged against the
band's mask point by point; the HAN stick's per-channel energy scan off vs on is a second,
independent measurement when the rig has one. Runs unchanged on the virtual rig and a real bench
(docs/testplans.md, "RF noise plan"). The shipped masks are examples, not ICHIS values.
"""

from __future__ import annotations

import math

import pytest

from hubrig.harness.rig.commands import sender_for
from hubrig.testplans import rfnoise
from hubrig.testplans.rfnoise_results import HanEnergy, band_figure, han_figure


@pytest.fixture
def rf(rig, analyser):
    cfg = rig.rig.rf_noise
    if cfg is None:
        pytest.skip("the rig file has no rf_noise: section (bands and masks)")
    if analyser is None:
        pytest.skip("the rig file has no instruments.analyser")
    return cfg


def test_esme_emissions_within_masks(rig, rf, analyser, clock, mains, measure):
    plans = rf.plan()
    folder = rig.out_dir / rfnoise.EVIDENCE_DIR
    reference = rfnoise.sweep_reference(analyser, mains, clock, plans, rf)
    sender = sender_for(rig)
    activity = rfnoise.event_log_read(sender.read_event_log, clock)
    figures: dict[str, tuple[list, list]] = {p.band.name: ([], []) for p in plans}
    failed = []
    for state in rf.states:
        powered = rfnoise.sweep_powered(analyser, clock, plans, rf, state, activity)
        for plan in plans:
            result = rfnoise.evaluate(plan, state, reference[plan.band.name], powered[plan.band.name])
            rfnoise.write_evidence(result, folder)
            verdict, traces = rfnoise.records(result, measure.scenario)
            measure.record(verdict)
            for trace in traces:
                measure.record(trace)
            figures[plan.band.name][0].extend(traces)
            figures[plan.band.name][1].append(verdict)
            if not result.passed:
                failed.append(result.describe())
            margin, freq = result.worst
            measure.check(f"{plan.band.name}-{state}-within-mask", result.passed,
                          value=None if math.isnan(margin) else round(margin, 2), unit="dB",
                          rule=f"emission (powered - reference) <= mask {plan.mask.cite()}",
                          note=result.describe())
    for name, (traces, verdicts) in figures.items():
        band_figure(traces, verdicts).savefig(folder / f"{name}.png", dpi=110)
    assert not failed, "ESME emissions above the mask:\n" + "\n".join(failed)


def test_han_energy_scan_off_vs_on(rig, rf, clock, mains, measure):
    scanner = rig.instruments.get("han")
    if not isinstance(scanner, rfnoise.EnergyScanner):
        pytest.skip("the rig has no HAN stick with an energy scan (instruments.han): this measurement is optional")
    off, on, evidence = rfnoise.han_energy_off_on(scanner, mains, clock, rf.settle_s)
    energy = measure.record(HanEnergy(scenario=measure.scenario, off_dbm=off, on_dbm=on, evidence=evidence))
    folder = rig.out_dir / rfnoise.EVIDENCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    han_figure(energy).savefig(folder / "han-energy.png", dpi=110)
    for channel in sorted(on):
        measure.info(f"han-energy-ch{channel}-rise", round(on[channel] - off.get(channel, on[channel]), 2), "dB",
                     evidence=evidence, note=f"off {off.get(channel)} dBm, on {on[channel]} dBm")
