"""Migrations: idempotent, recorded with checksums, serialised, and guarded against edits."""

from __future__ import annotations

import threading
from dataclasses import replace

import psycopg
import pytest

from live.store import migrate


def test_migrate_applies_everything_once(empty_db_url):
    first = migrate.migrate(empty_db_url)
    assert [m.version for m in first] == [m.version for m in migrate.available()]
    assert migrate.migrate(empty_db_url) == []
    with psycopg.connect(empty_db_url) as conn:
        rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    assert {v: c for v, c in rows} == {m.version: m.checksum for m in migrate.available()}
    assert {state for _, state in migrate.status(empty_db_url)} == {"applied"}


def test_changed_applied_migration_is_an_error(empty_db_url, monkeypatch):
    migrate.migrate(empty_db_url)
    original = migrate.available()
    edited = [replace(original[0], sql=original[0].sql + "\n-- edited\n"), *original[1:]]
    monkeypatch.setattr(migrate, "available", lambda: edited)
    with pytest.raises(migrate.MigrationError, match="changed after it was applied"):
        migrate.migrate(empty_db_url)
    assert migrate.status(empty_db_url)[0][1] == "CHANGED"


def test_concurrent_migrators_apply_each_migration_once(empty_db_url):
    results: list[list] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(migrate.migrate(empty_db_url))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(r) for r in results) == len(migrate.available())


def test_failed_migration_leaves_no_partial_schema(empty_db_url, monkeypatch):
    broken = migrate.Migration(1, "broken", "CREATE TABLE half_done (x int); SELECT 1/0;")
    monkeypatch.setattr(migrate, "available", lambda: [broken])
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrate.migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 0
