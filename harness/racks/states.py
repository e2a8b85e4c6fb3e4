"""A rig's health states (kept apart from the database code so the command line can name them
without importing SQLAlchemy)."""

from __future__ import annotations

import enum


class Health(str, enum.Enum):
    """After LAVA's device health (see :mod:`hubrig.harness.racks.health`)."""

    UNKNOWN = "unknown"
    GOOD = "good"
    BAD = "bad"
    MAINTENANCE = "maintenance"


LEASABLE = (Health.UNKNOWN.value, Health.GOOD.value)
"""Health states a job may lease a rig in (an unknown rig is checked first)."""
