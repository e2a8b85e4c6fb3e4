"""A SCPI session: one conversation with one instrument that never loses step.

:class:`ScpiSession` sends commands and reads replies over an :class:`Endpoint` (a pyvisa
message-based resource, or an in-process endpoint such as the virtual supply), parses every reply
defensively, reads the error queue after changes, waits for ``*OPC?`` with its own timeout and reads
binary blocks (traces). Every failure is an :class:`InstrumentError` naming the instrument and the
command, with a hint when the cause is the connection.

**Resynchronisation.** SCPI replies carry no tag saying which query they answer: a reply that
arrives after its timeout would otherwise be read as the answer to the *next* query, and every
reply after it would be one behind (a stale ``1`` confirming the next ``*OPC?`` early). So an
exchange that does not complete (timeout, transport error, interruption such as Ctrl-C) or whose
reply does not parse as the answer to its query marks the session *dirty*, and before any further
command the session resynchronises:

1. device clear (``viClear``; where the resource does not support it, nothing);
2. ``*CLS;*ESE <n>;*ESE?`` with a fresh random ``n`` (2..255, never the previous one), reading and
   discarding replies until one is exactly ``n``, then again with another ``n``: two markers must be
   answered in a row, so a stale reply that happens to equal ``n`` cannot end it (the real answer to
   that ``n`` would then be read against the second marker and fail it). A round trip that times out
   is retried with a new ``n``, up to ``resync_attempts`` times;
3. ``*ESE 0`` (hubrig uses no status-enable bit; 0 is IEEE 488.2's power-on value).

Why this marker: ``*ESE``/``*ESE?`` are mandatory IEEE 488.2 common commands (every dialect hubrig
speaks has them), have no effect on outputs, and echo a value *we* chose, so a stale reply (a late
``1``, an old ``*IDN?``, a previous marker) is not taken for the answer: ``*OPC?`` always answers ``1``
and ``*IDN?`` always the same text, so neither can tell a fresh reply from a stale one. Markers are
never 0 or 1, the commonest stale replies. Replies arrive in
order, so once the marker's reply is read nothing older is left in flight. ``*CLS`` in the same
message clears the ``-410 Query INTERRUPTED``/``-420 Query UNTERMINATED`` errors the lost exchange
left, which belong to the exchange that already failed.
"""

from __future__ import annotations

import random
import threading
from typing import Callable, Protocol, TypeVar, runtime_checkable

from pyvisa.resources import TCPIPSocket

from hubrig.drivers.scpi.errors import InstrumentError
from hubrig.drivers.scpi.replies import ReplyError, excerpt, parse_block, parse_marker, parse_opc, parse_scpi_error

T = TypeVar("T")

MAX_ERROR_READS = 20
"""Bound on error-queue reads after one change (a full queue on most instruments is 10-20)."""
RESYNC_ATTEMPTS = 5
"""Marker round trips that may time out before resynchronising gives up."""
MAX_STALE_REPLIES = 64
"""Stale replies discarded before resynchronising gives up (a babbling instrument)."""
MARKERS = range(2, 256)
"""``*ESE`` values used as markers: never 0 or 1, the commonest replies (``*OPC?``, output states)."""
MARKERS_IN_A_ROW = 2
"""Consecutive marker round trips that must each be answered by their own marker."""
MAX_BLOCK_BYTES = 16 << 20


@runtime_checkable
class Endpoint(Protocol):
    """What a session needs of an instrument connection (a pyvisa ``MessageBasedResource``)."""

    timeout: float | None
    """Read timeout in ms (pyvisa's unit); ``None`` waits for ever."""

    def write(self, message: str) -> object: ...

    def read(self) -> str: ...

    def clear(self) -> None:
        """Device clear (``viClear``); may raise where the resource does not support it."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class BinaryEndpoint(Endpoint, Protocol):
    """An endpoint that can also read a reply as raw bytes (binary blocks: traces)."""

    def read_raw(self) -> bytes: ...


@runtime_checkable
class CountedEndpoint(BinaryEndpoint, Protocol):
    """An endpoint that reads exactly ``count`` bytes (pyvisa's ``read_bytes``): a block is read by
    its header, so data bytes equal to the termination character (LF) do not end it early."""

    def read_bytes(self, count: int) -> bytes: ...


def no_hint(exc: BaseException) -> str:
    return ""


def _read_counted_block(endpoint: CountedEndpoint, max_bytes: int) -> bytes:
    """A definite-length block read by its header (and the terminator after it)."""
    head = endpoint.read_bytes(2)
    if head[:1] != b"#" or not head[1:2].isdigit() or head[1:2] == b"0":
        raise ReplyError(f"expected a definite-length block '#<n><length>...', got {excerpt(head)}")
    digits = endpoint.read_bytes(int(head[1:2]))
    if not digits.isdigit() or int(digits) > max_bytes:
        raise ReplyError(f"block length field {excerpt(digits)} is not a length up to {max_bytes} bytes")
    return head + digits + endpoint.read_bytes(int(digits) + 1)


class ScpiSession:
    """A conversation with one SCPI instrument (see the module docstring). Thread-safe.

    ``name`` starts every error message (e.g. ``supply (keysight-ac6800 at TCPIP0::...)``);
    ``hint(exc)`` adds what to check when a transport call fails.
    """

    def __init__(self, endpoint: Endpoint, *, name: str, hint: Callable[[BaseException], str] = no_hint,
                 resync_attempts: int = RESYNC_ATTEMPTS, on_close: Callable[[], None] | None = None,
                 rng: random.Random | None = None):
        self.endpoint = endpoint
        self.name = name
        self.hint = hint
        self.resync_attempts = resync_attempts
        self.dirty = False
        """An exchange did not complete cleanly: the next command resynchronises first."""
        self.resyncs = 0
        """How many times the session resynchronised (for tests and benchmarks)."""
        self._random = rng or random.Random()
        self._marker = 0
        self._on_close = on_close
        self._lock = threading.RLock()

    # -- exchanges ----------------------------------------------------------------------------
    def write(self, command: str) -> None:
        """Send a command that has no reply."""
        with self._lock:
            self._sync()
            self.dirty = True
            self._send(command)
            self.dirty = False

    def query(self, command: str, parse: Callable[[str], T]) -> T:
        """Send ``command`` and return its one reply parsed by ``parse`` (which raises ReplyError)."""
        with self._lock:
            self._sync()
            self.dirty = True  # until the reply is read and makes sense as this query's answer
            self._send(command)
            reply = self._read(command)
            try:
                value = parse(reply)
            except ReplyError as exc:
                raise InstrumentError(f"{self.name}: bad reply to {command!r}: {exc}") from exc
            self.dirty = False
            return value

    def query_block(self, command: str, max_bytes: int = MAX_BLOCK_BYTES) -> bytes:
        """Send ``command`` and return the data of its IEEE 488.2 definite-length block reply."""
        endpoint = self.endpoint
        if not isinstance(endpoint, BinaryEndpoint):
            raise InstrumentError(f"{self.name}: this connection cannot read binary replies ({command!r})")
        with self._lock:
            self._sync()
            self.dirty = True
            self._send(command)
            try:
                raw = _read_counted_block(endpoint, max_bytes) if isinstance(endpoint, CountedEndpoint) \
                    else endpoint.read_raw()
            except ReplyError as exc:
                raise InstrumentError(f"{self.name}: bad reply to {command!r}: {exc}") from exc
            except Exception as exc:
                self.dirty = True
                raise InstrumentError(f"{self.name}: no reply to {command!r}: {exc}{self.hint(exc)}") from exc
            try:
                data = parse_block(raw, max_bytes)
            except ReplyError as exc:
                raise InstrumentError(f"{self.name}: bad reply to {command!r}: {exc}") from exc
            self.dirty = False
            return data

    def opc(self, query: str = "*OPC?", timeout_s: float | None = None) -> None:
        """Wait until the instrument has completed every command sent so far (``*OPC?`` answers 1),
        for at most ``timeout_s`` (default: the connection's timeout)."""
        with self._lock:
            if timeout_s is None:
                self.query(query, parse_opc)
                return
            previous = self.endpoint.timeout
            self.endpoint.timeout = timeout_s * 1000
            try:
                self.query(query, parse_opc)
            finally:
                self.endpoint.timeout = previous

    def error_queue(self, query: str = "SYST:ERR?", max_reads: int = MAX_ERROR_READS) -> list[str]:
        """Read the SCPI error queue until ``0,...``: the entries as ``code,"text"`` (empty: no error)."""
        errors = []
        with self._lock:
            for _ in range(max_reads):
                code, text = self.query(query, parse_scpi_error)
                if code == 0:
                    return errors
                errors.append(f'{code},"{text}"')
        errors.append(f"(error queue still not empty after {max_reads} reads of {query})")
        return errors

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            try:
                self.endpoint.close()
            finally:
                if self._on_close is not None:
                    self._on_close()

    # -- resynchronisation --------------------------------------------------------------------
    def resync(self) -> None:
        """Bring the conversation back in step (see the module docstring); InstrumentError if it cannot."""
        with self._lock:
            # pyvisa-py's "clear" of a raw TCP socket only drains input (the markers below do that
            # too) and spins forever on a socket the instrument has closed: skip it there.
            if not isinstance(self.endpoint, TCPIPSocket):
                try:
                    self.endpoint.clear()
                except Exception:  # noqa: BLE001 - no device clear on this resource: the markers do it all
                    pass
            discarded: list[str] = []
            timeouts = streak = 0
            marker = self._send_marker()
            while True:
                try:
                    reply = self.endpoint.read()
                except Exception:  # noqa: BLE001 - timed out: ask again with a new marker
                    timeouts, streak = timeouts + 1, 0
                    if timeouts >= self.resync_attempts:
                        break
                    marker = self._send_marker()
                    continue
                if parse_marker(reply, marker):
                    streak += 1
                    if streak == MARKERS_IN_A_ROW:
                        self._send("*ESE 0")
                        self.dirty = False
                        self.resyncs += 1
                        return
                    marker = self._send_marker()
                    continue
                streak = 0
                discarded.append(excerpt(reply, 24))
                if len(discarded) >= MAX_STALE_REPLIES:
                    break
            stale = f" ({len(discarded)} stale replies discarded, first {discarded[0]})" if discarded else ""
            raise InstrumentError(
                f"{self.name}: lost step; '*ESE <n>;*ESE?' round trips did not resynchronise after "
                f"{timeouts} timeout(s){stale}; check the instrument is on and idle, then reconnect or "
                "power-cycle it")

    def _send_marker(self) -> int:
        self._marker = self._random.choice([n for n in MARKERS if n != self._marker])
        self._send(f"*CLS;*ESE {self._marker};*ESE?")
        return self._marker

    def _sync(self) -> None:
        if self.dirty:
            self.resync()

    def _send(self, command: str) -> None:
        try:
            self.endpoint.write(command)
        except Exception as exc:  # pyvisa, socket and serial errors all end here
            self.dirty = True
            raise InstrumentError(f"{self.name}: sending {command!r} failed: {exc}{self.hint(exc)}") from exc

    def _read(self, command: str) -> str:
        try:
            return self.endpoint.read()
        except Exception as exc:
            self.dirty = True  # even if a nested exchange (a signal handler's) resynchronised meanwhile
            raise InstrumentError(f"{self.name}: no reply to {command!r}: {exc}{self.hint(exc)}") from exc
