"""Rig assembly: from a rig file to a running rig session (clock, bus, journal, keys, supply or
relay, mains, ITCH and, on the virtual rig, the virtual bench with its ground truth).

Three worlds, one session shape (see docs/architecture.md):

* a real bench (``kind: real``): :class:`RealClock`, pyvisa supply, pyusb relay, pyserial ITCH;
* the virtual rig (``kind: virtual``): :class:`VirtualClock`, devices in-process in virtual time;
* the virtual rig with ``realtime=True``: the same virtual devices on a real-time scheduler, the
  supply behind a loopback TCP SCPI socket reached through pyvisa-py, the ITCH behind a pty.
"""

from __future__ import annotations

import functools
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hubrig.harness.clock import Clock, RealClock, RealTimeScheduler, VirtualClock
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.rig.mains import Mains, marker_path
from hubrig.harness.rig.file import RigFile, load_rig


def default_rig_file() -> Path:
    """The embedded virtual rig: ``rigs/virtual.yaml`` beside the packages (a source checkout or
    an editable install), else ``<prefix>/share/hubrig/rigs/virtual.yaml`` (a wheel's data files,
    in the environment or the user's scheme)."""
    import sysconfig

    here = Path(__file__).resolve().parents[2]  # harness/rig/session.py -> the checkout
    prefixes = [sysconfig.get_path("data"), sysconfig.get_path("data", f"{os.name}_user")]
    candidates = [here / "rigs" / "virtual.yaml"]
    candidates += [Path(p) / "share" / "hubrig" / "rigs" / "virtual.yaml" for p in prefixes if p]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the embedded virtual rig is not installed (looked in "
                            + ", ".join(str(c) for c in candidates) + "); pass a rig file with --rig")


def default_state_dir() -> Path:
    """Where mains-off markers live unless the rig file says: ``$HUBRIG_STATE_DIR`` or
    ``~/.hubrig/state`` (per host and user, so a fresh checkout still sees a killed run's marker)."""
    return Path(os.environ.get("HUBRIG_STATE_DIR") or Path.home() / ".hubrig" / "state").expanduser()


@dataclass
class RigSession:
    """A running rig. Use as a context manager; closing restores mains and closes everything."""

    rig: RigFile
    path: Path
    out_dir: Path
    clock: Clock
    bus: EventBus
    journal: Any
    keys: Any
    supply: Any
    relay: Any
    mains: Mains
    itch: Any
    bench: Any = None
    han: Any = None
    """The HAN stick (:class:`hubrig.drivers.han.HanStick`), when the rig file has ``instruments.han``."""
    realtime: bool = False
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def name(self) -> str:
        return self.rig.name

    @property
    def is_virtual(self) -> bool:
        return self.rig.is_virtual

    @property
    def ground_truth(self) -> Any:
        """What the virtual devices emitted and when (``None`` on a real bench)."""
        return None if self.bench is None else self.bench.ground_truth

    @property
    def journal_path(self) -> Path:
        return self.out_dir / JOURNAL_FILENAME

    def close(self) -> None:
        """Restore mains first, then close the ITCH, instruments, devices and journal."""
        try:
            self.mains.close()
        finally:
            self._stack.close()

    def __enter__(self) -> "RigSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_rig(rigfile: str | Path, out_dir: str | Path, *, realtime: bool = False,
             state_dir: Path | None = None) -> RigSession:
    """Build a running :class:`RigSession` from ``rigfile``, journalling into ``out_dir``.

    ``realtime`` applies to the virtual rig only (virtual devices behind a pty and a TCP socket).
    Mains-off markers live in ``state_dir``, else the rig file's ``state_dir``, else
    :func:`default_state_dir` (the virtual rig keeps none). Anything that fails while
    opening closes what was opened before it.
    """
    path = Path(rigfile)
    rig = load_rig(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if realtime and not rig.is_virtual:
        raise ValueError(f"{path}: realtime applies to the virtual rig; a real bench always runs in real time")
    stack = ExitStack()
    try:
        return _assemble(rig, path, out, realtime, state_dir, stack)
    except BaseException:
        stack.close()
        raise


def _assemble(rig: RigFile, path: Path, out: Path, realtime: bool, state_dir: Path | None,
              stack: ExitStack) -> RigSession:
    clock: Clock = VirtualClock() if rig.is_virtual and not realtime else RealClock()
    if isinstance(clock, RealClock):
        stack.callback(clock.close)
    journal = Journal(out / JOURNAL_FILENAME)
    stack.callback(journal.close)
    bus = EventBus(clock, journal_path=str(journal.path))
    keys = _keys(rig)
    devices = _VirtualDevices(rig, clock, keys, realtime, stack) if rig.is_virtual else None

    supply = relay = None
    if rig.instruments.supply is not None:
        supply = devices.open_supply(bus) if devices else _open_real_supply(rig, clock, bus)
        stack.callback(supply.close)
    if rig.instruments.relay is not None:
        relay = _open_relay(rig, clock, bus)
        stack.callback(relay.close)
    switch = relay if rig.instruments.mains_switch == "relay" else supply
    # A virtual supply lives and dies with this process, so a killed virtual run leaves nothing cut.
    markers = None if rig.is_virtual else state_dir or rig.state_dir or default_state_dir()
    mains = Mains(switch, clock, bus, markers, rig.name)  # restores first if a killed run left it off
    stack.callback(mains.close)  # if opening fails later; RigSession.close restores before anything closes
    if mains.recovered is None:
        mains.restore()  # every run starts with mains on (the bench's normal state)

    if devices:
        itch = _open_itch(devices.itch_config(), rig, clock, bus, journal, keys, devices.itch_transport())
    else:
        itch = _open_itch(rig.instruments.itch, rig, clock, bus, journal, keys, None)
    stack.callback(itch.close)
    han = None
    if rig.instruments.han is not None:
        han = devices.open_han(bus, journal) if devices else _open_han(rig.instruments.han, clock, bus, journal)
        stack.callback(han.close)
    return RigSession(rig=rig, path=path, out_dir=out, clock=clock, bus=bus, journal=journal, keys=keys,
                      supply=supply, relay=relay, mains=mains, itch=itch, han=han,
                      bench=devices.bench if devices else None, realtime=realtime, _stack=stack)


def _keys(rig: RigFile) -> Any:
    if rig.is_virtual:
        from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

        return ensure_test_keys(rig.dut.keystore, rig_parties(rig.dut))
    from hubrig.harness.gbcs.keystore import KeyStore

    return KeyStore(rig.dut.keystore)


def decoder_for(rig: RigFile, keys: Any) -> Callable[[bytes], dict]:
    """The ITCH's decoder: one GBCS message to its record, with the rig's keys and ACB."""
    from hubrig.harness.gbcs.decode import decode_record

    return functools.partial(decode_record, keys=keys, acb=rig.dut.acb)


def _open_real_supply(rig: RigFile, clock: Clock, bus: EventBus) -> Any:
    from hubrig.drivers.psu import open_supply

    return open_supply(rig.instruments.supply, clock, bus)


def _open_relay(rig: RigFile, clock: Clock, bus: EventBus) -> Any:
    from hubrig.drivers.relay import open_relay

    return open_relay(rig.instruments.relay, clock, bus)


def _open_han(cfg: Any, clock: Clock, bus: EventBus, journal: Any) -> Any:
    from hubrig.drivers.han import open_han

    return open_han(cfg, clock, bus, journal)


def _open_itch(cfg: Any, rig: RigFile, clock: Clock, bus: EventBus, journal: Any, keys: Any,
               transport: Any) -> Any:
    from hubrig.drivers.itch import open_itch

    return open_itch(cfg, clock, bus, journal, decoder=decoder_for(rig, keys),
                     transport=transport)


class _VirtualDevices:
    """The virtual bench and how the drivers reach it: in-process, or through real OS transports."""

    def __init__(self, rig: RigFile, clock: Clock, keys: Any, realtime: bool, stack: ExitStack):
        from hubrig.drivers.transport import InProcessTransport, PtyPair
        from hubrig.harness.virtual.bench import VirtualBench
        from hubrig.harness.virtual.supply import VirtualSupply

        self.rig, self.clock, self.realtime = rig, clock, realtime
        self._stack = stack
        scheduler = clock
        if realtime:
            scheduler = RealTimeScheduler(clock)
            stack.callback(scheduler.close)
            self.link: Any = PtyPair()
            stack.callback(self.link.close)
        else:
            self.link = InProcessTransport(clock)
        self.scheduler = scheduler
        self.supply = VirtualSupply(scheduler, dialect=rig.instruments.supply.dialect)
        self.bench = VirtualBench(rig.virtual, rig.dut, scheduler, keys, self.link, self.supply, seed=rig.seed)

    def open_supply(self, bus: EventBus) -> Any:
        from hubrig.drivers.psu import open_supply

        cfg = self.rig.instruments.supply
        if not self.realtime:
            return open_supply(cfg, self.clock, bus, endpoint=self.supply)
        from hubrig.harness.virtual.supply import serve_tcp

        server = serve_tcp(self.supply)
        self._stack.callback(server.close)
        return open_supply(cfg.model_copy(update={"resource": server.resource, "visa_library": "@py"}),
                           self.clock, bus)

    def open_han(self, bus: EventBus, journal: Any) -> Any:
        """The virtual HAN stick: in-process on the virtual clock, or behind a pty (bellows) in real time."""
        from hubrig.drivers.han import open_han
        from hubrig.harness.virtual.han.stick import PtyServer, stick_for

        cfg = self.rig.instruments.han
        stick = stick_for(self.bench.params.han, self.scheduler, self.bench.radio)
        if not self.realtime:
            return open_han(cfg, self.clock, bus, journal, stick=stick)
        server = PtyServer(stick)
        self._stack.callback(server.close)
        return open_han(cfg.model_copy(update={"port": server.port}), self.clock, bus, journal)

    def itch_transport(self) -> Any:
        """The in-process link, or ``None`` for the driver to open the pty like a serial port."""
        return None if self.realtime else self.link

    def itch_config(self) -> Any:
        return self.rig.instruments.itch.model_copy(update={"port": self.link.port}) if self.realtime \
            else self.rig.instruments.itch


# ---------------------------------------------------------------------- probing (hubrig rig check)


@dataclass(frozen=True)
class Probe:
    """What one instrument answered when probed."""

    name: str
    resource: str
    ok: bool
    detail: str


def probe_rig(rigfile: str | Path, *, realtime: bool = False) -> list[Probe]:
    """Probe every instrument of a rig through its driver: supply ``*IDN?``, relay present, ITCH
    port opened. Never raises for an instrument that does not answer: its row says why."""
    import tempfile

    path = Path(rigfile)
    rig = load_rig(path)
    with tempfile.TemporaryDirectory(prefix="hubrig-check-") as tmp:
        if rig.is_virtual:
            rows = _probe_virtual(path, rig, Path(tmp), realtime)
        else:
            rows = _probe_real(rig, Path(tmp))
    return rows + [_probe_limit_sets(rig)]


def _probe_limit_sets(rig: RigFile) -> Probe:
    """Whether the rig's limit sets exist in the shipped limits file."""
    from hubrig.harness.rules.limits import LimitError, load_limits

    try:
        catalog = load_limits()
    except LimitError as exc:
        return Probe("limit sets", "harness/data/limits.yaml", False, str(exc))
    unknown = [n for n in rig.limit_sets if n not in catalog.names()]
    if unknown:
        return Probe("limit sets", ", ".join(rig.limit_sets), False,
                     f"not in {catalog.path}: {', '.join(unknown)}; known: {', '.join(catalog.names())}")
    return Probe("limit sets", ", ".join(rig.limit_sets) or "(none)", True, f"known (limits {catalog.version})")


def _failed(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _probe_virtual(path: Path, rig: RigFile, tmp: Path, realtime: bool) -> list[Probe]:
    where = "virtual (realtime)" if realtime else "virtual"
    try:
        session = open_rig(path, tmp, realtime=realtime)
    except Exception as exc:
        return [Probe("virtual rig", where, False, _failed(exc))]
    with session:
        rows = [_probe_supply(session.supply, f"{where}: {session.supply.cfg.resource}")]
        itch_where = getattr(session.itch.transport, "name", rig.instruments.itch.port)
        rows.append(Probe("itch", f"{where}: {itch_where}", True, "link open (virtual Comms Hub)"))
        if session.han is not None:
            rows.append(_probe_han(session.han, f"{where}: {session.han.port}"))
    return rows


def _probe_real(rig: RigFile, tmp: Path) -> list[Probe]:
    rows: list[Probe] = []
    clock = RealClock()
    bus = EventBus(clock)
    try:
        inst = rig.instruments
        if inst.supply is not None:
            try:
                supply = _open_real_supply(rig, clock, bus)
            except Exception as exc:
                rows.append(Probe("supply", inst.supply.resource, False, _failed(exc)))
            else:
                try:
                    rows.append(_probe_supply(supply, inst.supply.resource))
                finally:
                    supply.close()
        if inst.relay is not None:
            r = inst.relay
            where = f"USB {r.vendor_id:04x}:{r.product_id:04x}" + (f" serial {r.serial}" if r.serial else "")
            try:
                relay = _open_relay(rig, clock, bus)
            except Exception as exc:
                rows.append(Probe("relay", where, False, _failed(exc)))
            else:
                try:
                    rows.append(Probe("relay", where, True, f"{relay.identify()}, channel {r.channel}"))
                except Exception as exc:
                    rows.append(Probe("relay", where, False, _failed(exc)))
                finally:
                    relay.close()
        with Journal(tmp / JOURNAL_FILENAME) as journal:
            try:
                itch = _open_itch(inst.itch, rig, clock, bus, journal, None, None)
            except Exception as exc:
                rows.append(Probe("itch", inst.itch.port, False, _failed(exc)))
            else:
                rows.append(Probe("itch", inst.itch.port, True, f"port open at {inst.itch.baudrate} baud"))
                itch.close()
        if inst.han is not None:
            with Journal(tmp / "han-journal.sqlite") as journal:
                try:
                    han = _open_han(inst.han, clock, bus, journal)
                except Exception as exc:
                    rows.append(Probe("han", inst.han.port, False, _failed(exc)))
                else:
                    try:
                        rows.append(_probe_han(han, inst.han.port))
                    finally:
                        han.close()
        rows.append(_probe_marker(rig))
    finally:
        clock.close()
    return rows


def _probe_han(han: Any, where: str) -> Probe:
    """Identity and one energy scan: the stick answers, scans, and which firmware family it runs."""
    try:
        ident = han.identify()
        scan = han.energy_scan(duration=1)
    except Exception as exc:
        return Probe("han", where, False, _failed(exc))
    if not scan.complete:
        return Probe("han", where, False, f"energy scan interrupted: {scan.interrupted}")
    loudest = max(scan.energy, key=lambda r: r.max_rssi_dbm)
    return Probe("han", where, True,
                 f"EUI-64 {ident.eui64}, {ident.manufacturer or '?'} {ident.board or '?'}, firmware "
                 f"{ident.firmware or '?'}, EZSP {ident.protocol_version} = {ident.family}; energy scan "
                 f"{len(scan.energy)} channels, loudest {loudest.channel} at {loudest.max_rssi_dbm} dBm")


def _probe_supply(supply: Any, resource: str) -> Probe:
    try:
        return Probe("supply", resource, True, supply.identify())
    except Exception as exc:
        return Probe("supply", resource, False, _failed(exc))


def _probe_marker(rig: RigFile) -> Probe:
    marker = marker_path(rig.state_dir or default_state_dir(), rig.name)
    if marker.exists():
        return Probe("mains", str(marker), False,
                     f"left cut by a killed run ({marker.read_text(errors='replace')[:200]}); "
                     "the next run restores it first")
    return Probe("mains", str(marker.parent), True, "not left cut by a killed run")
