"""A pooled rig's mains-off marker, kept in the database beside its lease (so the next holder,
on any host, finds a cut that a killed holder left), and the pytest hook that installs it in a
leased run's plans process.

Writing the marker (before every cut) is fenced by the lease token: a holder whose lease lapsed
cannot cut mains. Removing it (after a restore) never removes a later holder's marker.
:func:`restore_left_cut` is what the next holder does first on a rig whose marker it finds.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from hubrig.harness.racks.database import Database, rigs
from hubrig.harness.racks.leases import Lease, verify
from hubrig.harness.rig import mains

LEASE_ENV = "HUBRIG_LEASE"
"""Environment variable carrying a leased run's database and lease to its plans process (JSON)."""


class DatabaseMarker:
    """:class:`hubrig.harness.rig.mains.MarkerStore` in the ``rigs.mains_off`` column."""

    def __init__(self, db: Database, lease: Lease):
        self.db = db
        self.lease = lease

    def write(self, note: dict) -> None:
        with self.db.begin() as conn:
            verify(conn, self.db, self.lease)  # LeaseLost: no cut without a current lease
            note = {**note, "holder": self.lease.holder, "token": self.lease.token}
            conn.execute(sa.update(rigs).where(rigs.c.name == self.lease.rig).values(mains_off=json.dumps(note)))

    def read(self) -> dict | None:
        with self.db.begin() as conn:
            text = conn.execute(sa.select(rigs.c.mains_off).where(rigs.c.name == self.lease.rig)).scalar()
        if text is None:
            return None
        try:
            note = json.loads(text)
        except ValueError:
            note = None
        return note if isinstance(note, dict) else {"rig": self.lease.rig, "cut_at": "an unknown time"}

    def remove(self) -> None:
        with self.db.begin() as conn:
            text = conn.execute(sa.select(rigs.c.mains_off).where(rigs.c.name == self.lease.rig)
                                .with_for_update()).scalar()
            if text is None:
                return
            try:
                token = int(json.loads(text).get("token", 0))
            except (ValueError, AttributeError, TypeError):
                token = 0
            if token <= self.lease.token:
                conn.execute(sa.update(rigs).where(rigs.c.name == self.lease.rig).values(mains_off=None))


def lease_env(db: Database, lease: Lease) -> str:
    """The :data:`LEASE_ENV` value for a plans process run under ``lease``."""
    return json.dumps({"db": db.url.render_as_string(hide_password=False),
                       "lease": {"rig": lease.rig, "holder": lease.holder, "token": lease.token,
                                 "acquired_at": lease.acquired_at, "expires_at": lease.expires_at,
                                 "ttl_s": lease.ttl_s}})


def install(db: Database, lease: Lease) -> DatabaseMarker:
    """Keep ``lease.rig``'s mains-off marker in the database from now on, in this process."""
    marker = DatabaseMarker(db, lease)
    mains.marker_stores[lease.rig] = marker
    return marker


@contextmanager
def installed(db: Database, lease: Lease) -> Iterator[DatabaseMarker]:
    """:func:`install` for the duration of a block (the rig's marker goes back to its file after)."""
    marker = install(db, lease)
    try:
        yield marker
    finally:
        if mains.marker_stores.get(lease.rig) is marker:
            del mains.marker_stores[lease.rig]


def restore_left_cut(rigfile: str | Path) -> dict | None:
    """Open ``rigfile``'s mains switch alone and let :class:`~hubrig.harness.rig.mains.Mains` find
    the marker a dead holder left and restore mains (nothing else is opened or sent first); returns
    that marker's note (None: there was none). Call it with the rig's database marker installed
    (:func:`installed`). Raises :class:`~hubrig.harness.rig.mains.MainsNotRestoredError` (or the
    switch's own error when it cannot be opened): the marker then stays."""
    from hubrig.harness.capture.events import EventBus
    from hubrig.harness.capture.journal import JOURNAL_FILENAME, Journal
    from hubrig.harness.clock import RealClock
    from hubrig.harness.rig.file import load_rig
    from hubrig.harness.rig.instruments import MainsSwitch, OpenContext
    from hubrig.harness.rig.session import configured, default_state_dir, open_instrument, open_rig

    rig = load_rig(Path(rigfile))
    with tempfile.TemporaryDirectory(prefix="hubrig-restore-") as tmp, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", mains.MainsRecoveredWarning)  # the caller says what was restored
        if rig.is_virtual:  # its supply lives in the opening process: open_rig's Mains recovers the marker
            with open_rig(rigfile, tmp) as session:
                return session.mains.recovered
        key = rig.instruments.mains_switch
        fam, section = next((f, s) for f, s in configured(rig) if f.key == key)
        with ExitStack() as stack:
            clock = RealClock()
            stack.callback(clock.close)
            journal = Journal(Path(tmp) / JOURNAL_FILENAME)
            stack.callback(journal.close)
            bus = EventBus(clock)
            switch = open_instrument(fam, section, OpenContext(rig=rig, clock=clock, bus=bus, journal=journal,
                                                               keys=None, stack=stack), None)
            if not isinstance(switch, MainsSwitch):
                raise TypeError(f"instruments.{key} is not a mains switch ({type(switch).__name__})")
            guard = mains.Mains(switch, clock, bus, rig.state_dir or default_state_dir(), rig.name)
            guard.close()
            return guard.recovered


def pytest_configure(config: pytest.Config) -> None:
    """In a leased run's plans process (``-p hubrig.harness.racks.marker``): install the marker."""
    spec = os.environ.get(LEASE_ENV)
    if not spec:
        return
    data = json.loads(spec)
    install(Database(data["db"]), Lease(**data["lease"]))
