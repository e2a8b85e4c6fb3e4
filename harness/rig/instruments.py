"""Instruments: the interface every family implements, the roles plans depend on, and the registry.

* :class:`Instrument` is what every opened instrument offers (a name, who it is, a description for
  the results, close). Role protocols say what a plan may rely on: a :class:`MainsSwitch` switches
  and returns the confirmed rig instant; an :class:`EventSource` captures timestamped frames into
  the journal and publishes events on the bus.
* A :class:`Family` (supply, relay, ITCH, ...) brings its rig-file section (``instruments.<key>``,
  a pydantic model), how it is opened on a real bench and on the virtual rig, and its ``rig check``
  probe. :func:`register_family` adds one; ``open_rig``, ``rig check``, the recorder and the
  fixtures iterate :func:`families` and never name a family.

Families are found by importing every module of :mod:`hubrig.drivers.families` (one small module
per family, shipped with hubrig) and every ``hubrig.instruments`` entry point (families from other
packages); a test may call :func:`register_family` directly. See docs/architecture.md for a worked
example.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import Journal
from hubrig.harness.clock import Clock

if TYPE_CHECKING:
    from hubrig.harness.gbcs.keystore import KeyStore
    from hubrig.harness.rig.file import RigFile
    from hubrig.harness.rig.session import VirtualWorld

ENTRY_POINT_GROUP = "hubrig.instruments"
BUILTIN_PACKAGE = "hubrig.drivers.families"


# ------------------------------------------------------------------------------ interface and roles


@runtime_checkable
class Instrument(Protocol):
    """What every opened instrument offers, whatever its family."""

    name: str
    """The family key it was opened for (``supply``, ``itch``, ...)."""

    def identify(self) -> str:
        """Who the instrument says it is (``*IDN?``, a board name, ...); may query it."""
        ...

    def describe(self) -> dict[str, str]:
        """What the results record about it: at least ``resource`` (where it is)."""
        ...

    def close(self) -> None:
        """Release it (an output is left as it is: restoring mains is ``Mains``' job)."""
        ...


@runtime_checkable
class MainsSwitch(Instrument, Protocol):
    """A role: something that switches the DUT's mains."""

    def set_output(self, on: bool) -> int:
        """Switch on/off; return the rig-clock instant (ns) the instrument confirmed the change."""
        ...

    def output_state(self) -> bool:
        """Whether mains is on, as the instrument reports it."""
        ...


@runtime_checkable
class EventSource(Instrument, Protocol):
    """A role: captures timestamped frames into the journal and publishes events on the bus."""

    bus: EventBus
    journal: Journal

    def mark(self) -> int:
        """A bus position; events after it are the ones that arrive from now on."""
        ...


# ------------------------------------------------------------------------------ rig check results


@dataclass(frozen=True)
class Probe:
    """One check ``rig check`` made on one instrument (or on the rig: ``mains``, ``limit sets``)."""

    name: str
    """The instrument (family key) or rig-level item checked."""
    resource: str
    """Where it is (VISA resource, port, USB ids)."""
    ok: bool
    detail: str
    """What was found (the identity, a reading) or what went wrong."""
    check: str = "reachable"
    """Which check: ``open``, ``identity``, ``output state`` ..."""
    warning: bool = False
    """Passed, but something looks wrong (e.g. the identity names another maker than the dialect)."""
    fix: str = ""
    """What to check when it failed or warned."""

    def as_dict(self) -> dict[str, str | bool]:
        """For ``rig check --json``."""
        return {"instrument": self.name, "resource": self.resource, "check": self.check,
                "status": "fail" if not self.ok else "warn" if self.warning else "pass",
                "detail": self.detail, "fix": self.fix}


def failure(exc: BaseException) -> str:
    """An exception as one line for a probe row."""
    return f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------ families


@dataclass(frozen=True)
class OpenContext:
    """What an opener may use: the rig, its clock, bus, journal and keys; callbacks registered on
    ``stack`` run when the session closes (after mains is restored), in reverse order."""

    rig: "RigFile"
    clock: Clock
    bus: EventBus
    journal: Journal
    keys: "KeyStore | None"
    stack: ExitStack


C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class Family(Generic[C]):
    """One kind of instrument: its rig-file section, openers and ``rig check`` probe.

    Every callable receives the family's own section model (``C``), as validated from the rig file.
    """

    key: str
    """The rig file's key under ``instruments:`` (also the fixture's and the results' name)."""
    section: type[C]
    """The section's pydantic model (strict; its errors come out as ``file:line: field: problem``)."""
    open: Callable[[C, OpenContext], Instrument]
    """Open the instrument the section describes, on a real bench (nothing is switched yet)."""
    probe: Callable[[Instrument, C], list[Probe]]
    """Prove the opened instrument can do its job: each check one :class:`Probe` row, failures saying
    what to check. Must not switch anything the DUT depends on, and must not raise."""
    where: Callable[[C], str]
    """Where the section says the instrument is, for probe rows and results."""
    open_virtual: Callable[[C, OpenContext, "VirtualWorld"], Instrument] | None = None
    """How it is opened on the virtual rig: reach the virtual bench's device (in process, or behind a
    real OS transport when ``world.realtime``); ``None``: the family has no virtual device yet."""
    mains_switch: bool = False
    """Its instruments are :class:`MainsSwitch` es (``instruments.mains_switch`` may name it)."""
    after_mains: bool = False
    """Open it once mains is on (event sources: capture starts with the DUT powered, as a bench runs)."""
    order: int = 50
    """Opening order within its phase (lower first)."""

    def config(self, section: BaseModel) -> C:
        """``section`` as this family's model (the rig-file loader validated it with it)."""
        if not isinstance(section, self.section):
            raise TypeError(f"instruments.{self.key}: expected a {self.section.__name__}, got {type(section).__name__}")
        return section


_registry: dict[str, Family[Any]] = {}
_lock = threading.Lock()
_discovered = False


class FamilyError(ValueError):
    """A family that cannot be registered (its key is taken by another, or is not a valid key)."""


def register_family(family: Family[C]) -> Family[C]:
    """Add ``family`` to the registry (again with the same record is harmless); return it."""
    if not family.key.isidentifier() or family.key == "mains_switch":
        raise FamilyError(f"instrument family key {family.key!r} must be a lower-case identifier, "
                          "not 'mains_switch'")
    with _lock:
        known = _registry.get(family.key)
        if known is not None and known != family:
            raise FamilyError(f"instrument family {family.key!r} is already registered "
                              f"(section {known.section.__name__})")
        _registry[family.key] = family
    return family


def unregister_family(key: str) -> None:
    """Remove a family (tests that register their own use this to clean up)."""
    with _lock:
        _registry.pop(key, None)


def families() -> list[Family[Any]]:
    """Every registered family, in opening order (shipped ones and entry points loaded on first use)."""
    _discover()
    with _lock:
        return sorted(_registry.values(), key=lambda f: (f.after_mains, f.order, f.key))


def family(key: str) -> Family[Any] | None:
    """The family registered under ``key``, if any."""
    _discover()
    with _lock:
        return _registry.get(key)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(BUILTIN_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{BUILTIN_PACKAGE}.{module.name}")
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
    _discovered = True
