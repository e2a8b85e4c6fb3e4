"""Mains control with the power-restore guarantee.

:class:`Mains` cuts and restores the ESME's mains through a *switch* (a supply or a relay driver:
anything with ``set_output(on: bool) -> int`` returning the rig-clock instant the instrument
confirmed the change). However a test ends, mains comes back:

* exceptions and Ctrl-C (``KeyboardInterrupt``) unwind through :meth:`Mains.outage` and through
  :meth:`Mains.close`, which restore;
* SIGTERM: a handler restores every live :class:`Mains` that is off, then re-delivers the signal
  to whatever handled it before (by default: the process ends by SIGTERM as it would have);
* SIGKILL cannot be caught, so before every cut a marker file ``<state_dir>/<rig>.mains-off`` is
  written (and fsynced), and removed once a restore is confirmed. The next :class:`Mains` for that
  rig finds the marker, restores mains first, and says so with a :class:`MainsRecoveredWarning`
  naming the rig and when it was cut.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import threading
import warnings
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from hubrig.harness.clock import NS_PER_S, Clock, Progress, seconds, to_ns
from hubrig.harness.capture.events import EventBus

MAINS = "mains"
"""Event kind published on every confirmed cut/restore (source: the rig name, at the confirmed
instant); data: state ("off"/"on"), and ``recovered`` (the marker's contents) when a start
restored mains left off by a killed run."""


def marker_path(state_dir: Path, rig_name: str) -> Path:
    """The file that says rig ``rig_name``'s mains is cut (written before a cut, removed after a restore)."""
    return Path(state_dir) / f"{rig_name}.mains-off"


class MainsSwitch(Protocol):
    """What :class:`Mains` needs of a supply or relay driver."""

    def set_output(self, on: bool) -> int: ...


@runtime_checkable
class PhaseSwitch(Protocol):
    """A three-phase source that can cut one phase alone (``phases`` > 1)."""

    @property
    def phases(self) -> int: ...

    def set_phase(self, phase: int, on: bool) -> int: ...


class MarkerStore(Protocol):
    """Keeps a rig's mains-off marker somewhere other than ``state_dir`` (e.g. the racks database)."""

    def write(self, note: dict) -> None: ...

    def read(self) -> dict | None: ...

    def remove(self) -> None: ...


marker_stores: dict[str, MarkerStore] = {}
"""Rig name -> where its marker lives instead of a file (set by whoever leased the rig from a pool,
so the next holder, on any host, finds a cut left by a killed one)."""


class MainsRecoveredWarning(UserWarning):
    """Mains was found cut by a run that died (e.g. SIGKILL) and has been restored."""


@dataclass
class Outage:
    """One outage: planned length and the confirmed instants (rig-clock ns)."""

    planned_s: float
    cut_ns: int
    restore_ns: int | None = None

    @property
    def duration_s(self) -> float | None:
        """Confirmed length of the outage, once restored."""
        return None if self.restore_ns is None else seconds(self.restore_ns - self.cut_ns)


class Mains:
    """Cut and restore mains through ``switch``; restore is guaranteed (see the module doc).

    ``state_dir=None`` keeps no marker (the in-process virtual rig, which a killed run takes with it).
    """

    def __init__(self, switch: MainsSwitch, clock: Clock, bus: EventBus, state_dir: Path | None,
                 rig_name: str):
        self.switch = switch
        self.clock = clock
        self.bus = bus
        self.rig_name = rig_name
        self.marker = None if state_dir is None else marker_path(state_dir, rig_name)
        self.is_off = False
        self.current: Outage | None = None
        """The outage in progress (inside :meth:`outage`), for progress displays."""
        self.recovered: dict | None = None
        """The marker of a killed run this start restored mains after, if any."""
        self._lock = threading.RLock()
        self._closed = False
        _live.add(self)
        self._recover()

    # ------------------------------------------------------------------ switching

    def cut(self) -> int:
        """Cut mains; returns the instant the switch confirmed it. The marker is written first."""
        with self._lock:
            self._write_marker()
            self.is_off = True
            _install_sigterm()
            try:
                t_ns = self.switch.set_output(False)
            except BaseException:
                self._restore_quietly()
                raise
            self.bus.publish(MAINS, self.rig_name, {"state": "off"}, t_ns=t_ns)
            return t_ns

    def restore(self) -> int:
        """Restore mains (always sent, even if it looks on); returns the confirmed instant."""
        return self._switch_on({})

    def _switch_on(self, data: dict) -> int:
        with self._lock:
            t_ns = self.switch.set_output(True)
            self.is_off = False
            self._remove_marker()
            self.bus.publish(MAINS, self.rig_name, {"state": "on", **data}, t_ns=t_ns)
            return t_ns

    @contextmanager
    def outage(self, seconds: float, progress: Progress | None = None) -> Iterator[Outage]:
        """Cut mains, run the body, let rig time pass until ``seconds`` after the cut, restore.

        The body may wait on alerts meanwhile (``outage.cut_ns`` is the confirmed cut). If the body
        raises (or is interrupted) mains is restored at once and the error propagates; if the body
        outlasts ``seconds`` mains is restored when it returns (``restore_ns`` says when).
        """
        if seconds < 0:
            raise ValueError(f"outage length must be >= 0 s, got {seconds}")
        with self._lock:
            out = Outage(planned_s=seconds, cut_ns=self.cut())
            self.current = out
        try:
            yield out
            remaining = out.cut_ns + to_ns(seconds) - self.clock.now_ns()
            if remaining > 0:
                self.clock.sleep(remaining / NS_PER_S, progress)
        finally:
            try:
                out.restore_ns = self.restore()
            finally:
                self.current = None

    def phases(self) -> int:
        """How many phases the switch can cut one at a time (1: none alone)."""
        return self.switch.phases if isinstance(self.switch, PhaseSwitch) else 1

    @contextmanager
    def phase_outage(self, phase: int, seconds: float) -> Iterator[Outage]:
        """Cut one ``phase`` for ``seconds`` (the others stay live), restoring it however the body ends.
        The marker is written as for a full cut: a restart restores the output at the rig's voltage."""
        if not 1 <= phase <= self.phases():
            raise ValueError(f"the mains switch cannot cut phase {phase} alone (it can cut {self.phases()})")
        switch = self.switch
        assert isinstance(switch, PhaseSwitch)
        with self._lock:
            self._write_marker()
            _install_sigterm()
            try:
                out = Outage(planned_s=seconds, cut_ns=switch.set_phase(phase, False))
            except BaseException:
                switch.set_phase(phase, True)
                self._remove_marker()
                raise
            self.bus.publish(MAINS, self.rig_name, {"state": "off", "phase": phase}, t_ns=out.cut_ns)
            self.current = out
        try:
            yield out
            remaining = out.cut_ns + to_ns(seconds) - self.clock.now_ns()
            if remaining > 0:
                self.clock.sleep(remaining / NS_PER_S)
        finally:
            try:
                with self._lock:
                    out.restore_ns = switch.set_phase(phase, True)
                    self._remove_marker()
                    self.bus.publish(MAINS, self.rig_name, {"state": "on", "phase": phase}, t_ns=out.restore_ns)
            finally:
                self.current = None

    def close(self) -> None:
        """Restore mains if it is off, and stop guarding it."""
        if self._closed:
            return
        try:
            if self.is_off:
                self.restore()
        finally:
            self._closed = True
            _live.discard(self)
            _uninstall_sigterm_if_idle()

    # ------------------------------------------------------------------ marker file

    def _write_marker(self) -> None:
        note = {"rig": self.rig_name, "cut_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "pid": os.getpid(), "host": socket.gethostname()}
        if self.rig_name in marker_stores:
            marker_stores[self.rig_name].write(note)
            return
        if self.marker is None:
            return
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.marker.with_name(self.marker.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(note, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.marker)
        _fsync_dir(self.marker.parent)

    def _remove_marker(self) -> None:
        if self.rig_name in marker_stores:
            marker_stores[self.rig_name].remove()
        elif self.marker is not None and self.marker.exists():
            self.marker.unlink()
            _fsync_dir(self.marker.parent)

    def _recover(self) -> None:
        if self.rig_name in marker_stores:
            note = marker_stores[self.rig_name].read()
            if note is not None:
                self._recovered(note, "the rig's lease record")
            return
        if self.marker is None or not self.marker.exists():
            return
        try:
            note = json.loads(self.marker.read_text(encoding="utf-8"))
            if not isinstance(note, dict):
                raise ValueError
        except (OSError, ValueError):
            note = {"rig": self.rig_name, "cut_at": "an unknown time (unreadable marker)"}
        self._recovered(note, f"marker {self.marker}")

    def _recovered(self, note: dict, where: str) -> None:
        self._switch_on({"recovered": note})
        self.recovered = note
        who = f" by pid {note['pid']} on {note.get('host', '?')}" if "pid" in note else ""
        warnings.warn(MainsRecoveredWarning(
            f"rig {self.rig_name!r}: mains was left cut since {note.get('cut_at')}{who} "
            f"(a run that was killed); restored it before starting ({where})"), stacklevel=3)

    def _restore_quietly(self) -> None:
        try:
            self.restore()
        except Exception:  # the original error matters more; the marker stays for the next start
            pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- SIGTERM guard

_live: "weakref.WeakSet[Mains]" = weakref.WeakSet()
_previous_sigterm: object = None
_installed = False


def _restore_all() -> None:
    for mains in list(_live):
        if mains.is_off:
            mains._restore_quietly()


atexit.register(_restore_all)


def _on_sigterm(signum: int, frame: object) -> None:
    """Restore every live mains that is off, then hand the signal on as it would have gone."""
    _restore_all()
    previous = _previous_sigterm
    _uninstall_sigterm()
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        os.kill(os.getpid(), signum)


def _install_sigterm() -> None:
    global _previous_sigterm, _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    _installed = True


def _uninstall_sigterm() -> None:
    global _installed
    if _installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _previous_sigterm if _previous_sigterm is not None else signal.SIG_DFL)
        _installed = False


def _uninstall_sigterm_if_idle() -> None:
    if not any(not m._closed for m in _live):
        _uninstall_sigterm()
