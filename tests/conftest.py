"""Shared fixtures: one PostgreSQL server per test session (the server at UPDOWN_DATABASE_URL, or
the embedded one), one migrated template database per session, and a fresh database per test for
tests that need isolation. Every database created here is dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings

from live.store import db, migrate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "real"

# Hypothesis: locally the default profile (a new random search each run; what it finds is saved
# in .hypothesis and replayed first). On CI (CI set) derandomized: every run tries the same
# examples, so a red build comes from the commit, not from the draw, and reproduces; the cases
# found locally are pinned as @example. HYPOTHESIS_PROFILE chooses either explicitly.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


def _admin_url() -> str:
    url = os.environ.get(db.ENV_URL)
    if url:
        return url
    return db.embedded_url(REPO / ".updown")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the server tests create their databases on (its maintenance database)."""
    return _admin_url()


def _create_db(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return db.with_database(admin_url, name)


def _drop_db(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    """Name of a migrated database used as the template for per-test databases."""
    name = f"updown_tmpl_{uuid.uuid4().hex[:10]}"
    url = _create_db(pg_admin_url, name)
    migrate.migrate(url)
    yield name
    _drop_db(pg_admin_url, name)


@pytest.fixture(scope="session")
def session_db_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database shared by the whole test session (per xdist worker)."""
    name = f"updown_test_{uuid.uuid4().hex[:10]}"
    url = _create_db(pg_admin_url, name)
    migrate.migrate(url)
    yield url
    _drop_db(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"updown_t_{uuid.uuid4().hex[:12]}"
    url = _create_db(pg_admin_url, name, template=template_db)
    yield url
    _drop_db(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = f"updown_e_{uuid.uuid4().hex[:12]}"
    url = _create_db(pg_admin_url, name)
    yield url
    _drop_db(pg_admin_url, name)


@pytest.fixture
def shared_data() -> Path:
    """The read-only real recordings in ../shared/data/real."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_sessionfinish(session) -> None:
    """With UPDOWN_FUZZ_COUNTS set, write this process's fuzz tally (see tests/fuzz_kit.py)."""
    import sys

    kit = sys.modules.get("fuzz_kit")
    if kit is not None:
        kit.write_counts(os.environ.get("PYTEST_XDIST_WORKER", "main"))
