"""The hubrig database: SQLite for one bench (a file, the default) or PostgreSQL for a lab, by URL.

One schema holds the results store's runs and the racks' rigs, leases and health. It is versioned
(``schema_meta.version``) and migrates forward when a database is opened; a database newer than
this hubrig is refused rather than guessed at. Times that leases depend on come from the
database's own clock (:meth:`Database.now`), never a client's: PostgreSQL's ``clock_timestamp()``,
or SQLite's ``julianday('now')`` on its one host. All times are seconds since the Unix epoch.

Where the database is: ``--db URL`` on a command, else ``$HUBRIG_DB``, else ``$HUBRIG_RESULTS_DB``
(the older name), else ``$XDG_DATA_HOME/hubrig/results.sqlite``. A plain path means SQLite;
``postgresql://user@host/db`` means PostgreSQL (through psycopg 3).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 4
"""The newest schema this hubrig writes (see :data:`MIGRATIONS`)."""

metadata = sa.MetaData()

schema_meta = sa.Table(
    "schema_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False))

# ---- results (schema 2: the plan-agnostic store; 3 adds where a run ran)
runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("started", sa.String(40), nullable=False),
    sa.Column("plans", sa.Text, nullable=False),
    sa.Column("rig", sa.String(128), nullable=False),
    sa.Column("dut", sa.Text, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("n_records", sa.Integer, nullable=False),
    sa.Column("n_failures", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False, comment="the whole RunResults document (JSON)"),
    sa.Column("firmware", sa.Text, nullable=True, comment="the DUT's firmware per role, for trends"),
    sa.Column("pool", sa.String(128), nullable=True),
    sa.Column("lease_token", sa.BigInteger, nullable=True),
    sa.Column("stored_at", sa.Float, nullable=True))

run_plans = sa.Table(
    "run_plans", metadata,
    sa.Column("run_id", sa.String(128), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("plan", sa.String(128), nullable=False))

records = sa.Table(
    "records", metadata,
    sa.Column("run_id", sa.String(128), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("plan", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(128), nullable=False),
    sa.Column("scenario", sa.Text, nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False))

measurements = sa.Table(
    "measurements", metadata,
    sa.Column("run_id", sa.String(128), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("scenario", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("value", sa.Text),
    sa.Column("unit", sa.Text),
    sa.Column("limit_set", sa.Text),
    sa.Column("verdict", sa.String(16), nullable=False))

# ---- racks (schema 3)
rigs = sa.Table(
    "rigs", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("pool", sa.String(128), nullable=False, index=True),
    sa.Column("rigfile", sa.Text, nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("health", sa.String(16), nullable=False),
    sa.Column("health_reason", sa.Text, nullable=False),
    sa.Column("health_at", sa.Float, nullable=False),
    sa.Column("last_check_at", sa.Float),
    sa.Column("last_check_ok", sa.Boolean),
    sa.Column("last_check_detail", sa.Text),
    sa.Column("jobs_since_check", sa.Integer, nullable=False),
    sa.Column("mains_off", sa.Text, comment="JSON note of a cut not yet restored (pooled rigs' marker)"))

leases = sa.Table(
    "leases", metadata,
    sa.Column("rig", sa.String(128), sa.ForeignKey("rigs.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False, comment="fencing token: grows by one per acquire"),
    sa.Column("holder", sa.String(256), comment="null: free"),
    sa.Column("acquired_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("expires_at", sa.Float),
    sa.Column("ttl_s", sa.Float))

lease_history = sa.Table(
    "lease_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rig", sa.String(128), nullable=False, index=True),
    sa.Column("holder", sa.String(256), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("end", sa.String(16), comment="released | lapsed | broken (released by someone else)"),
    sa.Column("job", sa.Text))

_V2 = (runs, run_plans, records, measurements)
_V3 = (rigs, leases, lease_history)
_ADDED_IN_V3 = ("firmware", "pool", "lease_token", "stored_at")


class DatabaseError(RuntimeError):
    """A database that cannot be opened, reached or understood; the message names it."""


def default_location() -> str:
    """``$HUBRIG_DB``, else ``$HUBRIG_RESULTS_DB``, else ``$XDG_DATA_HOME/hubrig/results.sqlite``."""
    for name in ("HUBRIG_DB", "HUBRIG_RESULTS_DB"):
        if os.environ.get(name):
            return os.environ[name]
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "hubrig", "results.sqlite")


def engine_url(location: str | Path) -> sa.URL:
    """The SQLAlchemy URL for a path or URL (``postgresql://`` uses psycopg 3)."""
    loc = str(location)
    if "://" not in loc:
        return sa.URL.create("sqlite", database=str(Path(loc).expanduser().resolve()))
    try:
        url = sa.make_url(loc)
    except sa.exc.ArgumentError:
        raise DatabaseError(f"database URL {loc!r} is not a URL (e.g. postgresql://user@host/db or a path)") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        return url
    raise DatabaseError(f"database URL {loc!r}: hubrig stores in sqlite or postgresql, not {url.drivername!r}")


def describe(url: sa.URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


class Database:
    """An open, migrated hubrig database (one engine; thread-safe: each transaction takes a connection)."""

    def __init__(self, location: str | Path | None = None):
        self.url = engine_url(location if location is not None else default_location())
        self.name = describe(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = self._create_engine()
        try:
            migrate(self)
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise DatabaseError(f"{self.name}: cannot open: {_reason(exc)}") from None
        except sa.exc.DatabaseError as exc:
            self.engine.dispose()
            raise DatabaseError(f"{self.name}: not a hubrig database ({_reason(exc)})") from None

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            return sa.create_engine(self.url, pool_pre_ping=True, pool_size=4, max_overflow=8,
                                    connect_args={"connect_timeout": 10})
        if self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(self.url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 (DB-API objects)
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Take the write lock at the start, so read-then-write (an acquire) cannot interleave.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction (committed on success, rolled back on error)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise DatabaseError(f"{self.name}: {_reason(exc)}") from None

    def now(self) -> sa.ColumnElement[float]:
        """The database's clock, in seconds since the epoch, as an SQL expression."""
        return _clock_sql(self.is_sqlite)

    def clock(self) -> float:
        """The database's clock now (one round trip)."""
        with self.begin() as conn:
            return float(conn.execute(sa.select(self.now())).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clock_sql(is_sqlite: bool) -> sa.ColumnElement[float]:
    if is_sqlite:
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)
    return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Float)


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


# ---------------------------------------------------------------------- migrations

def _to_v1(conn: Connection) -> None:
    """Nothing to make: schema 1 is only ever found (the first SQLite store)."""


def _to_v2(conn: Connection) -> None:
    """Schema 1's documents (``hubrig-results/2``) are not readable as ``hubrig-results/3``: its
    tables are kept, renamed ``*_v1``, and the plan-agnostic tables are made."""
    names = set(sa.inspect(conn).get_table_names())
    for name in ("runs", "trials", "measurements"):
        if name in names:
            conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_v1")
    metadata.create_all(conn, tables=list(_V2), checkfirst=True)


def _to_v3(conn: Connection) -> None:
    have = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    for column in _ADDED_IN_V3:
        if column not in have:
            kind = runs.c[column].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
    metadata.create_all(conn, tables=list(_V3), checkfirst=True)


def _to_v4(conn: Connection) -> None:
    """The first store's runs kept aside in ``runs_v1`` are converted and stored as runs (those
    that cannot be stay there, each with why: :mod:`hubrig.harness.results.upgrade`)."""
    from hubrig.harness.results.upgrade import convert_v1_runs

    is_sqlite = conn.dialect.name == "sqlite"
    convert_v1_runs(conn, is_sqlite, _clock_sql(is_sqlite))


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _to_v1, 2: _to_v2, 3: _to_v3, 4: _to_v4}
"""Schema version -> the step that brings the one before it there. 1: the first SQLite store
(``runs.n_trials``, no ``schema_meta``); 2: the plan-agnostic store (``runs.n_records``, run_plans,
records; SQLite ``user_version`` 3); 3: rigs, leases, lease history, and each run's pool and lease;
4: the first store's runs (``runs_v1``) converted into the plan-agnostic store."""


def _current_version(conn: Connection) -> int:
    names = set(sa.inspect(conn).get_table_names())
    if "schema_meta" in names:
        row = conn.execute(sa.select(schema_meta.c.value).where(schema_meta.c.key == "version")).first()
        if row is not None:
            return int(row[0])
    if "runs" not in names:
        return 0
    columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
    return 2 if "n_records" in columns else 1  # the SQLite-only stores had no schema_meta


def migrate(db: Database) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` (one transaction; concurrent openers wait)."""
    with db.engine.begin() as conn:
        if not db.is_sqlite:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(724311)"))  # one migrator at a time
        version = _current_version(conn)
        if version > SCHEMA_VERSION:
            raise DatabaseError(f"{db.name}: database schema {version} is newer than this hubrig's "
                                f"({SCHEMA_VERSION}); upgrade hubrig")
        if version == SCHEMA_VERSION:
            return version
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn)
        metadata.create_all(conn, tables=[schema_meta], checkfirst=True)
        conn.execute(sa.delete(schema_meta).where(schema_meta.c.key == "version"))
        conn.execute(sa.insert(schema_meta).values(key="version", value=str(SCHEMA_VERSION)))
        return SCHEMA_VERSION
