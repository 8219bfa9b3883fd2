"""The research cache (issue 18 item 6): the real recorded days replay identically through the
typed-column cache (same events, decisions, trades and P&L as reading the files); every field
is in a typed column (no JSON, no string payload); a file of another format version is rebuilt,
not misread; the cache keeps to its cap, least recently used files first, and `updown cache
prune` says what it removed, refusing a bad cap in one line."""

from __future__ import annotations

import gc
import os
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from live.kernel.domain import Asset, OrderSide, Outcome, SettlementRule, Window
from live.kernel.events import (
    BookDelta,
    BookSnapshot,
    ControlChange,
    OracleTick,
    Resolved,
    SignalLine,
    Trade,
    WindowListed,
    kind_of,
)
from research import cache, cache_columns
from research.backtest import run_backtest
from research.data import load_db, load_files
from research.sources import file_rows
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
GAMMA = "gamma_btc_5m_markets_2026-06-08.jsonl.gz"
ORACLE = "chainlink_btcusd_2026-06-08.csv.gz"

# Fields whose values are text (ids, names, enum values); every other field must not be a string.
TEXT_FIELDS = {"slug", "asset", "condition_id", "token_up", "token_down", "settlement_rule",
               "token_id", "side", "winner", "source", "key", "value", "signal_id",
               "strategy"}  # fmt: skip


def _outcome(dataset, strategy: str, **params) -> tuple:
    result = run_backtest(strategy, dataset, params=params, run_id="parity")
    return (
        result.trades.to_csv(),
        result.equity.to_csv(),
        repr(result.decisions),
        repr(sorted(result.summary.items())),
    )


def test_the_real_days_replay_identically_through_the_cache(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    tob = [shared_data / TOB]
    reference = load_files(tob, "2025-12-26", use_cache=False)  # the files, parsed line by line
    written = load_files(tob, "2025-12-26")  # a miss: parsed, then cached
    assert cache.read(cache.file_key(shared_data / TOB)) is not None
    hit = load_files(tob, "2025-12-26")  # a hit: rebuilt from the typed columns
    # repr, not ==: Decimal('0.50') == Decimal('0.5'), yet a cached event must keep its digits
    assert repr(hit.items) == repr(written.items) == repr(reference.items)
    assert hit.windows_frame().equals(reference.windows_frame())
    for strategy, params in (("canary", {}), ("canary", {"before_close_s": 120}),
                             ("always-lose", {}), ("vwap-contrarian", {})):  # fmt: skip
        assert _outcome(hit, strategy, **params) == _outcome(reference, strategy, **params)
    assert _outcome(hit, "canary")[3] != _outcome(hit, "always-lose")[3]  # the runs trade

    day = [shared_data / GAMMA, shared_data / ORACLE]  # windows, resolutions, oracle Decimals
    reference = load_files(day, "2026-06-08", use_cache=False)
    load_files(day, "2026-06-08")
    hit = load_files(day, "2026-06-08")
    assert repr(hit.items) == repr(reference.items) and hit.gaps == reference.gaps


def test_a_database_range_replays_identically_through_the_cache(
    shared_data, db_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    imported = CliRunner().invoke(app, ["data", "import", str(shared_data / TOB)], env=env)
    assert imported.exit_code == 0, imported.output
    with psycopg.connect(db_url) as conn:
        reference = load_db(conn, "2025-12-26", use_cache=False)
        load_db(conn, "2025-12-26")
        assert len(list(cache.cache_dir().glob("*.parquet"))) == 1
        hit = load_db(conn, "2025-12-26")
    assert repr(hit.items) == repr(reference.items) and len(hit.windows) == 32
    assert _outcome(hit, "canary") == _outcome(reference, "canary")
    # a grid over the database takes the cached events to its workers
    args = ["sweep", "grid", "canary", "--from", "2025-12-26", "--param", "before_close_s=60",
            "--workers", "1", "--min-trades", "1"]  # fmt: skip
    grid = CliRunner().invoke(app, args, env=env)
    assert grid.exit_code == 0, grid.output
    cell = pd.read_csv(tmp_path / "home" / "sweeps" / f"{_sweep_id(grid.output)}.csv")
    assert (cell.trades.tolist(), cell.pnl_net.round(4).tolist()) == ([11], [0.7313])


def _sweep_id(output: str) -> str:
    return output.split("event-driven trials logged under ")[1].split()[0]


def _leaves(field: pa.Field, prefix: str = "") -> list[tuple[str, pa.DataType]]:
    """(dotted name, type) of every leaf column under a field."""
    name, kind = f"{prefix}{field.name}", field.type
    if pa.types.is_struct(kind):
        return [leaf for child in kind for leaf in _leaves(child, f"{name}.")]
    if pa.types.is_list(kind):
        return _leaves(kind.value_field, f"{name}.")
    return [(name, kind)]


def test_every_field_is_in_a_typed_column_and_nothing_is_json(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    schemas = {}
    for name in (TOB, GAMMA, ORACLE):
        load_files([shared_data / name])
        key = cache.file_key(shared_data / name)
        schemas[name] = pq.read_schema(cache.cache_dir() / f"{key}.parquet")
    common = ["ts", "recv_ts", "event_ts", "source", "kind"]
    assert all(s.names[:5] == common for s in schemas.values())
    assert {n for s in schemas.values() for n in s.names[5:]} == {"window", "book", "resolved",
                                                                  "oracle"}  # fmt: skip
    leaves = dict(leaf for s in schemas.values() for f in s for leaf in _leaves(f))
    for name, kind in leaves.items():
        assert not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)), name
        if pa.types.is_string(kind) or pa.types.is_dictionary(kind):
            assert name.split(".")[-1] in TEXT_FIELDS | {"kind"}, f"{name} is text: {kind}"
    assert leaves["ts"] == leaves["window.open_ts"] == leaves["window.close_ts"] == pa.int64()
    ladder = pa.list_(pa.struct([("price", pa.float64()), ("size", pa.float64())]))
    book = schemas[TOB].field("book").type
    assert book.field("bids").type == book.field("asks").type == ladder
    oracle = schemas[ORACLE].field("oracle").type
    assert pa.types.is_decimal(oracle.field("price").type)
    window = schemas[GAMMA].field("window").type
    assert all(
        pa.types.is_decimal(window.field(f).type) for f in ("tick_size", "fee_rate", "strike")
    )
    assert schemas[TOB].metadata[cache.VERSION_KEY] == cache.VERSION.encode()


def test_every_market_kind_is_cached_field_by_field():
    classes = {"window": Window, "book": BookSnapshot, "book_delta": BookDelta, "trade": Trade,
               "oracle": OracleTick, "resolved": Resolved, "control": ControlChange,
               "signal": SignalLine}  # fmt: skip
    assert set(cache_columns.KINDS) == set(classes)  # the market kinds of research.sources
    for kind, spec in cache_columns.KINDS.items():
        names = cache_columns.field_names(classes[kind])
        assert tuple(spec.fields) == (names if kind == "window" else names[1:]), kind


# ------------------------------------------------------------------ exact round trip (property)

TRICKY = ["0.50", "0.5", "5", "1E+1", "-0", "0E-30", "63304.200301195075", "1e-50",
          "1" * 40, "1" * 80, "0.1" + "0" * 90, "-12.3400"]  # fmt: skip
decimals = st.sampled_from(TRICKY).map(Decimal) | st.decimals(allow_nan=False, allow_infinity=False)
texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
floats = st.floats(allow_nan=False, allow_infinity=False)
times = st.integers(0, 253_402_300_799_999)
levels = st.lists(st.tuples(floats, floats), max_size=3).map(tuple)


def _window(ts, slug, token, fee, strike, rule):
    window = Window(slug, Asset.ETH, 300, ts, ts + 300_000, "0xc", token, token + "d",
                    Decimal("0.01"), Decimal("5"), fee, rule, strike)  # fmt: skip
    return WindowListed(ts, window)


events = st.one_of(
    st.builds(
        _window,
        times,
        texts,
        texts,
        decimals,
        st.none() | decimals,
        st.sampled_from(SettlementRule),
    ),  # fmt: skip
    st.builds(BookSnapshot, times, texts, levels, levels),
    st.builds(BookDelta, times, texts, st.sampled_from(["bid", "ask"]), floats, floats),
    st.builds(Trade, times, texts, floats, floats, st.sampled_from(OrderSide)),
    st.builds(OracleTick, times, st.sampled_from(Asset), decimals, st.just("") | texts),
    st.builds(Resolved, times, texts, st.sampled_from(Outcome)),
    st.builds(ControlChange, times, texts, texts),
    st.builds(
        SignalLine,
        times,
        texts,
        st.sampled_from(Outcome),
        decimals,
        st.none() | decimals,
        st.none() | decimals,
        st.none(),
        st.none() | decimals,
        st.none() | texts,
        texts,
    ),  # fmt: skip
)


@st.composite
def event_rows(draw):
    event = draw(events)
    ts = draw(st.just(event.ts) | times)  # a DB row's ts may differ from its event's
    return (ts, draw(st.none() | times), draw(st.sampled_from(["clob", "gamma", "chainlink"])),
            event)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_rows(), max_size=12))
def test_rows_come_back_exactly_as_written(rows):
    table = cache_columns.to_table(rows)
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=5), table.schema)
    back = cache_columns.from_table(chunked)  # several chunks, as a big file reads
    assert repr(back) == repr(rows)  # kinds, order, times, floats, Decimal digits and exponents
    assert [kind_of(e) for *_, e in back] == [kind_of(e) for *_, e in rows]
    assert gc.isenabled()  # the collector, paused while the events are built, is back on


@pytest.mark.parametrize(
    ("prices", "stored"),
    [
        (["0.50", "0.5", "1E+1", "63304.200301195075"], "decimal + exponents"),
        (["0.07", "0.01"], "decimal"),
        (["1" * 80, "0.5"], "text"),  # beyond Arrow's 76 digits
        (["-0", "0.5"], "text"),  # a signed zero Arrow would drop
    ],
)
def test_decimals_keep_their_digits(prices, stored):
    rows = [(i, None, "chainlink", OracleTick(i, Asset.BTC, Decimal(p), "")) for i, p in
            enumerate(prices)]  # fmt: skip
    table = cache_columns.to_table(rows)
    oracle = table.schema.field("oracle").type
    kind = oracle.field("price").type
    found = "text" if pa.types.is_string(kind) else "decimal"
    if oracle.get_field_index("price_exp") >= 0:
        found += " + exponents"
    assert found == stored
    assert [str(e.price) for *_, e in cache_columns.from_table(table)] == [
        str(Decimal(p)) for p in prices
    ]


# ------------------------------------------------------------------ versions and the cap


def test_a_file_of_another_format_version_is_rebuilt_not_misread(
    shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    path = shared_data / GAMMA
    expected = repr(load_files([path], use_cache=False).items)
    target = cache.cache_dir() / f"{cache.file_key(path)}.parquet"
    old = pa.table({"ts": [1], "recv_ts": [None], "source": ["gamma"], "kind": ["window"],
                    "payload": [b'{"kind":"window"}']})  # fmt: skip
    pq.write_table(old, target)
    assert cache.read(cache.file_key(path)) is None
    assert repr(load_files([path]).items) == expected  # rebuilt
    stamped = pq.read_table(target)
    assert stamped.schema.metadata[cache.VERSION_KEY] == cache.VERSION.encode()
    pq.write_table(stamped.replace_schema_metadata({cache.VERSION_KEY: b"99"}), target)
    assert cache.read(cache.file_key(path)) is None  # another version's file is never read
    target.write_bytes(b"not parquet")
    assert cache.read(cache.file_key(path)) is None
    assert repr(load_files([path]).items) == expected


def _rows(shared_data, n: int):
    return cache.parsed(file_rows(shared_data / TOB)[:n])


def test_the_least_recently_used_files_go_first_and_the_cap_holds(
    shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    rows = _rows(shared_data, 3000)
    first = cache.write(cache.key_of("a"), rows)
    size = first.stat().st_size
    monkeypatch.setenv("UPDOWN_CACHE_MAX_MB", str(2.5 * size / cache.MB))
    os.utime(first, (1, 1))  # the oldest use
    second = cache.write(cache.key_of("b"), rows)
    os.utime(second, (2, 2))
    third = cache.write(cache.key_of("c"), rows)  # over the cap: the least recently used goes
    assert (first.exists(), second.exists(), third.exists()) == (False, True, True)
    os.utime(third, (3, 3))
    assert cache.read(cache.key_of("b")) == rows  # a read is a use: now `c` is the oldest
    fourth = cache.write(cache.key_of("d"), rows)
    assert (second.exists(), third.exists(), fourth.exists()) == (True, False, True)
    assert sum(f.size for f in cache.files()) <= cache.max_bytes()

    dry = cache.prune(0, dry_run=True)
    assert [f.path for f in dry.removed] == [second, fourth] and second.exists()
    done = cache.prune(size + 1)  # room for one: the older goes
    assert [f.path for f in done.removed] == [second] and done.kept == 1
    assert done.size == fourth.stat().st_size <= size + 1


def test_updown_cache_prune_lists_what_it_removes_and_refuses_a_bad_cap(
    shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    rows = _rows(shared_data, 2000)
    paths = [cache.write(cache.key_of(k), rows) for k in "abc"]
    for age, path in enumerate(reversed(paths)):  # c is the oldest use, a the newest
        os.utime(path, (1000 + age, 1000 + age))
    env = {"UPDOWN_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    for bad in (["--max-mb", "-1"], ["--max-mb", "abc"], ["--max-mb", "inf"], ["--max-mb", "nan"]):
        result = runner.invoke(app, ["cache", "prune", *bad], env=env)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert lines[0].startswith(f"error: --max-mb '{bad[1]}': ") and "megabytes" in lines[0]
    result = runner.invoke(app, ["cache", "prune"], env={**env, "UPDOWN_CACHE_MAX_MB": "lots"})
    assert result.exit_code == 2 and result.output.strip() == (
        "error: UPDOWN_CACHE_MAX_MB='lots': not a number of megabytes"
    )

    one = paths[0].stat().st_size / cache.MB
    dry = runner.invoke(app, ["cache", "prune", "--max-mb", f"{one * 1.5}", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    lines = dry.output.strip().splitlines()
    assert [ln.split()[2] for ln in lines[:2]] == [paths[2].name, paths[1].name]  # oldest first
    assert lines[0].startswith("would remove ") and " MB  last used " in lines[0]
    assert lines[2].startswith("would remove 2 files (") and all(p.exists() for p in paths)

    done = runner.invoke(app, ["cache", "prune", "--max-mb", f"{one * 1.5}"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1].startswith("removed 2 files (")
    assert [p.exists() for p in paths] == [True, False, False]
    empty = runner.invoke(app, ["cache", "prune", "--max-mb", "0"], env=env)
    assert empty.exit_code == 0 and "removed 1 file (" in empty.output
    assert not any(cache.cache_dir().glob("*.parquet"))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.sampled_from(["1e308", "1e-320", "0x10", "1_000", " 2 ", "", "-0", "-inf"]) | st.text())
def test_any_max_mb_prunes_or_is_refused_in_one_line(tmp_path, text):
    result = CliRunner().invoke(
        app, ["cache", "prune", "--max-mb", text], env={"UPDOWN_HOME": str(tmp_path)}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code != 0:
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
        assert result.output.startswith(f"error: --max-mb {text!r}: "), result.output


def test_a_bad_cap_fails_before_anything_is_written(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UPDOWN_CACHE_MAX_MB", "-5")
    with pytest.raises(ValueError, match="UPDOWN_CACHE_MAX_MB='-5': must be a finite number"):
        load_files([shared_data / GAMMA])
    assert not any(Path(cache.cache_dir()).iterdir())
