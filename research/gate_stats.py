"""The gate's statistical checks (research.gate): significance under fair pricing, calibration,
and overfitting (the deflated Sharpe ratio with the real trial count, PBO when a sweep exists).

- `significance`: on exactly the first `required_sample_size` trades since the declaration.
  win_rate: exact binomial, refused unless every entry paid the declared `entry_price` (±0.005);
  wins_vs_price: exact Poisson-binomial with each trade's break-even (cost + fees) / shares;
  ev_per_dollar: one-sided t-test of net P&L per USD staked; ev: one-sided t-test in USD.
  Every verdict carries the calibration line (research.fair_price.calibration).
- `overfitting`: trials logged for the strategy's names (research.trials) against the declared
  budget, then DSR = PSR against the expected maximum Sharpe of N trials (Bailey and López de
  Prado 2014), N = the trial count, the variance of trial Sharpes = max(the logged trials' sample
  variance, 1/(n-1), the sampling variance of one Sharpe under H0). PBO (CSCV, 16 splits or
  fewer) when at least 2 trials of one sweep logged per-window P&L of equal length; PBO >= 0.5
  refuses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from research import fair_price, stats
from research.gate_evidence import Trade
from research.prereg_schema import WIN_RATE_TRAP, Metric, Preregistration

ENTRY_PRICE_TOLERANCE = 0.005  # half a 0.01 tick
PBO_LIMIT = 0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    evidence: str
    figures: dict


def calibration_of(trades: Sequence[Trade]) -> fair_price.Calibration:
    return fair_price.calibration([t.breakeven for t in trades], [t.won for t in trades])


def significance(p: Preregistration, sample: Sequence[Trade]) -> Verdict:
    """The pre-registered test on `sample` (already cut to the required size)."""
    n = len(sample)
    cal = calibration_of(sample)
    figures: dict = {"n": n, "calibration": cal.as_dict()}
    if p.metric is Metric.WIN_RATE:
        paid = [float(t.entry_price or 0) for t in sample]
        off = [x for x in paid if abs(x - (p.entry_price or -1)) > ENTRY_PRICE_TOLERANCE]
        if p.entry_price is None or off:
            seen = f"{len(off)} of {n} entries not at {p.entry_price}"
            if off:
                seen += f" (paid {min(off):.3f}..{max(off):.3f})"
            return Verdict(False, f"refused: {seen}; {WIN_RATE_TRAP}; {cal.line()}", figures)
        wins = sum(1 for t in sample if t.won)
        p_value = stats.binomial_test(wins, n, p.baseline)
        what = (
            f"exact binomial: {wins}/{n} wins vs p0={p.baseline} (every entry at {p.entry_price})"
        )
    elif p.metric is Metric.WINS_VS_PRICE:
        wins = sum(1 for t in sample if t.won)
        q = [t.breakeven for t in sample]
        p_value = fair_price.wins_vs_price_pvalue([t.won for t in sample], q)
        what = (
            f"exact Poisson-binomial: {wins}/{n} wins vs {sum(q):.2f} expected at the prices paid"
            " + fees"
        )
    elif p.metric is Metric.EV_PER_DOLLAR:
        r = [t.return_per_dollar - p.baseline for t in sample]
        p_value = fair_price.ev_per_dollar_pvalue(r)
        what = f"t-test: mean {np.mean(r) + p.baseline:+.4f} USD per USD staked vs {p.baseline}"
    else:
        pnl = [float(t.pnl_net) for t in sample]
        p_value = stats.t_test_ev(pnl, p.baseline)
        what = f"t-test: mean {np.mean(pnl):.4f} USD/trade vs {p.baseline}"
    figures["p_value"] = p_value
    ok = p_value < p.alpha
    return Verdict(ok, f"{what}, p={p_value:.4g}, alpha={p.alpha}; {cal.line()}", figures)


def _trial_sharpes(trials: Sequence[tuple[str, str | None, dict]]) -> list[float]:
    out = []
    for _, _, m in trials:
        value = m.get("sharpe") if isinstance(m, dict) else None
        if isinstance(value, (int, float)) and math.isfinite(value):
            out.append(float(value))
    return out


def _pbo(trials: Sequence[tuple[str, str | None, dict]]) -> tuple[float, str] | None:
    """PBO of the largest sweep whose cells logged equal-length `window_pnl` series."""
    sweeps: dict[str, list[list[float]]] = {}
    for _, run_id, m in trials:
        series = m.get("window_pnl") if isinstance(m, dict) else None
        if run_id and isinstance(series, list) and series:
            sweeps.setdefault(run_id, []).append([float(x) for x in series])
    best = None
    for run_id, cells in sweeps.items():
        lengths = {len(c) for c in cells}
        if len(cells) >= 2 and len(lengths) == 1 and (best is None or len(cells) > len(best[1])):
            best = (run_id, cells)
    if best is None:
        return None
    matrix = np.asarray(best[1]).T  # periods x configurations
    splits = min(16, matrix.shape[0] - matrix.shape[0] % 2)
    if splits < 4:
        return None
    return stats.probability_of_backtest_overfitting(matrix, splits), best[0]


def overfitting(
    p: Preregistration, returns: Sequence[float], trials: Sequence[tuple[str, str | None, dict]]
) -> Verdict:
    """The deflated Sharpe of `returns` (per trade, USD per USD staked) with the trial count."""
    budget = p.overfitting
    if budget is None:
        return Verdict(False, "the pre-registration states no overfitting.trial_budget", {})
    n_trials = max(1, len(trials))
    figures: dict = {"trials": n_trials, "trial_budget": budget.trial_budget}
    if len(trials) > budget.trial_budget:
        evidence = f"{len(trials)} trials logged, over the pre-registered budget of "
        return Verdict(False, evidence + f"{budget.trial_budget}", figures)
    if len(returns) < 3 or float(np.std(returns, ddof=1)) == 0:
        return Verdict(False, f"{len(returns)} trades: too few (or constant) for a Sharpe", figures)
    sr, skew, kurt, n = stats.sharpe_moments(returns)
    sharpes = _trial_sharpes(trials)
    variance = max(float(np.var(sharpes, ddof=1)) if len(sharpes) >= 2 else 0.0, 1 / (n - 1))
    dsr = stats.deflated_sharpe_ratio(sr, n, n_trials, variance, skew, kurt)
    psr = stats.probabilistic_sharpe_ratio(sr, n, skew, kurt)
    sr0 = stats.expected_max_sharpe(n_trials, variance)
    figures.update(sharpe=sr, n_obs=n, psr=psr, expected_max_sharpe=sr0, deflated_sharpe=dsr)
    figures["min_deflated_sharpe"] = budget.min_deflated_sharpe
    ok = dsr >= budget.min_deflated_sharpe
    evidence = (
        f"deflated Sharpe {dsr:.3f} with {n_trials} trials (Sharpe {sr:.3f}/trade over {n} "
        f"trades, PSR {psr:.3f}, expected max Sharpe of {n_trials} unskilled trials {sr0:.3f}); "
        f"required >= {budget.min_deflated_sharpe}"
    )
    pbo = _pbo(trials)
    if pbo is not None:
        figures.update(pbo=pbo[0], pbo_sweep=pbo[1])
        evidence += f"; PBO {pbo[0]:.2f} on sweep {pbo[1]} (refused at >= {PBO_LIMIT})"
        ok = ok and pbo[0] < PBO_LIMIT
    return Verdict(ok, evidence, figures)
