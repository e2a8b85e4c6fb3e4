"""The HAN stick's link into the capture pipeline: whole EZSP frames from the NCP, stamped on arrival.

bellows reads the port and takes ASH apart itself, so the stick's "transport" is not a byte
stream the pipeline reads: the session hands over each EZSP frame the moment it is out of ASH
(:meth:`NcpFeed.frame`, on bellows' thread, or on the virtual clock's), and the feed stamps it with
the rig clock before anything else looks at it. Link changes (the NCP reset, the port gone, the
session back) go the same way (:meth:`NcpFeed.link`), so the pipeline publishes them in order with
the frames around them.

Unlike :class:`~hubrig.drivers.transport.InProcessTransport`, the feed never drops what it is
handed while the link is "lost": frames of the reconnecting session are journalled between the
``lost`` and ``restored`` events.
"""

from __future__ import annotations

from hubrig.drivers.transport import TransportError
from hubrig.harness.capture.pipeline import OnChunk, OnLink
from hubrig.harness.clock import Clock


class NcpFeed:
    """A :class:`~hubrig.harness.capture.pipeline.Transport` fed from the NCP session's frame callback."""

    def __init__(self, clock: Clock, name: str):
        self.name = name
        self.clock = clock
        self._on_chunk: OnChunk | None = None
        self._on_link: OnLink | None = None
        self._closed = False

    def start(self, on_chunk: OnChunk, on_link: OnLink | None = None) -> None:
        self._on_chunk = on_chunk
        self._on_link = on_link

    def frame(self, data: bytes) -> None:
        """One whole frame from the NCP, arrived now: stamped, then handed to the pipeline (which
        may hold the caller while its queue is full: backpressure reaches bellows' reader)."""
        t_ns = self.clock.now_ns()
        if self._on_chunk is None:
            raise TransportError(f"HAN stick {self.name}: a frame arrived before the capture started")
        if not self._closed and data:
            self._on_chunk(bytes(data), t_ns)

    def link(self, state: str, detail: str) -> None:
        """The NCP link ``lost`` or ``restored`` (the pipeline stamps and publishes it in order)."""
        if self._on_link is not None and not self._closed:
            self._on_link(state, detail)

    def write(self, data: bytes) -> None:
        raise TransportError(f"HAN stick {self.name}: commands go to the NCP through its session, not the capture")

    def close(self) -> None:
        self._closed = True
