"""Statistics whose null hypothesis is fair pricing, for binary contracts (issue 17).

A contract bought at price p (USD per share, paying 1 USD per share if it wins) breaks even when it
wins with probability q = p + fee per share. "No edge" is therefore *win probability = q_i for each
trade i*, not 50 %. Two tests follow:

- **wins vs price** (`wins_vs_price_pvalue`): the number of wins W against the exact
  Poisson-binomial distribution with per-trade probabilities q_i (dynamic programming over the
  trades, O(n²), no normal approximation). One-sided p = P(W >= w | q).
- **EV per dollar staked** (`ev_per_dollar_pvalue`): r_i = pnl_net_i / cost_i (USD per USD
  staked); the one-sided one-sample Student t-test of mean r > 0 (scipy.stats.ttest_1samp).

Power and the required sample size of the wins-vs-price test have no closed form (the critical
value depends on the drawn prices), so they are computed by seeded Monte-Carlo simulation
(`wins_vs_price_power`): each of `n_sims` simulated samples draws n entry prices uniformly from the
declared [low, high], the Polymarket taker fee fee_rate·p·(1-p) per share (docs.polymarket.com,
"Fees"), wins with probability min(1, q_i + edge), and is tested exactly; power is the share of
samples with p < alpha. The same seed gives the same answer on every machine (numpy PCG64).

`calibration` summarises results the way the null reads them: win rate vs mean entry price by
price bucket, the Brier score of the entry prices as forecasts, and the mean edge per trade.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

MAX_SIM_N = 5_000  # the simulated sample-size search stops here


def fee_per_share(price: float, fee_rate: float) -> float:
    """Polymarket's taker fee in USD per share at `price`: fee_rate · p · (1 - p)."""
    return fee_rate * price * (1 - price)


def breakeven(cost: float, fees: float, shares: float) -> float:
    """The win probability at which a position breaks even: (cost + fees) / shares, in [0, 1]
    for a price in (0, 1); USD and shares as in the positions table."""
    if shares <= 0:
        raise ValueError(f"need shares > 0, got {shares}")
    return min(1.0, (cost + fees) / shares)


def poisson_binomial_pmf(q: Sequence[float]) -> np.ndarray:
    """P(W = k) for k = 0..n, W the number of successes of independent Bernoulli(q_i): exact DP."""
    pmf = np.zeros(len(q) + 1)
    pmf[0] = 1.0
    for i, qi in enumerate(q):
        if not 0 <= qi <= 1:
            raise ValueError(f"probability {qi} out of [0, 1]")
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - qi) + pmf[: i + 1] * qi
        pmf[0] *= 1 - qi
    return pmf


def wins_vs_price_pvalue(wins: Sequence[bool], q: Sequence[float]) -> float:
    """One-sided exact p-value P(W >= observed wins) under fair pricing (win prob q_i each)."""
    if len(wins) != len(q):
        raise ValueError("wins and q differ in length")
    w = sum(1 for x in wins if x)
    return float(min(1.0, poisson_binomial_pmf(q)[w:].sum()))


def ev_per_dollar_pvalue(returns: Sequence[float]) -> float:
    """One-sided one-sample t-test p-value of H0: mean return per dollar staked <= 0."""
    x = np.asarray(returns, dtype=float)
    if len(x) < 2:
        return 1.0
    if x.std(ddof=1) == 0:  # every trade returned the same: no variance to test against
        return 0.0 if x.mean() > 0 else 1.0
    return float(stats.ttest_1samp(x, 0.0, alternative="greater").pvalue)


# ---------------------------------------------------------------- power by simulation


def _pb_upper_tail(q: np.ndarray, wins: np.ndarray) -> np.ndarray:
    """P(W >= wins[s]) under Poisson-binomial(q[s, :]) for each simulated sample s (vectorised
    form of poisson_binomial_pmf)."""
    sims, n = q.shape
    pmf = np.zeros((sims, n + 1))
    pmf[:, 0] = 1.0
    for i in range(n):
        qi = q[:, i : i + 1]
        pmf[:, 1 : i + 2] = pmf[:, 1 : i + 2] * (1 - qi) + pmf[:, : i + 1] * qi
        pmf[:, 0] *= 1 - q[:, i]
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # tail[:, k] = P(W >= k)
    return tail[np.arange(sims), wins]


def wins_vs_price_power(
    n: int,
    edge: float,
    alpha: float,
    price_low: float,
    price_high: float,
    fee_rate: float,
    n_sims: int = 1000,
    seed: int = 17,
) -> float:
    """Simulated power of the wins-vs-price test with n trades when each trade wins with
    probability q_i + edge (see the module docstring for the simulation)."""
    if not 0 < price_low <= price_high < 1:
        raise ValueError(f"need 0 < low <= high < 1, got {price_low}, {price_high}")
    rng = np.random.default_rng([seed, n])
    prices = rng.uniform(price_low, price_high, size=(n_sims, n))
    q = np.clip(prices + fee_rate * prices * (1 - prices), 0.0, 1.0)
    wins = (rng.random((n_sims, n)) < np.clip(q + edge, 0.0, 1.0)).sum(axis=1)
    return float(np.mean(_pb_upper_tail(q, wins) < alpha))


def wins_vs_price_sample_size(
    edge: float,
    alpha: float,
    power: float,
    price_low: float,
    price_high: float,
    fee_rate: float,
    n_sims: int = 1000,
    seed: int = 17,
) -> int:
    """Smallest n (on a doubling-then-bisection search) whose simulated power reaches `power`;
    ValueError when none up to MAX_SIM_N. The seed is mixed with n, so the answer is
    reproducible; simulated power is noisy (±1.5 % at 1000 samples), which the file states."""

    def ok(n: int) -> bool:
        args = (edge, alpha, price_low, price_high, fee_rate, n_sims, seed)
        return wins_vs_price_power(n, *args) >= power

    hi = 8
    while not ok(hi):
        if hi >= MAX_SIM_N:
            raise ValueError(f"no sample size up to {MAX_SIM_N} trades reaches power {power}")
        hi = min(MAX_SIM_N, hi * 2)
    lo = hi // 2 if hi > 8 else 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# ---------------------------------------------------------------- calibration


@dataclass(frozen=True, slots=True)
class Bucket:
    low: float
    high: float
    n: int
    win_rate: float
    mean_price: float  # mean break-even probability q (entry price + fee per share)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Win rate against the price paid. `brier`: mean (q_i - won_i)² of the prices as forecasts;
    `edge_per_trade`: mean (won_i - q_i), the win-probability edge over fair pricing."""

    n: int
    wins: int
    mean_price: float
    brier: float
    edge_per_trade: float
    buckets: tuple[Bucket, ...]

    def line(self) -> str:
        """One line for a summary or the gate's message."""
        if self.n == 0:
            return "calibration: no trades"
        parts = ", ".join(
            f"[{b.low:.1f},{b.high:.1f}) n={b.n} won {b.win_rate:.0%} paid {b.mean_price:.3f}"
            for b in self.buckets
        )
        return (
            f"calibration: {self.wins}/{self.n} won ({self.wins / self.n:.1%}) at mean price paid "
            f"{self.mean_price:.3f}; edge/trade {self.edge_per_trade:+.3f}; Brier "
            f"{self.brier:.3f}; by price: {parts}"
        )

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "wins": self.wins,
            "mean_price": round(self.mean_price, 6),
            "brier": round(self.brier, 6),
            "edge_per_trade": round(self.edge_per_trade, 6),
            "buckets": [
                [b.low, b.high, b.n, round(b.win_rate, 6), round(b.mean_price, 6)]
                for b in self.buckets
            ],
        }


def calibration(q: Sequence[float], won: Sequence[bool], width: float = 0.1) -> Calibration:
    """Calibration of trades with break-even probabilities q and outcomes won; buckets of
    `width` in q, only the non-empty ones."""
    qa, wa = np.asarray(q, dtype=float), np.asarray(won, dtype=float)
    if len(qa) == 0:
        return Calibration(0, 0, math.nan, math.nan, math.nan, ())
    edges = np.minimum((qa / width).astype(int), int(round(1 / width)) - 1)
    buckets = []
    for b in sorted(set(edges.tolist())):
        m = edges == b
        buckets.append(
            Bucket(
                b * width, (b + 1) * width, int(m.sum()), float(wa[m].mean()), float(qa[m].mean())
            )
        )
    return Calibration(
        len(qa),
        int(wa.sum()),
        float(qa.mean()),
        float(np.mean((qa - wa) ** 2)),
        float(np.mean(wa - qa)),
        tuple(buckets),
    )
