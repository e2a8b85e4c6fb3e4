"""``hubrig gbcs decode|encode``: GBCS messages to JSON records and back.

``decode [--keys DIR] [--acb EUI] [--pretty] [--jobs N] [HEX ... | - | --journal FILE]`` prints one
compact JSON object per input on its own line (``--pretty``: indented, for people); an input is hex
(spaces allowed) or a GFI line ``GBCS:DATA#0:<len>:<HEX>``; ``-`` or no argument reads standard
input, one message per line; ``--journal FILE`` decodes every GBCS frame a frame journal holds
again (each record gains ``frame_id`` and ``direction``). ``--jobs N`` decodes on N processes and
prints in input order (for large files and journals; 0 = one per core). An input that cannot be
decoded prints ``{"error": ..., "offset": N}`` and makes the command exit 1.

``encode [--keys DIR] [--acb EUI] [--gfi] [JSON ... | -]`` builds signed and/or MACed messages
from JSON objects (one per argument or per input line)::

    {"cra": "command", "originator": "90B3D51F30010000", "recipient": "00DB1234567890A0",
     "originator_counter": 1000, "message_code": "0062", "content": "D92000...",
     "general_ciphering": true, "sign": false, "date_time": null}

``message_code`` is 4 hex digits (or an integer), ``content`` hex, ``date_time`` ISO 8601 or
null; optional ``supplementary_remote_party_id``, ``supplementary_remote_party_counter``,
``supplementary_originator_counter``. Output: the message as uppercase hex, or a GFI line.

This module imports the codec only inside the handlers, so ``hubrig`` builds its parser without
loading cryptography, and ``decode`` never loads the builder (nor ``encode`` the content decoders).
``python -m hubrig.harness.cli.gbcs decode ...`` is the same command without the other commands'
modules (what a batch job that starts many processes wants).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from hubrig.harness.cli import UserError
from hubrig.harness.gbcs.errors import GbcsError

if TYPE_CHECKING:
    from hubrig.harness.gbcs.keystore import KeyStore

_ENCODE_FIELDS = {"cra", "originator", "recipient", "originator_counter", "message_code", "content",
                  "general_ciphering", "sign", "date_time", "supplementary_remote_party_id",
                  "supplementary_remote_party_counter", "supplementary_originator_counter"}


def register(subparsers: argparse._SubParsersAction) -> None:
    gbcs = subparsers.add_parser("gbcs", help="decode and encode GBCS messages")
    sub = gbcs.add_subparsers(dest="gbcs_command", metavar="ACTION")
    sub.required = True

    decode = sub.add_parser("decode", help="GBCS messages (hex or GFI lines) to JSON, one per line")
    _key_options(decode)
    decode.add_argument("--pretty", action="store_true", help="indented JSON for people (default: compact)")
    decode.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="decode on N processes, output in input order (0: one per core)")
    decode.add_argument("--journal", metavar="FILE", help="decode again every GBCS frame of a frame journal")
    decode.add_argument("inputs", nargs="*", metavar="HEX", help="messages; '-' or none reads stdin")
    decode.set_defaults(handler=run_decode)

    encode = sub.add_parser("encode", help="JSON message descriptions to signed/MACed GBCS hex")
    _key_options(encode)
    encode.add_argument("--gfi", action="store_true", help="print GFI lines instead of bare hex")
    encode.add_argument("inputs", nargs="*", metavar="JSON", help="JSON objects; '-' or none reads stdin")
    encode.set_defaults(handler=run_encode)


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keys", metavar="DIR", help="key store directory (<eui>-ds.pem, <eui>-ka.key, ...)")
    parser.add_argument("--acb", metavar="EUI", help="Access Control Broker EUI (checks/makes command MACs)")


def _keys_and_acb(args: argparse.Namespace) -> tuple[KeyStore | None, str | None]:
    from hubrig.harness.gbcs.keystore import KeyStore, KeyStoreError, normalise_eui  # noqa: PLC0415
    keys = None
    if args.keys:
        try:
            keys = KeyStore(args.keys)
        except KeyStoreError as exc:
            raise UserError(f"--keys: {exc}") from None
    acb = None
    if args.acb:
        try:
            acb = normalise_eui(args.acb)
        except ValueError as exc:
            raise UserError(f"--acb: {exc}") from None
    return keys, acb


def _inputs(values: list[str]) -> Iterator[str]:
    """Arguments, with '-' (or no argument) standing for stdin lines; blank lines skipped."""
    for value in values or ["-"]:
        if value == "-":
            for line in sys.stdin:
                if line.strip():
                    yield line
        else:
            yield value


def message_bytes(text: str) -> bytes:
    """One input as message bytes: hex with or without spaces, or one GFI line."""
    text = text.strip()
    if text.startswith("GBCS:"):
        from hubrig.harness.capture.framing import Frame, GfiFraming  # noqa: PLC0415
        items = GfiFraming().feed(text.encode("ascii", "replace") + b"\n")
        if len(items) == 1 and isinstance(items[0], Frame):
            return items[0].payload
        errors = "; ".join(getattr(item, "error", "unexpected item") for item in items) or "empty line"
        raise GbcsError(f"GFI line: {errors}", 0)
    compact = "".join(text.split())
    if compact[:2].lower() == "0x":
        compact = compact[2:]
    if not compact:
        raise GbcsError("empty input", 0)
    try:
        return bytes.fromhex(compact)
    except ValueError:
        bad = next((i for i, c in enumerate(compact) if c not in "0123456789abcdefABCDEF"), len(compact))
        why = f"'{compact[bad]}' is not a hex digit" if bad < len(compact) else "odd number of hex digits"
        raise GbcsError(f"not hex: {why}", bad // 2) from None


def dumps(obj: dict, pretty: bool = False) -> str:
    """One record as JSON: compact (no spaces) by default, indented for ``--pretty``.

    orjson writes a record in a tenth of the standard library's time; a record it refuses (an
    integer wider than 64 bits, which a device can put in an ASN.1 INTEGER) goes through ``json``.
    """
    try:
        return orjson.dumps(obj, option=orjson.OPT_INDENT_2 if pretty else 0).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, indent=2) if pretty else json.dumps(obj, separators=(",", ":"))


Item = tuple[str, dict[str, Any]]
"""One input: its text (hex or a GFI line) and fields to put first in its record (journal ids)."""


class _Decoder:
    """Decodes one input to one output line; the same object serves every worker of a pool."""

    def __init__(self, keys: KeyStore | None, acb: str | None, pretty: bool):
        from hubrig.harness.gbcs.decode import decode_record  # noqa: PLC0415
        self.decode_record: Callable[..., dict] = decode_record
        self.keys, self.acb, self.pretty = keys, acb, pretty

    def __call__(self, item: Item) -> tuple[str, bool]:
        text, head = item
        try:
            record = {**head, **self.decode_record(message_bytes(text), self.keys, self.acb)}
            failed = False
        except GbcsError as exc:
            record, failed = {**head, **exc.to_json()}, True
        return dumps(record, self.pretty) + "\n", failed


_WORKER: _Decoder | None = None


def _init_worker(decoder: _Decoder) -> None:
    global _WORKER  # noqa: PLW0603 - one decoder per pool process, set once by the pool
    _WORKER = decoder


def _work(item: Item) -> tuple[str, bool]:
    assert _WORKER is not None
    return _WORKER(item)


def _journal_items(path: str) -> Iterator[Item]:
    from hubrig.harness.capture.journal import Journal, JournalError  # noqa: PLC0415
    try:
        journal = Journal.open_existing(path)
    except JournalError as exc:
        raise UserError(f"--journal: {exc}") from None
    with journal:
        frames = journal.frames()
    for frame in frames:
        if frame.kind == "frame":
            yield frame.raw.decode("ascii", "replace"), {"frame_id": frame.id, "direction": frame.direction}


def decode_lines(decoder: _Decoder, items: Iterable[Item], jobs: int) -> Iterator[tuple[str, bool]]:
    """Output lines in input order; ``jobs`` > 1 spreads the work over that many processes."""
    if jobs <= 1:
        yield from map(decoder, items)
        return
    import multiprocessing  # noqa: PLC0415

    # fork: the workers start with the key store already loaded; this command runs no threads
    with multiprocessing.get_context("fork").Pool(jobs, _init_worker, (decoder,)) as pool:
        yield from pool.imap(_work, items, chunksize=64)


def run_decode(args: argparse.Namespace) -> int:
    from hubrig.harness.gbcs.keystore import KeyStoreError  # noqa: PLC0415
    keys, acb = _keys_and_acb(args)
    if args.journal and args.inputs:
        raise UserError("give messages or --journal, not both")
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    items: Iterable[Item] = (_journal_items(args.journal) if args.journal
                             else ((text, {}) for text in _inputs(args.inputs)))
    failed = False
    write = sys.stdout.write
    try:
        for line, bad in decode_lines(_Decoder(keys, acb, args.pretty), items, jobs):
            write(line)
            failed |= bad
    except KeyStoreError as exc:  # a broken key-store file: the user fixes the store, not the input
        raise UserError(f"--keys: {exc}") from None
    return 1 if failed else 0


def run_encode(args: argparse.Namespace) -> int:
    from hubrig.harness.capture.framing import GfiFraming  # noqa: PLC0415
    from hubrig.harness.gbcs.builder import build_message  # noqa: PLC0415
    from hubrig.harness.gbcs.keystore import KeyStoreError  # noqa: PLC0415
    keys, acb = _keys_and_acb(args)
    framing = GfiFraming()
    failed = False
    for n, text in enumerate(_inputs(args.inputs), 1):
        try:
            payload = build_message(**message_fields(text), keys=keys, acb=acb)
        except (ValueError, KeyStoreError) as exc:
            failed = True
            sys.stdout.write(dumps({"error": str(exc), "input": n}) + "\n")
            continue
        sys.stdout.write(framing.encode(payload).decode("ascii") if args.gfi else payload.hex().upper() + "\n")
    return 1 if failed else 0


def message_fields(text: str) -> dict[str, Any]:
    """Builder keyword arguments from one JSON description (raises ValueError naming the field)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    unknown = set(obj) - _ENCODE_FIELDS
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    missing = {"cra", "originator", "recipient", "originator_counter", "message_code"} - set(obj)
    if missing:
        raise ValueError(f"missing fields: {', '.join(sorted(missing))}")
    fields = {
        "cra": _typed(obj, "cra", str),
        "originator": _typed(obj, "originator", str),
        "recipient": _typed(obj, "recipient", str),
        "counter": _typed(obj, "originator_counter", int),
        "message_code": _code(obj["message_code"]),
        "content": _hex(obj.get("content", ""), "content"),
        "general_ciphering": _typed(obj, "general_ciphering", bool, False),
        "sign": _typed(obj, "sign", bool, False),
        "date_time": _when(obj.get("date_time")),
    }
    if obj.get("supplementary_remote_party_id") is not None:
        fields["supplementary_remote_party_id"] = _typed(obj, "supplementary_remote_party_id", str)
    for name in ("supplementary_remote_party_counter", "supplementary_originator_counter"):
        if obj.get(name) is not None:
            fields[name] = _typed(obj, name, int)
    return fields


def _typed(obj: dict, name: str, kind: type, default: Any = None) -> Any:
    value = obj.get(name, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{name}: expected {kind.__name__}, got {json.dumps(value)}")
    return value


def _code(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ValueError(f"message_code: expected 4 hex digits or an integer, got {json.dumps(value)}")


def _hex(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a hex string")
    try:
        return bytes.fromhex("".join(value.split()))
    except ValueError:
        raise ValueError(f"{name}: not hex") from None


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("date_time: expected an ISO 8601 string or null")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"date_time: {value!r} is not ISO 8601") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    """``python -m hubrig.harness.cli.gbcs decode|encode ...``: this module's commands alone."""
    parser = argparse.ArgumentParser(prog="python -m hubrig.harness.cli.gbcs")
    register(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["gbcs", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"hubrig gbcs: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
