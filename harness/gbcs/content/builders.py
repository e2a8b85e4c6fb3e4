"""Content builders for the virtual devices and the command sender, one per message they send.

Each returns the content bytes (to be wrapped by ``hubrig.harness.gbcs.builder``) and is the inverse of
``decode_content`` for that use case. Date-times may be aware ``datetime``s, ISO strings, or raw
COSEM fields (a dict, for wildcards); EUI-64s are 16 hex digits. ``invoke_id`` is the DLMS
invoke id (24 bits; GBCS sets it from the originator counter), ``invoke_flags`` its top byte
(0x20 in every RTDS message).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from hubrig.harness.gbcs.content import usecases
from hubrig.harness.gbcs.content.usecases import CLOCK_ALERTS, SUPPLY_OUTAGE_RESTORED
from hubrig.harness.gbcs.errors import GbcsError

When = datetime | str | dict
FLAGS = 0x20


def _dlms(name: str, invoke_id: int, invoke_flags: int, date_time: When | None, **fields) -> dict:
    return {"decoded_as": name, "invoke_id": invoke_id, "invoke_flags": invoke_flags,
            "date_time": date_time, **fields}


def _alert(name: str, code: int, allowed: frozenset[int], timestamp: When, invoke_id: int,
           invoke_flags: int, **fields) -> bytes:
    if code not in allowed:
        raise GbcsError(f"alert 0x{code:04X} is not one of {sorted(f'{c:04X}' for c in allowed)}")
    return usecases.build("alert", _dlms(name, invoke_id, invoke_flags, None,
                                         alert_code=f"{code:04X}", timestamp=timestamp, **fields))


def ecs80_alert(*, alert_code: int = 0x8F36, timestamp: When, interruption: When,
                restoration: When, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS80 Supply Outage Restored alert (0x8F35..0x8F3C), message code 0x0067."""
    return _alert("ECS80", alert_code, SUPPLY_OUTAGE_RESTORED, timestamp, invoke_id, invoke_flags,
                  interruption=interruption, restoration=restoration)


def clock_alert(*, alert_code: int, timestamp: When, invoke_id: int,
                invoke_flags: int = FLAGS) -> bytes:
    """Clock alert 0x81C6, 0x8F0C or 0x8145 as a generic DLMS alert (message code from
    :func:`hubrig.harness.gbcs.content.message_code_for_alert`)."""
    return _alert("generic-alert", alert_code, CLOCK_ALERTS, timestamp, invoke_id, invoke_flags)


def _backup(date_time: When, extended_pan_id: str,
            devices: Iterable[Mapping[str, str]]) -> dict:
    return {"date_time": date_time, "extended_pan_id": extended_pan_id,
            "devices": [{"mac_address": d["mac_address"],
                         "tc_link_key_hash": d.get("tc_link_key_hash", "")} for d in devices]}


def cs14_alert(*, timestamp: When, log_time: When, extended_pan_id: str,
               devices: Iterable[Mapping[str, str]], invoke_id: int,
               invoke_flags: int = FLAGS) -> bytes:
    """CS14 0x8F12 CHF Device Log Changed, with the device log's backup (devices: mac_address,
    tc_link_key_hash hex, 16 bytes or empty)."""
    return _alert("CS14", 0x8F12, frozenset((0x8F12,)), timestamp, invoke_id, invoke_flags,
                  device_log=_backup(log_time, extended_pan_id, devices))


def ccs01_command(*, mac_address: str, install_code: str, device_type: int, invoke_id: int,
                  join_timeout: int = 90, key_type: int = 1, enable_joining: bool = True,
                  invoke_flags: int = FLAGS) -> bytes:
    """CCS01 Add Device to CHF device log: register_device, then join_timeout and joining on.
    device_type: 0 ESME, 1 GSME, 13 HCALCS, 128 IHD, 130 CAD, 132 PPMID."""
    return usecases.build("command", _dlms(
        "CCS01", invoke_id, invoke_flags, None,
        register_device={"mac_address": mac_address, "key_type": key_type,
                         "install_code": install_code, "device_type": device_type},
        join_timeout=join_timeout, enable_joining=enable_joining))


def ccs02_command(*, mac_address: str, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """CCS02 Remove device from CHF device log (unregister_device)."""
    return usecases.build("command", _dlms("CCS02", invoke_id, invoke_flags, None,
                                           unregister_device=mac_address))


def ccs06_command(*, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """CCS06 Read CHF device log: GET active_devices of 0-0:30.3.0.255."""
    return usecases.build("command", _dlms("CCS06", invoke_id, invoke_flags, None))


def ccs06_response(*, active_devices: list[Mapping] | None, invoke_id: int,
                   result: str | int = "success", invoke_flags: int = FLAGS) -> bytes:
    """CCS06 response: up to 16 entries of the 14 device-log fields (see ``ACTIVE_DEVICE``)."""
    return usecases.build("response", _dlms(
        "CCS06", invoke_id, invoke_flags, None, results={"active_devices": result},
        active_devices=active_devices))


def ccs07_command(*, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """CCS07 Read CHF Device Logs: backup_PAN on the device log and the historic device log."""
    return usecases.build("command", _dlms("CCS07", invoke_id, invoke_flags, None))


def ccs07_response(*, device_log: Mapping | None, historic_device_log: Mapping | None,
                   invoke_id: int, results: Mapping[str, str | int] | None = None,
                   invoke_flags: int = FLAGS) -> bytes:
    """CCS07 response; each log is {date_time, extended_pan_id, devices: [{mac_address,
    tc_link_key_hash}]} or None (with its result in ``results``)."""
    return usecases.build("response", _dlms(
        "CCS07", invoke_id, invoke_flags, None, results=dict(results or {}),
        device_log=None if device_log is None else _backup(**device_log),
        historic_device_log=None if historic_device_log is None else _backup(
            **historic_device_log)))


def ecs70_command(*, validity_interval_start: When, validity_interval_end: When, invoke_id: int,
                  preset_time: When | None = None, clock_base: int = 5,
                  invoke_flags: int = FLAGS) -> bytes:
    """ECS70 Set Clock on ESME: preset_adjusting_time then adjust_to_preset_time, reading back
    time and status. ``preset_time`` None sends the all-0xFF "not specified" date-time, as RTDS."""
    preset = preset_time if preset_time is not None else _UNSPECIFIED
    return usecases.build("command", _dlms(
        "ECS70", invoke_id, invoke_flags, None, clock_base=clock_base,
        preset_adjusting_time={"preset_time": preset,
                               "validity_interval_start": validity_interval_start,
                               "validity_interval_end": validity_interval_end},
        adjust_to_preset_time=0))


def ecs70_response(*, time: When | None, status: int | None, invoke_id: int,
                   results: Mapping[str, str | int] | None = None,
                   invoke_flags: int = FLAGS) -> bytes:
    """ECS70 response: per-step results (clock_base, preset_adjusting_time,
    adjust_to_preset_time, time, status; default success) and the clock read back."""
    return usecases.build("response", _dlms("ECS70", invoke_id, invoke_flags, None,
                                            results=dict(results or {}), time=time, status=status))


def ecs25a3_command(*, event_filter: str, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS25a3 Set Event Behaviours (ESME logging): the event filter bit string ('0'/'1')."""
    return usecases.build("command", _dlms("ECS25a3", invoke_id, invoke_flags, None,
                                           event_filter=event_filter))


def ecs25a3_response(*, invoke_id: int, result: str | int = "success",
                     invoke_flags: int = FLAGS) -> bytes:
    """ECS25a3 response: the SET result."""
    return usecases.build("response", _dlms("ECS25a3", invoke_id, invoke_flags, None,
                                            results={"event_filter": result}))


def ecs25a_command(*, alert_filter: str, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS25a Set Alert Behaviours - ESME - Supplier: the 512-bit alert filter ('0'/'1')."""
    return usecases.build("command", _dlms("ECS25a", invoke_id, invoke_flags, None, alert_filter=alert_filter))


def ecs25a_response(*, invoke_id: int, result: str | int = "success", invoke_flags: int = FLAGS) -> bytes:
    """ECS25a response: the SET result."""
    return usecases.build("response", _dlms("ECS25a", invoke_id, invoke_flags, None,
                                            results={"alert_filter": result}))


ECS25R1_OBJECTS = ("alert_behaviours", "han_event_behaviours", "audible_alarm_behaviours", "logging_behaviours")
"""What ECS25r1 reads, in order (each a 256-bit behaviour string)."""


def ecs25r1_command(*, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS25r1 Read non-critical event and alert behaviours - ESME - Supplier."""
    return usecases.build("command", _dlms("ECS25r1", invoke_id, invoke_flags, None))


def ecs25r1_response(*, behaviours: Mapping[str, str] | None, invoke_id: int, result: str | int = "success",
                     invoke_flags: int = FLAGS) -> bytes:
    """ECS25r1 response: the four behaviour bit strings (:data:`ECS25R1_OBJECTS`), or None with an
    error ``result``."""
    values = dict(behaviours or {})
    results = {name: result for name in ECS25R1_OBJECTS}
    return usecases.build("response", _dlms("ECS25r1", invoke_id, invoke_flags, None, results=results,
                                            **({name: values[name] for name in ECS25R1_OBJECTS}
                                               if behaviours is not None else {})))


def ecs35a_command(*, start: When, end: When, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS35a Read ESME Event Log: the entries time-stamped from ``start`` to ``end`` (whole
    seconds, aware date-times or ISO strings)."""
    return usecases.build("command", _dlms("ECS35a", invoke_id, invoke_flags, None,
                                           event_log_range={"from": start, "to": end}))


def ecs35a_response(*, event_log: Iterable[Mapping] | None, invoke_id: int,
                    result: str | int = "success", invoke_flags: int = FLAGS) -> bytes:
    """ECS35a response: event log entries {timestamp (whole seconds), event_code (int or 4 hex),
    value (hex, default empty)}, or None with an error ``result``."""
    entries = None if event_log is None else [
        {"timestamp": e["timestamp"], "event_code": _code(e["event_code"]), "value": e.get("value", "")}
        for e in event_log]
    return usecases.build("response", _dlms("ECS35a", invoke_id, invoke_flags, None,
                                            results={"event_log": result}, event_log=entries))


def ecs35e_command(*, start: When, end: When, invoke_id: int, invoke_flags: int = FLAGS) -> bytes:
    """ECS35e Read ESME Power Event Log: the entries time-stamped from ``start`` to ``end`` (whole
    seconds, aware date-times or ISO strings)."""
    return usecases.build("command", _dlms("ECS35e", invoke_id, invoke_flags, None,
                                           power_event_log_range={"from": start, "to": end}))


def ecs35e_response(*, power_event_log: Iterable[Mapping] | None, invoke_id: int,
                    result: str | int = "success", invoke_flags: int = FLAGS) -> bytes:
    """ECS35e response: power event log entries {timestamp (whole seconds), event_code (int or 4
    hex), counter}, or None with an error ``result``."""
    entries = None if power_event_log is None else [
        {"timestamp": e["timestamp"], "event_code": _code(e["event_code"]), "counter": e["counter"]}
        for e in power_event_log]
    return usecases.build("response", _dlms("ECS35e", invoke_id, invoke_flags, None,
                                            results={"power_event_log": result}, power_event_log=entries))


def _code(code: int | str) -> str:
    return f"{code:04X}" if isinstance(code, int) else code


def ccs08_alert(*, alert_code: int, timestamp: When, entity_id: str, firmware_version: str,
                response_code: str | int = "success") -> bytes:
    """CCS08 Firmware Transfer Alert (ASN.1): 0x8F8A success / 0x8F89 fail."""
    return usecases.build("alert", {"decoded_as": "CCS08", "alert_code": f"{alert_code:04X}",
                                    "timestamp": timestamp, "entity_id": entity_id,
                                    "firmware_version": firmware_version,
                                    "response_code": response_code})


_UNSPECIFIED = {"year": 0xFFFF, "month": 0xFF, "day": 0xFF, "weekday": 0xFF, "hour": 0xFF,
                "minute": 0xFF, "second": 0xFF, "hundredths": 0xFF, "deviation": -0x8000,
                "clock_status": 0xFF}
