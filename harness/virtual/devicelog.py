"""The CHF device log and historic device log of the virtual Comms Hub (SR8.9, SR8.11, CRP535).

Pure state, no bytes: :class:`ChfDeviceLog` is what CCS01 (add), CCS02 (remove), CCS06 (read the
active devices) and CCS07 (backup_PAN of the device log 0-0:30.3.0.255 and of the historic device
log 0-0:30.3.1.255) act on; the Comms Hub behaviour wires it to GBCS messages.

Rules modelled (domain brief, from the public DUIS/GBCS tables and CRP535):

* the device log holds at most 16 devices (CCS06's ``active_devices`` array bound);
* a removed device whose Trust Centre link key was established moves to the historic log (never a
  GPF: CCS01 cannot register one, so it never enters this log); the historic log keeps at most
  15 entries and overwrites the oldest;
* re-adding an EUI that is in the historic log restores it: the old key is accepted for the first
  half of ``join_timeout``, and the entry leaves the historic log (a device is in one log at most:
  an inference from "restore", which CRP535's text as shipped here does not spell out);
* every change to the device log raises CS14 alert 0x8F12 (CHF Device Log Changed).

The hashed link key in a backup is a 16-byte digest of the key; the real CH's hash is not public,
so the virtual CH uses SHA-256 truncated to 16 bytes: plans compare hashes with each other, never
with a value computed on the PC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from hubrig.harness.rig.commands import CCS01, CCS02, CCS06, CCS07, DEVICE_LOG_CHANGED
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders
from hubrig.harness.virtual.commshub import command_fields

DEVICE_LOG_CAPACITY = 16
HISTORIC_LOG_CAPACITY = 15
DEVICE_LOG_OBIS = "0-0:30.3.0.255"
HISTORIC_LOG_OBIS = "0-0:30.3.1.255"
DEVICE_TYPES = {0: "ESME", 1: "GSME", 13: "HCALCS", 128: "IHD", 130: "CAD", 132: "PPMID"}
STATUS_AUTHORISED, STATUS_REPORTING, STATUS_SEP_TRANSMITTING = 0x80, 0x40, 0x08
"""CCS06 ``status`` bits, first bit first (IEC 62056-6-2 class 104 active_devices status, as in
Gurux's public ``DLMS_ZIG_BEE_STATUS``): 0 authorised on PAN, 1 actively reporting, 2 unauthorised
but has reported, 3 authorised after swap-out, 4 SEP transmitting."""
STATUS_JOINED = STATUS_AUTHORISED | STATUS_REPORTING | STATUS_SEP_TRANSMITTING
"""A joined device as the RTDS 4.5.0 CCS06 response shows both of its devices: ``11001000``."""

Which = Literal["active", "historic"]


class DeviceLogDefects(BaseModel):
    """Defect switches of the virtual CHF device log (each plan must fail on each one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    historic_log_not_kept: bool = Field(False, description="removed devices are dropped, not kept")
    oldest_not_overwritten: bool = Field(False, description="a full historic log refuses new entries")
    no_8F12: bool = Field(False, description="device log changes raise no CS14 0x8F12 alert")


class DeviceLogRefused(Exception):
    """The CHF refuses the change; the message says why (sent back as a DLMS error result)."""


def hash_link_key(eui: str, key: bytes) -> bytes:
    """The virtual CH's hashed TC link key (see the module note): 16 bytes."""
    return hashlib.sha256(b"tclk" + bytes.fromhex(eui) + key).digest()[:16]


def install_code_key(eui: str, install_code: bytes) -> bytes:
    """The virtual HAN's link key from an install code (stands in for ZigBee's MMO hash)."""
    return hashlib.sha256(b"ic" + bytes.fromhex(eui) + install_code).digest()[:16]


@dataclass
class LinkStats:
    """The radio statistics CCS06 reports for one device (filled in as the device talks)."""

    rssi: tuple[int, int, int] = (0, 0, 0)  # max, avg, min (dBm)
    lqi: tuple[int, int, int] = (0, 0, 0)  # max, avg, min
    last_communication: datetime | None = None
    hops: int = 0
    tx_failures: int = 0
    tx_successes: int = 0


@dataclass
class DeviceEntry:
    """One device in the active device log."""

    eui: str
    device_type: int  # GBCS device type: 0 ESME, 1 GSME, 13 HCALCS, 128 IHD, 130 CAD, 132 PPMID
    install_code: bytes
    join_timeout_s: int
    registered_at: datetime
    link_key: bytes | None = None
    restored_key: bytes | None = None  # the old key a restored device may still use
    stats: LinkStats = field(default_factory=LinkStats)
    app_version: int = 1
    stack_version: int = 1

    @property
    def joined(self) -> bool:
        return self.link_key is not None

    @property
    def status(self) -> int:
        return STATUS_JOINED if self.joined else 0

    @property
    def hashed_link_key(self) -> bytes:
        """16 bytes once the TC link key is established, else empty (as in CCS07)."""
        return hash_link_key(self.eui, self.link_key) if self.link_key else b""


@dataclass(frozen=True)
class HistoricEntry:
    """A removed device kept so it can be restored."""

    eui: str
    device_type: int
    link_key: bytes
    removed_at: datetime

    @property
    def hashed_link_key(self) -> bytes:
        return hash_link_key(self.eui, self.link_key)


@dataclass(frozen=True)
class Backup:
    """What backup_PAN (CCS07) and the 0x8F12 alert carry for one log."""

    date_time: datetime
    extended_pan_id: bytes
    devices: tuple[tuple[str, bytes], ...]  # (EUI, hashed TC link key or b"")


class ChfDeviceLog:
    """The CHF's active and historic device logs, with the defect switches applied."""

    def __init__(self, now: Callable[[], datetime], extended_pan_id: bytes,
                 defects: DeviceLogDefects | None = None):
        self.now = now
        self.extended_pan_id = extended_pan_id
        self.defects = defects or DeviceLogDefects()
        self.active: list[DeviceEntry] = []
        self.historic: list[HistoricEntry] = []  # oldest first

    def find(self, eui: str) -> DeviceEntry | None:
        eui = eui.upper()
        return next((d for d in self.active if d.eui == eui), None)

    def in_historic(self, eui: str) -> HistoricEntry | None:
        eui = eui.upper()
        return next((h for h in self.historic if h.eui == eui), None)

    def add(self, eui: str, install_code: bytes, device_type: int, join_timeout_s: int) -> DeviceEntry:
        """CCS01 register_device; restores the device's old key if it is in the historic log."""
        eui = eui.upper()
        if device_type not in DEVICE_TYPES:
            raise DeviceLogRefused(f"device type {device_type} is not one CCS01 may register")
        if self.find(eui):
            raise DeviceLogRefused(f"{eui} is already in the device log")
        if len(self.active) >= DEVICE_LOG_CAPACITY:
            raise DeviceLogRefused(f"the device log is full ({DEVICE_LOG_CAPACITY} devices)")
        entry = DeviceEntry(eui, device_type, install_code, join_timeout_s, self.now())
        old = self.in_historic(eui)
        if old is not None:
            self.historic.remove(old)
            entry.restored_key = old.link_key
        self.active.append(entry)
        return entry

    def join(self, eui: str, elapsed_s: float) -> DeviceEntry:
        """The device joins ``elapsed_s`` after it was added: with its old key if it was restored
        and it is within the first half of ``join_timeout``, else with its install code key."""
        entry = self.find(eui)
        if entry is None:
            raise DeviceLogRefused(f"{eui} is not in the device log")
        if elapsed_s > entry.join_timeout_s:
            raise DeviceLogRefused(f"{entry.eui} joined after its join timeout ({entry.join_timeout_s} s)")
        if entry.restored_key is not None and elapsed_s <= entry.join_timeout_s / 2:
            entry.link_key = entry.restored_key
        else:
            entry.link_key = install_code_key(entry.eui, entry.install_code)
        entry.restored_key = None
        entry.stats = LinkStats(rssi=(-48, -55, -63), lqi=(255, 212, 180), last_communication=self.now(),
                                hops=1, tx_failures=0, tx_successes=entry.stats.tx_successes + 1)
        return entry

    def remove(self, eui: str) -> DeviceEntry:
        """CCS02 unregister_device; a joined device moves to the historic log."""
        entry = self.find(eui)
        if entry is None:
            raise DeviceLogRefused(f"{eui.upper()} is not in the device log")
        self.active.remove(entry)
        if entry.link_key is not None and not self.defects.historic_log_not_kept:
            self._keep(HistoricEntry(entry.eui, entry.device_type, entry.link_key, self.now()))
        return entry

    def _keep(self, entry: HistoricEntry) -> None:
        if len(self.historic) >= HISTORIC_LOG_CAPACITY:
            if self.defects.oldest_not_overwritten:
                return
            del self.historic[: len(self.historic) - HISTORIC_LOG_CAPACITY + 1]
        self.historic.append(entry)

    def backup(self, which: Which) -> Backup:
        """backup_PAN of the active (0-0:30.3.0.255) or historic (0-0:30.3.1.255) log."""
        rows = self.active if which == "active" else self.historic
        return Backup(self.now(), self.extended_pan_id,
                      tuple((d.eui, d.hashed_link_key) for d in rows))

    def raises_change_alert(self) -> bool:
        """Whether a change raises CS14 0x8F12 (not with the ``no_8F12`` defect)."""
        return not self.defects.no_8F12


# ---------------------------------------------------------------------- the virtual CH behaviour

JOIN_DELAY_S = 5.0
"""How long after CCS01 a device on the virtual HAN joins (every registered EUI joins)."""
COMMISSIONED_INSTALL_CODE = bytes(16)
"""The ESME's install code in the commissioned device log when the rig file gives none."""
CS14 = 0x0018


def defects_from(source: object) -> DeviceLogDefects:
    """This module's defect switches, read by name from the rig file's ``virtual.defects``."""
    return DeviceLogDefects(**{k: bool(getattr(source, k, False)) for k in DeviceLogDefects.model_fields})


class DeviceLogBehaviour:
    """Wires a :class:`ChfDeviceLog` to the virtual CH's CCS01/02/06/07 hooks and CS14 alerts.

    The bench starts commissioned: its ESME is in the device log (with ``esme_install_code``) and
    joined.
    """

    def __init__(self, bench, defects: DeviceLogDefects, esme_install_code: bytes):
        self.ch = bench.ch
        self.scheduler = bench.scheduler
        self.log = ChfDeviceLog(lambda: self.scheduler.wall(), bytes.fromhex(self.ch.eui)[::-1], defects)
        self.log.add(bench.esme.eui, esme_install_code, 0, 3600)
        self.log.join(bench.esme.eui, 0)
        self._counter = int(self.scheduler.wall().timestamp() * 1000)
        self.ch.handlers.update({CCS01: self.ccs01, CCS02: self.ccs02, CCS06: self.ccs06, CCS07: self.ccs07})

    def _respond(self, message, content: bytes) -> list[bytes]:
        return [builder.build_response(originator=self.ch.eui, recipient=message.originator,
                                       counter=message.originator_counter, message_code=message.message_code,
                                       content=content, keys=self.ch.keys)]

    def _changed(self, recipient: str) -> None:
        """Raise CS14 0x8F12 with the device log's backup (unless the ``no_8F12`` defect is on)."""
        if not self.log.raises_change_alert():
            return
        self._counter += 1
        backup = self.log.backup("active")
        content = builders.cs14_alert(timestamp=self.scheduler.wall(), log_time=backup.date_time,
                                      extended_pan_id=backup.extended_pan_id.hex().upper(),
                                      devices=_devices(backup), invoke_id=self._counter & 0xFFFFFF)
        raw = builder.build_message(cra="alert", originator=self.ch.eui, recipient=recipient,
                                    counter=self._counter, message_code=CS14, content=content,
                                    keys=self.ch.keys, general_ciphering=True, sign=False)
        self.scheduler.call_later(0.05, lambda: self.ch.transmit(raw, "alert", DEVICE_LOG_CHANGED))

    def ccs01(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "CCS01")
        reg = f["register_device"]
        result = "success"
        try:
            entry = self.log.add(reg["mac_address"], bytes.fromhex(reg["install_code"]),
                                 int(reg["device_type"]), int(f["join_timeout"]))
        except DeviceLogRefused:
            result = "other-reason"
        else:
            eui = entry.eui
            self.scheduler.call_later(JOIN_DELAY_S, lambda: self._join(eui, entry))
            self._changed(message.originator)
        content = builders.usecases.build("response", {
            "decoded_as": "CCS01", "invoke_id": f["invoke_id"], "invoke_flags": f["invoke_flags"],
            "date_time": None, "results": {"register_device": result}})
        return self._respond(message, content)

    def _join(self, eui: str, entry: DeviceEntry) -> None:
        if self.log.find(eui) is entry:
            try:
                self.log.join(eui, JOIN_DELAY_S)
            except DeviceLogRefused:
                pass  # joining closed before the device got there: it stays unjoined

    def ccs02(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "CCS02")
        result = "success"
        try:
            self.log.remove(f["unregister_device"])
        except DeviceLogRefused:
            result = "other-reason"
        else:
            self._changed(message.originator)
        content = builders.usecases.build("response", {
            "decoded_as": "CCS02", "invoke_id": f["invoke_id"], "invoke_flags": f["invoke_flags"],
            "date_time": None, "results": {"unregister_device": result}})
        return self._respond(message, content)

    def ccs06(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "CCS06")
        rows = [_active_row(d) for d in self.log.active]
        return self._respond(message, builders.ccs06_response(active_devices=rows, invoke_id=f["invoke_id"]))

    def ccs07(self, message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "CCS07")
        logs = {}
        for which, name in (("active", "device_log"), ("historic", "historic_device_log")):
            b = self.log.backup(which)
            logs[name] = {"date_time": b.date_time, "extended_pan_id": b.extended_pan_id.hex().upper(),
                          "devices": _devices(b)}
        return self._respond(message, builders.ccs07_response(**logs, invoke_id=f["invoke_id"]))


def _devices(backup: Backup) -> list[dict]:
    return [{"mac_address": eui, "tc_link_key_hash": key.hex().upper()} for eui, key in backup.devices]


NOT_SPECIFIED = {"year": 0xFFFF, "month": 0xFF, "day": 0xFF, "weekday": 0xFF, "hour": 0xFF,
                 "minute": 0xFF, "second": 0xFF, "hundredths": 0xFF, "deviation": -0x8000,
                 "clock_status": 0xFF}


def _active_row(d: DeviceEntry) -> dict:
    s = d.stats
    return {"mac_address": d.eui, "status": format(d.status, "08b"),
            "max_rssi": s.rssi[0], "avg_rssi": s.rssi[1], "min_rssi": s.rssi[2],
            "max_lqi": s.lqi[0], "avg_lqi": s.lqi[1], "min_lqi": s.lqi[2],
            "last_communication": s.last_communication or NOT_SPECIFIED, "hops": s.hops,
            "tx_failures": s.tx_failures, "tx_successes": s.tx_successes,
            "app_version": d.app_version, "stack_version": d.stack_version}


def install(bench, esme_install_code: bytes | None = None) -> DeviceLogBehaviour:
    """Give ``bench``'s virtual CH its device log, with the defect switches of its
    ``params.defects`` (the bench does, once), commissioned with its ESME (``esme_install_code``,
    default :data:`COMMISSIONED_INSTALL_CODE`)."""
    return DeviceLogBehaviour(bench, defects_from(bench.params.defects),
                              esme_install_code or COMMISSIONED_INSTALL_CODE)
