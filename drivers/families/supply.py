"""The ``supply`` family: a SCPI bench supply or AC source (:mod:`hubrig.drivers.psu`), a mains switch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import SupplyConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, register_family

if TYPE_CHECKING:
    from hubrig.drivers.psu.supply import Supply
    from hubrig.harness.rig.session import VirtualWorld


def _config(cfg: object) -> SupplyConfig:
    assert isinstance(cfg, SupplyConfig), cfg
    return cfg


def _supply(inst: Instrument) -> "Supply":
    from hubrig.drivers.psu.supply import Supply

    assert isinstance(inst, Supply), inst
    return inst


def open_real(cfg: object, ctx: OpenContext) -> "Supply":
    """Through pyvisa (the rig file's ``resource`` and ``visa_library``)."""
    from hubrig.drivers.psu import open_supply

    return open_supply(_config(cfg), ctx.clock, ctx.bus)


def open_virtual(cfg: object, ctx: OpenContext, world: "VirtualWorld") -> "Supply":
    """The virtual bench's supply: in process, or (``realtime``) behind loopback TCP through pyvisa-py."""
    from hubrig.drivers.psu import open_supply

    section = _config(cfg)
    if not world.realtime:
        return open_supply(section, ctx.clock, ctx.bus, endpoint=world.supply)
    from hubrig.harness.virtual.supply import serve_tcp

    server = serve_tcp(world.supply)
    ctx.stack.callback(server.close)
    return open_supply(section.model_copy(update={"resource": server.resource, "visa_library": "@py"}),
                       ctx.clock, ctx.bus)


def probe(inst: Instrument, cfg: object) -> list[Probe]:
    """What ``rig check`` proves of a supply (see :func:`hubrig.drivers.psu.checks.check_supply`)."""
    from hubrig.drivers.psu.checks import check_supply

    return check_supply(_supply(inst), _config(cfg))


def where(cfg: object) -> str:
    return _config(cfg).resource


FAMILY = register_family(Family(key="supply", section=SupplyConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, mains_switch=True, order=10))
