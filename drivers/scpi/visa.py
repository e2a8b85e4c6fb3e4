"""Opening a SCPI instrument through pyvisa (pyvisa-py by default, a system VISA when asked)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Callable

from hubrig.drivers.scpi.errors import VisaOpenError

if TYPE_CHECKING:
    from pyvisa.resources import MessageBasedResource


def open_visa(resource: str, library: str, timeout_s: float, *, what: str, field: str
              ) -> tuple["MessageBasedResource", Callable[[], None]]:
    """Open ``resource`` with newline termination and ``timeout_s``; return it and the function that
    closes its resource manager. ``what`` names the instrument and ``field`` its rig-file section in
    errors (:class:`VisaOpenError`)."""
    import pyvisa  # only a real bench needs it
    from pyvisa.resources import MessageBasedResource

    where = "pyvisa-py" if library == "@py" else (library or "the system VISA")
    try:
        manager = pyvisa.ResourceManager(library)
    except (OSError, ValueError, pyvisa.errors.Error) as exc:
        raise VisaOpenError(f"{field}.visa_library: cannot load {where}: {exc}") from exc
    try:
        opened = manager.open_resource(resource)
        if not isinstance(opened, MessageBasedResource):
            raise VisaOpenError(f"{type(opened).__name__} is not a message-based (SCPI) resource")
        opened.read_termination = "\n"
        opened.write_termination = "\n"
        opened.timeout = round(timeout_s * 1000)
        no_nagle(opened)
    except Exception as exc:
        manager.close()
        raise VisaOpenError(f"{what} at {resource}: cannot open it through {where}: {exc}; "
                            f"check {field}.resource and that the instrument is connected") from exc
    return opened, manager.close


def no_nagle(resource: "MessageBasedResource") -> None:
    """Send each command at once on raw sockets: Nagle's algorithm would hold a short command back
    until the previous one is acknowledged (~40 ms with delayed ACKs), skewing the instant an output
    switches. pyvisa-py 0.8 ignores VI_ATTR_TCPIP_NODELAY, so its socket is set directly too."""
    from pyvisa import constants

    if not resource.resource_name.upper().endswith("::SOCKET"):
        return
    try:
        resource.set_visa_attribute(constants.ResourceAttribute.tcpip_nodelay, constants.VI_TRUE)
    except Exception:  # noqa: BLE001 - a VISA without the attribute keeps its default
        pass
    from pyvisa_py.highlevel import PyVisaLibrary
    from pyvisa_py.tcpip import TCPIPSocketSession

    visalib = resource.visalib
    session = visalib.sessions.get(resource.session) if isinstance(visalib, PyVisaLibrary) else None
    if isinstance(session, TCPIPSocketSession) and isinstance(session.interface, socket.socket):
        session.interface.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connection_hint(field: str) -> Callable[[BaseException], str]:
    """What to check when a transport call to the instrument configured at ``field`` fails."""

    def hint(exc: BaseException) -> str:
        if isinstance(exc, OSError):
            return f" (is the instrument on and connected, and {field}.resource right?)"
        return ""

    return hint

