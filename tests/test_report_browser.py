"""The HTML report in a real headless browser (Debian's chromium): the verdict and the failures are
what a reader sees first, above any table."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hubrig.harness.report.render import write_report
from hubrig.harness.results.measurements import judge_quantity
from hubrig.harness.results.model import RigInfo, RunResults, TestOutcome
from hubrig.harness.rules.limits import load_limits
from hubrig.testplans.outage_results import Trial

BROWSERS = ("chromium", "chromium-browser", "google-chrome")

# Appended to a copy of the report: measures where the browser laid things out and writes it into
# the DOM, which --dump-dom then prints.
PROBE = """<script>
const y = el => el ? el.getBoundingClientRect().top + window.scrollY : null;
const firstTable = [...document.querySelectorAll("table")].find(t => !t.closest(".failure"));
const probe = {verdict: y(document.getElementById("verdict")),
               verdictText: document.getElementById("verdict").innerText,
               verdictColour: getComputedStyle(document.getElementById("verdict")).backgroundColor,
               failures: y(document.getElementById("failures")),
               firstFailure: y(document.querySelector(".failure")),
               failureCount: document.querySelectorAll(".failure").length,
               firstTable: y(firstTable), svg: document.querySelectorAll("figure svg").length};
const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(probe);
document.body.appendChild(pre);
</script>"""


def browser() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if found is None:
        pytest.skip("no headless browser: apt-get install chromium (Debian) to run this check")
    return found


def failing_run() -> RunResults:
    sets = load_limits().select(["sec-h3.14g", "dno-ena-2019"])
    trials = [Trial(scenario="repeated", index=i, outage_seconds=390.0, poa_seconds=200.0 + 20 * i,
                    pra_seconds=30.0 + 20 * i, pra_alert_code="8F36", evidence=[10 + i, 20 + i]) for i in range(5)]
    ms = [m for t in trials for q, v in (("poa_latency_s", t.poa_seconds), ("pra_latency_s", t.pra_seconds))
          for m in judge_quantity(sets, q, scenario=t.scenario, value=v, outage_s=t.outage_seconds,
                                  evidence=t.evidence, trial=t.index)]
    return RunResults(run_id="browser-1", started="2026-01-01T00:00:00Z", rig=RigInfo(name="virtual", kind="virtual"),
                      plans=["power-outage"], limit_sets=sets, measurements=ms,
                      records=[t.to_record() for t in trials],
                      tests=[TestOutcome(nodeid="testplans/test_power_outage.py::test_repeated_trials",
                                         outcome="failed", plan="power-outage", scenario="repeated")])


def test_the_verdict_and_failures_come_before_the_first_table_in_a_browser(tmp_path: Path):
    exe = browser()
    files = write_report(failing_run(), tmp_path)
    probed = tmp_path / "probed.html"
    probed.write_text(files.html.read_text().replace("</body>", PROBE + "</body>"))
    done = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                           "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert found, f"the browser printed no probe (exit {done.returncode}): {done.stderr[-2000:]}"
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["verdictText"].startswith("FAIL") and probe["verdictColour"] == "rgb(198, 40, 40)"
    assert probe["verdict"] < probe["failures"] < probe["firstFailure"] < probe["firstTable"]
    assert probe["failureCount"] == 5 and probe["svg"] == 1  # 2 late POAs, 3 late PRAs; the plot inline
