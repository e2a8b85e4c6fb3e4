"""Shipped test plans (pytest modules) users run against a rig."""

from pathlib import Path

PLANS = {"power-outage": "test_power_outage.py", "device-log": "test_device_log.py",
         "clock-alert": "test_clock_alert.py", "rf-noise": "test_rf_noise.py"}
"""The standard plans, in the order a run takes them: plan name -> module in this package."""


def plan_file(name: str) -> Path:
    """The file of shipped plan ``name``; ValueError naming the known plans if there is none."""
    if name not in PLANS:
        raise ValueError(f"unknown plan {name!r}; known: {', '.join(PLANS)}")
    return Path(__file__).parent / PLANS[name]
