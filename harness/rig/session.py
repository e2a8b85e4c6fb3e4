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
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from pydantic import BaseModel

from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
from hubrig.harness.clock import Clock, RealClock, RealTimeScheduler, Scheduler, VirtualClock
from hubrig.harness.rig.file import VIRTUAL, RigFile, RigFileError, load_rig
from hubrig.harness.rig.instruments import (EventSource, Family, Instrument, MainsSwitch, OpenContext, Probe,
                                            failure, families)
from hubrig.harness.rig.lock import RigLock, default_wait_s, describe, holder
from hubrig.harness.rig.mains import Mains, marker_path

if TYPE_CHECKING:
    from hubrig.drivers.itch import Itch
    from hubrig.drivers.psu.supply import Supply
    from hubrig.drivers.transport import InProcessTransport, PtyPair
    from hubrig.harness.gbcs.keystore import KeyStore
    from hubrig.harness.virtual.bench import VirtualBench
    from hubrig.harness.virtual.groundtruth import GroundTruth

I = TypeVar("I", bound=Instrument)


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
    """A running rig. Use as a context manager; closing restores mains and closes everything.

    ``instruments`` holds every opened instrument under its family key (``supply``, ``itch``, ...),
    in opening order; :meth:`instrument` looks one up with its type.
    """

    rig: RigFile
    path: Path
    out_dir: Path
    clock: Clock
    bus: EventBus
    journal: Journal
    keys: "KeyStore | None"
    instruments: dict[str, Instrument]
    mains: Mains
    bench: "VirtualBench | None" = None
    realtime: bool = False
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def name(self) -> str:
        return self.rig.name

    @property
    def is_virtual(self) -> bool:
        return self.rig.is_virtual

    @property
    def ground_truth(self) -> "GroundTruth | None":
        """What the virtual devices emitted and when (``None`` on a real bench)."""
        return None if self.bench is None else self.bench.ground_truth

    @property
    def journal_path(self) -> Path:
        return self.out_dir / JOURNAL_FILENAME

    def instrument(self, key: str, kind: type[I]) -> I | None:
        """The instrument of family ``key`` as a ``kind`` (``None`` if the rig has none)."""
        found = self.instruments.get(key)
        if found is None:
            return None
        if not isinstance(found, kind):
            raise TypeError(f"rig {self.name!r}: instruments.{key} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    @property
    def event_sources(self) -> list[EventSource]:
        """Every instrument that captures frames into the journal and publishes events."""
        return [i for i in self.instruments.values() if isinstance(i, EventSource)]

    @property
    def supply(self) -> "Supply | None":
        """The SCPI supply, if the rig has one."""
        from hubrig.drivers.psu.supply import Supply

        return self.instrument("supply", Supply)

    @property
    def itch(self) -> "Itch":
        """The Wired ITCH (every rig has one)."""
        from hubrig.drivers.itch import Itch

        found = self.instrument("itch", Itch)
        if found is None:
            raise LookupError(f"rig {self.name!r} has no ITCH open")
        return found

    def close(self) -> None:
        """Restore mains first, then close the instruments (last opened first), devices and journal."""
        try:
            self.mains.close()
        finally:
            self._stack.close()

    def __enter__(self) -> "RigSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_rig(rigfile: str | Path, out_dir: str | Path, *, realtime: bool = False,
             state_dir: Path | None = None, lock_wait_s: float | None = None) -> RigSession:
    """Build a running :class:`RigSession` from ``rigfile``, journalling into ``out_dir``.

    Every registered instrument family with a section in the rig file is opened (mains switches
    and other instruments first, then mains is switched on, then event sources such as the ITCH).
    ``realtime`` applies to the virtual rig only (virtual devices behind a pty and a TCP socket).
    Mains-off markers live in ``state_dir``, else the rig file's ``state_dir``, else
    :func:`default_state_dir` (the virtual rig keeps none). A real bench is locked there first
    (one run per rig on a host, :class:`~hubrig.harness.rig.lock.RigLock`), before any instrument
    is opened: a rig another live run holds raises :class:`~hubrig.harness.rig.lock.RigBusyError`
    after waiting ``lock_wait_s`` (default ``$HUBRIG_RIG_WAIT_S``, else 0). Anything that fails while
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
        return _assemble(rig, path, out, realtime, state_dir, stack,
                         default_wait_s() if lock_wait_s is None else lock_wait_s)
    except BaseException:
        stack.close()
        raise


def configured(rig: RigFile) -> list[tuple[Family[Any], BaseModel]]:
    """The registered families the rig file configures, with their sections, in opening order."""
    found = []
    for fam in families():
        section = rig.instruments.section(fam.key)
        if section is not None:
            found.append((fam, fam.config(section)))
    return found


def open_instrument(fam: Family[Any], section: BaseModel, ctx: OpenContext, world: "VirtualWorld | None") -> Instrument:
    """Open one family's instrument (virtual or real) and close it with ``ctx.stack``."""
    if world is None:
        inst = fam.open(section, ctx)
    elif fam.open_virtual is None:
        raise RigFileError(f"instruments.{fam.key}: the virtual rig has no virtual {fam.key} device; "
                           "remove this section from the virtual rig file")
    else:
        inst = fam.open_virtual(section, ctx, world)
    ctx.stack.callback(inst.close)
    if not isinstance(inst, Instrument):
        raise TypeError(f"instrument family {fam.key!r} opened a {type(inst).__name__}, which lacks the "
                        "Instrument interface (name, identify, describe, close)")
    return inst


def _assemble(rig: RigFile, path: Path, out: Path, realtime: bool, state_dir: Path | None,
              stack: ExitStack, lock_wait_s: float) -> RigSession:
    # A virtual supply lives and dies with this process, so a killed virtual run leaves nothing cut.
    markers = None if rig.is_virtual else state_dir or rig.state_dir or default_state_dir()
    lock = None
    if markers is not None:
        lock = RigLock(markers, rig.name)
        lock.acquire(lock_wait_s)  # before any instrument is touched
        stack.callback(lock.release)
    clock: Clock = VirtualClock() if rig.is_virtual and not realtime else RealClock()
    if isinstance(clock, RealClock):
        stack.callback(clock.close)
    journal = Journal(out / JOURNAL_FILENAME)
    stack.callback(journal.close)
    bus = EventBus(clock, journal_path=str(journal.path))
    keys = _keys(rig)
    world = VirtualWorld(rig, clock, keys, realtime, stack) if rig.is_virtual else None
    ctx = OpenContext(rig=rig, clock=clock, bus=bus, journal=journal, keys=keys, stack=stack)

    opened: dict[str, Instrument] = {}
    plan = configured(rig)
    for fam, section in plan:
        if not fam.after_mains:
            opened[fam.key] = open_instrument(fam, section, ctx, world)
    switch = opened[rig.instruments.mains_switch]
    if not isinstance(switch, MainsSwitch):
        raise TypeError(f"instruments.{rig.instruments.mains_switch} is not a mains switch "
                        f"({type(switch).__name__} has no set_output/output_state)")
    mains = Mains(switch, clock, bus, markers, rig.name, lock=lock)  # restores first if a killed run left it off
    stack.callback(mains.close)  # if opening fails later; RigSession.close restores before anything closes
    if mains.recovered is None:
        mains.restore()  # every run starts with mains on (the bench's normal state)

    for fam, section in plan:
        if fam.after_mains:
            opened[fam.key] = open_instrument(fam, section, ctx, world)
    return RigSession(rig=rig, path=path, out_dir=out, clock=clock, bus=bus, journal=journal, keys=keys,
                      instruments=opened, mains=mains, bench=world.bench if world else None,
                      realtime=realtime, _stack=stack)


def _keys(rig: RigFile) -> "KeyStore":
    if rig.is_virtual:
        from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

        return ensure_test_keys(rig.dut.keystore, rig_parties(rig.dut))
    from hubrig.harness.gbcs.keystore import KeyStore

    return KeyStore(rig.dut.keystore)


def decoder_for(rig: RigFile, keys: "KeyStore | None") -> Callable[[bytes], dict]:
    """The ITCH's decoder: one GBCS message to its record, with the rig's keys and ACB."""
    from hubrig.harness.gbcs.decode import decode_record

    return functools.partial(decode_record, keys=keys, acb=rig.dut.acb)


class VirtualWorld:
    """The virtual bench and what families need to reach its devices: the in-process supply
    endpoint and ITCH link, or (``realtime``) the same devices behind real OS transports."""

    def __init__(self, rig: RigFile, clock: Clock, keys: "KeyStore", realtime: bool, stack: ExitStack):
        from hubrig.drivers.transport import InProcessTransport, PtyPair
        from hubrig.harness.virtual.bench import VirtualBench
        from hubrig.harness.virtual.supply import VirtualSupply

        self.rig, self.clock, self.realtime = rig, clock, realtime
        self.stack = stack
        self.scheduler: Scheduler = clock
        self.link: "PtyPair | InProcessTransport"
        if realtime:
            self.scheduler = RealTimeScheduler(clock)
            stack.callback(self.scheduler.close)
            self.link = PtyPair()
            stack.callback(self.link.close)
        else:
            self.link = InProcessTransport(clock)
        supply = rig.instruments.supply
        self.supply = VirtualSupply(self.scheduler, dialect=supply.dialect if supply else "generic-scpi")
        self.bench = VirtualBench(rig.virtual, rig.dut, self.scheduler, keys, self.link, self.supply,
                                  seed=rig.seed)


# ---------------------------------------------------------------------- probing (hubrig rig check)


def probe_rig(rigfile: str | Path, *, realtime: bool = False) -> list[Probe]:
    """Probe every instrument of a rig through its family's probe (see ``Family.probe``). On a
    real bench each instrument is opened on its own, so one that does not answer hides no other;
    nothing is switched. Never raises for an instrument: its rows say what failed and what to check."""
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
        return Probe("limit sets", "harness/data/limits.yaml", False, str(exc), check="known")
    unknown = [n for n in rig.limit_sets if n not in catalog.names()]
    if unknown:
        return Probe("limit sets", ", ".join(rig.limit_sets), False,
                     f"not in {catalog.path}: {', '.join(unknown)}; known: {', '.join(catalog.names())}",
                     check="known", fix="fix limit_sets in the rig file")
    return Probe("limit sets", ", ".join(rig.limit_sets) or "(none)", True, f"known (limits {catalog.version})",
                 check="known")


def _probe_virtual(path: Path, rig: RigFile, tmp: Path, realtime: bool) -> list[Probe]:
    where = "virtual (realtime)" if realtime else "virtual"
    try:
        session = open_rig(path, tmp, realtime=realtime)
    except Exception as exc:
        return [Probe("virtual rig", where, False, failure(exc), check="open")]
    rows: list[Probe] = []
    with session:
        for fam, section in configured(rig):
            found = _probe_one(fam, section, session.instruments[fam.key])
            rows += [Probe(r.name, where if r.resource == VIRTUAL else f"{where}: {r.resource}", r.ok, r.detail,
                           r.check, r.warning, r.fix) for r in found]
    return rows


def _probe_real(rig: RigFile, tmp: Path) -> list[Probe]:
    rows: list[Probe] = []
    clock = RealClock()
    try:
        with Journal(tmp / JOURNAL_FILENAME) as journal:
            for fam, section in configured(rig):
                with ExitStack() as stack:
                    ctx = OpenContext(rig=rig, clock=clock, bus=EventBus(clock), journal=journal, keys=None,
                                      stack=stack)
                    try:
                        inst = open_instrument(fam, section, ctx, None)
                    except Exception as exc:
                        rows.append(Probe(fam.key, fam.where(section), False, failure(exc), check="open",
                                          fix=f"check instruments.{fam.key} in the rig file and that the "
                                              "instrument is on and connected"))
                        continue
                    rows += _probe_one(fam, section, inst)
        rows.append(_probe_marker(rig))
    finally:
        clock.close()
    return rows


def _probe_one(fam: Family[Any], section: BaseModel, inst: Instrument) -> list[Probe]:
    try:
        return fam.probe(inst, section)
    except Exception as exc:  # a probe bug is one failed row, not a lost check of the others
        return [Probe(fam.key, fam.where(section), False, f"probe failed: {failure(exc)}", check="probe")]


def _probe_marker(rig: RigFile) -> Probe:
    state = rig.state_dir or default_state_dir()
    marker = marker_path(state, rig.name)
    running = holder(state, rig.name)
    if running is not None:
        return Probe("mains", str(marker.parent), True, f"in use by a live run: {describe(running)}")
    if marker.exists():
        return Probe("mains", str(marker), False, mains_left_off(rig.name, marker))
    return Probe("mains", str(marker.parent), True, "not left cut by a killed run")


def mains_left_off(rig_name: str, marker: Path) -> str:
    """What to tell the user about a mains-off marker no live run holds (rig check, hubrig run)."""
    try:
        note = marker.read_text(encoding="utf-8", errors="replace")[:200]
    except OSError as exc:
        note = f"unreadable: {exc.strerror or exc}"
    return (f"MAINS IS STILL OFF on rig {rig_name!r}: left cut by a run that ended without restoring it "
            f"({note}); marker {marker}. Switch the supply or relay on by hand, or run the next "
            "`hubrig run` on this rig, which restores mains first.")
