"""``hubrig bench serve``: the virtual devices of a virtual rig file in a process of their own,
reached as a real bench.

The supply is served on loopback TCP (``TCPIP0::127.0.0.1::<port>::SOCKET``, for pyvisa-py), the
Wired ITCH on loopback TCP (``socket://127.0.0.1:<port>``, for pyserial) or on a pty, the HAN stick
(if the rig has one) on loopback TCP or a pty for bellows, hearing the served Comms Hub's PAN, all
in real time. :func:`serve` writes a ``kind: real`` rig file that reaches them, and a **ground-truth
log** (JSON lines, each with ``t_ns`` on the host's monotonic clock, which the harness's
``RealClock`` shares): every SCPI message, reply and injected fault, every real change of the
supply's output, every frame the devices handed to the ITCH link, every storm batch, every instant
the Comms Hub's PAN went down or came up, every scan the HAN stick started. Because it is another
process, a harness killed outright does not take the instruments with it, and the log says what the
instruments really did.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import yaml

from hubrig.harness.capture.framing import GfiFraming
from hubrig.harness.clock import RealTimeScheduler, Scheduler
from hubrig.harness.rig.file import RigFile, load_rig
from hubrig.harness.virtual.faults import BenchServe, HanFault, Storm
from hubrig.harness.virtual.groundtruth import Emission

if TYPE_CHECKING:
    from hubrig.harness.virtual.bench import VirtualBench
    from hubrig.harness.virtual.han.stick import PtyServer, TcpServer, VirtualHanStick
    from hubrig.harness.virtual.supply import VirtualSupply

SEND_TIMEOUT_S = 2.0
"""A harness that stops reading the ITCH link for this long is disconnected (frames are not held)."""


class BenchLog:
    """The ground-truth log: one JSON object per line, flushed as written (readable while it grows)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: object) -> None:
        line = json.dumps({"t_ns": time.monotonic_ns(), "event": event, **fields})
        with self._lock:
            if not self._fh.closed:
                self._fh.write(line + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_log(path: Path) -> list[dict]:
    """Every complete entry of a ground-truth log (a line still being written is left out)."""
    entries = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


class TcpLink:
    """The virtual Comms Hub's wired link on a loopback TCP port (one harness connection at a time;
    a new connection replaces the old). What arrives is handed to the device models on the
    scheduler's thread; what the devices send while nobody is connected is logged as undelivered."""

    def __init__(self, scheduler: Scheduler, host: str, port: int, log: Callable[..., None]):
        self._scheduler, self._log = scheduler, log
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._client: socket.socket | None = None
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[bytes], None]] = []
        self.connected = threading.Event()
        """Set once a harness has first connected (a storm's ``after_s`` counts from then)."""
        self._closed = False
        threading.Thread(target=self._accept, name="hubrig-bench-itch", daemon=True).start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def write(self, data: bytes) -> None:
        with self._lock:
            client = self._client
            if client is None:
                self._log("undelivered", bytes=len(data))
                return
            try:
                client.sendall(data)
            except OSError as exc:
                self._log("disconnect", peer="itch", reason=str(exc))
                self._drop(client)

    def on_receive(self, callback: Callable[[bytes], None]) -> None:
        self._callbacks.append(callback)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, peer = self._listener.accept()
            except OSError:
                return
            client.settimeout(SEND_TIMEOUT_S)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._client is not None:
                    self._drop(self._client)
                self._client = client
            self._log("connect", peer=f"itch {peer[0]}:{peer[1]}")
            self.connected.set()
            threading.Thread(target=self._read, args=(client,), name="hubrig-bench-itch-rx", daemon=True).start()

    def _read(self, client: socket.socket) -> None:
        while True:
            try:
                data = client.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    if self._client is client:
                        self._drop(client)
                        self._log("disconnect", peer="itch")
                return
            for callback in list(self._callbacks):
                self._scheduler.call_later(0, lambda cb=callback, d=data: cb(d))

    def _drop(self, client: socket.socket) -> None:
        if self._client is client:
            self._client = None
        try:
            client.close()
        except OSError:
            pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            if self._client is not None:
                self._drop(self._client)


def storm(link: TcpLink, cfg: Storm, log: Callable[..., None], stop: threading.Event) -> None:
    """Write ``cfg.frames_per_s`` numbered GFI frames for ``cfg.seconds``; log each batch written."""
    if not link.connected.wait() or stop.wait(cfg.after_s):
        return
    framing, sent, start = GfiFraming(), 0, time.monotonic()
    total = int(cfg.frames_per_s * cfg.seconds)
    log("storm_start", frames=total, frames_per_s=cfg.frames_per_s)
    while sent < total and not stop.is_set():
        due = min(total, int((time.monotonic() - start) * cfg.frames_per_s) + 1)
        if due <= sent:
            time.sleep(0.002)
            continue
        batch = b"".join(framing.encode(b"\xee" + seq.to_bytes(7, "big") + b"\x00" * (cfg.payload_bytes - 8))
                         for seq in range(sent + 1, due + 1))
        link.write(batch)
        log("storm", first=sent + 1, last=due)
        sent = due
    log("storm_end", frames=sent)


def real_rig(rig: RigFile, *, supply_resource: str, itch_port: str, keystore: Path,
             state_dir: Path | None, analyser_resource: str | None = None, han_port: str | None = None) -> dict:
    """The ``kind: real`` rig file that reaches the served devices (as a mapping to write as YAML)."""
    from hubrig.harness.virtual.han.radio import SERIAL_SETTINGS

    doc = rig.model_dump(mode="json", exclude={"virtual", "bench", "state_dir"}, exclude_none=True)
    doc["name"] = f"{rig.name}-bench"
    doc["kind"] = "real"
    doc["instruments"]["supply"].update(resource=supply_resource, visa_library="@py")
    if analyser_resource is not None:
        doc["instruments"]["analyser"].update(resource=analyser_resource, visa_library="@py")
    doc["instruments"]["itch"]["port"] = itch_port
    if han_port is not None:
        radio = rig.virtual.han
        baudrate, flow_control = SERIAL_SETTINGS[radio.firmware]
        doc["instruments"]["han"].update(port=han_port, baudrate=baudrate, flow_control=flow_control)
        if radio.extended_pan_id is not None and "extended_pan_id" not in doc["instruments"]["han"]:
            doc["instruments"]["han"]["extended_pan_id"] = radio.extended_pan_id
    # A section still saying 'virtual' (a family bench serve does not serve) cannot be reached from
    # a real bench, so it is left out rather than failing the run.
    doc["instruments"] = {key: value for key, value in doc["instruments"].items()
                          if not (isinstance(value, dict) and "virtual" in (value.get("port"), value.get("resource")))}
    doc["dut"]["keystore"] = str(keystore)
    if state_dir is not None:
        doc["state_dir"] = str(state_dir)
    return doc


def serve(rigfile: Path, *, log_path: Path, rig_out: Path, state_dir: Path | None = None,
          ready: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serve ``rigfile``'s virtual devices until ``stop`` is set (or SIGTERM/SIGINT in the main
    thread); write the reaching rig file to ``rig_out`` (atomically) and hand its text to ``ready``."""
    from hubrig.drivers.transport import PtyPair
    from hubrig.harness.virtual.bench import VirtualBench
    from hubrig.harness.virtual.supply import SupplyFaults, VirtualSupply, serve_tcp
    from hubrig.harness.virtual.testkeys import default_key_dir, ensure_test_keys, rig_parties

    rig = load_rig(rigfile)
    if not rig.is_virtual:
        raise ValueError(f"{rigfile}: bench serve runs the virtual devices of a kind: virtual rig file")
    if rig.instruments.supply is None:
        raise ValueError(f"{rigfile}: instruments.supply is required to serve mains")
    cfg = rig.bench or BenchServe()
    stop = stop or threading.Event()
    log = BenchLog(log_path)
    scheduler = RealTimeScheduler()
    closers: list[Callable[[], None]] = [log.close, scheduler.close]
    try:
        keydir = rig.dut.keystore or default_key_dir()
        keys = ensure_test_keys(keydir, rig_parties(rig.dut))
        supply = VirtualSupply(scheduler, dialect=rig.instruments.supply.dialect)
        supply.ignore_output_off = cfg.ignore_output_off
        supply.on_output(lambda on, t_ns: log("output", on=on, t_ns=t_ns))
        if cfg.itch == "tcp":
            link: TcpLink | PtyPair = TcpLink(scheduler, cfg.host, cfg.itch_port, log)
            itch_port = link.url
        else:
            link = PtyPair()
            itch_port = link.port
        closers.insert(0, link.close)
        bench = VirtualBench(rig.virtual, rig.dut, scheduler, keys, link, supply, seed=rig.seed)
        bench.ground_truth.listeners.append(lambda e: _log_emission(log, e))
        server = serve_tcp(supply, cfg.host, cfg.supply_port, faults=SupplyFaults(cfg), log=log)
        closers.insert(0, server.close)
        analyser_resource = _serve_analyser(rig, bench, supply, scheduler, closers)
        han_port = _serve_han(rig, bench, scheduler, cfg, log, closers)
        if cfg.storm is not None and isinstance(link, TcpLink):
            threading.Thread(target=storm, args=(link, cfg.storm, log, stop), name="hubrig-bench-storm",
                             daemon=True).start()
        text = yaml.safe_dump(real_rig(rig, supply_resource=server.resource, itch_port=itch_port,
                                       keystore=Path(keydir).expanduser().resolve(), state_dir=state_dir,
                                       analyser_resource=analyser_resource, han_port=han_port),
                              sort_keys=False)
        text = f"# written by hubrig bench serve {rigfile} (pid {os.getpid()}); ground truth in {log_path}\n" + text
        tmp = rig_out.with_name(rig_out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, rig_out)
        log("serve", pid=os.getpid(), supply=server.resource, itch=itch_port, han=han_port, rig=str(rig_out),
            pan_up=bench.radio.pan_up(scheduler.now_ns()))
        if ready is not None:
            ready(text)
        _wait(stop)
        log("stop")
    finally:
        for close in closers:
            close()


def _serve_analyser(rig: RigFile, bench: "VirtualBench", supply: "VirtualSupply", scheduler: Scheduler,
                    closers: list[Callable[[], None]]) -> str | None:
    """The rig's virtual spectrum analyser, watching the served ESME, on loopback TCP (if it has one)."""
    from hubrig.harness.virtual.analyser import VirtualAnalyser
    from hubrig.harness.virtual.analyser import serve_tcp as serve_analyser

    section = rig.instruments.section("analyser")
    if section is None:
        return None
    spurs, noise_bands = bench.params.radiating()
    device = VirtualAnalyser(scheduler, dialect=section.dialect, rf=bench.params.rf, spurs=spurs,
                             noise_bands=noise_bands, powered=lambda: supply.output,
                             last_command_ns=lambda: bench.esme.last_command_ns, seed=rig.seed)
    bench.analyser = device
    server = serve_analyser(device)
    closers.insert(0, server.close)
    return server.resource


def _serve_han(rig: RigFile, bench: "VirtualBench", scheduler: Scheduler, cfg: BenchServe,
               log: Callable[..., None], closers: list[Callable[[], None]]) -> str | None:
    """The rig's virtual HAN stick, hearing the served bench's radio (the Comms Hub's PAN follows
    the served CH's phase), on loopback TCP or a pty (if the rig has one); its port for bellows.

    The ground-truth log gets ``pan`` (the PAN went down or came up, at the radio world's instant),
    ``han_scan`` (a host started scan number ``scan``), the host's ``connect``/``disconnect``, and
    a ``fault`` for each of ``cfg.han_faults``."""
    from hubrig.harness.virtual.han.stick import PtyServer, TcpServer, stick_for

    if rig.instruments.section("han") is None:
        return None
    stick = stick_for(bench.params.han, scheduler, bench.radio)
    bench.radio.pan_listeners.append(lambda change: log("pan", up=change.up, t_ns=change.t_ns))
    server: PtyServer | TcpServer
    if cfg.han == "tcp":
        server = TcpServer(stick, cfg.host, cfg.han_port,
                           on_connection=lambda event, peer: log(event, peer=f"han {peer}".rstrip()))
        port = server.url
    else:
        server = PtyServer(stick)
        port = server.port
    closers.insert(0, server.close)
    faults = {fault.scan: fault for fault in cfg.han_faults}

    def scan_started(scans: int, dwell_ns: int) -> None:
        log("han_scan", scan=scans)
        fault = faults.pop(scans, None)
        if fault is not None:
            scheduler.call_later((fault.after_channels + 0.5) * dwell_ns / 1e9,
                                 lambda: _han_fault(fault, stick, server, scheduler, log))

    stick.ezsp.scan_listeners.append(scan_started)
    return port


def _han_fault(fault: HanFault, stick: "VirtualHanStick", server: "PtyServer | TcpServer", scheduler: Scheduler,
               log: Callable[..., None]) -> None:
    from hubrig.harness.virtual.han.stick import PtyServer

    log("fault", fault=f"han_{fault.kind}", scan=fault.scan)
    if fault.kind == "reset":
        stick.fault_reset()
    elif isinstance(server, PtyServer):
        pty = server

        def reappear() -> None:
            pty.reappear()
            log("han_port", present=True)

        pty.vanish()
        scheduler.call_later(fault.down_s, reappear)
    else:
        server.drop()


def _log_emission(log: Callable[..., None], e: Emission) -> None:
    log("frame" if e.kind != "event" else "device_event", kind=e.kind, device=e.device, emitted_ns=e.t_ns,
        alert_code=e.alert_code, payload_hex=e.payload_hex[:4096], detail=e.detail)


def _wait(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        stop.wait()
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
