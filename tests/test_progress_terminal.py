"""The live progress line on a real terminal: ``hubrig run`` under a pseudo-terminal, its output
replayed through a terminal emulator (pyte), must leave every test id pytest printed on the final
screen with its outcome, and must have shown the trial count while it ran."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pyte = pytest.importorskip("pyte", reason="pyte (the terminal emulator) is in hubrig's test extra")

COLUMNS, ROWS = 150, 400  # tall enough that nothing scrolls away


def run_on_a_terminal(args: list[str], cwd: Path) -> bytes:
    """Run ``hubrig ARGS`` with a pseudo-terminal as its stdin, stdout and stderr; all it wrote."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    env.pop("NO_COLOR", None)
    env.pop("CI", None)  # rich and pytest would otherwise decide on a plain log
    child = subprocess.Popen([sys.executable, "-m", "hubrig.harness", *args], stdin=terminal, stdout=terminal,
                             stderr=terminal, cwd=cwd, env=env, close_fds=True)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert child.wait(timeout=600) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks)


def test_the_live_line_never_overwrites_pytest_and_shows_the_trial(tmp_path):
    raw = run_on_a_terminal(["run", "--plan", "power-outage", "-k", "short_outage or repeated_trials",
                             "--trials", "2", "--out", str(tmp_path / "out"), "--db", str(tmp_path / "r.db")],
                            cwd=tmp_path)
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(raw)
    lines = [line.rstrip() for line in screen.display]

    outcome = re.compile(r"(PASSED|FAILED|SKIPPED|ERROR)\b")
    with_outcome = [line for line in lines if outcome.search(line)]
    ids = ["test_power_outage.py::test_short_outage", "test_power_outage.py::test_repeated_trials"]
    for test_id in ids:  # each test's id stands on the final screen, followed by its outcome
        assert any(f"{test_id} PASSED" in line for line in with_outcome), "\n".join(lines)
    assert not [line for line in with_outcome if outcome.match(line.strip())], "a bare outcome: its test id was erased"
    assert not [line for line in lines if "hubrig ▸" in line], "the live line was left on the screen"

    text = raw.decode(errors="replace")
    assert "repeated-trials trial 1/2" in text and "repeated-trials trial 2/2" in text  # the live line showed it
    assert re.search(r"test \d/2, (>=)?\d+:\d\d(:\d\d)? rig time left", text)
