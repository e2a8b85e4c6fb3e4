"""The frame journal: append-only, durable per frame (even under SIGKILL), and readable by the CLI."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings, strategies as st

from hubrig.harness.cli import main as hubrig
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal, JournalError, NewFrame


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / JOURNAL_FILENAME) as j:
        yield j


def test_append_returns_increasing_ids_and_frames_round_trip(journal):
    a = journal.append("in", 10, 1_700_000_000_000_000_000, b"GBCS:DATA#0:1:AA\r\n", "itch", "frame")
    b = journal.append("out", 20, 1_700_000_000_000_000_010, b"\x00\xff", "itch", "frame")
    assert b > a
    frames = journal.frames()
    assert [(f.id, f.direction, f.t_ns, f.raw, f.source, f.kind) for f in frames] == [
        (a, "in", 10, b"GBCS:DATA#0:1:AA\r\n", "itch", "frame"), (b, "out", 20, b"\x00\xff", "itch", "frame")]
    assert frames[0].wall_ns == 1_700_000_000_000_000_000
    assert frames[0].record is None and frames[0].error is None
    assert [f.id for f in journal.frames(since_id=a)] == [b]


def test_decode_results_are_stored_and_filter_by_alert_code(journal):
    alert = journal.append("in", 1, 1, b"a", "itch", "frame")
    other = journal.append("in", 2, 2, b"b", "itch", "frame")
    bad = journal.append("in", 3, 3, b"c", "itch", "garbage")
    journal.set_decoded(alert, {"alert_code": "8F36", "message_code": 0x0067, "cra": "alert"}, None)
    journal.set_decoded(other, {"alert_code": 0x8F35}, None)
    journal.set_decoded(bad, None, "not a GBCS:DATA line")
    for code in (0x8F36, "8F36", "0x8f36", "8f36"):
        (found,) = journal.frames(alert_code=code)
        assert found.id == alert and found.alert_code == 0x8F36 and found.message_code == 0x67
    assert [f.id for f in journal.frames(alert_code=0x8F35)] == [other]
    garbage = journal.frames()[2]
    assert garbage.error == "not a GBCS:DATA line" and garbage.record is None
    with pytest.raises(ValueError):
        journal.frames(alert_code="zz")


def test_journal_is_append_only_and_in_wal_mode(journal):
    fid = journal.append("in", 1, 1, b"x", "itch", "frame")
    journal.set_decoded(fid, {"alert_code": "8F36"}, None)
    db = sqlite3.connect(journal.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for sql in ("UPDATE frames SET raw = x'00'", "DELETE FROM frames", "UPDATE decodes SET error = 'x'",
                "DELETE FROM decodes"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()
    with pytest.raises(sqlite3.IntegrityError):  # a frame is decoded once
        journal.set_decoded(fid, None, "again")
    with pytest.raises(ValueError):
        journal.append("sideways", 1, 1, b"x", "itch", "frame")


def test_concurrent_appends_from_several_threads_are_all_kept(journal):
    def writer(w: int) -> list[int]:
        return [journal.append("in", w * 1000 + i, 0, bytes([w, i]), f"itch-{w}", "frame") for i in range(200)]

    with ThreadPoolExecutor(4) as pool:
        ids = [i for batch in pool.map(writer, range(4)) for i in batch]
    frames = journal.frames()
    assert len(set(ids)) == 800 and sorted(ids) == [f.id for f in frames]
    assert {(f.source, f.raw) for f in frames} == {(f"itch-{w}", bytes([w, i])) for w in range(4) for i in range(200)}


def test_reopened_journal_keeps_frames_and_continues_ids(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        first = j.append("in", 1, 1, b"one", "itch", "frame")
    with Journal(path) as j:
        second = j.append("in", 2, 2, b"two", "itch", "frame")
        assert [f.raw for f in j.frames()] == [b"one", b"two"] and second > first


def test_open_existing_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(JournalError, match="no such journal"):
        Journal.open_existing(tmp_path / "absent.sqlite")
    (tmp_path / "text.sqlite").write_text("hello, not a database at all " * 10)
    with pytest.raises(JournalError, match="not a frame journal"):
        Journal.open_existing(tmp_path / "text.sqlite")
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    with pytest.raises(JournalError, match="not a hubrig frame journal"):
        Journal.open_existing(tmp_path / "other.sqlite")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["in", "out"]), st.integers(0, 2**62), st.binary(max_size=300)),
                max_size=20))
def test_any_bytes_round_trip_in_order(tmp_path_factory, rows):
    with Journal(tmp_path_factory.mktemp("j") / JOURNAL_FILENAME) as j:
        ids = [j.append(d, t, t, raw, "itch", "frame") for d, t, raw in rows]
        assert [(f.id, f.direction, f.t_ns, f.raw) for f in j.frames()] == [
            (i, d, t, raw) for i, (d, t, raw) in zip(ids, rows)]


WRITER = textwrap.dedent("""
    import sys
    from hubrig.harness.capture.journal import Journal
    j = Journal(sys.argv[1])
    i = 0
    while True:
        fid = j.append("in", i, i, i.to_bytes(4, "big") * 16, "itch", "frame")
        sys.stdout.write(f"{fid} {i}\\n")
        sys.stdout.flush()
        i += 1
""")


def test_sigkill_during_a_burst_loses_no_acknowledged_frame(tmp_path):
    path = tmp_path / JOURNAL_FILENAME
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    acknowledged = {}
    try:
        for line in proc.stdout:
            fid, i = map(int, line.split())
            acknowledged[fid] = i
            if len(acknowledged) >= 2000:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 2000
    with Journal.open_existing(path) as j:
        stored = {f.id: f for f in j.frames()}
    for fid, i in acknowledged.items():
        assert stored[fid].raw == i.to_bytes(4, "big") * 16 and stored[fid].t_ns == i
    assert len(stored) >= len(acknowledged)


def _alert_record(code: str, name: str, counter: int, signature_valid: list[bool]) -> dict:
    """A record shaped as hubrig.harness.gbcs.decode.decode_record returns one."""
    return {"cra": "alert", "message_code": "0067", "use_case": "ECS80", "originator": "00DB1234567890A0",
            "recipient": "90B3D51F30020000", "originator_counter": counter, "general_ciphering": False,
            "date_time": None, "signature_valid": signature_valid, "alert_code": code, "alert_name": name,
            "body": {"decoded_as": "ECS80", "invoke_id": counter, "alert_code": code,
                     "interruption": "2026-01-01T00:10:00+00:00", "restoration": "2026-01-01T00:13:20+00:00"}}


def _run_journal(tmp_path) -> Journal:
    run = tmp_path / "run-1"
    run.mkdir()
    j = Journal(run / JOURNAL_FILENAME)
    a = j.append("in", 5_000_000_000, 1_767_225_600_000_000_000, b"GBCS:DATA#0:2:DF09", "itch", "frame")
    j.set_decoded(a, _alert_record("8F36", "Supply Outage Restored - Outage >= 3 minutes", 2003, [True]), None)
    b = j.append("in", 6_000_000_000, 1_767_225_601_000_000_000, b"NOISE", "itch", "garbage")
    j.set_decoded(b, None, "not a frame: [NOISE]")
    c = j.append("in", 7_000_000_000, 1_767_225_602_000_000_000, b"\x00\x01", "itch", "frame")
    j.set_decoded(c, _alert_record("8F35", "Supply Outage Restored", 2004, [False]), None)
    d = j.append("in", 8_000_000_000, 1_767_225_603_000_000_000, b"DCC:ALERT#0:AD1:00DB1234567890A3", "itch",
                 "notification")
    j.set_decoded(d, {"notification": "AD1", "eui": "00DB1234567890A3"}, None)
    j.close()
    return run


def test_cli_shows_decoded_frames_from_a_run_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "260")  # one summary line per row, so the test can read it
    run = _run_journal(tmp_path)
    assert hubrig(["journal", "show", str(run)]) == 0
    out = capsys.readouterr().out
    assert "4 frame(s)" in out and "8F36" in out and "8F35" in out and "0067" in out
    assert "Supply Outage Restored - Outage >= 3 minutes" in out
    assert "00DB1234567890A0 -> 90B3D51F30020000 #2003, signature valid" in out
    assert "#2004, signature INVALID" in out
    assert "interruption=2026-01-01T00:10:00+00:00" in out and "decoded_as" not in out
    assert "AD1 eui=00DB1234567890A3" in out
    assert "not a frame: [NOISE]" in out  # error text shown literally, not eaten as markup
    assert "'GBCS:DATA#0:2:DF09'" in out and "2 B 0001" in out  # text lines as text, binary as hex
    assert "2026-01-01 00:00:01.000" in out


def test_cli_summarises_link_changes_and_han_frames_by_their_fields(tmp_path, capsys, monkeypatch):
    """Rows that are not GBCS (a port lost, a HAN stick's NCP frame) show what they say, not
    'unknown use case ? -> ?'."""
    monkeypatch.setenv("COLUMNS", "260")
    j = Journal(tmp_path / JOURNAL_FILENAME)
    a = j.append("in", 1_000_000_000, 1_767_225_600_000_000_000, b"lost: USB gone", "itch", "link")
    j.set_decoded(a, {"state": "lost", "detail": "USB gone"}, None)
    b = j.append("in", 2_000_000_000, 1_767_225_601_000_000_000, b"\x01\x02", "han", "ezsp8")
    j.set_decoded(b, {"name": "energyScanResultHandler", "channel": 11, "maxRssiValue": -81}, None)
    j.close()
    assert hubrig(["journal", "show", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "state=lost" in out and "detail=USB gone" in out
    assert "name=energyScanResultHandler" in out and "channel=11" in out and "maxRssiValue=-81" in out
    assert "unknown use case" not in out


def test_cli_filters_by_alert_code(tmp_path, capsys):
    run = _run_journal(tmp_path)
    assert hubrig(["journal", "show", str(run / JOURNAL_FILENAME), "--alert", "0x8F36"]) == 0
    out = capsys.readouterr().out
    assert "1 frame(s) with alert 8F36" in out and "8F35" not in out and "NOISE" not in out


def test_cli_shows_only_frames_after_since(tmp_path, capsys):
    run = _run_journal(tmp_path)
    assert hubrig(["journal", "show", str(run), "--since", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 frame(s)" in out and "8F35" in out and "AD1" in out and "8F36" not in out


@pytest.mark.parametrize("argv, message", [
    (["--alert", "nope"], "not an alert code"),
    (["--alert", "1FFFF"], "not an alert code"),
])
def test_cli_rejects_bad_alert_codes(tmp_path, capsys, argv, message):
    run = _run_journal(tmp_path)
    assert hubrig(["journal", "show", str(run), *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_names_a_missing_run_or_journal(tmp_path, capsys):
    assert hubrig(["journal", "show", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory or journal file" in capsys.readouterr().err
    assert hubrig(["journal", "show", str(tmp_path)]) == 2
    assert f"no {JOURNAL_FILENAME} in this run directory" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x" * 200)
    assert hubrig(["journal", "show", str(tmp_path / "notes.txt")]) == 2
    assert "not a frame journal" in capsys.readouterr().err


def test_append_many_stores_a_batch_and_its_known_outcomes_in_one_transaction(journal):
    ids = journal.append_many([NewFrame("in", 1, 11, b"a", "itch", "frame"),
                               NewFrame("in", 2, 12, b"b", "itch", "garbage", (None, "noise")),
                               NewFrame("out", 3, 13, b"c", "han", "notification", ({"notification": "AD1"}, None))])
    assert ids == sorted(set(ids)) and len(ids) == 3
    assert [(f.id, f.direction, f.t_ns, f.wall_ns, f.source, f.kind, f.raw, f.record, f.error)
            for f in journal.frames()] == [
        (ids[0], "in", 1, 11, "itch", "frame", b"a", None, None),
        (ids[1], "in", 2, 12, "itch", "garbage", b"b", None, "noise"),
        (ids[2], "out", 3, 13, "han", "notification", b"c", {"notification": "AD1"}, None)]
    with pytest.raises(TypeError):  # fails half-way through: nothing of the batch is kept
        journal.append_many([NewFrame("in", 4, 4, b"d", "itch", "frame"),
                             NewFrame("in", 5, 5, None, "itch", "frame")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        journal.append_many([NewFrame("in", 4, 4, b"d", "itch", "frame"), NewFrame("up", 5, 5, b"e", "itch", "frame")])
    assert len(journal.frames()) == 3
    journal.set_decoded_many([(ids[0], {"alert_code": "8F36"}, None)])
    assert journal.frames(alert_code=0x8F36)[0].id == ids[0]


def test_frames_filter_by_range_source_and_direction_with_a_limit(journal):
    ids = [journal.append("out" if i % 3 == 0 else "in", i, i, bytes([i]), "han" if i % 2 else "itch", "frame")
           for i in range(12)]
    got = journal.frames(since_id=ids[1], until_id=ids[9], source="itch", direction="in")
    assert [f.raw[0] for f in got] == [2, 4, 8]
    assert [f.raw[0] for f in journal.frames(since_id=ids[1], until_id=ids[9], source="itch", direction="in",
                                             limit=2)] == [2, 4]
