"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.figure  # noqa: F401  (numpy loads once per process: before pytester's in-process runs)
import pytest
from hypothesis import settings

# Tests never judge wall-clock speed (benchmarks/ does): hypothesis's 200 ms per-example deadline
# would turn a loaded machine into failures, so it is off for the whole suite.
settings.register_profile("hubrig", deadline=None)
settings.load_profile("hubrig")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
RTDS = SHARED / "vectors" / "rtds-4.5.0"

# The suite never touches the user's own mains-off markers or results database (child processes
# started by tests inherit these too).
_SANDBOX = Path(tempfile.mkdtemp(prefix="hubrig-tests-"))
atexit.register(shutil.rmtree, _SANDBOX, ignore_errors=True)
os.environ["HUBRIG_STATE_DIR"] = str(_SANDBOX / "state")
os.environ["HUBRIG_RESULTS_DB"] = str(_SANDBOX / "results.sqlite")
os.environ["HUBRIG_DB"] = os.environ["HUBRIG_RESULTS_DB"]  # the name that wins (racks database)


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
    from hubrig.harness.clock import RealTimeScheduler
    from hubrig.harness.virtual.supply import VirtualSupply, serve_tcp

    scheduler = RealTimeScheduler()
    supply = VirtualSupply(scheduler, dialect="keysight-ac6800")
    server = serve_tcp(supply)
    yield supply, server
    server.close()
    scheduler.close()


BENCH_RIG = """\
name: {name}
kind: real
limit_sets: [{limit_sets}]
instruments:
  supply:
    resource: "{resource}"
    dialect: keysight-ac6800
    voltage: 230.0
    current_limit: 2.0
    frequency: 50.0
    safety: {{max_voltage: 253.0, max_current: 5.0}}
    verify: false
  itch:
    port: "{port}"
dut:
  esme: {{eui: 00DB1234567890A0, type: ESMETS, spec_version: "{esme_spec}", gbcs_version: "{esme_gbcs}", firmware: "1"}}
  comms_hub: {{eui: 00DB1234567890A3, type: CHTS, spec_version: "1.3", gbcs_version: "3.2", firmware: "2", csp_region: north}}
  keystore: keys/
  acb: 90B3D51F30000002
state_dir: state/
"""


def bench_rig_file(folder: Path, *, resource: str, name: str = "bench", port: str = "loop://",
                   limit_sets: str = "sec-h3.14g", esme_spec: str = "4.2", esme_gbcs: str = "3.2") -> Path:
    """A real-kind rig file (AC6800 supply at ``resource``, ITCH on ``port``) in ``folder``, with
    its keys/ and state/ folders beside it."""
    (folder / "keys").mkdir(exist_ok=True)
    path = folder / "bench.yaml"
    path.write_text(BENCH_RIG.format(name=name, resource=resource, port=port, limit_sets=limit_sets,
                                     esme_spec=esme_spec, esme_gbcs=esme_gbcs))
    return path


from pgserver import pg_server, pg_url  # noqa: E402,F401  (the throwaway PostgreSQL: tests/pgserver.py)
