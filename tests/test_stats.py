"""research/stats.py against published values, independent computation and simulation."""

from __future__ import annotations

import math
import warnings
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from scipy import integrate, stats

from research import stats as st

# ---------------------------------------------------------------- SPRT


def test_sprt_bounds_match_wald_at_alpha_5_beta_20():
    bounds = st.sprt_bounds(0.05, 0.2)
    assert bounds.upper == pytest.approx(2.7726, abs=1e-4)  # ln(0.8 / 0.05)
    assert bounds.lower == pytest.approx(-1.5581, abs=1e-4)  # ln(0.2 / 0.95)


def test_bernoulli_and_gaussian_llr_equal_log_density_ratios():
    assert st.bernoulli_llr(True, 0.5, 0.55) == pytest.approx(math.log(1.1))
    assert st.bernoulli_llr(False, 0.5, 0.55) == pytest.approx(math.log(0.9))
    x, mu0, mu1, sigma = 0.3, 0.0, 0.1, 0.8
    expected = stats.norm.logpdf(x, mu1, sigma) - stats.norm.logpdf(x, mu0, sigma)
    assert st.gaussian_llr(x, mu0, mu1, sigma) == pytest.approx(expected)


def test_sprt_decision_is_sticky_once_a_boundary_is_crossed():
    bounds = st.sprt_bounds(0.05, 0.2)
    state = st.sprt_update(st.SprtState(), 3.0, bounds)
    assert state.decision is st.SprtDecision.ACCEPT_H1 and state.decided_at == 1
    state = st.sprt_update(state, -10.0, bounds)
    assert state.decision is st.SprtDecision.ACCEPT_H1 and state.n == 2


def _sprt_outcomes(llr_steps: np.ndarray, alpha: float, beta: float) -> tuple[float, float]:
    """Fraction of simulated sequences that end in H1 and in H0 (vectorised first crossing)."""
    bounds = st.sprt_bounds(alpha, beta)
    path = np.cumsum(llr_steps, axis=1)
    up = np.where((path >= bounds.upper).any(axis=1), (path >= bounds.upper).argmax(axis=1), 10**9)
    down = np.where(
        (path <= bounds.lower).any(axis=1), (path <= bounds.lower).argmax(axis=1), 10**9
    )
    return float(np.mean(up < down)), float(np.mean(down < up))


def test_bernoulli_sprt_type_one_error_is_about_alpha_under_the_null():
    rng = np.random.default_rng(7)
    p0, p1, alpha, beta = 0.5, 0.6, 0.05, 0.2
    wins = rng.random((4000, 1500)) < p0
    steps = np.where(wins, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
    h1, h0 = _sprt_outcomes(steps, alpha, beta)
    assert 0.025 <= h1 <= alpha / (1 - beta) + 0.01  # Wald: P(H1 | H0) <= alpha / (1 - beta)
    assert h0 >= 0.9


def test_bernoulli_sprt_power_is_about_one_minus_beta_under_the_alternative():
    rng = np.random.default_rng(11)
    p0, p1 = 0.5, 0.6
    wins = rng.random((4000, 1500)) < p1
    steps = np.where(wins, math.log(p1 / p0), math.log((1 - p1) / (1 - p0)))
    h1, _ = _sprt_outcomes(steps, 0.05, 0.2)
    assert h1 >= 0.78


def test_gaussian_sprt_type_one_error_is_about_alpha_under_the_null():
    rng = np.random.default_rng(3)
    mu0, mu1, sigma = 0.0, 0.1, 1.0
    x = rng.normal(mu0, sigma, (4000, 3000))
    steps = (x * (mu1 - mu0) - (mu1**2 - mu0**2) / 2) / sigma**2
    h1, _ = _sprt_outcomes(steps, 0.05, 0.2)
    assert 0.025 <= h1 <= 0.0625 + 0.01


# ---------------------------------------------------------------- win rate and EV


def test_normal_sample_size_matches_the_textbook_formula_worked_by_hand():
    # ((1.6449*0.5 + 0.8416*sqrt(.55*.45)) / 0.05)^2 = 616.2 -> 617
    assert st.win_rate_sample_size_normal(0.5, 0.55, 0.05, 0.8) == 617
    assert st.win_rate_power_normal(617, 0.5, 0.55, 0.05) >= 0.8
    assert st.win_rate_power_normal(616, 0.5, 0.55, 0.05) < 0.8


def _exact_power_by_hand(n: int, p0: float, p1: float, alpha: float) -> float:
    tail = 0.0
    k = n + 1
    while k > 0 and tail + math.comb(n, k - 1) * p0 ** (k - 1) * (1 - p0) ** (n - k + 1) <= alpha:
        k -= 1
        tail += math.comb(n, k) * p0**k * (1 - p0) ** (n - k)
    return sum(math.comb(n, j) * p1**j * (1 - p1) ** (n - j) for j in range(k, n + 1))


def test_exact_sample_size_is_the_first_n_reaching_power_by_independent_computation():
    n = st.win_rate_sample_size_exact(0.5, 0.7, 0.05, 0.8)
    assert _exact_power_by_hand(n, 0.5, 0.7, 0.05) >= 0.8
    assert all(_exact_power_by_hand(m, 0.5, 0.7, 0.05) < 0.8 for m in range(1, n))
    assert st.win_rate_power_exact(n, 0.5, 0.7, 0.05) == pytest.approx(
        _exact_power_by_hand(n, 0.5, 0.7, 0.05)
    )


def test_exact_and_normal_sample_sizes_agree_closely_for_small_effects():
    exact = st.win_rate_sample_size_exact(0.5, 0.55, 0.05, 0.8)
    assert abs(exact - 617) <= 15


def test_binomial_test_sixty_of_a_hundred():
    assert st.binomial_test(60, 100, 0.5) == pytest.approx(0.028444, abs=1e-6)


def test_ev_sample_size_matches_gpower_one_sample_t_test():
    # G*Power: one-sample t, one tail, d = 0.5, alpha = .05, power = .8 -> n = 27
    assert st.ev_sample_size(0.5, 1.0, 0.05, 0.8) == 27
    # normal approximation ((1.6449 + 0.8416) / 0.5)^2 = 24.7 -> 25
    assert st.ev_sample_size_normal(0.5, 1.0, 0.05, 0.8) == 25
    assert st.ev_power(27, 0.5, 1.0, 0.05) >= 0.8 > st.ev_power(26, 0.5, 1.0, 0.05)


def test_ev_sample_size_is_two_when_two_trades_already_have_the_power():
    # effect/sd = 10: statsmodels' root finder has no root above 2 and returns NaN (it used to
    # end in 'cannot convert float NaN to integer'); the smallest t-test sample is the answer.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and nothing is printed
        assert st.ev_sample_size(5.0, 0.5, 0.05, 0.8) == 2
        assert st.ev_sample_size(5.0, 1.0, 0.05, 0.8) == 3  # the solver's own answer, unchanged
    assert st.ev_power(2, 5.0, 0.5, 0.05) >= 0.8 > st.ev_power(2, 5.0, 1.0, 0.05)


def test_t_test_on_ev_matches_the_formula():
    pnl = [0.4, -0.2, 0.5, 0.1, -0.1, 0.3, 0.2]
    x = np.asarray(pnl)
    t = x.mean() / (x.std(ddof=1) / math.sqrt(len(x)))
    assert st.t_test_ev(pnl) == pytest.approx(stats.t.sf(t, len(x) - 1))


# ---------------------------------------------------------------- always-valid p-values


def test_bernoulli_mixture_lr_matches_numerical_integration():
    wins = [True, True, False, True, True, True, False, True]
    s, n, p0 = sum(wins), len(wins), 0.5
    mix, _ = integrate.quad(lambda p: p**s * (1 - p) ** (n - s), p0, 1)
    lr_final = mix / (1 - p0) / (p0**s * (1 - p0) ** (n - s))  # uniform prior on (p0, 1)
    p = st.msprt_bernoulli_pvalue(wins, p0)
    assert p <= min(1.0, 1 / lr_final) + 1e-12
    assert st.msprt_bernoulli_pvalue([True] * 30, p0) < 0.01


def test_gaussian_mixture_lr_matches_numerical_integration():
    x = np.array([0.5, 1.2, 0.3, 0.9])
    sigma, tau = 1.0, 0.5
    like = lambda m: np.prod(stats.norm.pdf(x, m, sigma))  # noqa: E731
    mix, _ = integrate.quad(lambda m: like(m) * stats.norm.pdf(m, 0, tau), -10, 10)
    lr = mix / like(0.0)
    lrs = [st.msprt_gaussian_pvalue(x[:k], sigma, tau) for k in range(1, 5)]
    assert lrs[-1] <= 1 / lr + 1e-9
    assert st.msprt_gaussian_pvalue(x, sigma, tau) == pytest.approx(min(lrs))


def test_mixture_sprt_pvalue_keeps_type_one_error_under_continuous_monitoring():
    rng = np.random.default_rng(5)
    rejected = [st.msprt_bernoulli_pvalue(rng.random(400) < 0.5, 0.5) <= 0.05 for _ in range(1500)]
    assert np.mean(rejected) <= 0.05 + 0.015
    rejected = [
        st.msprt_gaussian_pvalue(rng.normal(0, 1, 400), 1.0, 0.2) <= 0.05 for _ in range(1500)
    ]
    assert np.mean(rejected) <= 0.05 + 0.015


# ---------------------------------------------------------------- Sharpe ratio inference


def test_deflated_sharpe_matches_bailey_lopez_de_prado_2014_example():
    # DSR paper, numerical example: 5 years of daily data (T=1250), annualised SR 2.5,
    # N=100 trials with annualised variance of SRs 0.5, skew -3, kurtosis 10:
    # E[max SR] = 0.1132 (daily), DSR = 0.9004.
    sr, var = 2.5 / math.sqrt(250), 0.5 / 250
    assert st.expected_max_sharpe(100, var) == pytest.approx(0.1132, abs=1e-4)
    assert st.deflated_sharpe_ratio(sr, 1250, 100, var, skew=-3, kurt=10) == pytest.approx(
        0.9004, abs=1e-4
    )


def test_psr_with_normal_returns_is_the_textbook_z_test():
    sr, n = 0.1, 252
    expected = stats.norm.cdf(sr * math.sqrt(n - 1) / math.sqrt(1 + sr * sr / 2))
    assert st.probabilistic_sharpe_ratio(sr, n) == pytest.approx(expected)


def test_min_track_record_length_is_where_psr_reaches_the_confidence():
    sr, bench, skew, kurt = 0.15, 0.05, -1.0, 6.0
    n = st.min_track_record_length(sr, bench, skew, kurt, prob=0.95)
    assert st.probabilistic_sharpe_ratio(sr, n, skew, kurt, bench) == pytest.approx(0.95)
    assert st.min_track_record_length(0.05, 0.05) == math.inf


def test_sharpe_moments_use_raw_kurtosis():
    x = np.random.default_rng(1).normal(0.1, 1.0, 200_000)
    _, skew, kurt, n = st.sharpe_moments(x)
    assert abs(skew) < 0.05 and kurt == pytest.approx(3.0, abs=0.1) and n == 200_000


def test_trial_count_reads_the_trials_table(db_url):
    with psycopg.connect(db_url) as conn:
        for i in range(3):
            conn.execute(
                "INSERT INTO trials (ts, kind, strategy, params) VALUES (%s, 'screen', %s, %s)",
                (datetime(2026, 1, 1, tzinfo=UTC), "momo" if i else "other", '{"k": 1}'),
            )
        assert st.trial_count(conn) == 3
        assert st.trial_count(conn, "momo") == 2


# ---------------------------------------------------------------- PBO


def test_pbo_of_pure_noise_is_about_one_half():
    m = np.random.default_rng(2).normal(0, 1, (480, 20))
    assert 0.25 <= st.probability_of_backtest_overfitting(m, n_splits=10) <= 0.75


def test_pbo_of_a_real_edge_is_near_zero():
    m = np.random.default_rng(4).normal(0, 1, (480, 20))
    m[:, 7] += 0.5
    assert st.probability_of_backtest_overfitting(m, n_splits=10) < 0.05


def test_pbo_of_in_sample_winners_that_reverse_is_one():
    # Two configurations whose block performance alternates: whichever wins in-sample loses
    # out of sample under every symmetric split of 2 blocks.
    m = np.array([[1.0, -1.0], [1.1, -0.9], [-1.0, 1.0], [-0.9, 1.1]])
    assert st.probability_of_backtest_overfitting(m, n_splits=2) == 1.0
