"""Frame storms with ground truth: what a link was given, and what a killed capture had kept.

A :class:`StormWriter` writes sequence-numbered GFI lines into a file descriptor (a pty's device
side, a loopback socket) as fast as it takes them, logging after every write how many bytes
it had written and when. :func:`capture_child` starts a child process that captures a port
through the ITCH's capture pipeline into a journal until it is killed; :func:`journalled_seqs`
reads back what it kept. The durability test and ``benchmarks/capture_storm.py`` compare the two.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
from bisect import bisect_right
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.capture.journal import Journal
from hubrig.harness.capture.pipeline import LINK_KIND, CaptureConfig, Decoder
from hubrig.harness.clock import Clock

if TYPE_CHECKING:
    from hubrig.drivers.itch import Itch

_GFI = GfiFraming()


def storm_line(seq: int) -> bytes:
    """The GFI line of storm frame ``seq`` (its payload is ``seq`` as 4 bytes, big-endian)."""
    return _GFI.encode(seq.to_bytes(4, "big"))


LINE_BYTES = len(storm_line(0))
"""Every storm line has this length, so a byte count says how many whole frames were written."""


def storm_record(payload: bytes) -> dict[str, object]:
    """The storm's decoder: a frame's sequence number."""
    if len(payload) != 4:
        raise ValueError(f"a storm payload is 4 bytes, not {len(payload)}")
    return {"seq": int.from_bytes(payload, "big")}


class StormWriter:
    """Writes storm lines into ``fd`` from a thread, as fast as ``fd`` takes them.

    ``log`` holds ``(bytes written so far, clock instant right after the write returned)`` per
    write: a frame counts as written once all its bytes were.
    """

    def __init__(self, fd: int, clock: Clock, batch_frames: int = 128):
        self.fd = fd
        self.clock = clock
        self.batch_frames = batch_frames
        self.log: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubrig-storm", daemon=True)

    def start(self) -> "StormWriter":
        os.set_blocking(self.fd, False)
        self._thread.start()
        return self

    def _run(self) -> None:
        seq = total = 0
        pending = b""
        while not self._stop.is_set():
            if not pending:
                pending = b"".join(storm_line(s) for s in range(seq, seq + self.batch_frames))
                seq += self.batch_frames
            if not select.select([], [self.fd], [], 0.05)[1]:
                continue
            try:
                n = os.write(self.fd, pending)
            except BlockingIOError:
                continue
            except OSError:  # the other side has gone
                return
            pending = pending[n:]
            total += n
            self.log.append((total, self.clock.now_ns()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def frames(self) -> int:
        """Frames written completely so far."""
        return self.log[-1][0] // LINE_BYTES if self.log else 0

    def frames_by(self, t_ns: int) -> int:
        """Frames written completely at or before instant ``t_ns``."""
        i = bisect_right(self.log, t_ns, key=lambda entry: entry[1]) - 1
        return self.log[i][0] // LINE_BYTES if i >= 0 else 0


@contextmanager
def socket_itch(journal: Journal, bus: EventBus, decoder: Decoder,
                config: CaptureConfig = CaptureConfig()) -> Iterator[tuple["Itch", socket.socket]]:
    """An ITCH capturing a loopback ``socket://`` link into ``journal`` and ``bus`` (on the bus's
    clock), and the link's other end to write a storm into; both are closed on exit."""
    from hubrig.drivers.itch import open_itch
    from hubrig.harness.rig.file import ItchConfig

    server = socket.create_server(("127.0.0.1", 0))
    itch: Itch | None = None
    conn: socket.socket | None = None
    try:
        itch = open_itch(ItchConfig(port=f"socket://127.0.0.1:{server.getsockname()[1]}"), bus.clock, bus, journal,
                         decoder=decoder, capture=config)
        conn, _ = server.accept()
        yield itch, conn
    finally:
        for closing in (itch, conn, server):
            if closing is not None:
                closing.close()


_CHILD = """
import sys, threading
from hubrig.drivers.itch import open_itch
from hubrig.harness.capture.events import EventBus
from hubrig.harness.capture.journal import Journal
from hubrig.harness.capture.pipeline import CaptureConfig
from hubrig.harness.capture.storm import storm_record
from hubrig.harness.clock import RealClock
from hubrig.harness.rig.file import ItchConfig

port, path, batch, delay, queue, backlog = sys.argv[1:7]
clock = RealClock()
journal = Journal(path)
config = CaptureConfig(int(batch), float(delay), int(queue), int(backlog))
itch = open_itch(ItchConfig(port=port), clock, EventBus(clock), journal, decoder=storm_record, capture=config)
print("capturing", flush=True)
threading.Event().wait()
"""


def capture_child(port: str, journal: Path, config: CaptureConfig = CaptureConfig()) -> subprocess.Popen[str]:
    """A child process capturing ``port`` into ``journal`` until killed; returns once it captures."""
    child = subprocess.Popen([sys.executable, "-c", _CHILD, port, str(journal), str(config.batch_frames),
                              repr(config.max_delay_s), str(config.queue_bytes), str(config.decode_backlog)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "capturing":
        child.kill()
        child.wait()
        raise RuntimeError(f"the capture child did not start (said {line!r}, exit code {child.returncode})")
    return child


def journalled_seqs(path: Path) -> list[int]:
    """The storm sequence numbers a journal holds, in journal order (-1 for a frame that is not
    a storm line exactly as written; link changes, journalled too, are left out)."""
    with Journal.open_existing(path) as journal:
        frames = journal.frames()
    return [_seq(frame.raw) for frame in frames if frame.kind != LINK_KIND]


def _seq(raw: bytes) -> int:
    try:
        seq = int(raw[len(storm_line(0)) - 10:-2], 16)
    except ValueError:
        return -1
    return seq if storm_line(seq) == raw else -1
