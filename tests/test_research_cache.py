"""The research cache (issue 18 item 6): rows round-trip exactly through the typed Parquet
columns; the cache is capped in size (least recently used files go first) and `updown cache
prune` empties it to a cap, refusing a bad one in one line."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from research import cache
from research.sources import file_rows
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"


def test_rows_round_trip_and_the_cache_stays_under_its_cap(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    rows = file_rows(shared_data / TOB)[:5000]
    first = cache.write(cache.key_of("a"), rows)
    assert cache.read(cache.key_of("a")) == rows
    schema = pq.read_schema(first)
    assert str(schema.field("ts").type) == "int64" and "kind" in schema.names
    size = first.stat().st_size
    monkeypatch.setenv("UPDOWN_CACHE_MAX_MB", str(2.5 * size / 1024 / 1024))
    os.utime(first, (1, 1))  # the oldest use
    second = cache.write(cache.key_of("b"), rows)
    os.utime(second, (2, 2))
    third = cache.write(cache.key_of("c"), rows)  # over the cap: the least recently used goes
    assert (first.exists(), second.exists(), third.exists()) == (False, True, True)

    env = {"UPDOWN_HOME": str(tmp_path / "home")}
    bad = CliRunner().invoke(app, ["cache", "prune", "--max-mb", "-1"], env=env)
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output
    done = CliRunner().invoke(app, ["cache", "prune", "--max-mb", "0"], env=env)
    assert done.exit_code == 0 and done.output.startswith("removed 2 files"), done.output
    assert not any(cache.cache_dir().glob("*.parquet"))
