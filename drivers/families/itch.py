"""The ``itch`` family: the Wired ITCH (:mod:`hubrig.drivers.itch`), an event source.

It opens after mains is on, so capture starts with the DUT powered, as a bench runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.harness.rig.file import ItchConfig

FIELD = "instruments.itch"
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, register_family

if TYPE_CHECKING:
    from hubrig.drivers.itch import Itch
    from hubrig.harness.rig.session import VirtualWorld


def open_real(section: ItchConfig, ctx: OpenContext) -> "Itch":
    """The serial port (device path or pyserial URL) with the rig's framing and GBCS decoder."""
    from hubrig.drivers.itch import open_itch
    from hubrig.harness.rig.session import decoder_for

    return open_itch(section, ctx.clock, ctx.bus, ctx.journal, decoder=decoder_for(ctx.rig, ctx.keys))


def open_virtual(section: ItchConfig, ctx: OpenContext, world: "VirtualWorld") -> "Itch":
    """The virtual Comms Hub's link: in process, or (``realtime``) the pty opened like a serial port."""
    from hubrig.drivers.itch import open_itch
    from hubrig.harness.rig.session import decoder_for

    decoder = decoder_for(ctx.rig, ctx.keys)
    if world.realtime:
        return open_itch(section.model_copy(update={"port": world.link.port}), ctx.clock, ctx.bus, ctx.journal,
                         decoder=decoder)
    return open_itch(section, ctx.clock, ctx.bus, ctx.journal, decoder=decoder, transport=world.link)


LISTEN_S = 1.0
"""How long ``rig check`` listens to the link (rig time)."""


def probe(inst: Instrument, section: ItchConfig) -> list[Probe]:
    """The port opens; then, since the link framing has no request an ITCH must answer (GFI has no
    ping), the probe says so plainly and listens for ``LISTEN_S``: lines that arrive are checked
    against the framing (bytes that never frame mean a wrong baud rate or framing)."""
    from hubrig.drivers.itch import Itch
    from hubrig.harness.capture.events import FRAME, FRAME_ERROR, LINK, NOTIFICATION

    if not isinstance(inst, Itch):
        raise TypeError(f"the itch family opened a {type(inst).__name__}")
    port, framing = section.port, section.framing
    rows = [Probe("itch", port, True, f"{inst.identify()}: port open at {section.baudrate} baud", check="open")]
    mark = inst.mark()
    inst.clock.sleep(LISTEN_S)
    heard = inst.bus.events(lambda e: e.source == inst.name, since=mark)
    good = sum(e.kind in (FRAME, NOTIFICATION) for e in heard)
    bad = sum(e.kind == FRAME_ERROR and e.data.get("stage") == "framing" for e in heard)
    lost = [e for e in heard if e.kind == LINK and e.data.get("state") == "lost"]
    plain = f"the {framing} framing offers no link-level request an ITCH must answer, so hubrig can only listen"
    if lost:
        rows.append(Probe("itch", port, False, f"link lost while listening: {lost[-1].data.get('detail')}",
                          check="link", fix="check the cable or the serial-to-LAN server"))
    elif bad and not good:
        rows.append(Probe("itch", port, False, f"{plain}; in {LISTEN_S:g} s it heard {bad} line(s), none of them "
                          f"{framing}", check="link", fix=f"check {FIELD}.baudrate and {FIELD}.framing"))
    else:
        what = f"{good} {framing} line(s)" + (f" and {bad} unframed" if bad else "")
        rows.append(Probe("itch", port, True, f"{plain}; in {LISTEN_S:g} s it heard {what} (a quiet Comms Hub "
                          "sends nothing unprompted, so silence is not a failure)", check="link"))
    return rows


def where(section: ItchConfig) -> str:
    return section.port


FAMILY = register_family(Family(key="itch", section=ItchConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, after_mains=True, order=10))
