"""hubrig installs under one name: an outside bench project with its own ``drivers/`` and
``fixtures/`` folders, with PyPI's ``fixtures`` package installed beside hubrig, still runs hubrig
plans (before, hubrig installed top-level ``drivers``/``fixtures`` packages that collided)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("fixtures", reason="PyPI's fixtures package is in hubrig's test extra")

OWN_MODULES = {
    "drivers/__init__.py": "",
    "drivers/transport.py": "NAME = 'the project own transport'\n",
    "fixtures/__init__.py": "",
    "fixtures/plugin.py": "NAME = 'the project own plugin'\n",
    "conftest.py": """
        from drivers.transport import NAME as TRANSPORT
        from fixtures.plugin import NAME as PLUGIN

        assert TRANSPORT == "the project own transport" and PLUGIN == "the project own plugin"
    """,
    "tests/test_bench.py": """
        from drivers.transport import NAME

        def test_own_code_and_a_hubrig_fixture(mains, clock, rig):
            assert NAME == "the project own transport"
            with mains.outage(5):
                assert mains.is_off
            assert not mains.is_off and rig.rig.is_virtual
    """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in OWN_MODULES.items():
        path = tmp_path / "bench" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path / "bench"


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=project, capture_output=True, text=True, timeout=600)


def test_pypi_fixtures_and_hubrig_live_side_by_side(tmp_path: Path):
    """Outside this checkout, ``fixtures`` is PyPI's package and hubrig installs nothing at the top
    level but ``hubrig``."""
    probe = run(tmp_path, "-c", textwrap.dedent("""
        import importlib.util, fixtures
        print(hasattr(fixtures, "Fixture") and hasattr(fixtures, "MonkeyPatch"))
        print([n for n in ("harness", "drivers", "testplans") if importlib.util.find_spec(n)])
        import hubrig.fixtures.plugin, hubrig.drivers.transport
    """))
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[:2] == ["True", "[]"]


def test_a_project_with_its_own_drivers_and_fixtures_runs_hubrig_fixtures_and_plans(project: Path):
    tests = run(project, "-m", "pytest", "-p", "no:cacheprovider", "tests", f"--out={project / 'out'}")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout

    plan = run(project, "-m", "hubrig.harness", "run", "--plan", "clock-alert", "--out", str(project / "run"),
               "--db", str(project / "results.db"))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "PASS" in plan.stdout and (project / "run" / "results.json").is_file()


def test_every_package_in_the_source_tree_is_in_the_installed_list():
    """The package list in pyproject.toml is explicit (the hubrig.* mapping): a package (or a data
    folder) missing from it works in this checkout but is absent from every wheel."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = set()
    for name, folder in config["package-dir"].items():
        for path in [root / folder, *(root / folder).rglob("*")]:
            if path.is_dir() and path.name != "__pycache__" and not path.name.startswith("."):
                on_disk.add(".".join([name, *path.relative_to(root / folder).parts]))
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == set(), "these listed packages do not exist"
