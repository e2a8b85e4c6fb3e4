"""The bench in another process (``hubrig bench serve``) for the harness's own tests: start it
from a virtual rig file with a ``bench:`` section, read its ground-truth log, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hubrig.harness.virtual.serve import read_log

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
"""Generous: the machine may be loaded, and the first start makes the test keys."""


@dataclass
class ServedBench:
    """A running ``hubrig bench serve`` process and what it wrote."""

    process: subprocess.Popen
    rig: Path
    log: Path
    state: Path

    def entries(self, event: str | None = None) -> list[dict]:
        return [e for e in read_log(self.log) if event is None or e["event"] == event]

    def outputs(self) -> list[tuple[int, bool]]:
        """Every real change of the supply's output: (monotonic ns, on)."""
        return [(e["t_ns"], e["on"]) for e in self.entries("output")]

    def pan_changes(self) -> list[tuple[int, bool]]:
        """Every instant the Comms Hub's PAN went down or came up, as the radio world saw it: (ns, up)."""
        return [(e["t_ns"], e["up"]) for e in self.entries("pan")]

    def mains_on(self) -> bool:
        """Whether the served supply's output is live now, by its own log."""
        outputs = self.outputs()
        return bool(outputs) and outputs[-1][1]

    def wait_for(self, predicate, timeout_s: float = 60.0) -> list[dict]:
        """Poll the log until ``predicate(entries)`` holds; return the entries."""
        deadline = time.monotonic() + timeout_s
        while True:
            entries = read_log(self.log) if self.log.exists() else []
            if predicate(entries):
                return entries
            if time.monotonic() > deadline:
                raise AssertionError(f"bench log {self.log} never matched; last entries: {entries[-5:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def serve_bench(folder: Path, bench_section: str = "", virtual_section: str = "", *,
                han_cadence_s: float | None = None) -> ServedBench:
    """Start ``hubrig bench serve`` (its own session: signals for the harness never reach it) on the
    embedded virtual rig plus ``bench_section`` (YAML under ``bench:``) and ``virtual_section``;
    ``han_cadence_s``: the HAN stick's scan cadence instead of the embedded rig's."""
    text = (ROOT / "rigs" / "virtual.yaml").read_text()
    if han_cadence_s is not None:
        text = text.replace("    scan_cadence_s: 5.0 ", f"    scan_cadence_s: {han_cadence_s} ")
    if virtual_section:
        text = text.replace("virtual:\n  preset: compliant\n", "virtual:\n  preset: compliant\n" + virtual_section)
    if bench_section:
        text += "\nbench:\n" + bench_section
    source = folder / "virtual.yaml"
    source.write_text(text)
    rig, log, state = folder / "bench.yaml", folder / "bench.log.jsonl", folder / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "hubrig.harness", "bench", "serve", str(source), "--rig-out", str(rig),
         "--log", str(log), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not rig.exists():
        if process.poll() is not None:
            raise AssertionError(f"bench serve ended (exit {process.returncode}): {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("bench serve did not write its rig file")
        time.sleep(0.05)
    return ServedBench(process, rig, log, state)
