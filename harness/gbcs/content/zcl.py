"""ZCL payloads of GBZ components: attribute records named by cluster, command fields by layout.

``decode(cluster_id, frame_control, command_id, payload)`` returns a JSON-ready dict added beside a
component's ``payload`` hex (which stays, so building the component again gives the same bytes):

* global (profile-wide) commands: Read Attributes (ids), Read Attributes Response (id, status,
  type, value), Write Attributes, Write Attributes Response, Report Attributes, Default Response;
* cluster commands with a layout in ``data/zcl.json``: the named fields, a repeated group (to the
  end, or as many times as a count field says) where the command has one, trailing optional
  fields when bytes remain, and any bytes left over as ``rest`` hex.

Attribute values are typed by the ZCL data-type table (ZCL specification, chapter 2.6; the same ids
zigpy's ``zigpy.zcl.foundation.DataTypeId`` uses). A type whose size this module does not know
(arrays, structures, sets) stops the walk: the record keeps ``raw`` hex of everything from there on.
Malformed payloads raise only :class:`GbcsError`; :func:`encode_records` is the inverse for the
attribute-record commands, so ``decode(..., encode_records(cmd, records))`` gives the records back.
"""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path

from hubrig.harness.gbcs.errors import GbcsError

DATA = Path(__file__).resolve().parent.parent / "data" / "zcl.json"
EPOCH_2000 = 946684800
GLOBAL_COMMANDS = {0x00: "Read Attributes", 0x01: "Read Attributes Response", 0x02: "Write Attributes",
                   0x04: "Write Attributes Response", 0x0A: "Report Attributes", 0x0B: "Default Response"}
STATUS = {0x00: "SUCCESS", 0x01: "FAILURE", 0x7E: "NOT_AUTHORIZED", 0x80: "MALFORMED_COMMAND",
          0x81: "UNSUP_CLUSTER_COMMAND", 0x82: "UNSUP_GENERAL_COMMAND", 0x85: "INVALID_FIELD",
          0x86: "UNSUPPORTED_ATTRIBUTE", 0x87: "INVALID_VALUE", 0x88: "READ_ONLY",
          0x89: "INSUFFICIENT_SPACE", 0x8A: "DUPLICATE_EXISTS", 0x8B: "NOT_FOUND",
          0x8C: "UNREPORTABLE_ATTRIBUTE", 0x8D: "INVALID_DATA_TYPE", 0x91: "NOTIFICATION_PENDING",
          0xC0: "HARDWARE_FAILURE", 0xC1: "SOFTWARE_FAILURE", 0xC2: "CALIBRATION_ERROR", 0xC3: "UNSUPPORTED_CLUSTER"}
"""ZCL status codes (ZCL specification table 2-12)."""

# type id -> (name, size, kind); kind: u unsigned, s signed, x hex, b bool, f float, t utc, e eui
_TYPES: dict[int, tuple[str, int, str]] = {0x10: ("bool", 1, "b"), 0x30: ("enum8", 1, "u"), 0x31: ("enum16", 2, "u"),
                                           0x38: ("semi", 2, "x"), 0x39: ("single", 4, "f"), 0x3A: ("double", 8, "f"),
                                           0xE0: ("ToD", 4, "x"), 0xE1: ("date", 4, "x"), 0xE2: ("UTC", 4, "t"),
                                           0xE8: ("clusterId", 2, "u"), 0xE9: ("attribId", 2, "u"),
                                           0xEA: ("bacOID", 4, "u"), 0xF0: ("EUI64", 8, "e"), 0xF1: ("key128", 16, "x")}
for _n in range(1, 9):
    _TYPES[0x07 + _n] = (f"data{8 * _n}", _n, "x")
    _TYPES[0x17 + _n] = (f"map{8 * _n}", _n, "u")
    _TYPES[0x1F + _n] = (f"uint{8 * _n}", _n, "u")
    _TYPES[0x27 + _n] = (f"int{8 * _n}", _n, "s")
_STRINGS = {0x41: ("octstr", 1), 0x42: ("string", 1), 0x43: ("octstr16", 2), 0x44: ("string16", 2)}
TYPE_NAMES = {tid: spec[0] for tid, spec in _TYPES.items()} | {tid: s[0] for tid, s in _STRINGS.items()}
_TYPE_IDS = {name: tid for tid, name in TYPE_NAMES.items()}
_FIELD_SIZES = {"u8": 1, "u16": 2, "u24": 3, "u32": 4, "u48": 6, "s32": 4, "bitmap8": 1, "bitmap16": 2,
                "bitmap32": 4, "enum8": 1, "utc": 4, "date": 4}


@cache
def _clusters() -> dict[str, dict]:
    return json.loads(DATA.read_text(encoding="utf-8"))["clusters"]


def cluster_name(cluster_id: str) -> str | None:
    """'0702' -> 'Metering' (None for a cluster the table lacks)."""
    cluster = _clusters().get(cluster_id)
    return cluster["name"] if cluster else None


def _utc(seconds: int) -> str | int:
    if seconds in (0, 0xFFFFFFFF):
        return seconds
    from datetime import UTC, datetime  # noqa: PLC0415 - only when a UTC value is met
    return datetime.fromtimestamp(EPOCH_2000 + seconds, UTC).isoformat()


def _need(buf: bytes, pos: int, size: int, what: str) -> int:
    stop = pos + size
    if stop > len(buf):
        raise GbcsError(f"ZCL {what} truncated: needs {size} bytes, {len(buf) - pos} left", pos)
    return stop


def read_value(buf: bytes, pos: int, type_id: int) -> tuple[object, int] | None:
    """One ZCL value of ``type_id`` at ``pos``: (value, position after it), or None if the type's
    size is unknown here (the caller keeps the rest as raw bytes)."""
    spec = _TYPES.get(type_id)
    if spec is not None:
        _, size, kind = spec
        stop = _need(buf, pos, size, TYPE_NAMES[type_id])
        raw = buf[pos:stop]
        if kind == "u":
            return int.from_bytes(raw, "little"), stop
        if kind == "s":
            return int.from_bytes(raw, "little", signed=True), stop
        if kind == "t":
            return _utc(int.from_bytes(raw, "little")), stop
        if kind == "b":
            return (raw[0] == 1 if raw[0] in (0, 1) else raw[0]), stop
        if kind == "e":
            return raw[::-1].hex().upper(), stop
        if kind == "f":
            value = struct.unpack("<f" if size == 4 else "<d", raw)[0]
            return (value if value == value and abs(value) != float("inf") else raw.hex().upper()), stop
        return raw.hex().upper(), stop
    string = _STRINGS.get(type_id)
    if string is None:
        return None
    name, width = string
    start = _need(buf, pos, width, f"{name} length")
    size = int.from_bytes(buf[pos:start], "little")
    if size == (1 << (8 * width)) - 1:  # the invalid-value marker: no characters follow
        return {"invalid": True}, start
    stop = _need(buf, start, size, name)
    raw = buf[start:stop]
    return (raw.decode("latin-1") if name.startswith("string") else raw.hex().upper()), stop


def write_value(type_id: int, value: object) -> bytes:
    """Inverse of :func:`read_value`."""
    try:
        spec = _TYPES.get(type_id)
        if spec is not None:
            _, size, kind = spec
            if kind in ("u", "s"):
                return int(value).to_bytes(size, "little", signed=kind == "s")  # type: ignore[call-overload]
            if kind == "t":
                if isinstance(value, int):
                    return value.to_bytes(4, "little")
                from datetime import datetime  # noqa: PLC0415
                return (int(datetime.fromisoformat(str(value)).timestamp()) - EPOCH_2000).to_bytes(4, "little")
            if kind == "b":
                return bytes((int(value),))  # type: ignore[call-overload]
            if kind == "e":
                raw = bytes.fromhex(str(value))[::-1]
            elif kind == "f" and not isinstance(value, str):
                raw = struct.pack("<f" if size == 4 else "<d", value)
            else:
                raw = bytes.fromhex(str(value))
            if len(raw) != size:
                raise ValueError(f"needs {size} bytes")
            return raw
        name, width = _STRINGS[type_id]
        if value == {"invalid": True}:
            return b"\xff" * width
        raw = str(value).encode("latin-1") if name.startswith("string") else bytes.fromhex(str(value))
        return len(raw).to_bytes(width, "little") + raw
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise GbcsError(f"cannot encode ZCL type 0x{type_id:02X} value {value!r}: {exc}") from exc


def _attr(cluster: dict | None, attr_id: int) -> dict:
    out: dict = {"id": f"{attr_id:04X}"}
    name = cluster["attributes"].get(f"{attr_id:04X}") if cluster else None
    if name:
        out["name"] = name
    return out


def _typed(buf: bytes, pos: int, record: dict, records: list) -> tuple[int, bool]:
    """Read type + value into ``record``; returns (position, walk can go on)."""
    pos_after_type = _need(buf, pos, 1, "attribute data type")
    type_id = buf[pos]
    record["type"] = TYPE_NAMES.get(type_id, f"0x{type_id:02X}")
    got = read_value(buf, pos_after_type, type_id)
    records.append(record)
    if got is None:
        record["raw"] = buf[pos_after_type:].hex().upper()
        return len(buf), False
    record["value"], pos = got
    return pos, True


def _global(cluster: dict | None, command_id: int, buf: bytes) -> dict:
    records: list[dict] = []
    pos, end = 0, len(buf)
    if command_id == 0x0B:
        _need(buf, 0, 2, "default response")
        return {"command": GLOBAL_COMMANDS[0x0B], "command_id": buf[0],
                "status": STATUS.get(buf[1], buf[1]), **({"rest": buf[2:].hex().upper()} if end > 2 else {})}
    while pos < end:
        if command_id == 0x04:
            status = buf[pos]
            pos += 1
            record: dict = {"status": STATUS.get(status, status)}
            if status:
                pos = _need(buf, pos, 2, "attribute id")
                record.update(_attr(cluster, int.from_bytes(buf[pos - 2:pos], "little")))
            records.append(record)
            continue
        pos = _need(buf, pos, 2, "attribute id")
        record = _attr(cluster, int.from_bytes(buf[pos - 2:pos], "little"))
        if command_id == 0x00:
            records.append(record)
            continue
        if command_id == 0x01:
            pos = _need(buf, pos, 1, "attribute status")
            status = buf[pos - 1]
            record["status"] = STATUS.get(status, status)
            if status:
                records.append(record)
                continue
        pos, more = _typed(buf, pos, record, records)
        if not more:
            break
    return {"command": GLOBAL_COMMANDS[command_id], "records": records}


_STRUCT_CODES = {"u8": "B", "u16": "H", "u32": "I", "s32": "i", "bitmap8": "B", "bitmap16": "H",
                 "bitmap32": "I", "enum8": "B", "utc": "I"}
Step = tuple  # ("run", Struct, ((name, kind), ...)) or ("octstr", name)


def _compile(layout: list) -> tuple[Step, ...]:
    """A layout as steps: each run of fixed-size fields becomes one ``struct`` unpack."""
    steps: list[Step] = []
    run: list[tuple[str, str]] = []
    codes = ""

    def close() -> None:
        nonlocal run, codes
        if run:
            steps.append(("run", struct.Struct("<" + codes), tuple(run)))
        run, codes = [], ""
    for name, kind in layout:
        if kind == "octstr":
            close()
            steps.append(("octstr", name))
            continue
        size = int(kind[4:]) if kind.startswith("hex:") else _FIELD_SIZES[kind]
        codes += _STRUCT_CODES.get(kind, f"{size}s")
        run.append((name, kind))
    close()
    return tuple(steps)


@cache
def _steps(cluster_id: str, direction: str, command_id: str, part: str) -> tuple[Step, ...]:
    return _compile(_clusters()[cluster_id]["commands"][direction][command_id][part])


def _fields(steps: tuple[Step, ...], buf: bytes, pos: int, out: dict) -> int:
    for step in steps:
        if step[0] == "octstr":
            name = step[1]
            pos = _need(buf, pos, 1, name)
            stop = _need(buf, pos, buf[pos - 1], name)
            out[name] = buf[pos:stop].hex().upper()
            pos = stop
            continue
        _, unpacker, names = step
        _need(buf, pos, unpacker.size, names[0][0] if len(names) == 1 else f"{names[0][0]}..{names[-1][0]}")
        for (name, kind), value in zip(names, unpacker.unpack_from(buf, pos)):
            if kind == "utc":
                value = _utc(value)
            elif kind == "u24" or kind == "u48":
                value = int.from_bytes(value, "little")
            elif kind == "date" or kind.startswith("hex:"):
                value = value.hex().upper()
            out[name] = value
        pos += unpacker.size
    return pos


def decode(cluster_id: str, frame_control: int, command_id: int, payload: bytes) -> dict | None:
    """The named view of one ZCL payload, or None when neither a global command nor a known layout."""
    cluster = _clusters().get(cluster_id)
    frame_type = frame_control & 0x03
    if frame_type == 0:
        if command_id not in GLOBAL_COMMANDS:
            return None
        return _global(cluster, command_id, payload)
    if frame_type != 1 or cluster is None:
        return None
    direction = "8" if frame_control & 0x08 else "0"
    command = cluster["commands"].get(direction, {}).get(str(command_id))
    if command is None:
        return None
    out: dict = {"command": command["name"]}
    if "fields" not in command:
        return out
    key = (cluster_id, direction, str(command_id))
    fields: dict = {}
    pos = _fields(_steps(*key, "fields"), payload, 0, fields)
    if "repeat" in command:
        repeat = _steps(*key, "repeat")
        entries = []
        count = fields.get(command["count"]) if "count" in command else None
        while pos < len(payload) if count is None else len(entries) < count:
            entry: dict = {}
            pos = _fields(repeat, payload, pos, entry)
            entries.append(entry)
        fields["entries"] = entries
    if "tail" in command and pos < len(payload):
        pos = _fields(_steps(*key, "tail"), payload, pos, fields)
    out["fields"] = fields
    if pos < len(payload):
        out["rest"] = payload[pos:].hex().upper()
    return out


def encode_records(command_id: int, records: list[dict]) -> bytes:
    """ZCL payload of a global attribute-record command from its records (inverse of the decode)."""
    out = bytearray()
    try:
        for record in records:
            if command_id == 0x04:
                status = _status_code(record["status"])
                out.append(status)
                if status:
                    out += int(record["id"], 16).to_bytes(2, "little")
                continue
            out += int(record["id"], 16).to_bytes(2, "little")
            if command_id == 0x00:
                continue
            if command_id == 0x01:
                status = _status_code(record["status"])
                out.append(status)
                if status:
                    continue
            type_id = _TYPE_IDS.get(record["type"]) if not record["type"].startswith("0x") \
                else int(record["type"], 16)
            if type_id is None:
                raise GbcsError(f"unknown ZCL type {record['type']!r}")
            out.append(type_id)
            out += bytes.fromhex(record["raw"]) if "raw" in record else write_value(type_id, record["value"])
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise GbcsError(f"cannot build ZCL records: {exc!r}") from exc
    return bytes(out)


def _status_code(status: int | str) -> int:
    if isinstance(status, int):
        return status
    for code, name in STATUS.items():
        if name == status:
            return code
    raise GbcsError(f"unknown ZCL status {status!r}")
