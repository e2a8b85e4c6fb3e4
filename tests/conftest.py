"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.figure  # noqa: F401  (see below)
import pytest
from hypothesis import settings

# Tests never judge wall-clock speed (benchmarks/ does): hypothesis's 200 ms per-example deadline
# would turn a loaded machine into failures, so it is off for the whole suite.
settings.register_profile("hubrig", deadline=None)
settings.load_profile("hubrig")

# pytester's in-process runs unload the modules a run imported; loaded here first, they stay, so
# numpy is not loaded twice and cryptography's key classes keep one identity across runs.
import hubrig.harness.rig.session  # noqa: F401,E402
import hubrig.harness.virtual.bench  # noqa: F401,E402

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
    safety: {{max_voltage: 253.0, max_current: 5.0, min_frequency: 45.0, max_frequency: 55.0}}
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


TEST_TIMEOUT_S = 300
"""The harness's own tests' bound (pytest-timeout); here, not in pyproject.toml, so that ``hubrig
run`` (plans run from the same tree) never inherits it."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


@pytest.fixture(autouse=True)
def _every_results_json_follows_the_shipped_schema(request: pytest.FixtureRequest):
    """After each test: every results.json it produced (under its tmp_path or pytester folder)
    validates against the JSON Schema shipped in the package."""
    roots = [request.getfixturevalue("tmp_path")] if "tmp_path" in request.fixturenames else []
    if "pytester" in request.fixturenames:
        roots.append(request.getfixturevalue("pytester").path)
    yield
    found = [p for root in roots for p in Path(root).rglob("results.json")]
    if not found:
        return
    import json

    import jsonschema

    from hubrig.harness.results.model import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    for path in found:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # a test that writes a broken file on purpose
        if doc.get("schema_version") == schema["properties"]["schema_version"]["const"]:
            jsonschema.validate(doc, schema)


from pgserver import pg_server, pg_url  # noqa: E402,F401  (the throwaway PostgreSQL: tests/pgserver.py)
