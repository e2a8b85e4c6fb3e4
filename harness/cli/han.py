"""``hubrig han serve --pty | --tcp HOST:PORT [--rig FILE]``: the virtual HAN stick for any EZSP host.

The stick hears the rig file's virtual bench (``virtual.han``: the Comms Hub's PAN, noise, firmware
family) in real time. It prints where it serves (a pty path, or ``socket://HOST:PORT``) and runs
until interrupted, then prints what its ASH and EZSP layers counted.
"""

from __future__ import annotations

import argparse
import ipaddress
import threading
from pathlib import Path
from types import SimpleNamespace

from hubrig.harness.cli import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    han = subparsers.add_parser("han", help="the HAN stick")
    sub = han.add_subparsers(dest="han_command", metavar="ACTION")
    sub.required = True
    serve = sub.add_parser("serve", help="serve the virtual HAN stick on a pty or a loopback TCP port")
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pty (prints its path)")
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve on a loopback TCP port (port 0: any free one)")
    serve.add_argument("--rig", metavar="FILE", help="rig file whose virtual bench the stick hears "
                                                     "(default: the embedded virtual rig)")
    serve.add_argument("--no-startup-reset", action="store_true",
                       help="TCP: do not announce a reset (RSTACK) when a host connects")
    serve.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(handler=serve_han)


def _tcp_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"--tcp {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9999")
    try:
        loopback = ipaddress.ip_address(host or "127.0.0.1").is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise UserError(f"--tcp {text!r}: the virtual stick serves on loopback only (127.0.0.1, ::1, localhost)")
    return host or "127.0.0.1", int(port)


def serve_han(args: argparse.Namespace) -> int:
    from hubrig.harness.clock import RealTimeScheduler
    from hubrig.harness.rig.file import RigFileError, load_rig
    from hubrig.harness.rig.session import default_rig_file
    from hubrig.harness.virtual.bench import VirtualBench
    from hubrig.harness.virtual.han.radio import SERIAL_SETTINGS
    from hubrig.harness.virtual.han.stick import PtyServer, TcpServer, stick_for
    from hubrig.harness.virtual.testkeys import ensure_test_keys, rig_parties

    address = _tcp_address(args.tcp) if args.tcp else None
    path = Path(args.rig) if args.rig else default_rig_file()
    try:
        rig = load_rig(path)
    except RigFileError as exc:
        raise UserError(str(exc)) from None
    if not rig.is_virtual:
        raise UserError(f"{path}: a kind: real rig has a real HAN stick; han serve needs a kind: virtual rig")
    scheduler = RealTimeScheduler()
    keys = ensure_test_keys(rig.dut.keystore, rig_parties(rig.dut))
    link = SimpleNamespace(write=lambda data: None, on_receive=lambda callback: None)
    bench = VirtualBench(rig.virtual, rig.dut, scheduler, keys, link, seed=rig.seed)
    han = bench.params.han
    stick = stick_for(han, scheduler, bench.radio)
    try:
        server: PtyServer | TcpServer
        if address is not None:
            try:
                server = TcpServer(stick, *address, announce_reset=not args.no_startup_reset)
            except OSError as exc:
                raise UserError(f"--tcp {args.tcp}: cannot listen: {exc.strerror or exc}") from None
            where = server.url
        else:
            server = PtyServer(stick)
            where = server.port
        baud, flow = SERIAL_SETTINGS[han.firmware]
        fw = stick.firmware
        print(f"virtual HAN stick ({han.firmware}: EZSP {fw.protocol_version}, {baud} baud, "
              f"{'RTS/CTS' if flow == 'hardware' else 'XON/XOFF'}) serving at {where}", flush=True)
        print(f"  hears the Comms Hub's PAN 0x{han.pan_id:04X} on channel {han.channel} (rig {rig.name})", flush=True)
        try:
            threading.Event().wait(args.seconds)
        except KeyboardInterrupt:
            pass
        server.close()
        print(f"ASH: {stick.ash.counters}\nEZSP: {stick.ezsp.counters}", flush=True)
    finally:
        scheduler.close()
    return 0
