"""The virtual bench: supply -> ESME mains -> Comms Hub power -> wired link, with one seed.

:class:`VirtualBench` builds the virtual ESME and Comms Hub from a rig file's ``virtual:`` section
and ``dut:`` identity, powers them from the virtual supply's output and connects the CH to the
harness's link. All randomness comes from one ``random.Random(seed)``: it seeds one independent
stream per purpose (dither, POA windows, PRA windows, dropped frames) in a fixed order, so the same
rig file and seed give identical emissions at identical instants, and switching a defect on never
shifts the draws another behaviour sees.

The bench also gives its devices the command behaviours the plans drive: the CH its CHF device log
(:mod:`hubrig.harness.virtual.devicelog`: CCS01/02/06/07, CS14 0x8F12) and the ESME its clock rules and
event-log read (:mod:`hubrig.harness.virtual.meterclock`: ECS70, ECS25a3, ECS35a) and its power event
log read (:mod:`hubrig.harness.virtual.powerlog`: ECS35e), each with the defect switches of the rig
file's ``virtual.defects``.
"""

from __future__ import annotations

import random
from typing import Union

from hubrig.harness.clock import Scheduler
from hubrig.harness.virtual import devicelog, meterclock, powerlog
from hubrig.harness.virtual.commshub import Link, PtyLink, TransportLink, VirtualCommsHub
from hubrig.harness.virtual.esme import VirtualEsme
from hubrig.harness.virtual.groundtruth import GroundTruth
from hubrig.harness.virtual.han.radio import RadioWorld
from hubrig.harness.virtual.groundtruth import Emission, GroundTruth
from hubrig.harness.virtual.supply import VirtualSupply
from hubrig.harness.rules.tsat import parse_version
from hubrig.harness.virtual.params import ResolvedParams, VirtualParams

RNG_STREAMS = ("dither", "poa_window", "pra_window", "drop")


def as_link(wire, scheduler: Scheduler) -> Link:
    """A :class:`Link` from an in-process transport, a pty pair, or anything already a Link."""
    if hasattr(wire, "device_write") and hasattr(wire, "on_host_write"):
        return TransportLink(wire)
    if hasattr(wire, "device_fd"):
        return PtyLink(wire, scheduler)
    return wire


class VirtualBench:
    """The virtual ESME and Comms Hub, powered by ``supply`` and talking on ``link``.

    ``params``: the rig's ``virtual:`` section (or already resolved). ``dut``: the rig's ``dut:``
    (``esme``: ``eui``, ``gbcs_version``, ``install_code_bytes``, ``filter_bits``;
    ``comms_hub.eui``, ``acb``, ``clock_tolerance_s``). ``keys``: a key store holding the devices' private
    keys (see :func:`hubrig.harness.virtual.testkeys.ensure_test_keys`). ``link``: an
    ``InProcessTransport``, a ``PtyPair`` or a :class:`Link`. ``supply``: anything with
    ``on_output(callback(on, t_ns))``, or ``None`` to drive mains with :meth:`mains_changed`.
    """

    def __init__(self, params: Union[VirtualParams, ResolvedParams], dut, scheduler: Scheduler, keys,
                 link, supply=None, *, seed: int = 1):
        self.params = params.resolve() if isinstance(params, VirtualParams) else params
        self.scheduler = scheduler
        self.seed = seed
        root = random.Random(seed)
        self.rng = {name: random.Random(root.getrandbits(64)) for name in RNG_STREAMS}
        self.ground_truth = GroundTruth()
        self.esme = VirtualEsme(self.params.esme, self.params.defects, eui=dut.esme.eui,
                                scheduler=scheduler, keys=keys, ground_truth=self.ground_truth,
                                phases=dut.esme.phases)
        self.ch = VirtualCommsHub(self.params.ch, self.params.defects, eui=dut.comms_hub.eui,
                                  esme=self.esme, scheduler=scheduler, keys=keys,
                                  link=as_link(link, scheduler), ground_truth=self.ground_truth,
                                  rng=self.rng, acb=dut.acb)
        self.radio = RadioWorld(self.params.han, scheduler, ch_eui=dut.comms_hub.eui, seed=seed)
        """The 2.4 GHz world a HAN stick hears: the CH's PAN, noise, the ESME's frames."""
        self.ch.phase_listeners.append(self.radio.ch_phase)
        self.esme.transmit_listeners.append(self.radio.esme_sent)
        self.device_log = devicelog.install(self, dut.esme.install_code_bytes)
        self.clock_rules = meterclock.install(self, parse_version(dut.esme.gbcs_version), dut.clock_tolerance_s,
                                              filter_bits=dut.esme.filter_bits)
        self.power_log = powerlog.install(self)
        self.analyser = None
        """The virtual spectrum analyser watching the ESME, when the rig has one (set by the session)."""
        self._energised = supply is None or bool(supply.output)
        if supply is not None:
            supply.on_output(self.mains_changed)
        if isinstance(supply, VirtualSupply):
            supply.on_phase(self.phase_changed)

    def mains_changed(self, on: bool, t_ns: int) -> None:
        """The supply's output went ``on``/off at rig instant ``t_ns``: feed the ESME and the CH.

        The devices start as on a bench that has been running (powered, booted, connected). A
        virtual supply starts with its output off: its first switch-on just connects them, and
        only changes after that are outages.
        """
        if not self._energised:
            self._energised = on
            return
        self.ground_truth.mains(on, t_ns)
        self.esme.mains(on, t_ns)
        self.ch.mains(on, t_ns)

    def phase_changed(self, phase: int, live: bool, t_ns: int) -> None:
        """One phase of a three-phase supply went ``live``/dead at ``t_ns`` (the others stayed live):
        a polyphase ESME senses it, and the Comms Hub, powered through the ESME, does not. A single-phase
        ESME is wired to phase 1: losing it is losing mains; the other phases do not reach it."""
        if self.esme.phases == 1:
            if phase == 1:
                self.mains_changed(live, t_ns)
            return
        self.ground_truth.record(Emission(t_ns, "supply", "event", None, "",
                                          f"phase {phase} {'restored' if live else 'cut'}"))
        self.esme.phase_mains(phase, live, t_ns)
