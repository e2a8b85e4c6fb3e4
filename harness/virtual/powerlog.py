"""The virtual ESME's power event log read (ECS35e, Read ESME Power Event Log).

The ESME keeps the log itself (:attr:`hubrig.harness.virtual.esme.VirtualEsme.power_event_log`); this
answers ECS35e with every entry whose time stamp (device time, whole seconds) lies in the requested
range, oldest first, as RTDS 4.5.0's ECS35e response carries them: {UTC time stamp, event code,
counter}.
"""

from __future__ import annotations

from datetime import datetime

from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders
from hubrig.harness.gbcs.envelope import Message
from hubrig.harness.rig.commands import ECS35E
from hubrig.harness.virtual.commshub import command_fields
from hubrig.harness.virtual.esme import VirtualEsme


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class PowerLogRead:
    """Wires ECS35e to a virtual ESME's power event log."""

    def __init__(self, esme: VirtualEsme):
        self.esme = esme
        esme.handlers[ECS35E] = self.ecs35e

    def ecs35e(self, message: Message, raw: bytes) -> list[bytes]:
        f = command_fields(message, "ECS35e")
        wanted = f.get("power_event_log_range") or {}
        start, end = _when(wanted.get("from")), _when(wanted.get("to"))
        if start is None or end is None:
            content = builders.ecs35e_response(power_event_log=None, invoke_id=f["invoke_id"],
                                               result="other-reason")
        else:
            stamped = [(e.device_time.replace(microsecond=0), e) for e in self.esme.power_event_log]
            content = builders.ecs35e_response(
                power_event_log=[{"timestamp": when, "event_code": e.code, "counter": e.counter}
                                 for when, e in stamped if start <= when <= end], invoke_id=f["invoke_id"])
        return [builder.build_response(originator=self.esme.eui, recipient=message.originator,
                                       counter=message.originator_counter, message_code=ECS35E,
                                       content=content, keys=self.esme.keys)]


def install(bench) -> PowerLogRead:
    """Give ``bench``'s virtual ESME its ECS35e answer (the bench does, once)."""
    return PowerLogRead(bench.esme)
