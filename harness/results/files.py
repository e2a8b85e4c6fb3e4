"""``results.json`` and the report on disk: read with errors that name the file, written atomically.

A write goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target, so a reader never sees half a file; a write that fails (a full disk) removes its
temporary file and raises, leaving no partial file behind.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import ValidationError

from hubrig.harness.results.model import RunResults, parse_results


class ResultsError(ValueError):
    """A results file or store that cannot be read or written, or a run that is not there."""


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` all or nothing (raises ``OSError``, leaving no temporary file)."""
    p = Path(path)
    tmp = p.parent / f".{p.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the usual permissions, after umask
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def load_results(path: str | Path) -> RunResults:
    """Read and validate a results.json; errors name the file and the first bad field."""
    p = Path(path)
    try:
        return parse_results(p.read_bytes())
    except OSError as exc:
        raise ResultsError(f"{p}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}:{exc.lineno}: not JSON: {exc.msg}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise ResultsError(f"{p}: {field or 'document'}: {first['msg']}") from None


def save_results(results: RunResults, path: str | Path) -> Path:
    """Write results.json atomically (see the module docstring)."""
    return write_atomic(path, results.model_dump_json(indent=2).encode("utf-8"))
