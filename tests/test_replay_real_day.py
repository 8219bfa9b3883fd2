"""The real day: Chainlink ticks and Gamma windows of 2026-06-08, converted and replayed, give
agree=280 disagree=0 uncertain=12, and the 12 are exactly the windows the data cannot decide."""

from __future__ import annotations

from typer.testing import CliRunner

from live.convert import convert_to_journal
from live.journal.replay import build_engine, replay
from live.kernel.records import SettlementRecord
from updown.cli import app

DAY = "2026-06-08"


def _journals(shared_data, tmp_path):
    oracle, windows = tmp_path / "oracle.jsonl.gz", tmp_path / "windows.jsonl"
    convert_to_journal("chainlink", shared_data / f"chainlink_btcusd_{DAY}.csv.gz", oracle)
    convert_to_journal(
        "gamma-markets", shared_data / f"gamma_btc_5m_markets_{DAY}.jsonl.gz", windows
    )
    return oracle, windows


def test_real_day_settlements_agree_with_the_venue(shared_data, tmp_path):
    oracle, windows = _journals(shared_data, tmp_path)
    result = CliRunner().invoke(app, ["replay", str(oracle), str(windows)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "settlements: agree=280 disagree=0 uncertain=12"

    settlements: list[SettlementRecord] = []
    engine = build_engine("canary")
    replay(
        [oracle, windows],
        engine,
        on_records=lambda batch: settlements.extend(
            r for r in batch if isinstance(r, SettlementRecord)
        ),
    )
    uncertain = {
        s.window_slug: s.detail.get("reason") for s in settlements if s.ours == "UNCERTAIN"
    }
    no_close_tick = {slug for slug, why in uncertain.items() if "close second" in why}
    no_strike = {slug for slug, why in uncertain.items() if why == "no strike"}
    # The oracle file has no tick in these windows' close second (gaps, and the day's end).
    assert sorted(int(slug.rsplit("-", 1)[1]) for slug in no_close_tick) == [
        1780878900,
        1780930200,
        1780946400,
        1780958400,
        1780962900,
        1780963200,
        1780963500,
        1780963800,
    ]
    # No strike was recorded for the four windows that OPEN at one of those gaps (a window's
    # strike is the price at its open, i.e. the previous window's close).
    assert sorted(int(slug.rsplit("-", 1)[1]) for slug in no_strike) == [
        1780879200,
        1780930500,
        1780946700,
        1780958700,
    ]
    assert len(uncertain) == 12
    assert all(s.agreement != "disagree" for s in settlements)
