"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
RTDS = SHARED / "vectors" / "rtds-4.5.0"

# The suite never touches the user's own mains-off markers or results database (child processes
# started by tests inherit these too).
_SANDBOX = Path(tempfile.mkdtemp(prefix="hubrig-tests-"))
atexit.register(shutil.rmtree, _SANDBOX, ignore_errors=True)
os.environ["HUBRIG_STATE_DIR"] = str(_SANDBOX / "state")
os.environ["HUBRIG_RESULTS_DB"] = str(_SANDBOX / "results.sqlite")


@pytest.fixture(scope="session")
def rtds() -> Path:
    """The RTDS 4.5.0 vectors beside the project; skips when they are not there."""
    if not (RTDS / "messages").is_dir():
        pytest.skip(f"RTDS 4.5.0 vectors not found at {RTDS} (they ship with the DCC's "
                    "shared test data, not with hubrig); codec tests on self-built messages still run")
    return RTDS


@pytest.fixture
def served_supply():
    """A virtual Keysight AC6800 served on a loopback TCP socket in real time, reached by the real
    driver stack (pyvisa-py) as ``server.resource``; yields ``(supply, server)``."""
    from harness.clock import RealTimeScheduler
    from harness.virtual.supply import VirtualSupply, serve_tcp

    scheduler = RealTimeScheduler()
    supply = VirtualSupply(scheduler, dialect="keysight-ac6800")
    server = serve_tcp(supply)
    yield supply, server
    server.close()
    scheduler.close()
