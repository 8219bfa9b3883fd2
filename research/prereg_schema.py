"""The pre-registration schema (DESIGN §9, spec Phase 3): what a `preregistrations/<strategy>.yaml`
must declare and the bounds on each field.

Hypotheses, metric, baseline, minimum effect, alpha, power, the required sample size, the kill
criterion, risk, instruments, the expected P&L per 10 windows and the evidence. Strict pydantic
models: unknown keys, out-of-range numbers and inconsistent fields are errors; a cross-field check
names its field as `field: message` (research.prereg maps that to the YAML line).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from live.kernel.limits import HARD_MAX_POSITION_USD
from live.promotion.kill_criteria import KillCriterion, criterion_from_prereg

STRATEGY_NAME = r"^[a-z0-9][a-z0-9_-]*$"  # the same rule as the allowed_strategies control


class Metric(StrEnum):
    """What the hypotheses are about. `win_rate` against a fixed baseline is only sound when every
    entry is at that price (`entry_price`); `wins_vs_price` (wins against the exact
    Poisson-binomial of each entry's price + fee) and `ev_per_dollar` (mean net P&L per USD
    staked vs 0, one-sided t-test) have fair pricing as their null at any price (issue 17)."""

    WIN_RATE = "win_rate"
    EV = "ev"
    WINS_VS_PRICE = "wins_vs_price"
    EV_PER_DOLLAR = "ev_per_dollar"


class Purpose(StrEnum):
    EDGE = "edge"  # claims an edge: significance is tested before live scale-up
    VERIFICATION = "verification"  # the canary: proves the pipeline, claims no edge


class SampleSizeMethod(StrEnum):
    """The power calculation behind `required_sample_size` (research.stats)."""

    EXACT_BINOMIAL = "exact_binomial"
    NORMAL = "normal"
    T_TEST = "t_test"
    SIMULATION = "simulation"  # seeded Monte-Carlo power (research.fair_price), wins_vs_price


class SignificanceRule(StrEnum):
    FIXED_N = "fixed_n"  # test once, on exactly the first required_sample_size trades
    SPRT = "sprt"  # Wald's SPRT of the kill criterion; crossing the upper bound is significance


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SprtCriterion(_Strict):
    kind: Literal["sprt"]
    alpha: float = Field(gt=0, le=0.2)
    beta: float = Field(gt=0, le=0.5)


class MaxDrawdownCriterion(_Strict):
    kind: Literal["max_drawdown"]
    max_drawdown_usd: Decimal = Field(gt=0, le=1000)


class MaxConsecutiveLossesCriterion(_Strict):
    kind: Literal["max_consecutive_losses"]
    max_losses: int = Field(ge=1, le=1000)


class MinWinRateAfterNCriterion(_Strict):
    kind: Literal["min_win_rate_after_n"]
    n: int = Field(ge=1, le=1_000_000)
    min_win_rate: float = Field(gt=0, lt=1)


KillCriterionSpec = Annotated[
    SprtCriterion
    | MaxDrawdownCriterion
    | MaxConsecutiveLossesCriterion
    | MinWinRateAfterNCriterion,
    Field(discriminator="kind"),
]


class PriceModel(_Strict):
    """The entry prices the power simulation of `wins_vs_price` draws from (uniform in
    [low, high], USD per share), the venue's fee rate, and the simulation's size and seed."""

    low: float = Field(gt=0, lt=1)
    high: float = Field(gt=0, lt=1)
    fee_rate: float = Field(default=0.0, ge=0, le=0.25)
    n_sims: int = Field(default=1000, ge=200, le=20_000)
    seed: int = Field(default=17, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _ordered(self) -> PriceModel:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class Overfitting(_Strict):
    """How many configurations may be tried before promotion (every backtest, screen and grid
    cell logged in `trials` counts) and the deflated Sharpe ratio the gate requires."""

    trial_budget: int = Field(ge=1, le=1_000_000)
    min_deflated_sharpe: float = Field(default=0.95, gt=0.5, lt=1)


class Risk(_Strict):
    max_position_usd: Decimal = Field(gt=0, le=HARD_MAX_POSITION_USD)
    max_session_loss_usd: Decimal = Field(gt=0, le=1000)
    stop_loss: float | None = Field(default=None, gt=0, lt=1)
    take_profit: float | None = Field(default=None, gt=0, le=10)
    max_entries_per_window: int = Field(default=1, ge=1, le=2)


class Instrument(_Strict):
    asset: Literal["BTC", "ETH", "SOL", "XRP"]
    window: Literal["5m", "15m"]


class PnlRange(_Strict):
    low_usd: Decimal = Field(ge=-1000, le=1000)
    high_usd: Decimal = Field(ge=-1000, le=1000)

    @model_validator(mode="after")
    def _ordered(self) -> PnlRange:
        if self.low_usd >= self.high_usd:
            raise ValueError(f"low_usd ({self.low_usd}) must be below high_usd ({self.high_usd})")
        return self


class Evidence(_Strict):
    backtest_run_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )
    data_from: date | None = None
    data_to: date | None = None
    report_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _range(self) -> Evidence:
        if (self.data_from is None) != (self.data_to is None):
            raise ValueError("data_from and data_to are given together or not at all")
        if self.data_from and self.data_to and self.data_from > self.data_to:
            raise ValueError(f"data_from {self.data_from} is after data_to {self.data_to}")
        return self


class Preregistration(_Strict):
    """One strategy's pre-registration, validated field by field and across fields."""

    strategy: str = Field(pattern=STRATEGY_NAME, max_length=64)
    aliases: list[Annotated[str, Field(pattern=STRATEGY_NAME, max_length=64)]] = Field(
        default_factory=list, max_length=8
    )
    version: int = Field(ge=1, le=10_000)
    purpose: Purpose
    h0: str = Field(min_length=5, max_length=2000)
    h1: str = Field(min_length=5, max_length=2000)
    metric: Metric
    baseline: float = Field(ge=-5, le=5)
    minimum_effect: float = Field(gt=0, le=5)
    pnl_sd: float | None = Field(default=None, gt=0, le=10)
    entry_price: float | None = Field(default=None, gt=0, lt=1)
    price_model: PriceModel | None = None
    overfitting: Overfitting | None = None
    alpha: float = Field(gt=0, le=0.2)
    power: float = Field(ge=0.5, le=0.99)
    sample_size_method: SampleSizeMethod
    required_sample_size: int = Field(ge=1, le=1_000_000)
    significance_rule: SignificanceRule
    kill_criterion: KillCriterionSpec
    risk: Risk
    instruments: list[Instrument] = Field(min_length=1, max_length=8)
    expected_pnl_per_10_windows: PnlRange
    evidence: Evidence

    @model_validator(mode="after")
    def _consistent(self) -> Preregistration:
        for check in (_metric_fields, _rule_fields, _purpose_fields, _unique_instruments):
            check(self)
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The strategy's name and aliases, as positions and controls may spell it."""
        return (self.strategy, *self.aliases)

    def kill(self) -> KillCriterion:
        """The declared kill criterion in the runner's terms (live.promotion.kill_criteria)."""
        return criterion_from_prereg(self.model_dump(mode="json"))


def _fail(field: str, message: str) -> None:
    raise ValueError(f"{field}: {message}")


ENTRY_PRICE_SLACK = 0.02  # a win_rate baseline may exceed the single entry price by the fee

WIN_RATE_TRAP = (
    "metric win_rate with a fixed baseline is a test against the price paid only when every "
    "entry is at that price (a contract bought at p wins with probability p when the market is "
    "fair, so a favourite bought at 0.85 'beats' 0.5 with no edge): declare entry_price, the one "
    "price the strategy pays, with baseline in [entry_price, entry_price + 0.02], or use metric "
    "wins_vs_price or ev_per_dollar"
)


def _metric_fields(p: Preregistration) -> None:
    if p.metric in (Metric.WINS_VS_PRICE, Metric.EV_PER_DOLLAR):
        _fair_metric_fields(p)
        return
    if p.metric is Metric.WIN_RATE and p.purpose is Purpose.EDGE:
        if p.entry_price is None:
            _fail("metric", WIN_RATE_TRAP)
        if not p.entry_price <= p.baseline <= p.entry_price + ENTRY_PRICE_SLACK:
            paid = f"{p.baseline} is not the price paid {p.entry_price}"
            _fail("baseline", f"{paid}: {WIN_RATE_TRAP}")
    if p.entry_price is not None and p.metric is not Metric.WIN_RATE:
        _fail("entry_price", "only used with metric win_rate")
    if p.price_model is not None:
        _fail("price_model", "only used with metric wins_vs_price")
    if p.sample_size_method is SampleSizeMethod.SIMULATION:
        _fail("sample_size_method", "simulation is for metric wins_vs_price")
    if p.metric is Metric.WIN_RATE:
        if not 0 < p.baseline < 1:
            _fail("baseline", f"a win rate must be in (0, 1), got {p.baseline}")
        if p.baseline + p.minimum_effect >= 1:
            _fail("minimum_effect", "baseline + minimum_effect must be below 1")
        if p.pnl_sd is not None:
            _fail("pnl_sd", "only used when metric is ev")
        if p.sample_size_method is SampleSizeMethod.T_TEST:
            _fail("sample_size_method", "t_test is for metric ev; use exact_binomial or normal")
    else:
        if p.pnl_sd is None:
            _fail("pnl_sd", "required when metric is ev (per-trade P&L standard deviation, USD)")
        if p.sample_size_method is SampleSizeMethod.EXACT_BINOMIAL:
            _fail("sample_size_method", "exact_binomial is for metric win_rate")


def _fair_metric_fields(p: Preregistration) -> None:
    if p.entry_price is not None:
        _fail("entry_price", "only used with metric win_rate")
    if p.metric is Metric.WINS_VS_PRICE:
        if p.baseline != 0:
            _fail("baseline", "wins_vs_price tests the edge over fair pricing: baseline must be 0")
        if p.minimum_effect >= 0.5:
            _fail("minimum_effect", "a win-probability edge must be below 0.5")
        if p.sample_size_method is not SampleSizeMethod.SIMULATION:
            _fail("sample_size_method", "wins_vs_price has no closed form: use simulation")
        if p.price_model is None:
            _fail("price_model", "required for wins_vs_price (the entry prices to simulate)")
        if p.pnl_sd is not None:
            _fail("pnl_sd", "only used when metric is ev or ev_per_dollar")
        return
    if p.price_model is not None:
        _fail("price_model", "only used with metric wins_vs_price")
    if p.baseline < 0:
        _fail("baseline", "EV per dollar below 0 is a losing strategy: baseline must be >= 0")
    if p.pnl_sd is None:
        _fail("pnl_sd", "required for ev_per_dollar (sd of net P&L per USD staked)")
    if p.sample_size_method not in (SampleSizeMethod.T_TEST, SampleSizeMethod.NORMAL):
        _fail("sample_size_method", "ev_per_dollar uses t_test or normal")


def _rule_fields(p: Preregistration) -> None:
    if p.significance_rule is SignificanceRule.SPRT and p.kill_criterion.kind != "sprt":
        _fail("kill_criterion", "significance_rule sprt needs kill_criterion kind sprt")
    fair = (Metric.WINS_VS_PRICE, Metric.EV_PER_DOLLAR)
    if p.significance_rule is SignificanceRule.SPRT and p.metric in fair:
        _fail("significance_rule", f"metric {p.metric} is tested once at fixed_n")


def _purpose_fields(p: Preregistration) -> None:
    if p.purpose is not Purpose.VERIFICATION:
        return
    if p.kill_criterion.kind == "sprt" or p.significance_rule is SignificanceRule.SPRT:
        _fail("kill_criterion", "a verification strategy claims no edge: declare a loss bound")
    if p.risk.max_position_usd > 1:
        _fail("risk.max_position_usd", "a verification strategy trades at most 1 USD")


def _unique_instruments(p: Preregistration) -> None:
    seen = [(i.asset, i.window) for i in p.instruments]
    if len(seen) != len(set(seen)):
        _fail("instruments", "each instrument may appear once")
