"""Every decision in one sentence (issue 16 item 7): each sentence function of live/kernel/audit.py
renders its stored inputs into the exact words an operator reads. The expected strings are written
by hand; the inputs are shaped as they are stored (Decimals, or strings from jsonb)."""

from __future__ import annotations

from decimal import Decimal

from live.kernel.audit import (
    breaker_sentence,
    clock,
    control_sentence,
    decision_sentence,
    exit_sentence,
    kill_sentence,
    settlement_sentence,
)

T = 1_780_000_242_000  # 20:30:42.000 UTC
D = Decimal


def test_clock_is_utc_time_of_day_to_the_millisecond():
    assert clock(T) == "20:30:42.000"
    assert clock(T + 1_234) == "20:30:43.234"


# ---------------------------------------------------------------- entries


ENTRY = {"ts": T, "strategy": "canary", "clob_price": 0.54, "balance_usd": "68"}


def test_an_entry_says_when_its_order_was_sent_not_when_it_was_decided():
    inputs = {**ENTRY, "client_order_id": "r-o000001", "sent_ts": T + 16}
    assert decision_sentence(inputs, None, {}) == (
        "entered because: CLOB was $0.54, canary strategy was active, risk check passed with "
        "$68.00 balance, order placed at 20:30:42.016"
    )


def test_an_entry_whose_order_the_runner_sends_later_claims_no_placement_time():
    inputs = {**ENTRY, "client_order_id": "r-o000001", "sent_ts": None}
    assert decision_sentence(inputs, None, {}) == (
        "entered because: CLOB was $0.54, canary strategy was active, risk check passed with "
        "$68.00 balance, decided at 20:30:42.000, order r-o000001 placed when the runner sends "
        "it (send time on the order)"
    )


def test_a_denial_names_its_code_and_numbers():
    inputs = {**ENTRY, "reason": "VWAP said UP"}
    assert decision_sentence(inputs, "POSITION_CAP", {"requested_usd": "12.00"}) == (
        "not entered because: risk check denied POSITION_CAP (requested_usd=12.00); CLOB was "
        "$0.54, VWAP said UP, canary strategy was active, signal at 20:30:42.000"
    )


# ---------------------------------------------------------------- exits

STOP = {
    "trigger": "STOP_LOSS",
    "triggered_ts": T,
    "price_seen": "0.57",
    "threshold": "0.57000000",
    "entry_price": "0.600000",
    "parameter": "0.05",
}


def test_a_stop_loss_just_triggered_has_no_exit_price_yet():
    assert exit_sentence(STOP) == (
        "exit because: stop-loss — bid $0.57 at 20:30:42.000 was at or below the threshold $0.57 "
        "(entry $0.60 − 5%); no exit order sent yet; actual exit price not known yet"
    )


def test_a_stop_loss_once_filled_gives_intended_and_actual_exit_prices():
    inputs = {**STOP, "intended_price": "0.57", "actual_price": "0.565"}
    assert exit_sentence(inputs) == (
        "exit because: stop-loss — bid $0.57 at 20:30:42.000 was at or below the threshold $0.57 "
        "(entry $0.60 − 5%); intended exit price $0.57; actual exit price $0.565"
    )


def test_a_take_profit_names_its_threshold_above_the_entry():
    inputs = {
        "trigger": "TAKE_PROFIT",
        "triggered_ts": T,
        "price_seen": D("0.72"),
        "threshold": D("0.720"),
        "entry_price": D("0.6"),
        "parameter": D("0.2"),
        "intended_price": D("0.72"),
    }
    assert exit_sentence(inputs) == (
        "exit because: take-profit — bid $0.72 at 20:30:42.000 was at or above the threshold "
        "$0.72 (entry $0.60 + 20%); intended exit price $0.72; actual exit price not known yet"
    )


def test_a_trailing_stop_names_the_peak_it_trails():
    inputs = {
        "trigger": "TRAILING_STOP",
        "triggered_ts": T,
        "price_seen": "0.675",
        "threshold": "0.675",
        "peak_bid": "0.75",
        "parameter": "0.1",
    }
    assert exit_sentence(inputs) == (
        "exit because: trailing stop — bid $0.675 at 20:30:42.000 was at or below the threshold "
        "$0.675 (peak bid $0.75 − 10%); no exit order sent yet; actual exit price not known yet"
    )


def test_a_flatten_names_the_trading_state_the_kill_switch_set():
    inputs = {"trigger": "FLATTEN", "triggered_ts": T, "price_seen": "0.41"}
    inputs |= {"trading_state": "EMERGENCY", "intended_price": "0.41", "actual_price": "0.4"}
    assert exit_sentence(inputs) == (
        "exit because: flatten — the trading state was EMERGENCY (the kill switch closes every "
        "position at market) at 20:30:42.000, bid $0.41; intended exit price $0.41; actual exit "
        "price $0.40"
    )


def test_a_time_exit_is_held_to_settlement_and_says_what_settlement_paid():
    inputs = {"trigger": "EXPIRY", "triggered_ts": T, "close_ts": T, "price_seen": "0.7"}
    assert exit_sentence({**inputs, "settle_price": "1", "winner": "UP"}) == (
        "exit because: time exit — the position was still held at the window's close at "
        "20:30:42.000 (the time limit), last bid $0.70; no exit order: held to settlement; "
        "settled at $1.00 a share (UP won)"
    )


def test_an_exit_sold_in_part_then_settled_gives_both_prices():
    inputs = {**STOP, "intended_price": "0.57", "actual_price": "0.57"}
    assert exit_sentence({**inputs, "settle_price": "0", "winner": "DOWN"}).endswith(
        "intended exit price $0.57; actual exit price $0.57; the rest settled at $0.00 a share "
        "(DOWN won)"
    )


def test_an_adopted_exit_without_its_threshold_says_unknown_not_a_guess():
    inputs = {"trigger": "STOP_LOSS", "price_seen": "0.57", "intended_price": "0.57"}
    assert exit_sentence(inputs) == (
        "exit because: stop-loss — bid $0.57 was at or below the threshold unknown (entry "
        "unknown − unknown %); intended exit price $0.57; actual exit price not known yet"
    )


# ---------------------------------------------------------------- settlements

SETTLED = {
    "window_slug": "btc-updown-5m-1780000000",
    "rule": "spot_at_close",
    "strike": D("100000"),
    "settlement_price": D("100050.5"),
    "ours": "UP",
    "venue": "UP",
    "agreement": "agree",
    "detail": {"tick_ts": "1780000300100"},
    "ts": T,
}


def test_a_settlement_gives_rule_strike_final_price_and_both_outcomes():
    assert settlement_sentence(SETTLED) == (
        "settled btc-updown-5m-1780000000 at 20:30:42.000 because: rule spot_at_close (the first "
        "oracle price in the close second), strike $100,000.00, final price $100,050.50 ≥ strike "
        "→ ours UP; venue UP: we agree"
    )


def test_a_disagreeing_settlement_says_so_loudly():
    inputs = {**SETTLED, "settlement_price": "99999.99", "ours": "DOWN", "agreement": "disagree"}
    assert settlement_sentence(inputs).endswith(
        "final price $99,999.99 < strike → ours DOWN; venue UP: WE DISAGREE (the breaker trips)"
    )


def test_an_uncertain_settlement_gives_the_reason_ours_is_unknown():
    inputs = {
        **SETTLED,
        "rule": "twap_60s",
        "settlement_price": None,
        "ours": "UNCERTAIN",
        "venue": "DOWN",
        "agreement": "uncertain",
        "detail": {"reason": "only 40 of 60 seconds have oracle ticks"},
    }
    assert settlement_sentence(inputs) == (
        "settled btc-updown-5m-1780000000 at 20:30:42.000 because: rule twap_60s (the 60-second "
        "TWAP ending with the close), strike $100,000.00, final price unknown (only 40 of 60 "
        "seconds have oracle ticks) → ours UNCERTAIN; venue DOWN: ours is uncertain, the "
        "venue's stands"
    )


# ---------------------------------------------------------------- the breaker


def test_a_breaker_trip_names_the_assertion_and_its_detail():
    inputs = {
        "ts": T,
        "tripped": True,
        "reason": "assertion failed: balance_matches",
        "detail": {"expected": "68.00", "venue": "63.00"},
    }
    assert breaker_sentence(inputs) == (
        "breaker tripped at 20:30:42.000 because: assertion failed: balance_matches "
        "(expected=68.00, venue=63.00); no new entries until an operator resets it"
    )


def test_a_breaker_reset_says_who_reset_it():
    inputs = {"ts": T, "tripped": False, "reason": "operator reset", "detail": {}}
    assert breaker_sentence(inputs) == (
        "breaker reset at 20:30:42.000 because: operator reset; the breaker no longer blocks "
        "new entries"
    )


# ---------------------------------------------------------------- runtime controls

CHANGE = {"key": "kill_switch", "changed_by": "dashboard:alice", "db_role": "updown", "ts": T}


def test_a_control_change_gives_old_and_new_value_and_who():
    inputs = {**CHANGE, "old_value": "off", "new_value": "pause", "operation": "UPDATE"}
    assert control_sentence(inputs) == (
        "control kill_switch changed from off to pause by dashboard:alice (database role "
        "updown) at 20:30:42.000"
    )


def test_a_new_and_a_removed_control_say_so():
    added = {**CHANGE, "old_value": None, "new_value": "10", "operation": "INSERT"}
    added["key"] = "max_drawdown_usd"
    assert control_sentence(added) == (
        "control max_drawdown_usd set to 10 (new key) by dashboard:alice (database role updown) "
        "at 20:30:42.000"
    )
    removed = {**CHANGE, "old_value": "off", "new_value": None, "operation": "DELETE"}
    removed["changed_by"] = "(not stated)"
    assert control_sentence(removed) == (
        "control kill_switch removed (was off) by (not stated) (database role updown) at "
        "20:30:42.000"
    )


# ---------------------------------------------------------------- kill criteria


def test_a_max_drawdown_hit_gives_measured_value_against_threshold():
    inputs = {
        "strategy": "always-trade-canary",
        "criterion": "max_drawdown",
        "threshold": "10",
        "measured": "10.42",
        "n": 17,
        "detail": "max drawdown 10.42 USD, limit 10 USD",
    }
    assert kill_sentence(inputs) == (
        "strategy always-trade-canary disabled because: kill criterion max_drawdown hit — max "
        "drawdown 10.42 USD ≥ threshold 10 USD after 17 settled trades (max drawdown 10.42 USD, "
        "limit 10 USD); removed from allowed_strategies, promotions revoked"
    )


def test_a_win_rate_and_an_sprt_hit_compare_the_right_way():
    rate = {"strategy": "momo", "criterion": "min_win_rate_after_n", "n": 20}
    rate |= {"threshold": D("0.45"), "measured": D("0.35")}
    assert kill_sentence(rate) == (
        "strategy momo disabled because: kill criterion min_win_rate_after_n hit — win rate 0.35 "
        "< threshold 0.45 after 20 settled trades; removed from allowed_strategies, promotions "
        "revoked"
    )
    sprt = {"strategy": "momo", "criterion": "sprt", "n": 21}
    sprt |= {"threshold": "-1.558145", "measured": "-1.7"}
    assert "SPRT log-likelihood ratio -1.7 ≤ threshold -1.558145 after 21" in kill_sentence(sprt)
