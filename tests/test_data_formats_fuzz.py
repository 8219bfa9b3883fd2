"""No traceback for any public data file: files of each format (top-of-book CSV, Chainlink CSV,
Gamma markets JSON lines, Polymarket WebSocket messages) generated from the first rows of the
real recordings in shared/data/real with cells replaced, columns dropped, lines cut or repeated,
records mutated at any depth, and arbitrary bytes. `convert` writes a journal that reads back
whole, or raises ConvertError naming file, line and field and writes nothing. `updown data
import` of several such files (journals too) imports them all or, with one `error:` line and
exit 2, none: the database is exactly as before. Budgets: tests/fuzz_kit.py."""

from __future__ import annotations

import gzip
import json
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from fuzz_kit import JSON, MESSAGES, SHARED_DATA, deep_mutated, fuzz, mutated, tally
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from live.convert import ConvertError, convert_to_journal
from live.journal.reader import read_journal
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")


def _head(name: str, lines: int) -> list[str]:
    with gzip.open(SHARED_DATA / name, "rt") as src:
        return [next(src).rstrip("\n") for _ in range(lines)]


TOP = _head("btc_15m_top_of_book_1s_2025-12-26.csv.gz", 8)
CHAINLINK = _head("chainlink_btcusd_2026-06-08.csv.gz", 8)
GAMMA = [json.loads(line) for line in _head("gamma_btc_5m_markets_2026-06-08.jsonl.gz", 3)]
WS = [json.loads(p.read_text()) for p in sorted((MESSAGES / "ws").glob("*.json"))]
CELL = st.one_of(
    st.text(max_size=12).map(lambda t: t.replace(",", " ").replace("\n", " ").replace("\r", " ")),
    st.sampled_from(["", "0", "-1", "1", "0.5", "NaN", "inf", "1e999", "2025-12-26 10:45:00",
                     "2025-12-26 10:45:00+01:00", "9999-12-31 23:59:59", "0000-01-01 00:00:00",
                     "1780876800000", "99999999999999999999", "0.000001"]),
)  # fmt: skip


@st.composite
def csv_file(draw, real: list[str]) -> str:
    """Header and rows of a real CSV, with cells replaced, cells or columns dropped, rows cut."""
    rows = [line.split(",") for line in real]
    for _ in range(draw(st.integers(0, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(rows[r]) - 1))
        edit = draw(st.sampled_from(["cell", "cell", "cell", "drop", "column", "row"]))
        if edit == "cell":
            rows[r][c] = draw(CELL)
        elif edit == "drop":
            del rows[r][c]
        elif edit == "column":
            for row in rows:
                if c < len(row):
                    del row[c]
        elif len(rows) > 1:
            del rows[r]
    lines = [",".join(row) for row in rows]
    if draw(st.booleans()):
        lines = lines[: draw(st.integers(1, len(lines)))]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\nx"]))


def _jsonl(items: list) -> str:
    return "\n".join(json.dumps(i) for i in items) + "\n"


RECORD = st.sampled_from(GAMMA).flatmap(lambda r: st.one_of(deep_mutated(r), mutated(r)))
MESSAGE = st.sampled_from(WS).flatmap(lambda m: st.one_of(deep_mutated(m), mutated(m)))
FILES = {
    "top-of-book": csv_file(TOP),
    "chainlink": csv_file(CHAINLINK),
    "gamma-markets": st.lists(st.one_of(RECORD, st.sampled_from(GAMMA), JSON), min_size=1,
                              max_size=3).map(_jsonl),
    "polymarket-ws": st.one_of(
        st.lists(st.one_of(MESSAGE, st.sampled_from(WS)), min_size=1, max_size=3).map(json.dumps),
        st.lists(st.one_of(MESSAGE, JSON), min_size=1, max_size=3).map(_jsonl),
    ),
}  # fmt: skip
NAMES = {
    "top-of-book": "btc_15m_top_of_book_1s_x.csv",
    "chainlink": "chainlink_btcusd_x.csv",
    "gamma-markets": "gamma_btc_5m_markets_x.jsonl",
    "polymarket-ws": "polymarket_ws_x.json",
}


@st.composite
def public_file(draw) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(FILES)))
    text = draw(FILES[fmt])
    if draw(st.integers(0, 9)) == 0:  # now and then: a cut or a byte that is not UTF-8
        raw = text.encode()[: draw(st.integers(0, len(text.encode())))]
        return fmt, raw + draw(st.sampled_from([b"", b"\xff", b"\x00", b"\xc3"]))
    return fmt, text.encode("utf-8", "surrogatepass")


def _write(folder: Path, name: str, raw: bytes, gz: bool) -> Path:
    path = folder / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@fuzz(sample=120, campaign=8_000)
@given(case=public_file(), gz=st.booleans())
@example(("chainlink", b"\xff"), False)  # crashed: UnicodeDecodeError
@example(("top-of-book", b"\x1f\x8b\x08"), False)  # a cut gzip header under a .csv name
@example(("polymarket-ws", b'[{"event_type": [], "side": "BUY"}]'), False)  # crashed: TypeError
@example(("polymarket-ws", b'{"event_type": "price_change", "timestamp": "1", "side": []}'), False)
@example(
    ("gamma-markets", (json.dumps({**GAMMA[0], "outcome_prices": ":"}) + "\n").encode()), False
)
@example(("gamma-markets", (json.dumps({**GAMMA[0], "outcome_prices": 1.0}) + "\n").encode()), True)
def test_convert_writes_a_journal_that_reads_back_or_nothing(case, gz):
    fmt, raw = case
    tally(f"convert {fmt}")
    with tempfile.TemporaryDirectory() as tmp:
        source = _write(Path(tmp), NAMES[fmt], raw, gz)
        out = Path(tmp) / "out" / "journal.jsonl"
        out.parent.mkdir()
        try:
            summary = convert_to_journal(fmt, source, out, fee_rate="0.07")
        except ConvertError as exc:
            assert exc.path == str(source) and exc.field and exc.message
            assert list(out.parent.iterdir()) == []  # nothing written, not even a temp file
            return
        assert sum(1 for _ in read_journal([out])) == summary.events


JOURNAL = st.lists(
    st.one_of(
        st.sampled_from([
            {"ts": 1000, "kind": "window", "slug": "btc-updown-5m-1", "asset": "BTC",
             "length_s": 300, "open_ts": 1000, "close_ts": 301000, "condition_id": "0xc",
             "token_up": "U", "token_down": "D", "tick_size": "0.01", "min_size": "5",
             "fee_rate": "0.07", "settlement_rule": "spot_at_close"},
            {"ts": 2000, "kind": "book", "token_id": "U", "bids": [["0.40", "10"]], "asks": []},
            {"ts": 3000, "kind": "oracle", "asset": "BTC", "price": "100000", "source": "x"},
        ]).flatmap(lambda o: st.one_of(st.just(o), mutated(o))),
        JSON,
    ),
    min_size=1, max_size=3,
).map(_jsonl)  # fmt: skip


@pytest.fixture(scope="module")
def import_db(pg_admin_url, template_db):
    from live.store import db

    name = f"updown_f_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield db.with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _contents(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT count(*), max(id) FROM market_events").fetchone()
        windows = conn.execute("SELECT count(*), md5(string_agg(w::text, ',' ORDER BY slug)) "
                               "FROM windows w").fetchone()  # fmt: skip
    return events, windows


@fuzz(sample=25, campaign=2_500)
@given(files=st.lists(st.one_of(public_file(), JOURNAL.map(lambda t: ("journal", t.encode()))),
                      min_size=1, max_size=3))  # fmt: skip
def test_data_import_of_several_files_is_all_or_nothing(import_db, files):
    tally("updown data import")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, (fmt, raw) in enumerate(files):
            name = f"{i}_{NAMES.get(fmt, 'day.jsonl')}"
            paths.append(str(_write(Path(tmp), name, raw, gz=False)))
        before = _contents(import_db)
        env = {"UPDOWN_DATABASE_URL": import_db, "UPDOWN_HOME": str(Path(tmp) / "home")}
        result = CliRunner().invoke(app, ["data", "import", *paths], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert len(result.output.strip().splitlines()) == len(paths)
    else:
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert lines[0].endswith("(nothing was imported)")
        assert _contents(import_db) == before  # all or nothing
