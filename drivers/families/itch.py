"""The ``itch`` family: the Wired ITCH (:mod:`hubrig.drivers.itch`), an event source.

It opens after mains is on, so capture starts with the DUT powered, as a bench runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import ItchConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, register_family

if TYPE_CHECKING:
    from hubrig.drivers.itch import Itch
    from hubrig.harness.rig.session import VirtualWorld


def _config(cfg: object) -> ItchConfig:
    assert isinstance(cfg, ItchConfig), cfg
    return cfg


def open_real(cfg: object, ctx: OpenContext) -> "Itch":
    """The serial port (device path or pyserial URL) with the rig's framing and GBCS decoder."""
    from hubrig.drivers.itch import open_itch
    from hubrig.harness.rig.session import decoder_for

    return open_itch(_config(cfg), ctx.clock, ctx.bus, ctx.journal, decoder=decoder_for(ctx.rig, ctx.keys))


def open_virtual(cfg: object, ctx: OpenContext, world: "VirtualWorld") -> "Itch":
    """The virtual Comms Hub's link: in process, or (``realtime``) the pty opened like a serial port."""
    from hubrig.drivers.itch import open_itch
    from hubrig.harness.rig.session import decoder_for

    section, decoder = _config(cfg), decoder_for(ctx.rig, ctx.keys)
    if world.realtime:
        return open_itch(section.model_copy(update={"port": world.link.port}), ctx.clock, ctx.bus, ctx.journal,
                         decoder=decoder)
    return open_itch(section, ctx.clock, ctx.bus, ctx.journal, decoder=decoder, transport=world.link)


def probe(inst: Instrument, cfg: object) -> list[Probe]:
    """The port is open; the link framing has no request the ITCH must answer, so that is said plainly."""
    section = _config(cfg)
    return [Probe("itch", section.port, True, f"{inst.identify()}: port open at {section.baudrate} baud",
                  check="open")]


def where(cfg: object) -> str:
    return _config(cfg).port


FAMILY = register_family(Family(key="itch", section=ItchConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, after_mains=True, order=10))
