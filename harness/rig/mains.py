"""Mains control with the power-restore guarantee.

:class:`Mains` cuts and restores the ESME's mains through a *switch* (a supply or a relay driver:
anything with ``set_output(on: bool) -> int`` returning the rig-clock instant the instrument
confirmed the change). However a test ends, mains comes back:

* exceptions and Ctrl-C (``KeyboardInterrupt``) unwind through :meth:`Mains.outage` and through
  :meth:`Mains.close`, which restore;
* SIGINT, SIGTERM, SIGHUP and SIGQUIT (the signals a lab meets: Ctrl-C, a CI job cancelled, an SSH
  session dropped, Ctrl-\\) raise :class:`MainsInterrupted` (a ``KeyboardInterrupt``) in the main
  thread while a :class:`Mains` is live, so the same unwinding restores mains; a signal that lands
  inside a switch exchange waits for the exchange to end, so no SCPI exchange is cut in half by it;
* SIGKILL cannot be caught, so before every cut a marker file ``<state_dir>/<rig>.mains-off`` is
  written (and fsynced), and removed only once a restore is confirmed. The next :class:`Mains` for
  that rig finds the marker, restores mains first, and says so with a :class:`MainsRecoveredWarning`
  naming the rig and when it was cut.

A :class:`Mains` with a state folder holds the rig's :class:`~hubrig.harness.rig.lock.RigLock`
(one run per rig on a host) for its whole life, so a marker is only ever recovered when no live
process holds the rig. A restore that fails leaves :attr:`Mains.unrestored` set and raises
:class:`MainsNotRestoredError`, whose message says mains is still off, where the marker is and
what to do (:func:`not_restored_message`).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import sys
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
from hubrig.harness.rig.lock import RigLock, default_wait_s

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


GUARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
"""The terminating signals that restore mains (SIGKILL cannot be caught: the marker covers it)."""


class MainsInterrupted(KeyboardInterrupt):
    """A guarded signal arrived: unwinding restores mains (pytest ends the run as interrupted)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


class MainsNotRestoredError(RuntimeError):
    """Restoring mains failed: the DUT is still unpowered (the message says what to do)."""


def not_restored_message(rig_name: str, marker: Path | None, reason: str) -> str:
    """What every output says first when mains could not be restored."""
    where = f"the marker {marker} stays" if marker is not None else "no marker is kept (virtual rig)"
    return (f"MAINS IS STILL OFF on rig {rig_name!r}: restoring it failed ({reason}); {where}. "
            "Switch the supply or relay on by hand, or fix the instrument and run `hubrig rig check` / "
            "the next run on this rig, which restores mains first.")


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
                 rig_name: str, *, lock: RigLock | None = None, lock_wait_s: float | None = None):
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
        self.unrestored: str | None = None
        """Set (to :func:`not_restored_message`) while a restore has failed and mains may be off."""
        self._lock = threading.RLock()
        self._closed = False
        self._rig_lock = lock
        self._own_rig_lock = False
        if state_dir is not None and (lock is None or not lock.held):
            self._rig_lock = lock or RigLock(state_dir, rig_name)
            self._own_rig_lock = lock is None
            self._rig_lock.acquire(default_wait_s() if lock_wait_s is None else lock_wait_s)
        _live.add(self)
        _install_guard()
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ switching

    def cut(self) -> int:
        """Cut mains; returns the instant the switch confirmed it. The marker is written first."""
        with self._lock:
            self._write_marker()
            self.is_off = True
            try:
                with _exchange():
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
        with self._lock, _exchange():
            try:
                t_ns = self.switch.set_output(True)
            except Exception as exc:
                self.unrestored = not_restored_message(self.rig_name, self.marker, f"{type(exc).__name__}: {exc}")
                raise MainsNotRestoredError(self.unrestored) from exc
            self.is_off = False
            self.unrestored = None
            self._remove_marker()  # only now: the switch confirmed mains is on
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
            try:
                with _exchange():
                    out = Outage(planned_s=seconds, cut_ns=switch.set_phase(phase, False))
            except BaseException:
                with _exchange():
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
                with self._lock, _exchange():
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
            if self._own_rig_lock and self._rig_lock is not None:
                self._rig_lock.release()
            _uninstall_guard_if_idle()

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
        except Exception:  # the original error matters more; unrestored says so, the marker stays
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


# ---------------------------------------------------------------------- signal guard

_live: "weakref.WeakSet[Mains]" = weakref.WeakSet()
_previous: dict[int, object] = {}
_in_exchange = 0
_pending: list[int] = []
_raised: list[int] = []


def _restore_all() -> None:
    for mains in list(_live):
        if mains.is_off:
            mains._restore_quietly()


_uncaught: list[int] = []
_previous_excepthook = sys.excepthook


def _excepthook(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    """A :class:`MainsInterrupted` nobody caught ends the process by its own signal, at exit."""
    if isinstance(exc, MainsInterrupted):
        _uncaught.append(exc.signum)
    _previous_excepthook(kind, exc, tb)


def _at_exit() -> None:
    _restore_all()
    if _uncaught:
        signal.signal(_uncaught[0], signal.SIG_DFL)
        os.kill(os.getpid(), _uncaught[0])


sys.excepthook = _excepthook
atexit.register(_at_exit)


def _on_signal(signum: int, frame: object) -> None:
    """Unwind the main thread (which restores mains), or, inside a switch exchange, once it ends.
    Once the run is stopping, a repeated signal (Ctrl-C reaches ``hubrig run`` and its child both)
    only unwinds again while some mains is still off."""
    if _raised and not any(m.is_off for m in list(_live)):
        return
    if _in_exchange:
        _pending.append(signum)
        return
    _raised.append(signum)
    raise MainsInterrupted(signum)


@contextmanager
def _exchange() -> Iterator[None]:
    """A switch exchange: a guarded signal arriving inside it is raised when it ends."""
    global _in_exchange
    main = threading.current_thread() is threading.main_thread()
    if main:
        _in_exchange += 1
    try:
        yield
    finally:
        if main:
            _in_exchange -= 1
    if main and not _in_exchange and _pending:
        signum = _pending[0]
        _pending.clear()
        if not _raised or any(m.is_off for m in list(_live)):
            _raised.append(signum)
            raise MainsInterrupted(signum)


def _install_guard() -> None:
    if _previous or threading.current_thread() is not threading.main_thread():
        return
    for signum in GUARDED_SIGNALS:
        _previous[signum] = signal.signal(signum, _on_signal)


def _uninstall_guard() -> None:
    if not _previous or threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in _previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    _previous.clear()


def _uninstall_guard_if_idle() -> None:
    if not any(not m._closed for m in _live):
        _uninstall_guard()
