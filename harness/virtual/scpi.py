"""What the virtual SCPI instruments (supply, analyser) share: the canonical short form their
command parsers match, and a loopback TCP server: each newline-ended program message from the
client goes to the device and whatever it answers goes back at once, so the real driver stack
reaches the device through pyvisa-py as ``TCPIP0::<host>::<port>::SOCKET``."""

from __future__ import annotations

import re
import socket
import socketserver
import threading
from typing import AbstractSet, Callable, Mapping

_MNEMONIC = re.compile(r"([A-Z]+)(\d*)(\??)")


def canonical(message: str, long_forms: Mapping[str, str], optional_nodes: AbstractSet[str]) -> str:
    """``message`` in short form: long mnemonics shortened by ``long_forms``, ``optional_nodes``
    without a suffix left out (a query mark moves to the node before), parameters upper-cased with
    blanks around commas removed: ``:SENSe:FREQuency:CENTer 2.4e9`` -> ``FREQ:CENT 2.4E9``."""
    header, _, params = message.strip().partition(" ")
    nodes: list[str] = []
    for node in header.upper().lstrip(":").split(":"):
        found = _MNEMONIC.fullmatch(node)
        if not found:
            nodes.append(node)
            continue
        base, suffix, query = found.groups()
        base = long_forms.get(base, base)
        if base in optional_nodes and not suffix:
            if query and nodes:
                nodes[-1] += "?"
            continue
        nodes.append(base + suffix + query)
    params = re.sub(r"\s*,\s*", ",", params.strip().upper())
    return ":".join(nodes) + (" " + params if params else "")


Respond = Callable[[str], bytes]
"""One program message in, the bytes the device answers (empty: nothing to send)."""


class TcpServer:
    """A threaded loopback TCP server for one request-handler class: a virtual instrument's socket,
    reached through pyvisa-py as :attr:`resource`."""

    def __init__(self, handler: type[socketserver.BaseRequestHandler], *, name: str, host: str = "127.0.0.1",
                 port: int = 0):
        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), handler)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        """The VISA resource string the real driver opens."""
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)


class ScpiServer(TcpServer):
    """Serves ``respond`` on a TCP socket; ``max_message``: the longest line read at once."""

    def __init__(self, respond: Respond, *, name: str, host: str = "127.0.0.1", port: int = 0,
                 max_message: int = 4096):
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while True:
                    line = self.rfile.readline(max_message + 2)
                    if not line:
                        return
                    out = respond(line.decode("ascii", errors="replace").rstrip("\r\n"))
                    if out:
                        self.wfile.write(out)

        super().__init__(Handler, name=name, host=host, port=port)
