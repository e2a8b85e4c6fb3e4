"""A throwaway PostgreSQL server for the harness's own tests.

The session fixture ``pg_server`` starts one server on loopback, in a temporary folder, on a free
port, and stops it when the session ends; ``pg_url`` gives each test a fresh empty database on it.
``HUBRIG_TEST_PG_URL`` (a ``postgresql://`` URL of a server you run) is used instead when set.

``initdb`` refuses to run as root: as root the server runs as the ``postgres`` user (made by
Debian's ``postgresql`` package, which ``./dev test`` installs in CI) or ``nobody``, and that user
is given the temporary folder. A user's machine without PostgreSQL skips the tests that need it,
with the reason; under ``CI=true`` a server that cannot start is an error, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")


class PgUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (the message says why)."""


def find_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then the usual install places."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for pattern in _BIN_GLOBS:
        for folder in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
                return Path(folder)
    raise PgUnavailable("PostgreSQL's server programs (initdb, pg_ctl) are not installed "
                        "(Debian: apt-get install postgresql; or set HUBRIG_TEST_PG_URL)")


def _version_key(folder: str) -> tuple[int, ...]:
    digits = [p for p in Path(folder).parent.name.split(".") if p.isdigit()]
    return tuple(int(d) for d in digits) or (0,)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: ``url(dbname)`` to reach it, ``restart()`` to bounce it, ``stop()``."""

    bin_dir: Path
    folder: Path
    port: int
    user: str | None  # the unprivileged user the server runs as when we are root
    _count: int = 0

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://hubrig@127.0.0.1:{self.port}/{dbname}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.user, "--"] if self.user else []) + list(args)

    def _pg_ctl(self, *args: str) -> None:
        proc = subprocess.run(self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args),
                              capture_output=True, text=True, timeout=60, cwd=self.folder)
        if proc.returncode != 0:
            log = (self.folder / "server.log")
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise PgUnavailable(f"pg_ctl {args[-1]} failed: {proc.stderr.strip() or proc.stdout.strip()} {tail}")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port and data (what a lab's database restart does)."""
        self.stop()
        self.start()

    def new_database(self) -> str:
        """A fresh empty database's URL."""
        import psycopg

        self._count += 1
        name = f"t{os.getpid()}_{self._count}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=hubrig dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PgUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists for initdb")


def start_server() -> PgServer:
    """initdb a temporary cluster (trust auth, loopback only) and start it on a free port."""
    bin_dir = find_bin_dir()
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="hubrig-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PgServer(bin_dir, folder, free_port(), user)
    proc = subprocess.run(server._cmd(str(bin_dir / "initdb"), "-D", str(server.data), "-U", "hubrig",
                                      "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"),
                          capture_output=True, text=True, timeout=120, cwd=folder)
    if proc.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise PgUnavailable(f"initdb failed: {proc.stderr.strip()[-800:]}")
    try:
        server.start()
    except PgUnavailable:
        server.port = free_port()  # the free port may have been taken meanwhile: one more try
        server.start()
    return server


@dataclass
class ExternalPg:
    """A server the user runs (``HUBRIG_TEST_PG_URL``); each test gets its own database on it."""

    base: str
    _count: int = 0

    def new_database(self) -> str:
        import psycopg

        self._count += 1
        name = f"hubrig_t{os.getpid()}_{self._count}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.base.rsplit("/", 1)[0] + "/" + name


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI and could not be started: {reason}", pytrace=False)
    pytest.skip(f"needs a PostgreSQL server: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | ExternalPg]:
    """The session's PostgreSQL server (started on first use, stopped at session end)."""
    external = os.environ.get("HUBRIG_TEST_PG_URL")
    if external:
        yield ExternalPg(external)
        return
    try:
        server = start_server()
    except (PgUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(str(exc))
        return
    try:
        yield server
    finally:
        try:
            server.stop("immediate")
        except PgUnavailable:
            pass
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer | ExternalPg) -> str:
    """A fresh empty PostgreSQL database for one test, as a ``postgresql://`` URL."""
    return pg_server.new_database()
