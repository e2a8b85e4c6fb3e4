"""``hubrig gbcs decode|encode``: one JSON line per input, errors as data, never a traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from hubrig.harness.cli import main
from hubrig.harness.gbcs import builder
from hubrig.harness.gbcs.content import builders as content
from hubrig.harness.gbcs.keystore import KeyStore

ACB = "90B3D51F30000002"
SUPPLIER = "90B3D51F30010000"
ESME = "00DB1234567890A0"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> KeyStore:
    return KeyStore.generate(tmp_path_factory.mktemp("keys"), {ACB: "acb", SUPPLIER: "supplier", ESME: "esme"})


@pytest.fixture(scope="module")
def alert(keys) -> bytes:
    body = content.ecs80_alert(timestamp="2024-01-01T00:05:00Z", interruption="2024-01-01T00:00:00Z",
                               restoration="2024-01-01T00:05:00Z", invoke_id=2003)
    return builder.build_alert(originator=ESME, recipient=SUPPLIER, counter=2003, message_code=0x0067,
                               content=body, keys=keys)


def run(capsys, monkeypatch, argv: list[str], stdin: str = "") -> tuple[int, list[dict], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_decode_hex_spaced_hex_and_gfi_line_give_the_same_record(capsys, monkeypatch, keys, alert):
    hexed = alert.hex().upper()
    spaced = " ".join(hexed[i:i + 2] for i in range(0, len(hexed), 2))
    gfi = f"GBCS:DATA#0:{len(alert)}:{hexed}"
    code, records, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(keys.path), hexed, spaced, gfi])
    assert code == 0 and len(records) == 3
    assert records[0] == records[1] == records[2]
    assert records[0]["signature_valid"] == [True] and records[0]["originator"] == ESME
    assert records[0]["message_code"] == "0067" and records[0]["cra"] == "alert"
    assert records[0]["alert_code"] == "8F36" and records[0]["body"]["decoded_as"] == "ECS80"


def test_decode_reads_stdin_one_message_per_line_and_reports_each_failure(capsys, monkeypatch, alert):
    stdin = f"{alert.hex()}\n\nDF0903\nDF09 zz\nGBCS:DATA#0:9:DF09\n"
    code, records, err = run(capsys, monkeypatch, ["gbcs", "decode", "-"], stdin)
    assert code == 1 and err == ""
    assert records[0]["originator_counter"] == 2003 and records[0]["signature_valid"] == []
    assert records[0]["signature"] == "unknown"  # no key store given
    assert records[1] == {"error": "originator counter: needs 8 bytes, 0 left", "offset": 3}
    assert records[2] == {"error": "not hex: 'z' is not a hex digit", "offset": 2}
    assert "length field says 9 bytes" in records[3]["error"]
    assert len(records) == 4


def test_decode_without_arguments_reads_stdin(capsys, monkeypatch, alert):
    code, records, _ = run(capsys, monkeypatch, ["gbcs", "decode"], alert.hex() + "\n")
    assert code == 0 and records[0]["cra"] == "alert"


def test_bad_key_store_or_acb_is_a_user_error_not_a_traceback(capsys, monkeypatch, tmp_path, alert):
    code, _, err = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(tmp_path / "nope"), alert.hex()])
    assert code == 2 and "--keys" in err and "not a directory" in err and "Traceback" not in err
    code, _, err = run(capsys, monkeypatch, ["gbcs", "decode", "--acb", "12", alert.hex()])
    assert code == 2 and "--acb" in err


def test_unreadable_certificate_is_a_user_error_naming_the_file(capsys, monkeypatch, tmp_path, alert):
    (tmp_path / f"{ESME.lower()}-ds.pem").write_text("not a certificate\n")
    code, records, err = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(tmp_path), alert.hex()])
    assert code == 2 and records == [] and "Traceback" not in err
    assert f"--keys: {tmp_path}/{ESME.lower()}-ds.pem: not a readable PEM certificate" in err


def test_encode_then_decode_round_trips_a_maced_command(capsys, monkeypatch, keys):
    spec = {"cra": "command", "originator": SUPPLIER, "recipient": ESME, "originator_counter": 1000,
            "message_code": "0062", "general_ciphering": True, "sign": True,
            "content": content.ecs70_command(validity_interval_start="2024-03-01T11:55:00Z",
                                             validity_interval_end="2024-03-01T12:05:00Z",
                                             invoke_id=1000).hex(" "),
            "date_time": "2024-03-01T12:00:00Z"}
    argv = ["gbcs", "encode", "--keys", str(keys.path), "--acb", ACB, json.dumps(spec)]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(argv) == 0
    hexed = capsys.readouterr().out.strip()
    code, records, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(keys.path), "--acb", ACB, hexed])
    assert code == 0
    record = records[0]
    assert (record["cra"], record["originator"], record["recipient"], record["originator_counter"]) == \
        ("command", SUPPLIER, ESME, 1000)
    assert record["message_code"] == "0062" and record["general_ciphering"] is True
    assert record["signature_valid"] == [True] and record["mac"] == "valid"
    assert record["date_time"] == "2024-03-01T12:00:00+00:00"
    assert record["body"]["decoded_as"] == "ECS70"


def test_encode_gfi_output_and_field_errors(capsys, monkeypatch, keys):
    good = json.dumps({"cra": "alert", "originator": ESME, "recipient": SUPPLIER, "originator_counter": 1,
                       "message_code": 0x67, "content": "0F", "sign": True})
    bad_field = json.dumps({"cra": "alert", "originator": ESME, "recipient": SUPPLIER,
                            "originator_counter": "one", "message_code": "0067"})
    negative = json.dumps({"cra": "alert", "originator": ESME, "recipient": SUPPLIER, "originator_counter": 1,
                           "message_code": "0067", "supplementary_remote_party_id": SUPPLIER,
                           "supplementary_remote_party_counter": -1})
    unsigned_key = json.dumps({"cra": "alert", "originator": SUPPLIER[:-1] + "9", "recipient": ESME,
                               "originator_counter": 1, "message_code": "0067", "sign": True})
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{good}\n{bad_field}\n{{oops\n{unsigned_key}\n[1]\n{negative}\n"))
    code = main(["gbcs", "encode", "--gfi", "--keys", str(keys.path), "-"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith("GBCS:DATA#0:") and lines[0].count(":") == 3
    errors = [json.loads(line) for line in lines[1:]]
    assert errors[0] == {"error": 'originator_counter: expected int, got "one"', "input": 2}
    assert errors[1]["error"].startswith("not JSON") and errors[1]["input"] == 3
    assert "no DS private key for originator 90B3D51F30010009" in errors[2]["error"]
    assert errors[3] == {"error": "expected a JSON object", "input": 5}
    assert errors[4] == {"error": "supplementary_remote_party_counter -1 does not fit 8 bytes", "input": 6}


def test_console_command_runs_as_a_process(alert):
    proc = subprocess.run([sys.executable, "-m", "harness", "gbcs", "decode", alert.hex(), "zz"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["originator_counter"] == 2003 and "error" in second


def test_cli_fields_equal_facts_for_every_rtds_message(rtds, capsys, monkeypatch):
    facts = [json.loads(line) for line in (rtds / "facts.jsonl").read_text().splitlines() if line.strip()]
    stdin = "".join((rtds / "messages" / f["file"]).read_text().strip() + "\n" for f in facts)
    code, records, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(rtds / "keystore"),
                                                 "--acb", "90b3d51f30000002", "-"], stdin)
    assert code == 0 and len(records) == len(facts)
    wrong = []
    for fact, record in zip(facts, records):
        for key, want in fact.items():
            if key == "file":
                continue
            got = record.get(key)
            if key in ("use_case", "alert_name") and got is None:
                got = ""  # facts write an unknown name as ""; the CLI writes null
            if key == "use_case" and want == "" and got:
                continue  # a code the facts' table lacks, named from another source (test_gbcs_rtds.py)
            if got != want:
                wrong.append((fact["file"], key, got, want))
        if fact["general_ciphering"] and "mac" not in fact and record["mac"] != "unknown":
            wrong.append((fact["file"], "mac", record["mac"], "unknown"))
    assert not wrong, wrong[:5]


def test_decode_prints_compact_json_by_default_and_indented_with_pretty(capsys, monkeypatch, alert):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["gbcs", "decode", alert.hex()]) == 0
    compact = capsys.readouterr().out
    assert compact.count("\n") == 1 and ", " not in compact and '": ' not in compact
    assert main(["gbcs", "decode", "--pretty", alert.hex()]) == 0
    pretty = capsys.readouterr().out
    assert pretty.startswith("{\n  ") and json.loads(pretty) == json.loads(compact)


def test_decode_with_a_pool_keeps_input_order_and_reports_failures(capsys, monkeypatch, keys, alert):
    # 150 inputs (several pool chunks), the counters tell the order; every 7th input is broken
    messages = []
    for n in range(150):
        if n % 7 == 3:
            messages.append("DF0903")
            continue
        body = content.ecs80_alert(timestamp="2024-01-01T00:05:00Z", interruption="2024-01-01T00:00:00Z",
                                   restoration="2024-01-01T00:05:00Z", invoke_id=n)
        messages.append(builder.build_alert(originator=ESME, recipient=SUPPLIER, counter=5000 + n,
                                            message_code=0x0067, content=body, keys=keys).hex())
    stdin = "\n".join(messages) + "\n"
    code, pooled, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(keys.path), "--jobs", "2"], stdin)
    code1, single, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(keys.path)], stdin)
    assert code == code1 == 1 and pooled == single and len(pooled) == 150
    assert [r.get("originator_counter") for r in pooled] == [None if n % 7 == 3 else 5000 + n for n in range(150)]
    assert all(r["signature_valid"] == [True] for r in pooled if "error" not in r)


def test_decode_a_journal_again_with_frame_ids(capsys, monkeypatch, tmp_path, keys, alert):
    from hubrig.harness.capture.journal import Journal

    with Journal(tmp_path / "j.sqlite") as journal:
        first = journal.append("in", 1, 1, f"GBCS:DATA#0:{len(alert)}:{alert.hex().upper()}\r\n".encode(), "itch", "frame")
        journal.append("in", 2, 2, b"AD1 POA\r\n", "itch", "notification")
        broken = journal.append("in", 3, 3, b"GBCS:DATA#0:3:DF0903\r\n", "itch", "frame")
    code, records, _ = run(capsys, monkeypatch, ["gbcs", "decode", "--keys", str(keys.path),
                                                 "--journal", str(tmp_path / "j.sqlite")])
    assert code == 1 and [r["frame_id"] for r in records] == [first, broken]
    assert records[0]["direction"] == "in" and records[0]["alert_code"] == "8F36"
    assert "error" in records[1]


def test_decode_refuses_a_journal_that_is_not_one(capsys, monkeypatch, tmp_path):
    (tmp_path / "x.sqlite").write_text("not sqlite")
    code, _, err = run(capsys, monkeypatch, ["gbcs", "decode", "--journal", str(tmp_path / "x.sqlite")])
    assert code == 2 and "--journal" in err


def test_decode_path_does_not_import_the_builder():
    """The decode CLI loads only what decoding needs (checked in a fresh interpreter)."""
    probe = ("import sys, io; sys.stdin = io.StringIO('DF09'); import hubrig.harness.cli.gbcs as g; "
             "import argparse; p = argparse.ArgumentParser(); s = p.add_subparsers(); g.register(s); "
             "a = p.parse_args(['gbcs', 'decode', '-']); a.handler(a); "
             "print(sorted(m for m in sys.modules if m.startswith('hubrig.harness.gbcs.builder') "
             "or m == 'hubrig.harness.gbcs.content.builders'))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_a_record_with_an_integer_wider_than_64_bits_still_prints():
    from hubrig.harness.cli.gbcs import dumps

    record = {"body": {"der": {"tag": "02", "hex": "01" + "00" * 12, "name": "seq_number", "value": 1 << 96}}}
    assert json.loads(dumps(record)) == record and json.loads(dumps(record, pretty=True)) == record
    assert json.loads(dumps({"a": [1, "é"]})) == {"a": [1, "é"]}


def test_the_module_entry_decodes_like_the_hubrig_command(alert):
    out = subprocess.run([sys.executable, "-m", "hubrig.harness.cli.gbcs", "decode", alert.hex()],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["alert_code"] == "8F36"
    bad = subprocess.run([sys.executable, "-m", "hubrig.harness.cli.gbcs", "decode", "--keys", "/nonexistent", "00"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--keys" in bad.stderr and "Traceback" not in bad.stderr
