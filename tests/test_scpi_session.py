"""The shared SCPI session: a reply is accepted only as the answer to the query that asked for it.

``Laggy`` is a small SCPI instrument whose replies can arrive late (after the session's read timed
out): each reply remembers which query it answers, so the tests check *which* reply the session took,
not just its text. Then the same through pyvisa-py against the virtual supply on loopback TCP, with a
proxy that holds one reply back: a late ``1`` to ``*OPC?`` must not confirm the next switch, whose
confirmed instant is compared with the instant the virtual supply really switched.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubrig.drivers.scpi import InstrumentError, ScpiSession
from hubrig.drivers.scpi.replies import parse_number, parse_opc, parse_state
from hubrig.drivers.scpi.session import MAX_STALE_REPLIES


class Timeout(Exception):
    """What a VISA read timeout looks like to the session (any exception from read)."""


@dataclass
class Reply:
    query_id: int
    text: str
    late_reads: int
    """Reads that time out before this reply arrives."""


@dataclass
class Laggy:
    """A SCPI instrument whose replies may come late; ``lags`` gives each query's lateness in reads."""

    lags: dict[int, int] = field(default_factory=dict)
    clear_supported: bool = True
    timeout: float | None = 1000.0
    sent: list[str] = field(default_factory=list)
    taken: list[Reply] = field(default_factory=list)
    outbox: list[Reply] = field(default_factory=list)
    queries: int = 0
    ese: int = 0
    output: bool = False
    interrupt_next_read: bool = False

    def write(self, message: str) -> int:
        self.sent.append(message)
        for unit in message.split(";"):
            if unit.endswith("?"):
                self.queries += 1
                self.outbox.append(Reply(self.queries, self._answer(unit), self.lags.get(self.queries, 0)))
            elif unit.startswith("*ESE "):
                self.ese = int(unit[5:])
            elif unit.startswith("OUTP "):
                self.output = unit.endswith("ON")
        return len(message)

    def _answer(self, query: str) -> str:
        return {"*OPC?": "1", "*ESE?": str(self.ese), "OUTP?": "1" if self.output else "0",
                "*IDN?": "ACME,PSU-1,0,1.0"}.get(query, f"M{self.queries}")  # MEAS?: unique per query

    def read(self) -> str:
        if self.interrupt_next_read:
            self.interrupt_next_read = False
            raise KeyboardInterrupt
        if not self.outbox:
            raise Timeout("VI_ERROR_TMO")
        head = self.outbox[0]
        if head.late_reads:
            head.late_reads -= 1
            raise Timeout("VI_ERROR_TMO")
        self.taken.append(self.outbox.pop(0))
        return head.text

    def clear(self) -> None:
        if not self.clear_supported:
            raise NotImplementedError("no device clear on a raw socket")
        self.outbox = [r for r in self.outbox if r.late_reads]  # what has arrived is dropped

    def close(self) -> None:
        pass

    def last_query(self, text: str) -> int:
        """The id of the last query ``text`` sent."""
        ids, n = [], 0
        for message in self.sent:
            for unit in message.split(";"):
                if unit.endswith("?"):
                    n += 1
                    if unit == text:
                        ids.append(n)
        return ids[-1]


def session(inst: Laggy, seed: int = 7) -> ScpiSession:
    return ScpiSession(inst, name="psu (test)", rng=random.Random(seed))


@pytest.mark.parametrize("clear_supported", [True, False])
def test_a_late_opc_reply_does_not_confirm_the_next_one(clear_supported):
    inst = Laggy(lags={1: 3}, clear_supported=clear_supported)  # the first *OPC? answers 3 reads late
    scpi = session(inst)
    scpi.write("OUTP OFF")
    with pytest.raises(InstrumentError, match=r"psu \(test\): no reply to '\*OPC\?'"):
        scpi.opc()
    assert scpi.dirty
    scpi.write("OUTP ON")  # resynchronises first: the late 1 is read and discarded there
    scpi.opc()
    assert inst.taken[-1].query_id == inst.last_query("*OPC?")  # this *OPC?'s own reply
    assert 1 in [r.query_id for r in inst.taken[:-1]]  # the stale reply was consumed by the resync
    assert scpi.resyncs == 1 and not scpi.dirty
    assert inst.sent[-1] == "*OPC?" and "*ESE 0" in inst.sent  # status enable put back
    assert scpi.query("OUTP?", lambda r: parse_state(r, ("0", "1"))) is True


def test_without_resynchronisation_the_hazard_is_real():
    """The failure the session prevents: read naively, the late 1 answers the next *OPC? early."""
    inst = Laggy(lags={1: 1})
    inst.write("*OPC?")
    with pytest.raises(Timeout):
        inst.read()
    inst.write("OUTP ON")
    inst.write("*OPC?")
    assert inst.read() == "1" and inst.taken[-1].query_id == 1  # the stale reply, taken as the new one


def test_every_subsequent_reply_is_in_step_after_a_late_one():
    inst = Laggy(lags={2: 2})
    scpi = session(inst)
    assert scpi.query("MEAS?", str) == "M1"
    with pytest.raises(InstrumentError):
        scpi.query("MEAS?", str)  # M2 comes late
    for _ in range(3):
        assert scpi.query("MEAS?", str) == f"M{inst.last_query('MEAS?')}"


def test_a_reply_later_than_a_whole_marker_round_trip_is_still_discarded():
    inst = Laggy(lags={1: 4})  # late past three marker round trips
    scpi = session(inst)
    with pytest.raises(InstrumentError):
        scpi.query("MEAS?", str)
    assert scpi.query("MEAS?", str) == f"M{inst.last_query('MEAS?')}"
    assert sum(m.startswith("*CLS;*ESE ") for m in inst.sent) >= 3  # a timed-out marker, then two in a row


def test_an_interrupted_exchange_resynchronises_before_the_next_command():
    inst = Laggy()
    scpi = session(inst)
    inst.interrupt_next_read = True
    with pytest.raises(KeyboardInterrupt):
        scpi.query("*IDN?", str)  # Ctrl-C while waiting: the reply is still coming
    assert scpi.dirty
    assert scpi.query("MEAS?", str) == f"M{inst.last_query('MEAS?')}"
    assert scpi.resyncs == 1


def test_a_restore_from_a_signal_handler_mid_query_gets_its_own_reply():
    """A signal handler (SIGTERM restoring mains) runs in the thread that was waiting for a reply: the
    nested exchange finds the session dirty, resynchronises past the pending reply, and its *OPC? is
    confirmed by its own reply, not by the one the interrupted query was waiting for."""
    inst = Laggy(lags={1: 1})  # the interrupted query's reply has not arrived when the signal comes
    scpi = session(inst)
    nested: list[int] = []

    real_read = inst.read

    def read_with_signal() -> str:
        if not nested:
            nested.append(0)
            scpi.write("OUTP ON")  # the handler's restore, re-entering the session's lock
            scpi.opc()
            nested.append(inst.taken[-1].query_id)
        return real_read()

    inst.read = read_with_signal  # type: ignore[method-assign]
    with pytest.raises(InstrumentError):
        scpi.query("MEAS?", str)  # its reply was consumed by the handler's resynchronisation
    assert nested[-1] == inst.last_query("*OPC?") and scpi.resyncs == 1
    assert scpi.dirty  # the interrupted query failed: the next command checks the conversation again


def test_a_reply_that_is_not_this_querys_answer_makes_the_session_resynchronise():
    inst = Laggy()
    scpi = session(inst)
    with pytest.raises(InstrumentError, match=r"bad reply to 'MEAS\?'"):
        scpi.query("MEAS?", lambda r: parse_number(r))  # "M1" is not a number: maybe another query's
    assert scpi.dirty
    scpi.opc()
    assert scpi.resyncs == 1 and inst.taken[-1].query_id == inst.last_query("*OPC?")


def test_a_stale_reply_equal_to_the_marker_does_not_end_the_resynchronisation():
    inst = Laggy()
    scpi = session(inst, seed=3)
    first = random.Random(3).choice(range(2, 256))  # the marker the session will pick first
    inst.outbox.append(Reply(0, str(first), 0))  # garbage that happens to equal it, already waiting
    scpi.dirty = True
    inst.clear_supported = False
    assert scpi.query("MEAS?", str) == f"M{inst.last_query('MEAS?')}"
    markers = [m for m in inst.sent if m.startswith("*CLS;*ESE ")]
    assert len(markers) >= 3  # the lucky match was followed by its real answer, which failed marker 2


def test_an_instrument_that_never_answers_the_marker_is_reported_and_stays_dirty():
    class Mute(Laggy):
        def read(self) -> str:
            raise Timeout("VI_ERROR_TMO")

    scpi = session(Mute())
    scpi.dirty = True
    with pytest.raises(InstrumentError, match=r"psu \(test\): lost step; .* did not resynchronise after 5 "
                                              r"timeout\(s\); check the instrument is on and idle"):
        scpi.write("OUTP OFF")
    assert scpi.dirty and "OUTP OFF" not in scpi.endpoint.sent  # nothing is sent out of step


def test_a_babbling_instrument_is_given_up_on():
    class Babbler(Laggy):
        def read(self) -> str:
            return "1"

    scpi = session(Babbler())
    scpi.dirty = True
    with pytest.raises(InstrumentError, match=rf"{MAX_STALE_REPLIES} stale replies discarded, first '1'"):
        scpi.opc()


def test_opc_waits_with_its_own_timeout_and_puts_the_connection_timeout_back():
    seen = []

    class Slow(Laggy):
        def read(self) -> str:
            seen.append(self.timeout)
            return super().read()

    inst = Slow(timeout=2000.0)
    scpi = session(inst)
    scpi.write("OUTP ON")
    scpi.opc(timeout_s=30)
    assert seen == [30000.0] and inst.timeout == 2000.0


def test_error_queue_is_read_until_empty():
    inst = Laggy()
    errors = iter(['-222,"Data out of range"', '+0,"No error"'])
    inst._answer = lambda q: next(errors)  # type: ignore[method-assign]
    assert session(inst).error_queue("SYST:ERR?") == ['-222,"Data out of range"']


def test_binary_blocks_are_read_defensively():
    class Traces(Laggy):
        block = b"#18ABCDEFGH\n"

        def read_raw(self) -> bytes:
            return self.block

    inst = Traces()
    scpi = session(inst)
    assert scpi.query_block("TRAC?") == b"ABCDEFGH"
    inst.block = b"#19ABCD\n"
    with pytest.raises(InstrumentError, match=r"bad reply to 'TRAC\?': block says 9 bytes"):
        scpi.query_block("TRAC?")
    inst.block = b"#9999999999"
    with pytest.raises(InstrumentError, match="exceeds the 1000-byte bound"):
        scpi.query_block("TRAC?", max_bytes=1000)
    with pytest.raises(InstrumentError, match="cannot read binary replies"):
        session(Laggy()).query_block("TRAC?")


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.sampled_from(["*OPC?", "MEAS?", "OUTP?", "OUTP ON", "OUTP OFF"]), min_size=1, max_size=25),
       lags=st.dictionaries(st.integers(1, 60), st.integers(0, 8), max_size=10),
       clear_supported=st.booleans(), seed=st.integers(0, 2**32))
def test_any_pattern_of_late_replies_never_yields_another_querys_answer(ops, lags, clear_supported, seed):
    inst = Laggy(lags=lags, clear_supported=clear_supported)
    scpi = session(inst, seed)
    for op in ops:
        try:
            if op.endswith("?"):
                parse = {"*OPC?": parse_opc, "OUTP?": lambda r: parse_state(r, ("0", "1"))}.get(op, str)
                scpi.query(op, parse)
                assert inst.taken[-1].query_id == inst.last_query(op), f"{op} took another query's reply"
            else:
                scpi.write(op)
        except InstrumentError:
            pass  # a late reply or a failed resync is an error, never a wrong answer


# ------------------------------------------------------------ through pyvisa-py on loopback TCP


class LateProxy:
    """A TCP proxy in front of the virtual supply's SCPI socket that holds back the reply to the
    ``nth`` query by ``delay_s`` (later replies wait behind it, as on a real instrument)."""

    def __init__(self, upstream: tuple[str, int], nth: int, delay_s: float):
        self.upstream, self.nth, self.delay_s = upstream, nth, delay_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.queries = 0
        self.held = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(self.upstream)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        delayed: list[int] = []
        self._start(self._forward_commands, client, server, delayed)
        self._start(self._forward_replies, server, client, delayed)

    def _forward_commands(self, client: socket.socket, server: socket.socket, delayed: list[int]) -> None:
        for line in client.makefile("rb"):
            for unit in line.decode().strip().split(";"):
                if unit.endswith("?"):
                    self.queries += 1
                    if self.queries == self.nth:
                        delayed.append(self.queries)
            server.sendall(line)
        server.close()

    def _forward_replies(self, server: socket.socket, client: socket.socket, delayed: list[int]) -> None:
        answered = 0
        for line in server.makefile("rb"):
            answered += 1
            if answered in delayed:
                self.held.set()
                time.sleep(self.delay_s)
            try:
                client.sendall(line)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()


def test_a_late_opc_over_pyvisa_py_does_not_stamp_the_next_switch_early(tmp_path):
    """Issue 8's failure, end to end: the virtual supply (settling 0.3 s after OUTP) behind pyvisa-py;
    the *OPC? after OUTP OFF answers 1.5 s late against a 0.5 s timeout. The next switch resynchronises
    and its confirmed instant is not before the instant the supply really switched."""
    from hubrig.drivers.psu import open_supply
    from hubrig.harness.clock import RealClock, RealTimeScheduler
    from hubrig.harness.rig.file import SafetyLimits, SupplyConfig
    from hubrig.harness.virtual.supply import VirtualSupply, serve_tcp

    clock = RealClock()
    scheduler = RealTimeScheduler(clock)
    virtual = VirtualSupply(scheduler, dialect="generic-scpi", settle_s=0.3)
    server = serve_tcp(virtual)
    # queries: 1 SYST:ERR? after configure, 2 *OPC? after OUTP ON, 3 SYST:ERR?, 4 *OPC? after OUTP OFF
    proxy = LateProxy((server.host, server.port), nth=4, delay_s=1.5)
    cfg = SupplyConfig(resource=f"TCPIP0::127.0.0.1::{proxy.port}::SOCKET", dialect="generic-scpi", voltage=12.0,
                       current_limit=1.0, timeout_s=0.5, verify=False,
                       safety=SafetyLimits(max_voltage=13.0, max_current=2.0))
    supply = open_supply(cfg, clock, None)
    try:
        supply.set_output(True)
        with pytest.raises(InstrumentError, match=r"no reply to '\*OPC\?'"):
            supply.set_output(False)
        assert proxy.held.is_set() and supply.scpi.dirty
        confirmed_ns = supply.set_output(True)
        truth_ns = next(t for t, _, on in reversed(virtual.changes) if on)
        assert confirmed_ns >= truth_ns  # never before the supply really switched
        assert supply.scpi.resyncs == 1 and supply.output_state() is True
        supply.check_errors()  # the interrupted exchange's -410/-420 were cleared, nothing else is left
    finally:
        supply.close()
        proxy.close()
        server.close()
        scheduler.close()
        clock.close()
