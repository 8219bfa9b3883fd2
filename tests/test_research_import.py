"""`updown data import | export` on bad input: one line naming the file and line (or the flag),
exit 2, and the database exactly as before — several files are imported all or nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from research import store
from research.sources import raw_row
from research.staging import ImportRefused, StagedFile
from updown.cli import app

runner = CliRunner()
WINDOW = {"ts": 1000, "kind": "window", "slug": "btc-updown-5m-1", "asset": "BTC",
          "length_s": 300, "open_ts": 1000, "close_ts": 301000, "condition_id": "0xc",
          "token_up": "U", "token_down": "D", "tick_size": "0.01", "min_size": "5",
          "fee_rate": "0.07", "settlement_rule": "spot_at_close"}  # fmt: skip
BOOK = {"ts": 2000, "kind": "book", "token_id": "U", "bids": [["0.40", "10"]], "asks": []}


def _journal(path: Path, *lines: dict | str) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _counts(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        events = conn.execute("SELECT count(*) FROM market_events").fetchone()[0]
        windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
    return events, windows


def _invoke(db_url: str, tmp_path: Path, *args: str):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    return runner.invoke(app, list(args), env=env)


def _one_error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def test_import_of_several_files_is_all_or_nothing(db_url, tmp_path):
    good = _journal(tmp_path / "good.jsonl", WINDOW, BOOK)
    bad = _journal(tmp_path / "bad.jsonl", {**BOOK, "ts": 3000}, "# a comment", {"ts": 4000})
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(good), str(bad)))
    assert line == f"error: {bad}:line 3 field 'kind': missing (nothing was imported)"
    assert _counts(db_url) == (0, 0)

    assert _invoke(db_url, tmp_path, "data", "import", str(good)).exit_code == 0
    before = _counts(db_url)
    assert before == (2, 1)
    other = _journal(tmp_path / "other.jsonl", {**BOOK, "ts": 5000})
    gone = tmp_path / "gone.jsonl"
    result = _invoke(db_url, tmp_path, "data", "import", str(other), str(gone))
    assert _one_error_line(result) == f"error: {gone}: no such file (nothing was imported)"
    assert _counts(db_url) == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"length_s": 0}, "line 2 field 'length_s': must be 1 to 2147483647 seconds, got 0"),
        ({"slug": "btc\x00x"}, "line 2: a string holds a NUL character"),
        ({"recv_ts": 10**17}, "line 2 field 'recv_ts': must be epoch ms within years 1-9999"),
        ({"tick_size": "1e200000"}, "line 2 field 'tick_size': 1e200000 is too large"),
        ({"ts": 10**20}, "line 2 field 'ts': must be epoch ms up to 253402300799999"),
    ],
)
def test_import_refuses_a_row_the_database_cannot_hold_naming_its_line(
    db_url, tmp_path, change, expected
):
    good = _journal(tmp_path / "good.jsonl", WINDOW, BOOK)
    bad = _journal(tmp_path / "bad.jsonl", BOOK, {**WINDOW, **change})
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(good), str(bad)))
    assert line.startswith(f"error: {bad}:{expected}"), line
    assert _counts(db_url) == (0, 0)


def test_import_names_the_line_of_text_that_is_not_json_or_not_utf8(db_url, tmp_path):
    not_json = _journal(tmp_path / "a.jsonl", BOOK, "{not json")
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(not_json)))
    assert line.startswith(f"error: {not_json}:line 2: not valid JSON")
    not_utf8 = tmp_path / "b.jsonl"
    not_utf8.write_bytes(json.dumps(BOOK).encode() + b"\n\xff\xfe\n")
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(not_utf8)))
    assert line.startswith(f"error: {not_utf8}:line 2: not UTF-8 text")
    deep = _journal(tmp_path / "c.jsonl", '{"ts": 1, "kind": "timer", "x": ' + "[" * 10**5)
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(deep)))
    assert line.startswith(f"error: {deep}:line 1: ")
    assert _counts(db_url) == (0, 0)


def test_import_of_a_damaged_gzip_names_the_file(db_url, tmp_path):
    damaged = tmp_path / "day.jsonl.gz"
    damaged.write_bytes(gzip.compress(json.dumps(BOOK).encode() * 50)[:40])
    line = _one_error_line(_invoke(db_url, tmp_path, "data", "import", str(damaged)))
    assert line.startswith(f"error: {damaged}:line 1: cannot read the file")
    assert _counts(db_url) == (0, 0)


def test_a_row_the_database_refuses_while_writing_rolls_back_every_file(db_url, tmp_path):
    good = StagedFile(tmp_path / "good.jsonl", "journal", [raw_row(WINDOW), raw_row(BOOK)])
    bad_window = {**WINDOW, "slug": "btc-updown-5m-2", "length_s": 0}  # unchecked: staged by hand
    bad = StagedFile(tmp_path / "bad.jsonl", "journal", [raw_row(bad_window)])
    with psycopg.connect(db_url) as conn, pytest.raises(ImportRefused) as info:
        store.write_staged(conn, [good, bad])
    assert str(info.value).startswith(f"{bad.path}: the database refused a row (new row")
    assert _counts(db_url) == (0, 0)


OUTSIDE = "is outside 1970-01-01 .. 9999-12-29"


@pytest.mark.parametrize(
    ("start", "end", "assets", "expected"),
    [
        ("9999-12-31", "9999-12-31", None, f"--from '9999-12-31': '9999-12-31' {OUTSIDE}"),
        ("0001-01-01", "2026-01-01", None, f"--from '0001-01-01': '0001-01-01' {OUTSIDE}"),
        ("2026-01-01", "2026-02-30", None, "--to '2026-02-30': day is out of range for month"),
        ("2026-03-02", "2026-03-01", None, "--to 2026-03-01 is not after --from 2026-03-02"),
        ("2026-01-01", "2026-01-01", "btc,doge", "--assets: not an asset: 'DOGE'; known: BTC, "
                                                 "ETH, SOL, XRP"),
    ],
)  # fmt: skip
def test_export_names_the_flag_of_a_bad_range_or_asset(
    db_url, tmp_path, start, end, assets, expected
):
    output = tmp_path / "out.jsonl"
    args = ["data", "export", "--from", start, "--to", end, "-o", str(output)]
    result = _invoke(db_url, tmp_path, *args, *(["--assets", assets] if assets else []))
    assert _one_error_line(result) == f"error: {expected}"
    assert not output.exists()


def test_export_into_a_directory_says_it_cannot_write(db_url, tmp_path):
    args = ["data", "export", "--from", "2026-01-01", "--to", "2026-01-01", "-o", str(tmp_path)]
    line = _one_error_line(_invoke(db_url, tmp_path, *args))
    assert line == f"error: -o {tmp_path}: cannot write it (Is a directory)"
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*.tmp"))  # no temp file left
