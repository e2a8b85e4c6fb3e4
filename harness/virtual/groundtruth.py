"""Ground truth: what the virtual devices really did, and when, independent of the harness.

The virtual devices record every frame at the instant they hand it to the wired link, every
internal event (an ESME event-log entry, a rejected command), every frame a defect dropped, and
the true mains cut and restore instants. The harness's own tests compare what the harness
measured (journal, events, measurements) against this record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Optional

Kind = Literal["poa", "pra", "alert", "response", "event"]


@dataclass(frozen=True)
class Emission:
    """One thing a virtual device emitted.

    ``t_ns``: the rig instant the device handed the whole frame to the link (for ``event``: the
    instant it happened inside the device, nothing is on the link). ``payload_hex``: the GBCS
    message (``alert``/``response``) or the notification line without its line ending (``poa``, and
``pra`` for a CH-originated restoration notification).
    """

    t_ns: int
    device: str
    kind: Kind
    alert_code: Optional[int]
    payload_hex: str
    detail: str = ""


@dataclass(frozen=True)
class Outage:
    """A true mains interruption; ``restore_ns`` is None while it lasts."""

    cut_ns: int
    restore_ns: Optional[int]

    @property
    def duration_ns(self) -> Optional[int]:
        return None if self.restore_ns is None else self.restore_ns - self.cut_ns


class GroundTruth:
    """The append-only record; queried by tests, never by the harness under test."""

    def __init__(self) -> None:
        self.emissions: list[Emission] = []
        self.dropped: list[Emission] = []
        self._mains: list[tuple[int, bool]] = []
        self.listeners: list[Callable[[Emission], None]] = []
        """Told of every emission as it is recorded (``hubrig bench serve`` writes them to its log)."""

    def record(self, emission: Emission) -> None:
        self.emissions.append(emission)
        for listener in self.listeners:
            listener(emission)

    def record_dropped(self, emission: Emission) -> None:
        """A frame the device meant to send but a defect (``drop_ratio``) lost on the link."""
        self.dropped.append(emission)

    def mains(self, on: bool, t_ns: int) -> None:
        """Record a true mains change (repeats of the current state are ignored)."""
        if not self._mains and on:
            return
        if self._mains and self._mains[-1][1] == on:
            return
        self._mains.append((t_ns, on))

    def outages(self) -> list[Outage]:
        """Every true interruption, in order."""
        found: list[Outage] = []
        for t_ns, on in self._mains:
            if not on:
                found.append(Outage(t_ns, None))
            else:
                found[-1] = Outage(found[-1].cut_ns, t_ns)
        return found

    def select(self, kind: Optional[Kind] = None, *, alert_code: Optional[int] = None,
               device: Optional[str] = None, since_ns: int = 0,
               until_ns: Optional[int] = None) -> list[Emission]:
        """Emissions filtered by kind, alert code, device and a half-open time range."""
        return list(self._select(kind, alert_code, device, since_ns, until_ns))

    def _select(self, kind, alert_code, device, since_ns, until_ns) -> Iterator[Emission]:
        for e in self.emissions:
            if kind is not None and e.kind != kind:
                continue
            if alert_code is not None and e.alert_code != alert_code:
                continue
            if device is not None and e.device != device:
                continue
            if e.t_ns < since_ns or (until_ns is not None and e.t_ns >= until_ns):
                continue
            yield e

    def on_link(self) -> list[Emission]:
        """Everything that went onto the wired link, in order (POAs, alerts, responses)."""
        return [e for e in self.emissions if e.kind != "event"]
