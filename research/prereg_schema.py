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
    """What the hypotheses are about: the win rate, or the mean net P&L per trade (USD)."""

    WIN_RATE = "win_rate"
    EV = "ev"


class Purpose(StrEnum):
    EDGE = "edge"  # claims an edge: significance is tested before live scale-up
    VERIFICATION = "verification"  # the canary: proves the pipeline, claims no edge


class SampleSizeMethod(StrEnum):
    """The power calculation behind `required_sample_size` (research.stats)."""

    EXACT_BINOMIAL = "exact_binomial"
    NORMAL = "normal"
    T_TEST = "t_test"


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


def _metric_fields(p: Preregistration) -> None:
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


def _rule_fields(p: Preregistration) -> None:
    if p.significance_rule is SignificanceRule.SPRT and p.kill_criterion.kind != "sprt":
        _fail("kill_criterion", "significance_rule sprt needs kill_criterion kind sprt")


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
