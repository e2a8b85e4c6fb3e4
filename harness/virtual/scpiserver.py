"""A loopback TCP server for the virtual SCPI instruments (supply, analyser): each newline-ended
program message from the client goes to the device, and whatever it answers goes back at once, so
the real driver stack reaches the device through pyvisa-py as ``TCPIP0::<host>::<port>::SOCKET``."""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Callable

Respond = Callable[[str], bytes]
"""One program message in, the bytes the device answers (empty: nothing to send)."""


class ScpiServer:
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

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, port), Handler)
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
