"""EZSP frames from the stick: header split and parameter decoding with bellows' own types.

The journal keeps each frame the stick sent exactly as it came out of ASH; :func:`decode` turns
one into a JSON-able record (the frame's name and its parameters), using the command tables of the
EZSP protocol version the session negotiated. It never raises: an undecodable frame gives a record
with an ``error``.
"""

from __future__ import annotations

import importlib
import struct
from enum import Enum
from functools import lru_cache
from typing import Any

import bellows.types as t
import zigpy.types as zt

SUPPORTED_PROTOCOLS = frozenset(range(4, 20)) - {15}
"""EZSP protocol versions the pinned bellows (1.2.1) has command tables for: the ones this driver accepts."""

ENERGY = "energyScanResultHandler"
NETWORK = "networkFoundHandler"
COMPLETE = "scanCompleteHandler"


def split(frame: bytes) -> tuple[int, int, bool, bytes]:
    """(sequence, frame id, is a callback, parameters) of an NCP->host frame in any format."""
    if len(frame) < 3:
        raise ValueError(f"EZSP frame of {len(frame)} byte(s)")
    seq, control = frame[0], frame[1]
    callback = control & 0x18 != 0
    if len(frame) >= 5 and frame[2] == 0xFF and frame[3] == 0x00:
        return seq, frame[4], callback, frame[5:]
    if len(frame) >= 5 and frame[2] & 0x03 == 0x01:
        return seq, struct.unpack_from("<H", frame, 3)[0], callback, frame[5:]
    return seq, frame[2], callback, frame[3:]


@lru_cache(maxsize=None)
def _by_id(protocol: int) -> dict[int, tuple[str, Any]]:
    module = importlib.import_module(f"bellows.ezsp.v{protocol}.commands")
    return {cmd_id: (name, rx) for name, (cmd_id, _tx, rx) in module.COMMANDS.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, t.EUI64) or isinstance(value, t.ExtendedPanId):
        return bytes(reversed(value.serialize())).hex().upper()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex().upper()
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, zt.Struct):
        return {k: _plain(v) for k, v in value.as_dict().items()}
    return str(value)


def decode(frame: bytes, protocol: int) -> dict[str, Any]:
    """One frame the stick sent, as a record: ``name``, ``callback``, ``seq``, the parameters."""
    try:
        seq, frame_id, callback, params = split(frame)
        table = _by_id(protocol)
    except (ValueError, ModuleNotFoundError) as exc:
        return {"error": str(exc)}
    if frame_id not in table:
        return {"seq": seq, "frame_id": frame_id, "error": f"unknown frame id 0x{frame_id:04X}"}
    name, schema = table[frame_id]
    try:
        if isinstance(schema, dict):
            values, rest = t.deserialize_dict(params, schema)
        else:
            value, rest = schema.deserialize(params)
            values = {"value": value}
    except Exception as exc:  # bellows raises ValueError, KeyError, struct errors...: all mean "not this"
        return {"seq": seq, "name": name, "error": f"{type(exc).__name__}: {exc}"}
    record: dict[str, Any] = {"seq": seq, "name": name, "callback": callback}
    record.update({k: _plain(v) for k, v in values.items()})
    if rest:
        record["trailing"] = bytes(rest).hex().upper()
    return record
