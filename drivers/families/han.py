"""The ``han`` family: the ZigBee HAN stick (:mod:`hubrig.drivers.han`), an event source.

On a real bench bellows opens the rig file's port; on the virtual rig the stick hearing the
virtual bench's radio is reached in process (virtual time) or, with ``realtime``, behind a pty
through bellows. It opens after mains is on, like the ITCH. ``rig check`` reads its identity, runs
one energy scan and names the firmware family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.drivers.han.config import HanConfig
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, failure, register_family

if TYPE_CHECKING:
    from hubrig.drivers.han.stick import HanStick
    from hubrig.harness.rig.session import VirtualWorld

FIELD = "instruments.han"


def _config(cfg: object) -> HanConfig:
    assert isinstance(cfg, HanConfig), cfg
    return cfg


def open_real(cfg: object, ctx: OpenContext) -> "HanStick":
    """bellows on the section's port, baud rate and flow control."""
    from hubrig.drivers.han import open_han

    section = _config(cfg)
    if section.port == "virtual":
        from hubrig.harness.rig.file import RigFileError

        raise RigFileError(f"{FIELD}.port: 'virtual' is only for kind: virtual; give the stick's serial port")
    return open_han(section, ctx.clock, ctx.bus, ctx.journal)


def open_virtual(cfg: object, ctx: OpenContext, world: "VirtualWorld") -> "HanStick":
    """The virtual stick on the bench's radio: in process, or (``realtime``) bellows over a pty."""
    from hubrig.drivers.han import open_han
    from hubrig.harness.virtual.han.stick import PtyServer, stick_for

    section = _config(cfg)
    if section.port != "virtual":
        from hubrig.harness.rig.file import RigFileError

        raise RigFileError(f"{FIELD}.port: must be 'virtual' on a kind: virtual rig, got {section.port!r}")
    stick = stick_for(world.bench.params.han, world.scheduler, world.bench.radio)
    if not world.realtime:
        return open_han(section, ctx.clock, ctx.bus, ctx.journal, stick=stick)
    server = PtyServer(stick)
    ctx.stack.callback(server.close)
    return open_han(section.model_copy(update={"port": server.port}), ctx.clock, ctx.bus, ctx.journal)


def probe(inst: Instrument, cfg: object) -> list[Probe]:
    """Identity (and the firmware family it implies), then one energy scan over channels 11-26."""
    from hubrig.drivers.han.stick import HanStick

    assert isinstance(inst, HanStick), inst
    port = _config(cfg).port
    try:
        ident = inst.read_identity()
    except Exception as exc:
        return [Probe("han", port, False, failure(exc), check="identity",
                      fix=f"check {FIELD}.baudrate and {FIELD}.flow_control against the stick's firmware")]
    rows = [Probe("han", port, True, f"EUI-64 {ident.eui64}, {ident.manufacturer or '?'} {ident.board or '?'}, "
                  f"firmware {ident.firmware or '?'}, EZSP {ident.protocol_version}: {ident.family}",
                  check="identity")]
    try:
        scan = inst.energy_scan(duration=1)
    except Exception as exc:
        return rows + [Probe("han", port, False, failure(exc), check="energy scan")]
    if not scan.complete:
        return rows + [Probe("han", port, False, f"energy scan interrupted: {scan.interrupted}", check="energy scan",
                             fix="the stick reset or its port went away: check the USB cable and power")]
    loudest = max(scan.energy, key=lambda r: r.max_rssi_dbm)
    return rows + [Probe("han", port, True, f"{len(scan.energy)} channels, loudest {loudest.channel} at "
                         f"{loudest.max_rssi_dbm} dBm", check="energy scan")]


def where(cfg: object) -> str:
    return _config(cfg).port


FAMILY = register_family(Family(key="han", section=HanConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, after_mains=True, order=20))
