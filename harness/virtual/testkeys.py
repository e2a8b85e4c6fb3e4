"""Test keys for the virtual rig, made on first use.

Someone who clones the project has no DCC test vectors beside it, so the virtual rig makes its
own self-signed P-256 test keys (DS and KA, for each virtual device and each remote party it talks
to) in a cache directory, once; later runs reuse them so journals stay comparable. These are
throw-away test keys: never real ones, and never written into the shared vectors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from hubrig.harness.gbcs.keystore import KeyStore

NETWORK_OPERATOR = "90B3D51F30020000"
"""Recipient of ECS80 alerts in the RTDS example (a network operator)."""


def default_key_dir() -> Path:
    """``$XDG_CACHE_HOME/hubrig/virtual-keys`` (``~/.cache/hubrig/virtual-keys`` by default)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "hubrig" / "virtual-keys"


def rig_parties(dut, alert_recipient: str = NETWORK_OPERATOR) -> dict[str, str]:
    """EUI -> role for every party of a virtual rig: its ESME and CH, the ACB, the supplier (when
    the rig file names one), the alert recipient."""
    parties = {dut.esme.eui: "esme", dut.comms_hub.eui: "comms hub", dut.acb: "access control broker",
               alert_recipient: "network operator"}
    supplier = getattr(dut, "supplier", None)
    if supplier:
        parties.setdefault(supplier, "supplier")
    return parties


def ensure_test_keys(directory: str | os.PathLike | None, euis: Mapping[str, str]) -> KeyStore:
    """A key store at ``directory`` (default :func:`default_key_dir`) holding DS and KA test keys
    for every EUI in ``euis`` (EUI -> role); missing ones are made, existing ones kept.

    Refuses a directory inside a ``vectors`` tree (the DCC's shared test data is read-only).
    """
    root = Path(directory).expanduser() if directory is not None else default_key_dir()
    if "vectors" in root.resolve().parts:
        raise ValueError(f"{root}: refusing to write virtual-rig test keys into a test-vector tree; "
                         "give a cache or run directory")
    return KeyStore.generate(root, euis)
