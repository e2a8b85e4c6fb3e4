"""One run per rig on a host: an OS lock that dies with its holder.

:class:`RigLock` takes ``flock(LOCK_EX)`` on ``<state_dir>/<rig>.lock`` before anything touches
the rig's mains, and writes who holds it (pid, command, start time, host) into the file. The
kernel drops the lock when the holder's process ends however it ends (SIGKILL included), so a lock
is never stale; the file's text is only a description and is left behind on purpose. A second run
on the same rig waits up to ``wait_s`` and then refuses with :class:`RigBusyError`, naming the
holder. Racks of rigs across hosts need leases (the racks work); this is the one-host floor.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

POLL_S = 0.1
WAIT_ENV = "HUBRIG_RIG_WAIT_S"
"""How long a run waits for a rig another run holds, when the caller does not say (default 0)."""


def lock_path(state_dir: Path, rig_name: str) -> Path:
    """The lock file of rig ``rig_name``."""
    return Path(state_dir) / f"{rig_name}.lock"


class RigBusyError(RuntimeError):
    """Another live process holds the rig; the message names it."""

    def __init__(self, rig_name: str, path: Path, holder: dict, waited_s: float):
        self.rig_name, self.path, self.holder = rig_name, path, holder
        waited = f" (waited {waited_s:g} s)" if waited_s else ""
        super().__init__(f"rig {rig_name!r} is in use by {describe(holder)}{waited}; wait for that run to end, "
                         f"or give a wait (hubrig run --wait-for-rig SECONDS). Lock: {path}")


def describe(holder: dict) -> str:
    """``pid 123 on host (hubrig run ...) since 2026-...``, from a holder note."""
    if not holder:
        return "another process (its note is unreadable)"
    command = holder.get("command") or "?"
    return (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} ({str(command)[:200]}) "
            f"since {holder.get('started', '?')}")


def default_wait_s() -> float:
    """``$HUBRIG_RIG_WAIT_S`` seconds, else 0 (refuse at once)."""
    try:
        return max(float(os.environ.get(WAIT_ENV, "0")), 0.0)
    except ValueError:
        return 0.0


class RigLock:
    """The lock of one rig (see the module doc). Use :meth:`acquire` / :meth:`release`."""

    def __init__(self, state_dir: Path, rig_name: str):
        self.rig_name = rig_name
        self.path = lock_path(state_dir, rig_name)
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait_s``; :class:`RigBusyError` if another process keeps it."""
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        start = time.monotonic()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - start
                    if waited >= wait_s:
                        raise RigBusyError(self.rig_name, self.path, _read_note(fd), round(waited, 1)) from None
                    time.sleep(min(POLL_S, wait_s - waited))
            note = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv),
                    "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let the rig go (closing the file drops the lock)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def holder(state_dir: Path, rig_name: str) -> dict | None:
    """Who holds rig ``rig_name``'s lock now (their note), or ``None`` if nobody alive does."""
    path = lock_path(state_dir, rig_name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        note = _read_note(fd)
        os.close(fd)
        return note
    os.close(fd)
    return None


def _read_note(fd: int) -> dict:
    try:
        note = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}
