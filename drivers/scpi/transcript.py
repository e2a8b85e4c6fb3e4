"""Transcripts: expected command/response exchanges with an instrument, replayed in tests.

A transcript file (``tests/transcripts/<dialect>.txt``) cites the manual it was taken from and
lists steps; each step is a driver call followed by the exact exchanges it must cause::

    # Source: <manual, section>
    % dialect=keysight-ac6800 voltage=230 current_limit=2 max_voltage=253 max_current=5
    @ identify => Keysight Technologies,AC6801B,MY00000001,A.01.00
    > *IDN?
    < Keysight Technologies,AC6801B,MY00000001,A.01.00

``>`` is what the driver must send, ``<`` the instrument's reply (a ``>`` followed by ``<`` is a
query), ``=> x`` the call's expected result and ``!! Name: text`` an expected exception.
``> [device clear]`` is a device clear (``viClear``). In a command, ``{n}`` matches any number and
binds it; ``{n}`` in the following reply is that number (the resynchronisation marker is random).
:class:`TranscriptEndpoint` stands in for the pyvisa resource and fails on the first difference.
A lab adding a dialect writes one of these from its instrument's manual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEVICE_CLEAR = "[device clear]"


class TranscriptMismatch(AssertionError):
    """The driver sent something other than the transcript expects."""


@dataclass
class Exchange:
    command: str
    reply: str | None
    line: int


@dataclass
class Step:
    action: str
    args: list[str]
    expect: str | None
    raises: str | None
    line: int
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass
class Transcript:
    path: Path
    settings: dict[str, str]
    steps: list[Step]


def load_transcript(path: str | Path) -> Transcript:
    """Parse a transcript file; a malformed line raises ``ValueError`` naming file and line."""
    path = Path(path)
    settings: dict[str, str] = {}
    steps: list[Step] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        tag, _, rest = line.partition(" ")
        if tag == "%":
            for item in rest.split():
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"{path}:{number}: expected key=value, got {item!r}")
                settings[key] = value
        elif tag == "@":
            call, _, raises = rest.partition(" !! ")
            call, _, expect = call.partition(" => ")
            action, *args = call.split()
            steps.append(Step(action, args, expect or None, raises or None, number))
        elif tag in (">", "<"):
            if not steps:
                raise ValueError(f"{path}:{number}: exchange before the first '@' step")
            exchanges = steps[-1].exchanges
            if tag == ">":
                exchanges.append(Exchange(rest, None, number))
            elif not exchanges or exchanges[-1].reply is not None:
                raise ValueError(f"{path}:{number}: a reply '<' must follow a command '>'")
            else:
                exchanges[-1].reply = rest
        else:
            raise ValueError(f"{path}:{number}: unknown line tag {tag!r} (use #, %, @, >, <)")
    return Transcript(path, settings, steps)


class TranscriptEndpoint:
    """A pyvisa-like resource that accepts exactly the transcript's exchanges, in order."""

    def __init__(self, exchanges: list[Exchange], where: str = "transcript"):
        self._pending = list(exchanges)
        self._where = where
        self._reply: str | None = None
        self._n: str | None = None
        self.timeout: float | None = 5000.0
        self.closed = False

    def _next(self, command: str) -> Exchange:
        if self._reply is not None:
            raise TranscriptMismatch(f"{self._where}: driver sent {command!r} before reading the reply "
                                     f"{self._reply!r}")
        if not self._pending:
            raise TranscriptMismatch(f"{self._where}: driver sent {command!r}, transcript expects nothing more")
        exchange = self._pending.pop(0)
        pattern = re.escape(exchange.command).replace(re.escape("{n}"), r"(?P<n>\d+)")
        found = re.fullmatch(pattern, command)
        if not found:
            kind = "query" if exchange.reply is not None else "write"
            raise TranscriptMismatch(f"{self._where}:{exchange.line}: expected {kind} {exchange.command!r}, "
                                     f"driver sent {command!r}")
        self._n = found.groupdict().get("n") or self._n
        return exchange

    def write(self, command: str) -> int:
        exchange = self._next(command)
        if exchange.reply is not None:
            self._reply = exchange.reply.replace("{n}", self._n or "{n}")
        return len(command)

    def read(self) -> str:
        if self._reply is None:
            raise TranscriptMismatch(f"{self._where}: driver read a reply the transcript does not have")
        reply, self._reply = self._reply, None
        return reply

    def clear(self) -> None:
        self._reply = None
        self._next(DEVICE_CLEAR)

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        """Every expected exchange happened."""
        if self._pending:
            first = self._pending[0]
            raise TranscriptMismatch(f"{self._where}:{first.line}: driver never sent {first.command!r} "
                                     f"({len(self._pending)} exchange(s) left)")
