"""The ``supply`` family: a SCPI bench supply or AC source (:mod:`hubrig.drivers.psu`), a mains switch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import SupplyConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, register_family

if TYPE_CHECKING:
    from hubrig.drivers.psu.supply import Supply
    from hubrig.harness.rig.session import VirtualWorld


def open_real(section: SupplyConfig, ctx: OpenContext) -> "Supply":
    """Through pyvisa (the rig file's ``resource`` and ``visa_library``)."""
    from hubrig.drivers.psu import open_supply

    return open_supply(section, ctx.clock, ctx.bus)


def open_virtual(section: SupplyConfig, ctx: OpenContext, world: "VirtualWorld") -> "Supply":
    """The virtual bench's supply: in process, or (``realtime``) behind loopback TCP through pyvisa-py."""
    from hubrig.drivers.psu import open_supply

    if not world.realtime:
        return open_supply(section, ctx.clock, ctx.bus, endpoint=world.supply)
    from hubrig.harness.virtual.supply import serve_tcp

    server = serve_tcp(world.supply)
    ctx.stack.callback(server.close)
    return open_supply(section.model_copy(update={"resource": server.resource, "visa_library": "@py"}),
                       ctx.clock, ctx.bus)


def probe(inst: Instrument, section: SupplyConfig) -> list[Probe]:
    """What ``rig check`` proves of a supply (see :mod:`hubrig.drivers.psu.checks`)."""
    from hubrig.drivers.psu.checks import check_supply
    from hubrig.drivers.psu.supply import Supply

    if not isinstance(inst, Supply):
        raise TypeError(f"the supply family opened a {type(inst).__name__}")
    return check_supply(inst, section)


def where(section: SupplyConfig) -> str:
    return section.resource


FAMILY = register_family(Family(key="supply", section=SupplyConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, mains_switch=True, order=10))
