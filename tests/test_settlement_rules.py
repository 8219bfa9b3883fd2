"""Our resolution by the window's rule, agreement with the venue, and P&L at settlement."""

from __future__ import annotations

from decimal import Decimal

from engine_kit import CLOSE, OPEN, listed, make_engine, of_type, oracle, resolved, run, window

from live.kernel.domain import Resolution, SettlementRule
from live.kernel.records import SettlementRecord
from live.kernel.settlement import OracleTape, resolve_ours

SPOT = window(strike="100")
TWAP = window(strike="100", rule=SettlementRule.TWAP_60S)


def tape(*ticks: tuple[int, str]) -> OracleTape:
    t = OracleTape()
    for ts, price in ticks:
        t.add(ts, Decimal(price))
    return t


def test_spot_at_close_uses_the_tick_in_the_close_second() -> None:
    ours = resolve_ours(SPOT, tape((CLOSE - 1000, "99"), (CLOSE + 400, "101")))
    assert ours.resolution is Resolution.UP and ours.price == Decimal("101")


def test_spot_tie_goes_up() -> None:
    assert resolve_ours(SPOT, tape((CLOSE, "100"))).resolution is Resolution.UP


def test_spot_without_a_close_second_tick_is_uncertain_not_a_neighbour_guess() -> None:
    ours = resolve_ours(SPOT, tape((CLOSE - 1, "150"), (CLOSE + 1000, "150")))
    assert ours.resolution is Resolution.UNCERTAIN


def test_missing_strike_is_uncertain() -> None:
    assert resolve_ours(window(strike=None), tape((CLOSE, "1"))).resolution is Resolution.UNCERTAIN


def test_twap_needs_55_of_60_seconds() -> None:
    start = CLOSE - 59_000
    covered = [(start + i * 1000, "101") for i in range(55)]
    assert resolve_ours(TWAP, tape(*covered)).resolution is Resolution.UP
    assert resolve_ours(TWAP, tape(*covered[:54])).resolution is Resolution.UNCERTAIN


def test_twap_is_the_mean_of_per_second_prices_in_force() -> None:
    start = CLOSE - 59_000
    ticks = [(start + i * 1000, "99" if i < 30 else "102") for i in range(60)]
    ours = resolve_ours(TWAP, tape(*ticks))
    assert ours.price == Decimal("100.5") and ours.resolution is Resolution.UP


def test_disagreement_with_the_venue_fails_an_assertion_and_trips_the_breaker() -> None:
    engine = make_engine()
    run(engine, [listed(SPOT), oracle(CLOSE, "101"), resolved(CLOSE + 50_000, SPOT, "DOWN")])
    (record,) = of_type(engine.records, SettlementRecord)
    assert (record.ours, record.venue, record.agreement) == ("UP", "DOWN", "disagree")
    assert engine.breaker.tripped


def test_agreement_is_recorded_only_when_the_venue_resolves() -> None:
    engine = make_engine()
    run(engine, [listed(SPOT), oracle(CLOSE, "99"), oracle(CLOSE + 5000, "99")])
    assert not of_type(engine.records, SettlementRecord)
    run(engine, [resolved(CLOSE + 50_000, SPOT, "DOWN")])
    (record,) = of_type(engine.records, SettlementRecord)
    assert record.agreement == "agree" and record.confirmed_ts == CLOSE + 50_000
    assert not engine.breaker.tripped


def test_uncertain_ours_is_recorded_as_uncertain() -> None:
    engine = make_engine()
    run(engine, [listed(SPOT), oracle(OPEN, "99"), resolved(CLOSE + 50_000, SPOT, "DOWN")])
    assert of_type(engine.records, SettlementRecord)[0].agreement == "uncertain"


def test_contradicting_venue_resolutions_trip_the_breaker() -> None:
    engine = make_engine()
    run(engine, [listed(SPOT), resolved(CLOSE + 50_000, SPOT, "UP")])
    run(engine, [resolved(CLOSE + 50_000, SPOT, "UP")])
    assert not engine.breaker.tripped  # an exact repeat is harmless
    run(engine, [resolved(CLOSE + 60_000, SPOT, "DOWN")])
    assert engine.breaker.tripped
