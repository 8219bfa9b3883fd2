"""Gamma market records → window and resolved events: label mapping, no look-ahead, rules."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from live.convert import gamma
from live.convert.common import ConvertError
from live.journal.codec import parse_event

GAMMA_DAY = "gamma_btc_5m_markets_2026-06-08.jsonl.gz"


@pytest.fixture
def first_record(shared_data):
    with gzip.open(shared_data / GAMMA_DAY, "rt") as stream:
        return json.loads(stream.readline())


def test_real_day_gives_every_window_and_resolution(shared_data):
    events = gamma.convert(shared_data / GAMMA_DAY)
    for event in events:
        parse_event(event)
    resolved = [e for e in events if e["kind"] == "resolved"]
    windows = {e["slug"] for e in events if e["kind"] == "window"}
    assert len(resolved) == 292 and len(windows) == 292
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)


def test_window_is_listed_without_strike_and_reopened_with_it(first_record):
    listed, opened, resolved = gamma.record_events(first_record, path="f", line=1)
    assert listed["ts"] == 1780790525044  # createdAt, ~24 h ahead
    assert "strike" not in listed
    assert opened["ts"] == opened["open_ts"] == 1780876500000
    assert opened["strike"] == "63123.544863797618"  # strike_value / 1e18, exact
    assert (opened["fee_rate"], opened["min_size"]) == ("0.07", "5")
    assert opened["settlement_rule"] == "spot_at_close"
    assert resolved == {
        "ts": 1780876816000,  # umaEndDate, 16 s after the close
        "kind": "resolved",
        "slug": "btc-updown-5m-1780876500",
        "winner": "UP",
    }


def test_closed_record_does_not_leak_its_final_tick_size(first_record):
    assert first_record["raw"]["orderPriceMinTickSize"] == 0.001  # the price ended above 0.96
    for event in gamma.record_events(first_record, path="f", line=1)[:2]:
        assert event["tick_size"] == "0.01"


def test_tokens_and_winner_are_mapped_by_label_not_position(first_record):
    record = copy.deepcopy(first_record)
    up, down = record["token_ids"]
    record["raw"]["outcomes"] = '["Down", "Up"]'
    record["raw"]["clobTokenIds"] = json.dumps([down, up])
    record["outcome_prices"] = ["0", "1"]  # in label order: Down 0, Up 1
    _, opened, resolved = gamma.record_events(record, path="f", line=1)
    assert (opened["token_up"], opened["token_down"]) == (up, down)
    assert resolved["winner"] == "UP"


def test_settlement_rule_switches_to_twap_on_2026_08_07(first_record):
    record = copy.deepcopy(first_record)
    record["start_sec"], record["end_sec"] = 1786060800, 1786061100
    record["raw"].pop("createdAt")
    (opened, _) = gamma.record_events(record, path="f", line=1)
    assert opened["settlement_rule"] == "twap_60s"


def test_strike_falls_back_to_event_metadata_price_to_beat(first_record):
    record = copy.deepcopy(first_record)
    record["strike_value"] = None
    record["raw"]["eventMetadata"] = {"priceToBeat": 63123.5}
    assert gamma.record_events(record, path="f", line=1)[1]["strike"] == "63123.5"
    record["raw"].pop("eventMetadata")
    assert all("strike" not in e for e in gamma.record_events(record, path="f", line=1))


def test_bad_record_names_line_and_field(first_record, tmp_path):
    record = copy.deepcopy(first_record)
    record["raw"]["outcomes"] = '["Yes", "No"]'
    src = tmp_path / "markets.jsonl"
    src.write_text(json.dumps(first_record) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(ConvertError, match=r"markets.jsonl:2: field 'outcomes'"):
        gamma.convert(src)


def test_resolved_record_with_undecided_prices_is_an_error(first_record):
    record = copy.deepcopy(first_record)
    record["outcome_prices"] = ["0.5", "0.5"]
    with pytest.raises(ConvertError, match="outcome_prices"):
        gamma.record_events(record, path="f", line=7)
