"""The ``relay`` family: a HID USB relay board (:mod:`hubrig.drivers.relay`), a mains switch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import RelayConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, failure, register_family

if TYPE_CHECKING:
    from hubrig.drivers.relay import HidRelay


def _config(cfg: object) -> RelayConfig:
    assert isinstance(cfg, RelayConfig), cfg
    return cfg


def open_real(cfg: object, ctx: OpenContext) -> "HidRelay":
    """The board through pyusb (libusb)."""
    from hubrig.drivers.relay import open_relay

    return open_relay(_config(cfg), ctx.clock, ctx.bus)


def probe(inst: Instrument, cfg: object) -> list[Probe]:
    """The board answers its feature report, and the relay's state reads back (nothing is switched)."""
    from hubrig.drivers.relay import HidRelay

    section = _config(cfg)
    assert isinstance(inst, HidRelay), inst
    here = where(section)
    try:
        identity = inst.identify()
        on = inst.output_state()
    except Exception as exc:
        return [Probe("relay", here, False, failure(exc), check="state",
                      fix="check the USB cable and the udev rule (docs/rigs.md)")]
    return [Probe("relay", here, True, f"{identity}, channel {section.channel}", check="identity"),
            Probe("relay", here, True, f"mains {'on' if on else 'off'} (relay "
                  f"{'closed' if inst.relay_closed() else 'open'}, mains on when {section.mains_on_when})",
                  check="state")]


def where(cfg: object) -> str:
    r = _config(cfg)
    return f"USB {r.vendor_id:04x}:{r.product_id:04x}" + (f" serial {r.serial}" if r.serial else "")


FAMILY = register_family(Family(key="relay", section=RelayConfig, open=open_real, probe=probe, where=where,
                                mains_switch=True, order=20))
