"""The ``bench:`` section of a virtual rig file: how ``hubrig bench serve`` exposes the virtual
devices, and the faults it injects (see docs/rigs.md, "A bench in another process").

Command faults name the SCPI command they hit as the driver sends it (``"*OPC?"``, ``"OUTP OFF"``);
it is compared in canonical short form (``:OUTPut:STATe OFF`` matches ``OUTP OFF``), and a
program message is hit when any of its ``;``-separated commands starts with it. ``skip`` lets that
many matching messages pass first; ``times`` is how many are then hit (0: every later one);
``after`` narrows it to messages that follow a given one on the same connection.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CommandFault(_Strict):
    """Which SCPI messages a fault hits."""

    command: str = Field(min_length=1, max_length=200, description='e.g. "*OPC?", "OUTP OFF"')
    after: str | None = Field(default=None, min_length=1, max_length=200,
                              description='only right after this message, e.g. the cut\'s *OPC?: after "OUTP OFF"')
    skip: int = Field(default=0, ge=0, le=1_000_000)
    times: int = Field(default=1, ge=0, le=1_000_000, description="0: every matching message after skip")


class LateReply(CommandFault):
    """Answer the hit message ``delay_s`` late (the reply is right, only late)."""

    delay_s: float = Field(gt=0, le=3600, allow_inf_nan=False)


class DroppedSocket(CommandFault):
    """Drop the connection on the hit message, without a reply; ``execute``: carry it out first.
    ``how``: ``reset`` (TCP RST, as from an instrument that rebooted or lost power) or ``close``
    (an orderly FIN, as when an instrument ends the session itself)."""

    execute: bool = False
    how: Literal["reset", "close"] = "reset"


class GarbageReply(CommandFault):
    """Replace the hit message's reply with bytes that are no SCPI reply."""


class Storm(_Strict):
    """A burst of GFI frames on the ITCH link (undecodable payloads, each numbered in the log)."""

    after_s: float = Field(default=0.0, ge=0, le=86_400, allow_inf_nan=False,
                           description="after the ITCH link is first connected")
    frames_per_s: float = Field(gt=0, le=1_000_000, allow_inf_nan=False)
    seconds: float = Field(gt=0, le=86_400, allow_inf_nan=False)
    payload_bytes: int = Field(default=32, ge=8, le=4096)


class HanFault(_Strict):
    """A fault of the served HAN stick in the middle of the ``scan``-th scan a host starts (counted
    from 1 across connections, so a fault hits once), half-way through the channel after the first
    ``after_channels`` (what those channels reported has reached the host): ``reset``, the NCP resets
    by itself (watchdog, RSTACK; the rest of the scan is lost); ``drop``, the port goes away (TCP:
    the connection is reset; pty: the port vanishes and comes back ``down_s`` later, same name)."""

    kind: Literal["reset", "drop"]
    scan: int = Field(ge=1, le=1_000_000)
    after_channels: int = Field(default=0, ge=0, le=15, description="channels of the scan that finish first")
    down_s: float = Field(default=1.0, ge=0, le=600, allow_inf_nan=False, description="drop on a pty only")


class BenchServe(_Strict):
    """How ``hubrig bench serve`` serves a virtual rig, and what it breaks on purpose."""

    host: str = Field(default="127.0.0.1", description="a loopback address: the bench is for this host")
    supply_port: int = Field(default=0, ge=0, le=65535, description="0: any free port")
    itch: Literal["tcp", "pty"] = "tcp"
    itch_port: int = Field(default=0, ge=0, le=65535, description="tcp only; 0: any free port")
    late_replies: list[LateReply] = Field(default_factory=list, max_length=64)
    dropped_sockets: list[DroppedSocket] = Field(default_factory=list, max_length=64)
    garbage_replies: list[GarbageReply] = Field(default_factory=list, max_length=64)
    ignore_output_off: bool = Field(default=False, description="acknowledge OUTP OFF but keep the output live")
    storm: Storm | None = None
    han: Literal["tcp", "pty"] = Field(default="tcp", description="where the HAN stick is served (if the rig has one)")
    han_port: int = Field(default=0, ge=0, le=65535, description="tcp only; 0: any free port")
    han_faults: list[HanFault] = Field(default_factory=list, max_length=64)

    @field_validator("han_faults")
    @classmethod
    def _one_fault_a_scan(cls, v: list[HanFault]) -> list[HanFault]:
        scans = [fault.scan for fault in v]
        twice = sorted({scan for scan in scans if scans.count(scan) > 1})
        if twice:
            raise ValueError(f"one fault a scan: scan {twice[0]} has {scans.count(twice[0])}")
        return v

    @field_validator("host")
    @classmethod
    def _loopback(cls, v: str) -> str:
        try:
            loopback = ipaddress.ip_address(v).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"expected a loopback address such as 127.0.0.1, got {v!r}")
        return v
