"""The ``analyser`` family: a SCPI spectrum analyser (:mod:`hubrig.drivers.analyser`), the RF noise
plan's sweep source. On the virtual rig it watches the virtual ESME (its emissions while the
virtual supply's output is on), in process or behind loopback TCP through pyvisa-py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubrig.drivers.analyser.config import AnalyserConfig
from hubrig.harness.rig.file import RigFileError
from hubrig.harness.rig.instruments import Family, Instrument, OpenContext, Probe, failure, register_family

if TYPE_CHECKING:
    from hubrig.drivers.analyser.analyser import Analyser
    from hubrig.harness.rig.session import VirtualWorld

FIELD = "instruments.analyser"


def _config(cfg: object) -> AnalyserConfig:
    assert isinstance(cfg, AnalyserConfig), cfg
    return cfg


def _analyser(inst: Instrument) -> "Analyser":
    from hubrig.drivers.analyser.analyser import Analyser

    assert isinstance(inst, Analyser), inst
    return inst


def open_real(cfg: object, ctx: OpenContext) -> "Analyser":
    """Through pyvisa (the rig file's ``resource`` and ``visa_library``)."""
    from hubrig.drivers.analyser.analyser import open_analyser

    return open_analyser(_config(cfg), ctx.clock)


def open_virtual(cfg: object, ctx: OpenContext, world: "VirtualWorld") -> "Analyser":
    """The virtual analyser watching the virtual ESME: in process, or (``realtime``) behind TCP."""
    from hubrig.drivers.analyser.analyser import open_analyser
    from hubrig.harness.virtual.analyser import VirtualAnalyser, serve_tcp

    section = _config(cfg)
    if section.resource != "virtual":
        raise RigFileError(f"{FIELD}.resource must be 'virtual' on a kind: virtual rig, got {section.resource!r}")
    bench, supply = world.bench, world.supply
    spurs, noise_bands = bench.params.radiating()
    esme = bench.esme
    device = VirtualAnalyser(world.scheduler, dialect=section.dialect, rf=bench.params.rf, spurs=spurs,
                             noise_bands=noise_bands, powered=lambda: supply.output,
                             last_command_ns=lambda: esme.last_command_ns, seed=world.rig.seed)
    bench.analyser = device
    if not world.realtime:
        return open_analyser(section, ctx.clock, endpoint=device)
    server = serve_tcp(device)
    ctx.stack.callback(server.close)
    return open_analyser(section.model_copy(update={"resource": server.resource, "visa_library": "@py"}), ctx.clock)


def probe(inst: Instrument, cfg: object) -> list[Probe]:
    """``*IDN?``; a warning when it does not look like the configured dialect's family; the error queue."""
    analyser, section = _analyser(inst), _config(cfg)
    try:
        idn = analyser.identify()
    except Exception as exc:
        return [Probe("analyser", section.resource, False, failure(exc), check="identity",
                      fix=f"check {FIELD}.resource and that the analyser is on")]
    warning = analyser.identity_warning(idn)
    rows = [Probe("analyser", section.resource, True, idn if warning is None else warning, check="identity",
                  warning=warning is not None, fix="" if warning is None else f"set {FIELD}.dialect to its family")]
    try:
        analyser.check_errors()
        rows.append(Probe("analyser", section.resource, True, f"error queue empty; traces as {analyser.encoding}",
                          check="errors"))
    except Exception as exc:
        rows.append(Probe("analyser", section.resource, False, failure(exc), check="errors",
                          fix="clear the analyser's errors (*CLS) and check its settings"))
    return rows


def where(cfg: object) -> str:
    return _config(cfg).resource


FAMILY = register_family(Family(key="analyser", section=AnalyserConfig, open=open_real, open_virtual=open_virtual,
                                probe=probe, where=where, order=30))
