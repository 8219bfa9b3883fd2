"""No traceback for any CLI argument: generated values (hypothesis, seeded with real-looking ones)
for the options of replay, convert, backtest, sweep screen, run, control set, promote and
status either work or are refused in one `error:` line / a usage error, exit 1 or 2.

The sample is seeded and small in `make test`; `make fuzz` runs the campaign's budget and
UPDOWN_FUZZ_EXAMPLES=N gives every target N inputs (tests/fuzz_kit.py, docs/fuzzing.md).
Servers never start: `run` gets a database that does not answer (it refuses before trading),
`sandbox`, `demo`, `dashboard` and `report` are left to their own tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fuzz_kit import fuzz, tally
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from live.convert import convert_to_journal
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
FUZZ = fuzz(sample=25, campaign=400)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"

# text a user might type: real-looking values, their near misses, and anything at all
DAYS = st.sampled_from(["2025-12-26", "2026-06-08", "2025-12-26T10:30:00Z", "2025-13-01",
                        "2025-12-32", "26/12/2025", "", "now", "2025-12-26T25:00"])  # fmt: skip
NUMBERS = st.sampled_from(["0", "1", "-1", "0.5", "1e3", "NaN", "inf", "-inf", "1,5", "", "x"])
LISTS = st.sampled_from(["30,60", "30,,60", ",", "60", "-30", "30.5", "a,b", "0.5,0.7", "2,0.7"])
ANY = st.text(max_size=24)
VALUE = st.one_of(DAYS, NUMBERS, LISTS, ANY)


def outcome_is_clean(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def small_journal(tmp_path_factory) -> Path:
    """The first 600 seconds of the real top-of-book day, as a journal."""
    root = tmp_path_factory.mktemp("fuzz")
    with gzip.open(SHARED_DATA / TOB, "rt") as src:
        head = [next(src) for _ in range(601)]
    csv = root / "btc_15m_top_of_book_1s_2025-12-26.csv"
    csv.write_text("".join(head))
    journal = root / "books.jsonl"
    convert_to_journal("top-of-book", csv, journal, fee_rate="0.07")
    return journal


@pytest.fixture
def cli(db_url, tmp_path):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    return lambda *args, **extra: runner.invoke(app, list(args), env={**env, **extra})


@FUZZ
@given(balance=VALUE, strategies=st.one_of(st.just("canary"), ANY), mode=VALUE)
def test_replay(cli, small_journal, balance, strategies, mode):
    tally("updown replay")
    outcome_is_clean(cli("replay", str(small_journal), "--balance", balance,
                         "--strategies", strategies, "--mode", mode))  # fmt: skip


@FUZZ
@given(asset=VALUE, tz=st.one_of(st.just("UTC"), ANY), fee=VALUE)
def test_convert(cli, small_journal, tmp_path, asset, tz, fee):
    tally("updown convert")
    source = small_journal.parent / "btc_15m_top_of_book_1s_2025-12-26.csv"
    out = tmp_path / "out.jsonl"
    outcome_is_clean(cli("convert", "top-of-book", str(source), "-o", str(out), "--asset", asset,
                         "--tz", tz, "--fee-rate", fee))  # fmt: skip


@FUZZ
@given(start=DAYS, end=st.one_of(DAYS, ANY), latency=VALUE, param=VALUE, assets=VALUE)
def test_backtest(cli, small_journal, start, end, latency, param, assets):
    tally("updown backtest")
    outcome_is_clean(cli("backtest", "canary", "--data", str(small_journal), "--no-db",
                         "--from", start, "--to", end, "--latency-ms", latency, "--param", param,
                         "--assets", assets))  # fmt: skip


@FUZZ
@given(start=DAYS, offsets=VALUE, prices=VALUE)
def test_sweep_screen(cli, small_journal, start, offsets, prices):
    tally("updown sweep screen")
    outcome_is_clean(cli("sweep", "screen", "--data", str(small_journal), "--from", start,
                         "--offsets", offsets, "--min-prices", prices))  # fmt: skip


@FUZZ
@given(mode=VALUE, venue=st.sampled_from(["sandbox", "polymarket", "x"]), windows=VALUE,
       assets=VALUE, copies=VALUE, balance=NUMBERS, duration=NUMBERS)  # fmt: skip
def test_run_refuses_before_trading(cli, mode, venue, windows, assets, copies, balance, duration):
    tally("updown run")
    result = cli("run", "--mode", mode, "--venue", venue, "--window-seconds", windows,
                 "--assets", assets, "--copies", copies, "--paper-balance", balance,
                 "--duration", duration, "--sandbox-url", "http://127.0.0.1:1",
                 UPDOWN_DATABASE_URL=NOWHERE)  # fmt: skip
    outcome_is_clean(result)
    assert result.exit_code != 0


@FUZZ
@given(key=st.one_of(st.sampled_from(["kill_switch", "max_position_usd", "trading_mode",
                                      "allowed_instruments"]), ANY), value=VALUE)  # fmt: skip
def test_control_set(cli, key, value):
    tally("updown control set")
    outcome_is_clean(cli("control", "set", key, value))


@FUZZ
@given(strategy=st.one_of(st.just("canary"), ANY), target=VALUE)
def test_promote(cli, strategy, target):
    tally("updown promote")
    outcome_is_clean(cli("promote", strategy, "--to", target))


@FUZZ
@given(url=st.one_of(ANY, st.builds("http://127.0.0.1:1/{}".format, ANY)))
def test_status(cli, url):
    tally("updown status")
    result = cli("status", "--url", url)
    outcome_is_clean(result)
    assert result.exit_code in (1, 2)
