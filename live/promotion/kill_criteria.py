"""Kill criteria: the pre-registered condition that stops a strategy (DESIGN §9).

Pure functions over the sequence of a strategy's settled net P&L, one value per closed position,
oldest first. The runner calls `evaluate_kill` after every settlement; the gate calls it on the
evidence. The criterion comes from the strategy's pre-registration file (`load_kill_criterion`),
which the gate validated strictly and whose hash the promotion pins, so this parser only needs to
be exact, not friendly. A trade is a win when its net P&L is > 0; anything else is a loss.

Also home of Wald's SPRT (boundaries and log-likelihood updates), because `live/` must never import
`research/` and the runner needs it at run time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class SprtDecision(StrEnum):
    CONTINUE = "continue"
    ACCEPT_H0 = "accept_h0"  # no edge: for a kill criterion this is the kill
    ACCEPT_H1 = "accept_h1"  # the pre-registered edge is significant


@dataclass(frozen=True, slots=True)
class SprtBounds:
    """Wald's approximate LLR boundaries: stop for H1 at >= upper, for H0 at <= lower."""

    upper: float
    lower: float


def sprt_bounds(alpha: float, beta: float) -> SprtBounds:
    """Boundaries ln((1-b)/a) and ln(b/(1-a)): 2.77 and -1.56 at alpha=0.05, beta=0.2."""
    if not (0 < alpha < 1 and 0 < beta < 1 and alpha + beta < 1):
        raise ValueError(f"need 0 < alpha, beta and alpha + beta < 1, got {alpha=}, {beta=}")
    return SprtBounds(upper=math.log((1 - beta) / alpha), lower=math.log(beta / (1 - alpha)))


def bernoulli_llr(win: bool, p0: float, p1: float) -> float:
    """Log-likelihood-ratio increment of one win/loss under H1: p=p1 against H0: p=p0."""
    if not (0 < p0 < 1 and 0 < p1 < 1):
        raise ValueError(f"win probabilities must be in (0, 1), got {p0=}, {p1=}")
    return math.log(p1 / p0) if win else math.log((1 - p1) / (1 - p0))


def gaussian_llr(x: float, mu0: float, mu1: float, sigma: float) -> float:
    """Log-likelihood-ratio increment of one P&L `x` ~ N(mu1, sigma²) against N(mu0, sigma²)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return (x * (mu1 - mu0) - (mu1 * mu1 - mu0 * mu0) / 2) / (sigma * sigma)


@dataclass(frozen=True, slots=True)
class SprtState:
    """The running SPRT: summed log-likelihood ratio, observations seen, and a sticky decision."""

    llr: float = 0.0
    n: int = 0
    decision: SprtDecision = SprtDecision.CONTINUE
    decided_at: int | None = None


def sprt_update(state: SprtState, increment: float, bounds: SprtBounds) -> SprtState:
    """Add one observation's LLR increment. Once a boundary is crossed the decision stands."""
    if state.decision is not SprtDecision.CONTINUE:
        return SprtState(state.llr, state.n + 1, state.decision, state.decided_at)
    llr, n = state.llr + increment, state.n + 1
    if llr >= bounds.upper:
        return SprtState(llr, n, SprtDecision.ACCEPT_H1, n)
    if llr <= bounds.lower:
        return SprtState(llr, n, SprtDecision.ACCEPT_H0, n)
    return SprtState(llr, n, SprtDecision.CONTINUE, None)


# ---------------------------------------------------------------- the four declared criteria


@dataclass(frozen=True, slots=True)
class SprtKill:
    """Kill when Wald's SPRT accepts H0 (no edge). metric 'win_rate' uses p0/p1 on wins;
    metric 'ev' uses Gaussian P&L with means p0/p1 (USD per trade) and `sigma`."""

    metric: str
    p0: float
    p1: float
    alpha: float
    beta: float
    sigma: float | None = None

    def increment(self, pnl: Decimal) -> float:
        if self.metric == "win_rate":
            return bernoulli_llr(pnl > 0, self.p0, self.p1)
        return gaussian_llr(float(pnl), self.p0, self.p1, float(self.sigma or 0))


@dataclass(frozen=True, slots=True)
class MaxDrawdownKill:
    """Kill when cumulative net P&L falls `max_drawdown_usd` or more below its running peak
    (the peak starts at 0, so an early loss counts)."""

    max_drawdown_usd: Decimal


@dataclass(frozen=True, slots=True)
class MaxConsecutiveLossesKill:
    """Kill after `max_losses` losses in a row."""

    max_losses: int


@dataclass(frozen=True, slots=True)
class MinWinRateAfterNKill:
    """Kill when at least `n` trades have settled and the win rate over all of them is below
    `min_win_rate`."""

    n: int
    min_win_rate: float


KillCriterion = SprtKill | MaxDrawdownKill | MaxConsecutiveLossesKill | MinWinRateAfterNKill


@dataclass(frozen=True, slots=True)
class KillVerdict:
    """Whether the criterion is hit after `n` trades, with the evidence in words and as numbers:
    `threshold` and `measured` are what the criterion compared (audit.kill_sentence)."""

    hit: bool
    kind: str
    n: int
    detail: str
    threshold: Decimal | None = None
    measured: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def run_sprt(criterion: SprtKill, pnls: Iterable[Decimal]) -> SprtState:
    """The SPRT state after feeding every P&L in order."""
    bounds = sprt_bounds(criterion.alpha, criterion.beta)
    state = SprtState()
    for pnl in pnls:
        state = sprt_update(state, criterion.increment(pnl), bounds)
    return state


def _sprt_verdict(c: SprtKill, pnls: Sequence[Decimal]) -> KillVerdict:
    state = run_sprt(c, pnls)
    b = sprt_bounds(c.alpha, c.beta)
    detail = (
        f"llr={state.llr:.3f} bounds=({b.lower:.3f}, {b.upper:.3f}) "
        f"decision={state.decision} at n={state.decided_at}"
    )
    # The ratio when the test decided (it is sticky; later trades move the ratio on).
    decided = run_sprt(c, pnls[: state.decided_at]) if state.decided_at else state
    return KillVerdict(
        state.decision is SprtDecision.ACCEPT_H0,
        "sprt",
        len(pnls),
        detail,
        _number(b.lower),
        _number(decided.llr),
        {"upper": _number(b.upper), "decided_at": state.decided_at, "llr_now": _number(state.llr)},
    )


def _number(value: float) -> Decimal:
    """A float statistic as an exact, readable Decimal (to 1e-6)."""
    return Decimal(repr(value)).quantize(Decimal("0.000001"))


def _drawdown_verdict(c: MaxDrawdownKill, pnls: Sequence[Decimal]) -> KillVerdict:
    cum, peak, worst = Decimal(0), Decimal(0), Decimal(0)
    for pnl in pnls:
        cum += pnl
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    detail = f"max drawdown {worst} USD, limit {c.max_drawdown_usd} USD"
    hit = worst >= c.max_drawdown_usd
    return KillVerdict(hit, "max_drawdown", len(pnls), detail, c.max_drawdown_usd, worst)


def _streak_verdict(c: MaxConsecutiveLossesKill, pnls: Sequence[Decimal]) -> KillVerdict:
    run = longest = 0
    for pnl in pnls:
        run = 0 if pnl > 0 else run + 1
        longest = max(longest, run)
    detail = f"longest losing streak {longest}, limit {c.max_losses}"
    hit = longest >= c.max_losses
    return KillVerdict(
        hit, "max_consecutive_losses", len(pnls), detail, Decimal(c.max_losses), Decimal(longest)
    )


def _win_rate_verdict(c: MinWinRateAfterNKill, pnls: Sequence[Decimal]) -> KillVerdict:
    n = len(pnls)
    wins = sum(1 for pnl in pnls if pnl > 0)
    if n < c.n:
        detail = f"n={n} < {c.n}: not evaluated yet ({wins} wins)"
        return KillVerdict(False, "min_win_rate_after_n", n, detail)
    rate = wins / n
    detail = f"win rate {rate:.4f} ({wins}/{n}), minimum {c.min_win_rate} after {c.n}"
    return KillVerdict(
        rate < c.min_win_rate,
        "min_win_rate_after_n",
        n,
        detail,
        _number(c.min_win_rate),
        _number(rate),
        {"wins": wins, "after_n": c.n},
    )


def evaluate_kill(criterion: KillCriterion, pnls: Sequence[Decimal]) -> KillVerdict:
    """Evaluate the criterion over all settled net P&L so far (oldest first). Call it after every
    settlement; a hit means: disable the strategy (`status.disable_strategy`) and alert."""
    pnls = [Decimal(p) for p in pnls]
    if isinstance(criterion, SprtKill):
        return _sprt_verdict(criterion, pnls)
    if isinstance(criterion, MaxDrawdownKill):
        return _drawdown_verdict(criterion, pnls)
    if isinstance(criterion, MaxConsecutiveLossesKill):
        return _streak_verdict(criterion, pnls)
    return _win_rate_verdict(criterion, pnls)


# ---------------------------------------------------------------- reading the declaration


def criterion_from_prereg(doc: Mapping[str, Any]) -> KillCriterion:
    """The kill criterion declared in a parsed pre-registration document. An SPRT takes its
    hypotheses from the document: p0 = baseline, p1 = baseline + minimum_effect (and pnl_sd)."""
    kill = doc["kill_criterion"]
    kind = kill["kind"]
    if kind == "sprt":
        base, effect = float(doc["baseline"]), float(doc["minimum_effect"])
        sigma = doc.get("pnl_sd")
        return SprtKill(
            doc["metric"],
            base,
            base + effect,
            float(kill["alpha"]),
            float(kill["beta"]),
            None if sigma is None else float(sigma),
        )
    if kind == "max_drawdown":
        return MaxDrawdownKill(Decimal(str(kill["max_drawdown_usd"])))
    if kind == "max_consecutive_losses":
        return MaxConsecutiveLossesKill(int(kill["max_losses"]))
    if kind == "min_win_rate_after_n":
        return MinWinRateAfterNKill(int(kill["n"]), float(kill["min_win_rate"]))
    raise ValueError(f"unknown kill criterion kind {kind!r}")


def load_kill_criterion(path: Path) -> KillCriterion:
    """Read the kill criterion from a pre-registration YAML file."""
    return criterion_from_prereg(yaml.safe_load(Path(path).read_text()))
