"""Statistics for pre-registration, the gate and research (DESIGN §8, §9).

Sample size and power for a one-sided win-rate test (exact binomial and normal approximation) and
for mean EV per trade (t-test); the exact binomial test and the t-test; Wald's SPRT (re-exported
from live.promotion.kill_criteria, which the runner uses at run time); always-valid mixture-SPRT
p-values; the probabilistic and deflated Sharpe ratios, the minimum track record length, and the
probability of backtest overfitting by CSCV (Bailey, Borwein, López de Prado and Zhu 2017).

Sharpe ratios are per observation (not annualised); kurtosis is raw (3 for a normal).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import psycopg
from scipy import special, stats
from statsmodels.stats.power import TTestPower
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from live.promotion.kill_criteria import (  # noqa: F401 - re-exported: one implementation for both sides
    SprtBounds,
    SprtDecision,
    SprtState,
    bernoulli_llr,
    gaussian_llr,
    sprt_bounds,
    sprt_update,
)

EULER_GAMMA = 0.5772156649015329
MAX_N = 1_000_000


def _check_levels(alpha: float, power: float | None) -> None:
    if not (0 < alpha < 0.5) or (power is not None and not (0.5 <= power < 1)):
        raise ValueError(f"need 0 < alpha < 0.5 and 0.5 <= power < 1, got {alpha=}, {power=}")


def _check_rates(p0: float, p1: float, alpha: float, power: float | None = None) -> None:
    if not (0 < p0 < p1 < 1):
        raise ValueError(f"need 0 < p0 < p1 < 1, got {p0=}, {p1=}")
    _check_levels(alpha, power)


# ---------------------------------------------------------------- win rate: power and sample size


def win_rate_power_normal(n: int, p0: float, p1: float, alpha: float) -> float:
    """Power of the one-sided z-test of H0: p = p0 against p = p1 > p0 with n trades."""
    _check_rates(p0, p1, alpha)
    z_a = stats.norm.ppf(1 - alpha)
    num = (p1 - p0) * math.sqrt(n) - z_a * math.sqrt(p0 * (1 - p0))
    return float(stats.norm.cdf(num / math.sqrt(p1 * (1 - p1))))


def win_rate_sample_size_normal(p0: float, p1: float, alpha: float, power: float) -> int:
    """n = ((z_{1-a} sqrt(p0 q0) + z_{1-b} sqrt(p1 q1)) / (p1 - p0))², rounded up."""
    _check_rates(p0, p1, alpha, power)
    z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(power)
    root = (z_a * math.sqrt(p0 * (1 - p0)) + z_b * math.sqrt(p1 * (1 - p1))) / (p1 - p0)
    return math.ceil(root * root - 1e-9)


def binomial_critical_wins(n: int, p0: float, alpha: float) -> int:
    """Smallest k with P(X >= k | n, p0) <= alpha: reject H0 with k or more wins."""
    return int(stats.binom.isf(alpha, n, p0)) + 1


def win_rate_power_exact(n: int, p0: float, p1: float, alpha: float) -> float:
    """Power of the exact one-sided binomial test (level <= alpha) with n trades."""
    _check_rates(p0, p1, alpha)
    return float(stats.binom.sf(binomial_critical_wins(n, p0, alpha) - 1, n, p1))


def win_rate_sample_size_exact(p0: float, p1: float, alpha: float, power: float) -> int:
    """Smallest n whose exact binomial test reaches `power`. Exact power saw-tooths in n, so this
    is the first crossing (every n from 1 up is checked, vectorised)."""
    _check_rates(p0, p1, alpha, power)
    upper = min(MAX_N, 2 * win_rate_sample_size_normal(p0, p1, alpha, power) + 100)
    ns = np.arange(1, upper + 1)
    critical = stats.binom.isf(alpha, ns, p0) + 1
    reached = np.nonzero(stats.binom.sf(critical - 1, ns, p1) >= power)[0]
    if len(reached) == 0:
        raise ValueError(f"required sample size exceeds {upper}")
    return int(ns[reached[0]])


def binomial_test(wins: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value P(X >= wins | n, p0)."""
    return float(stats.binomtest(wins, n, p0, alternative="greater").pvalue)


# ---------------------------------------------------------------- EV per trade


def ev_sample_size(effect: float, sd: float, alpha: float, power: float) -> int:
    """Trades needed for the one-sided one-sample t-test of mean P&L > 0 to detect `effect`
    (USD per trade) with per-trade standard deviation `sd` (noncentral t, statsmodels)."""
    _check_levels(alpha, power)
    if effect <= 0 or sd <= 0:
        raise ValueError(f"need effect > 0 and sd > 0, got {effect=}, {sd=}")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # no root when 2 trades suffice
        warnings.simplefilter("ignore", RuntimeWarning)  # an effect/sd so large it overflows
        n = TTestPower().solve_power(
            effect_size=effect / sd, alpha=alpha, power=power, alternative="larger"
        )
        at_two = ev_power(2, effect, sd, alpha) if not math.isfinite(float(n)) else None
    if at_two is not None:
        if at_two >= power:
            return 2  # the smallest sample a t-test takes already has the power
        raise ValueError(f"no sample size found for {effect=}, {sd=}, {alpha=}, {power=}")
    return max(2, math.ceil(float(n) - 1e-9))


def ev_sample_size_normal(effect: float, sd: float, alpha: float, power: float) -> int:
    """Normal approximation n = ((z_{1-a} + z_{1-b}) sd / effect)², rounded up."""
    root = (stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * sd / effect
    return math.ceil(root * root - 1e-9)


def ev_power(n: int, effect: float, sd: float, alpha: float) -> float:
    """Power of the one-sided one-sample t-test with n trades."""
    return float(
        TTestPower().power(effect_size=effect / sd, nobs=n, alpha=alpha, alternative="larger")
    )


def t_test_ev(pnl: Sequence[float], mu0: float = 0.0) -> float:
    """One-sided p-value of the one-sample t-test H0: mean P&L <= mu0."""
    return float(stats.ttest_1samp(np.asarray(pnl, dtype=float), mu0, alternative="greater").pvalue)


# ---------------------------------------------------------------- always-valid mixture SPRT


def msprt_bernoulli_pvalue(
    wins: Sequence[bool], p0: float, a: float = 1.0, b: float = 1.0
) -> float:
    """Always-valid p-value for H0: p = p0 against p > p0, from the mixture likelihood ratio with
    a Beta(a, b) prior truncated to (p0, 1). p_n = min(1, 1 / max_k Λ_k) (Ville's inequality),
    so it may be checked after every trade without inflating the type-I error."""
    if len(wins) == 0:
        return 1.0
    s = np.cumsum(np.asarray(wins, dtype=float))
    f = np.arange(1, len(s) + 1) - s
    log_mix = (
        special.betaln(a + s, b + f)
        + stats.beta.logsf(p0, a + s, b + f)
        - special.betaln(a, b)
        - stats.beta.logsf(p0, a, b)
    )
    log_lr = log_mix - (s * math.log(p0) + f * math.log(1 - p0))
    return float(min(1.0, math.exp(-max(0.0, float(log_lr.max())))))


def msprt_gaussian_pvalue(
    pnl: Sequence[float], sigma: float, tau: float, mu0: float = 0.0
) -> float:
    """Always-valid p-value for H0: mean = mu0 against mean != mu0, known sigma, mixing
    N(mu0, tau²) over the alternative (Johari, Pekelis and Walsh 2017, the mSPRT)."""
    if len(pnl) == 0:
        return 1.0
    total = np.cumsum(np.asarray(pnl, dtype=float) - mu0)
    k = np.arange(1, len(total) + 1)
    s2, t2 = sigma * sigma, tau * tau
    log_lr = 0.5 * np.log(s2 / (s2 + k * t2)) + t2 * total**2 / (2 * s2 * (s2 + k * t2))
    return float(min(1.0, math.exp(-max(0.0, float(log_lr.max())))))


# ---------------------------------------------------------------- Sharpe ratio inference


def _sr_denominator(sr: float, skew: float, kurt: float) -> float:
    return math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr * sr)


def probabilistic_sharpe_ratio(
    sr: float, n_obs: int, skew: float = 0.0, kurt: float = 3.0, sr_benchmark: float = 0.0
) -> float:
    """PSR: P(true SR > sr_benchmark) given the observed per-period SR over n_obs observations
    with skewness and raw kurtosis (Bailey and López de Prado 2012)."""
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / _sr_denominator(sr, skew, kurt)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum SR of n_trials unskilled strategies whose SRs have variance sr_variance."""
    if n_trials < 2:
        return 0.0
    q1 = stats.norm.ppf(1 - 1 / n_trials)
    q2 = stats.norm.ppf(1 - 1 / (n_trials * math.e))
    return math.sqrt(sr_variance) * ((1 - EULER_GAMMA) * q1 + EULER_GAMMA * q2)


def deflated_sharpe_ratio(
    sr: float, n_obs: int, n_trials: int, sr_variance: float, skew: float = 0.0, kurt: float = 3.0
) -> float:
    """DSR: the PSR against the expected maximum SR of n_trials trials (Bailey and López de
    Prado 2014). Take n_trials from the `trials` table (`trial_count`)."""
    return probabilistic_sharpe_ratio(
        sr, n_obs, skew, kurt, expected_max_sharpe(n_trials, sr_variance)
    )


def min_track_record_length(
    sr: float, sr_benchmark: float = 0.0, skew: float = 0.0, kurt: float = 3.0, prob: float = 0.95
) -> float:
    """Observations needed for PSR(sr_benchmark) to reach `prob` at the observed SR and moments."""
    if sr <= sr_benchmark:
        return math.inf
    z = stats.norm.ppf(prob)
    return 1 + (1 - skew * sr + (kurt - 1) / 4 * sr * sr) * (z / (sr - sr_benchmark)) ** 2


def sharpe_moments(returns: Sequence[float]) -> tuple[float, float, float, int]:
    """(per-period SR, skewness, raw kurtosis, n) of a return or P&L series."""
    x = np.asarray(returns, dtype=float)
    sd = x.std(ddof=1)
    return (
        float(x.mean() / sd),
        float(stats.skew(x)),
        float(stats.kurtosis(x, fisher=False)),
        len(x),
    )


def trial_count(conn: psycopg.Connection, strategy: str | None = None) -> int:
    """Number of trials logged in `trials` (for one strategy, or all): the N of the DSR."""
    if strategy is None:
        return conn.execute("SELECT count(*) FROM trials").fetchone()[0]
    row = conn.execute("SELECT count(*) FROM trials WHERE strategy = %s", (strategy,)).fetchone()
    return row[0]


# ---------------------------------------------------------------- PBO by CSCV


def probability_of_backtest_overfitting(performance: np.ndarray, n_splits: int = 16) -> float:
    """PBO by combinatorially symmetric cross-validation. `performance` is T x N (T periods,
    N configurations); rows are cut into `n_splits` blocks, and for each half/half split the best
    in-sample configuration's out-of-sample rank is logit-transformed; PBO = P(logit <= 0)."""
    m = np.asarray(performance, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2 or n_splits % 2 or m.shape[0] < n_splits:
        raise ValueError("need a T x N matrix with N >= 2, even n_splits and T >= n_splits")
    blocks = np.array_split(np.arange(m.shape[0]), n_splits)
    logits = []
    for chosen in combinations(range(n_splits), n_splits // 2):
        is_rows = np.concatenate([blocks[i] for i in chosen])
        oos_rows = np.concatenate([blocks[i] for i in range(n_splits) if i not in chosen])
        best = int(np.argmax(_sharpe(m[is_rows])))
        oos = _sharpe(m[oos_rows])
        rank = stats.rankdata(oos)[best] / (m.shape[1] + 1)
        logits.append(math.log(rank / (1 - rank)))
    return float(np.mean(np.asarray(logits) <= 0))


def _sharpe(block: np.ndarray) -> np.ndarray:
    sd = block.std(axis=0, ddof=1)
    return block.mean(axis=0) / np.where(sd > 0, sd, np.inf)
