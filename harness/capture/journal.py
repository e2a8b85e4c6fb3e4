"""The frame journal: every byte that crossed a link, durable before anything reads it.

An append-only SQLite database in WAL mode. :meth:`Journal.append_many` commits a batch of
frames in one transaction (the capture pipeline's group commit), :meth:`Journal.append` one
frame; once either has returned its frame ids those frames survive the harness being killed
outright (SIGKILL): ``synchronous=NORMAL`` in WAL mode gives exactly that guarantee without an
fsync per commit. Pass ``power_safe=True`` to also fsync every commit (survives a host power
cut, at the disk's fsync cost).

Two tables, both insert-only (triggers refuse UPDATE and DELETE):

* ``frames``: direction, rig-clock instant, wall instant, raw bytes, source, kind.
* ``decodes``: the decode result of a frame (a JSON record, or the error text), with the
  alert and message codes lifted out so ``frames(alert_code=...)`` is an index look-up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

JOURNAL_FILENAME = "journal.sqlite"
"""The journal's name inside a run directory."""

DIRECTIONS = ("in", "out")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    direction TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    t_ns      INTEGER NOT NULL,
    wall_ns   INTEGER NOT NULL,
    source    TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    raw       BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS decodes (
    frame_id     INTEGER PRIMARY KEY REFERENCES frames(id),
    record       TEXT,
    error        TEXT,
    alert_code   TEXT,
    message_code TEXT
);
CREATE INDEX IF NOT EXISTS decodes_alert ON decodes(alert_code);
CREATE TRIGGER IF NOT EXISTS frames_no_update BEFORE UPDATE ON frames
    BEGIN SELECT RAISE(ABORT, 'the frame journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS frames_no_delete BEFORE DELETE ON frames
    BEGIN SELECT RAISE(ABORT, 'the frame journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decodes_no_update BEFORE UPDATE ON decodes
    BEGIN SELECT RAISE(ABORT, 'the frame journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decodes_no_delete BEFORE DELETE ON decodes
    BEGIN SELECT RAISE(ABORT, 'the frame journal is append-only'); END;
"""


class JournalError(Exception):
    """The journal file cannot be opened or is not a hubrig journal."""


@dataclass(frozen=True)
class JournalFrame:
    """One journalled frame and, once decoded, its decode result."""

    id: int
    direction: str
    t_ns: int
    wall_ns: int
    source: str
    kind: str
    raw: bytes
    record: dict[str, Any] | None = None
    error: str | None = None

    @property
    def alert_code(self) -> int | None:
        return code_int(self.record.get("alert_code")) if self.record else None

    @property
    def message_code(self) -> int | None:
        return code_int(self.record.get("message_code")) if self.record else None


@dataclass(frozen=True)
class NewFrame:
    """A frame to append; ``outcome`` is its decode result (record, error) when already known
    (a framing error, a recognised notification), stored in the same transaction."""

    direction: str
    t_ns: int
    wall_ns: int
    raw: bytes
    source: str
    kind: str
    outcome: tuple[dict[str, Any] | None, str | None] | None = None


def code_int(value: Any) -> int | None:
    """An alert/message code as an int, from an int or a hex string ("8F36", "0x8F36")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 16)
    except ValueError:
        return None


def _code_key(value: Any) -> str | None:
    code = code_int(value)
    return None if code is None else f"{code:04X}"


class Journal:
    """Append-only, durable frame journal (SQLite, WAL). Thread-safe."""

    def __init__(self, path: str | Path, *, power_safe: bool = False):
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if power_safe else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a usable frame journal ({exc})") from None
        self._lock = threading.Lock()

    @classmethod
    def open_existing(cls, path: str | Path) -> "Journal":
        """Open a journal that must already exist: never creates a file, and refuses any file
        that is not a hubrig journal (a foreign SQLite database is left untouched)."""
        path = Path(path)
        if not path.is_file():
            raise JournalError(f"{path}: no such journal file")
        try:
            probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            finally:
                probe.close()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: not a frame journal ({exc})") from None
        if not {"frames", "decodes"} <= tables:
            raise JournalError(f"{path}: an SQLite file, but not a hubrig frame journal (no frames table)")
        return cls(path)

    def append(self, direction: str, t_ns: int, wall_ns: int, raw: bytes, source: str, kind: str) -> int:
        """Store one frame and commit it; the returned id is durable."""
        return self.append_many([NewFrame(direction, t_ns, wall_ns, raw, source, kind)])[0]

    def append_many(self, frames: Sequence[NewFrame]) -> list[int]:
        """Store ``frames`` (and the outcomes given with them) in one transaction; the returned
        ids, in order, are durable. Nothing of the batch is stored if any of it fails."""
        for frame in frames:
            if frame.direction not in DIRECTIONS:
                raise ValueError(f"direction must be 'in' or 'out', not {frame.direction!r}")
        with self._lock, self._transaction():
            ids = []
            for f in frames:
                cur = self._db.execute(
                    "INSERT INTO frames (direction, t_ns, wall_ns, source, kind, raw) VALUES (?,?,?,?,?,?)",
                    (f.direction, int(f.t_ns), int(f.wall_ns), f.source, f.kind, bytes(f.raw)))
                ids.append(int(cur.lastrowid))
            self._insert_decodes([(i, *f.outcome) for i, f in zip(ids, frames) if f.outcome is not None])
            return ids

    def set_decoded(self, frame_id: int, record: dict[str, Any] | None, error: str | None) -> None:
        """Store the decode result of frame ``frame_id`` (once)."""
        self.set_decoded_many([(frame_id, record, error)])

    def set_decoded_many(self, results: Sequence[tuple[int, dict[str, Any] | None, str | None]]) -> None:
        """Store several decode results ``(frame_id, record, error)`` in one transaction."""
        with self._lock, self._transaction():
            self._insert_decodes(results)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert_decodes(self, results: Sequence[tuple[int, dict[str, Any] | None, str | None]]) -> None:
        rows = []
        for frame_id, record, error in results:
            text = None if record is None else json.dumps(record, default=str, sort_keys=True)
            alert = _code_key(record.get("alert_code")) if record else None
            message = _code_key(record.get("message_code")) if record else None
            rows.append((frame_id, text, error, alert, message))
        self._db.executemany(
            "INSERT INTO decodes (frame_id, record, error, alert_code, message_code) VALUES (?,?,?,?,?)", rows)

    def frames(self, alert_code: int | str | None = None, since_id: int = 0, *, until_id: int | None = None,
               source: str | None = None, direction: str | None = None,
               limit: int | None = None) -> list[JournalFrame]:
        """Frames with ``since_id`` < id (<= ``until_id``) in id order, optionally only those with
        ``alert_code``, from ``source``, in ``direction``; at most ``limit`` of them."""
        sql = ("SELECT f.id, f.direction, f.t_ns, f.wall_ns, f.source, f.kind, f.raw, d.record, d.error "
               "FROM frames f LEFT JOIN decodes d ON d.frame_id = f.id WHERE f.id > ?")
        params: list[Any] = [since_id]
        for column, value in (("f.id <=", until_id), ("f.source =", source), ("f.direction =", direction)):
            if value is not None:
                sql += f" AND {column} ?"
                params.append(value)
        if alert_code is not None:
            key = _code_key(alert_code)
            if key is None:
                raise ValueError(f"not an alert code: {alert_code!r}")
            sql += " AND d.alert_code = ?"
            params.append(key)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY f.id" + ("" if limit is None else f" LIMIT {int(limit)}"),
                                    params).fetchall()
        return [JournalFrame(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]),
                             None if r[7] is None else json.loads(r[7]), r[8]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"
