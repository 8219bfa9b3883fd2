"""Fair-pricing statistics (research.fair_price) against hand-computed values, and the schema's
refusal of a fixed win-rate baseline for a strategy that does not pay that price."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from research import fair_price, prereg
from research.prereg_schema import Metric, PriceModel


def test_poisson_binomial_matches_hand_computation():
    # q = (0.5, 0.8): P(0) = 0.5*0.2 = 0.1, P(2) = 0.5*0.8 = 0.4, P(1) = 0.5
    pmf = fair_price.poisson_binomial_pmf([0.5, 0.8])
    assert pmf.tolist() == pytest.approx([0.1, 0.5, 0.4])
    # one win of two: P(W >= 1) = 0.9; two wins: 0.4
    assert fair_price.wins_vs_price_pvalue([True, False], [0.5, 0.8]) == pytest.approx(0.9)
    assert fair_price.wins_vs_price_pvalue([True, True], [0.5, 0.8]) == pytest.approx(0.4)


def test_equal_prices_reduce_to_the_exact_binomial():
    wins = [True] * 10 + [False]
    expected = sps.binomtest(10, 11, 0.84, alternative="greater").pvalue
    assert fair_price.wins_vs_price_pvalue(wins, [0.84] * 11) == pytest.approx(expected)


def test_the_issue_example_canary_10_of_11_at_084_is_not_significant():
    # the canary's real day: 10/11 wins paying ~0.84; a 50 % baseline calls it significant
    assert sps.binomtest(10, 11, 0.5, alternative="greater").pvalue < 0.01
    assert fair_price.wins_vs_price_pvalue([True] * 10 + [False], [0.84] * 11) > 0.3


def test_breakeven_and_calibration_by_hand():
    # 2 shares at 0.40 for 0.80 USD plus 0.02 fees: break-even (0.80 + 0.02) / 2 = 0.41
    assert fair_price.breakeven(0.80, 0.02, 2) == pytest.approx(0.41)
    cal = fair_price.calibration([0.85, 0.95, 0.35], [True, False, True])
    assert cal.n == 3 and cal.wins == 2
    # Brier: (0.15² + 0.95² + 0.65²) / 3; edge: ((1-.85) + (0-.95) + (1-.35)) / 3
    assert cal.brier == pytest.approx((0.0225 + 0.9025 + 0.4225) / 3)
    assert cal.edge_per_trade == pytest.approx((0.15 - 0.95 + 0.65) / 3)
    assert [(b.low, b.n) for b in cal.buckets] == [
        (pytest.approx(0.3), 1),
        (pytest.approx(0.8), 1),
        (pytest.approx(0.9), 1),
    ]
    assert "edge/trade -0.050" in cal.line()


def test_ev_per_dollar_t_test():
    r = [0.1, 0.2, -0.05, 0.15]
    expected = sps.ttest_1samp(r, 0.0, alternative="greater").pvalue
    assert fair_price.ev_per_dollar_pvalue(r) == pytest.approx(expected)


def test_simulated_power_is_seeded_and_monotone_enough():
    args = (0.10, 0.05, 0.8, 0.6, 0.9, 0.02)  # edge, alpha, power, prices, fee rate
    n = fair_price.wins_vs_price_sample_size(*args, n_sims=400, seed=3)
    again = fair_price.wins_vs_price_sample_size(*args, n_sims=400, seed=3)
    assert n == again
    assert fair_price.wins_vs_price_power(n, 0.10, 0.05, 0.6, 0.9, 0.02, 400, 3) >= 0.8
    # no edge: the simulated rejection rate is the level (at most alpha, up to MC noise)
    size = fair_price.wins_vs_price_power(n, 0.0, 0.05, 0.6, 0.9, 0.02, 2000, 5)
    assert size <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 2000)


def test_win_rate_baseline_without_the_price_paid_is_refused():
    with pytest.raises(prereg.DraftError, match="needs every entry at that price"):
        prereg.draft("fav", Metric.WIN_RATE, 0.5, 0.1)
    with pytest.raises(prereg.DraftError, match="needs every entry at that price"):
        prereg.draft("fav", Metric.WIN_RATE, 0.5, 0.1, entry_price=0.85)
    ok = prereg.draft("coin", Metric.WIN_RATE, 0.5, 0.1, entry_price=0.5)
    assert ok.entry_price == 0.5
    model = PriceModel(low=0.8, high=0.9, fee_rate=0.02, n_sims=400)
    fair = prereg.draft("fav", Metric.WINS_VS_PRICE, 0.0, 0.1, price_model=model)
    assert fair.required_sample_size == prereg.computed_sample_size(fair)
    text = prereg.render(fair).replace("metric: wins_vs_price", "metric: win_rate", 1)
    text = text.replace("baseline: 0.0", "baseline: 0.5", 1)
    with pytest.raises(prereg.PreregError, match="price paid"):
        prereg.parse(text)
