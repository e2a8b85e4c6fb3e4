"""``hubrig journal show RUN [--alert CODE]``: the frames of a run, decoded, as a table."""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hubrig.harness.cli import UserError
from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal, JournalError, JournalFrame, code_int

RAW_PREVIEW_BYTES = 24
PIPED_WIDTH = 160


def register(subparsers: argparse._SubParsersAction) -> None:
    journal = subparsers.add_parser("journal", help="read a run's frame journal")
    sub = journal.add_subparsers(dest="journal_command", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="print a run's frames, decoded")
    show.add_argument("run", metavar="RUN", help=f"a run directory (holding {JOURNAL_FILENAME}) or a journal file")
    show.add_argument("--alert", metavar="CODE", help="only frames carrying this alert code (e.g. 8F36)")
    show.add_argument("--since", metavar="ID", type=int, default=0, help="only frames after this journal id")
    show.add_argument("--raw", action="store_true", help="show each frame's raw bytes in full")
    show.set_defaults(handler=show_journal)


def journal_path(run: str) -> Path:
    """The journal file of ``run`` (a run directory or the file itself)."""
    path = Path(run)
    if path.is_dir():
        path = path / JOURNAL_FILENAME
        if not path.is_file():
            raise UserError(f"{run}: no {JOURNAL_FILENAME} in this run directory")
    elif not path.exists():
        raise UserError(f"{run}: no such run directory or journal file")
    return path


def parse_alert(text: str) -> int:
    code = code_int(text.strip())
    if code is None or not 0 <= code <= 0xFFFF:
        raise UserError(f"--alert {text}: not an alert code (four hex digits, e.g. 8F36 or 0x8F36)")
    return code


def show_journal(args: argparse.Namespace) -> int:
    alert = parse_alert(args.alert) if args.alert else None
    path = journal_path(args.run)
    try:
        journal = Journal.open_existing(path)
    except JournalError as exc:
        raise UserError(str(exc)) from None
    with journal:
        frames = journal.frames(alert_code=alert, since_id=args.since)
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH  # logs and pipes: don't squeeze the table to 80 columns
    console.print(frames_table(frames, path, alert, args.raw))
    if not frames:
        console.print("no frames" + (f" with alert {alert:04X}" if alert is not None else ""))
    return 0


def frames_table(frames: list[JournalFrame], path: Path, alert: int | None, raw: bool) -> Table:
    title = f"{path}: {len(frames)} frame(s)" + (f" with alert {alert:04X}" if alert is not None else "")
    table = Table(title=title, title_justify="left")
    columns = ("id", "dir", "t (s) from first", "wall (UTC)", "source", "kind", "cra", "message", "alert", "summary")
    for column in columns:
        table.add_column(column, no_wrap=column != "summary", overflow="fold")
    t0 = frames[0].t_ns if frames else 0
    for frame in frames:
        table.add_row(str(frame.id), frame.direction, f"{(frame.t_ns - t0) / 1e9:.6f}", _wall(frame.wall_ns),
                      frame.source, frame.kind, _field(frame, "cra"), _code(frame.message_code),
                      _code(frame.alert_code), _summary(frame, raw))
    return table


def _wall(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _code(code: int | None) -> str:
    return "" if code is None else f"{code:04X}"


def _field(frame: JournalFrame, key: str) -> str:
    value = frame.record.get(key) if frame.record else None
    return "" if value is None else str(value)


BODY_BOOKKEEPING = {"alert_code", "decoded_as", "invoke_flags", "invoke_id", "kind"}


def _summary(frame: JournalFrame, raw: bool) -> str:
    record = frame.record
    if frame.error is not None:
        lines = [f"[red]{escape(frame.error)}[/red]"]
    elif record is None:
        lines = ["[yellow]not decoded[/yellow]"]
    elif "notification" in record:
        lines = [escape(" ".join([str(record["notification"])] +
                                 [f"{k}={v}" for k, v in record.items() if k != "notification"]))]
    elif "cra" not in record:  # not GBCS: a link change, a HAN stick's NCP frame
        lines = [escape(" ".join(f"{k}={v}" for k, v in record.items() if not isinstance(v, (dict, list))))]
    else:
        lines = [escape(str(record.get("alert_name") or record.get("use_case") or "unknown use case")),
                 _parties(record)]
        body = record.get("body")
        if isinstance(body, dict):
            fields = [f"{k}={v}" for k, v in body.items()
                      if k not in BODY_BOOKKEEPING and v is not None and not isinstance(v, (dict, list))]
            if fields:
                lines.append(escape(", ".join(fields)))
    lines.append(f"[dim]{len(frame.raw)} B {escape(_raw_preview(frame.raw, raw))}[/dim]")
    return "\n".join(lines)


def _parties(record: dict) -> str:
    text = escape(f"{record.get('originator', '?')} -> {record.get('recipient', '?')} "
                  f"#{record.get('originator_counter', '?')}")
    checks = record.get("signature_valid") or []
    if checks:
        text += ", signature valid" if all(checks) else ", [red]signature INVALID[/red]"
    elif record.get("signature"):
        text += f", signature {escape(str(record['signature']))}"
    if record.get("mac"):
        mac = str(record["mac"])
        text += f", MAC {escape(mac)}" if mac == "valid" else f", [red]MAC {escape(mac)}[/red]"
    return text


def _raw_preview(data: bytes, full: bool) -> str:
    """A text line as text (quoted), anything else as hex; cut short unless ``full``."""
    line = data.rstrip(b"\r\n")
    if line and all(32 <= b < 127 for b in line):
        text = line.decode("ascii")
        limit = 2 * RAW_PREVIEW_BYTES
        return repr(text if full or len(text) <= limit else text[:limit] + "...")
    shown = data if full else data[:RAW_PREVIEW_BYTES]
    return shown.hex().upper() + ("" if len(shown) == len(data) else "...")
