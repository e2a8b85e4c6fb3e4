"""The tests' throwaway PostgreSQL: skipped with a reason on a user's machine without it, an error in CI."""

from __future__ import annotations

import pytest

import pgserver


def test_missing_server_programs_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(pgserver, "_BIN_GLOBS", ("/nonexistent/*/bin",))
    with pytest.raises(pgserver.PgUnavailable, match="initdb, pg_ctl.*apt-get install postgresql"):
        pgserver.find_bin_dir()


def test_no_server_skips_with_the_reason_on_a_users_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs a PostgreSQL server: initdb failed"):
        pgserver._unavailable("initdb failed")


def test_no_server_is_an_error_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI.*initdb failed"):
        pgserver._unavailable("initdb failed")


def test_the_server_is_on_loopback_and_gives_fresh_databases(pg_server) -> None:
    import psycopg

    if not isinstance(pg_server, pgserver.PgServer):
        pytest.skip("HUBRIG_TEST_PG_URL: a server the user runs, configured as they chose")
    first, second = pg_server.new_database(), pg_server.new_database()
    assert first != second and "@127.0.0.1:" in first
    with psycopg.connect(first) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
