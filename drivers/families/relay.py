"""The ``relay`` family: a HID USB relay board (:mod:`hubrig.drivers.relay`), a mains switch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import RelayConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, failure, register_family

if TYPE_CHECKING:
    from hubrig.drivers.relay import HidRelay


def open_real(section: RelayConfig, ctx: OpenContext) -> "HidRelay":
    """The board through pyusb (libusb)."""
    from hubrig.drivers.relay import open_relay

    return open_relay(section, ctx.clock, ctx.bus)


def probe(inst: Instrument, section: RelayConfig) -> list[Probe]:
    """The board answers its feature report, and the relay's state reads back (nothing is switched)."""
    from hubrig.drivers.relay import HidRelay

    if not isinstance(inst, HidRelay):
        raise TypeError(f"the relay family opened a {type(inst).__name__}")
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


def where(section: RelayConfig) -> str:
    r = section
    return f"USB {r.vendor_id:04x}:{r.product_id:04x}" + (f" serial {r.serial}" if r.serial else "")


FAMILY = register_family(Family(key="relay", section=RelayConfig, open=open_real, probe=probe, where=where,
                                mains_switch=True, order=20))
