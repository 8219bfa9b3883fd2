"""Drafting a pre-registration (`updown prereg new`, and research notebooks through
`research.prereg.draft` / `write`): a complete, valid file with the required sample size
computed, its arguments checked against the schema's bounds with errors naming the field."""

from __future__ import annotations

import re

from research.prereg_power import MAX_SAMPLE_SIZE, SampleSizeError, required_sample_size
from research.prereg_schema import (
    STRATEGY_NAME,
    Metric,
    Preregistration,
    PriceModel,
    SampleSizeMethod,
    SignificanceRule,
)

# ---------------------------------------------------------------- drafting a new file


def draft(
    strategy: str,
    metric: Metric,
    baseline: float,
    effect: float,
    alpha: float = 0.05,
    power: float = 0.8,
    pnl_sd: float | None = None,
    rule: SignificanceRule = SignificanceRule.FIXED_N,
    entry_price: float | None = None,
    price_model: PriceModel | None = None,
) -> Preregistration:
    """A complete, valid pre-registration with the sample size computed; the author then edits
    hypotheses, risk, instruments, expected P&L and evidence before committing it. Raises
    DraftError naming the argument's schema field and its allowed range. `entry_price` is the
    one price a win_rate strategy pays; `price_model` the entry prices wins_vs_price simulates."""
    check_draft(strategy, metric, baseline, effect, alpha, power, pnl_sd)
    if metric is Metric.WIN_RATE and (
        entry_price is None or not entry_price <= baseline <= entry_price + 0.02
    ):
        raise DraftError(("baseline",), _WIN_RATE_DRAFT)
    if metric is Metric.WINS_VS_PRICE and price_model is None:
        raise DraftError(("price_model",), "is required for metric wins_vs_price")
    method = _DRAFT_METHOD[metric]
    unit = _UNIT[metric]
    n = _draft_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, price_model)
    return Preregistration.model_validate(
        {
            "strategy": strategy,
            "version": 1,
            "purpose": "edge",
            "h0": f"{unit} <= {baseline}: the strategy has no edge",
            "h1": f"{unit} >= {baseline + effect:g} (minimum effect {effect:g}), one-sided",
            "metric": metric,
            "baseline": baseline,
            "minimum_effect": effect,
            "pnl_sd": pnl_sd,
            "entry_price": entry_price,
            "price_model": price_model.model_dump() if price_model else None,
            "alpha": alpha,
            "power": power,
            "sample_size_method": method,
            "required_sample_size": n,
            "significance_rule": rule,
            "kill_criterion": (
                {"kind": "sprt", "alpha": alpha, "beta": round(1 - power, 6)}
                if metric in (Metric.WIN_RATE, Metric.EV)
                else {"kind": "max_drawdown", "max_drawdown_usd": 10}
            ),
            "overfitting": {"trial_budget": 20, "min_deflated_sharpe": 0.95},
            "risk": {"max_position_usd": 1, "max_session_loss_usd": 10},
            "instruments": [{"asset": "BTC", "window": "5m"}],
            "expected_pnl_per_10_windows": {"low_usd": -5, "high_usd": 5},
            "evidence": {"backtest_run_ids": []},
        }
    )


_WIN_RATE_DRAFT = (
    "a fixed win-rate baseline needs every entry at that price: pass --entry-price P with "
    "baseline in [P, P + 0.02], or use --metric wins_vs_price (exact Poisson-binomial against "
    "each entry's price + fee) or --metric ev_per_dollar"
)
_DRAFT_METHOD = {
    Metric.WIN_RATE: SampleSizeMethod.EXACT_BINOMIAL,
    Metric.EV: SampleSizeMethod.T_TEST,
    Metric.WINS_VS_PRICE: SampleSizeMethod.SIMULATION,
    Metric.EV_PER_DOLLAR: SampleSizeMethod.T_TEST,
}
_UNIT = {
    Metric.WIN_RATE: "win rate",
    Metric.EV: "mean net P&L per trade (USD)",
    Metric.WINS_VS_PRICE: "win probability minus the price paid + fee (per trade)",
    Metric.EV_PER_DOLLAR: "mean net P&L per USD staked",
}


class DraftError(ValueError):
    """An argument of `draft` that no pre-registration allows. `fields` are the schema fields at
    fault (strategy, baseline, minimum_effect, alpha, power, pnl_sd); `message` reads after
    their names ("must be in (0, 0.2], got 0.5")."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        self.fields, self.message = fields, message
        super().__init__(f"{'/'.join(fields)} {message}")


def check_draft(
    strategy: str,
    metric: Metric,
    baseline: float,
    effect: float,
    alpha: float,
    power: float,
    pnl_sd: float | None,
) -> None:
    """Check `draft`'s arguments against the schema's bounds and its rules per metric; raises
    DraftError for the first that fails (NaN and infinities fail every range)."""
    if len(strategy) > 64 or not re.fullmatch(STRATEGY_NAME, strategy):  # the schema's rule
        raise DraftError(
            ("strategy",),
            f"must be 1-64 lower-case letters, digits, _ or - (starting with a letter or digit),"
            f" got {strategy!r}",
        )
    if metric is Metric.WIN_RATE and not 0 < baseline < 1:
        raise DraftError(
            ("baseline",), f"must be a win rate in (0, 1) for metric win_rate, got {baseline}"
        )
    _within("baseline", baseline)
    _within("minimum_effect", effect)
    _within("alpha", alpha)
    _within("power", power)
    if metric is Metric.WIN_RATE and not baseline + effect < 1:
        raise DraftError(
            ("minimum_effect",),
            f"must be below 1 - baseline = {1 - baseline:g} for metric win_rate, got {effect}",
        )
    if metric is Metric.WIN_RATE and pnl_sd is not None:
        raise DraftError(("pnl_sd",), "is only used with metric ev")
    if metric in (Metric.EV, Metric.EV_PER_DOLLAR) and pnl_sd is None:
        raise DraftError(("pnl_sd",), f"is required for metric {metric} (per-trade P&L sd)")
    if metric is Metric.WINS_VS_PRICE and pnl_sd is not None:
        raise DraftError(("pnl_sd",), "is not used with metric wins_vs_price")
    if pnl_sd is not None:
        _within("pnl_sd", pnl_sd)


def _within(field: str, value: float) -> None:
    """DraftError unless `value` meets the schema's bounds (gt/ge/lt/le) on `field`."""
    low, high, ok = "(-inf", "inf)", value == value  # NaN is in no range
    for bound in Preregistration.model_fields[field].metadata:
        if getattr(bound, "gt", None) is not None:
            low, ok = f"({bound.gt:g}", ok and value > bound.gt
        elif getattr(bound, "ge", None) is not None:
            low, ok = f"[{bound.ge:g}", ok and value >= bound.ge
        elif getattr(bound, "lt", None) is not None:
            high, ok = f"{bound.lt:g})", ok and value < bound.lt
        elif getattr(bound, "le", None) is not None:
            high, ok = f"{bound.le:g}]", ok and value <= bound.le
    if not ok:
        raise DraftError((field,), f"must be in {low}, {high}, got {value:g}")


def _draft_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, model) -> int:
    fields = ("minimum_effect", "alpha", "power") + (("pnl_sd",) if pnl_sd is not None else ())
    given = f"effect {effect:g}, alpha {alpha:g}, power {power:g}"
    given += f", sd {pnl_sd:g}" if pnl_sd is not None else ""
    try:
        n = required_sample_size(metric, method, baseline, effect, alpha, power, pnl_sd, model)
    except SampleSizeError:
        raise DraftError(
            fields,
            f"leave the power calculation without a sample size up to {MAX_SAMPLE_SIZE} trades"
            f" ({given}): raise the effect or alpha, or lower the power",
        ) from None
    if n > MAX_SAMPLE_SIZE:
        raise DraftError(
            fields,
            f"ask for more than {MAX_SAMPLE_SIZE} trades ({given}): raise the effect or alpha,"
            " or lower the power",
        )
    return n
