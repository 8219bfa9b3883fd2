"""The power calculation a pre-registration's `required_sample_size` must equal (research.stats
for the closed forms, research.fair_price's seeded simulation for wins_vs_price)."""

from __future__ import annotations

from research import fair_price, stats
from research.prereg_schema import Metric, Preregistration, PriceModel, SampleSizeMethod

# ---------------------------------------------------------------- sample size

MAX_SAMPLE_SIZE = stats.MAX_N  # the schema's bound on required_sample_size


class SampleSizeError(ValueError):
    """The power calculation has no finite answer (e.g. alpha or the effect far too small)."""


def required_sample_size(
    metric: Metric,
    method: SampleSizeMethod,
    baseline: float,
    effect: float,
    alpha: float,
    power: float,
    pnl_sd: float | None = None,
    price_model: PriceModel | None = None,
) -> int:
    """The power calculation a pre-registration's required_sample_size must equal (trades);
    raises SampleSizeError when it has no answer within MAX_SAMPLE_SIZE trades (for the
    simulated wins_vs_price power, within fair_price.MAX_SIM_N)."""
    if metric in (Metric.EV, Metric.EV_PER_DOLLAR) and pnl_sd is None:
        raise ValueError(f"metric {metric} needs pnl_sd")
    if metric is Metric.WINS_VS_PRICE:
        if price_model is None:
            raise ValueError("metric wins_vs_price needs a price_model")
        m = price_model
        try:
            return fair_price.wins_vs_price_sample_size(
                effect, alpha, power, m.low, m.high, m.fee_rate, m.n_sims, m.seed
            )
        except ValueError:
            raise SampleSizeError(
                f"no sample size up to {fair_price.MAX_SIM_N} trades reaches simulated power "
                f"{power:g} at alpha {alpha:g} for a win-probability edge of {effect:g}"
            ) from None
    try:
        return _power_calculation(metric, method, baseline, effect, alpha, power, pnl_sd)
    except (OverflowError, ValueError):  # an infinite n, or none found up to the bound
        raise SampleSizeError(
            f"no sample size up to {MAX_SAMPLE_SIZE} trades reaches power {power:g} at alpha "
            f"{alpha:g} for a minimum effect of {effect:g}"
        ) from None


def _power_calculation(metric, method, baseline, effect, alpha, power, pnl_sd) -> int:
    if metric is Metric.WIN_RATE:
        p1 = baseline + effect
        if method is SampleSizeMethod.EXACT_BINOMIAL:
            return stats.win_rate_sample_size_exact(baseline, p1, alpha, power)
        return stats.win_rate_sample_size_normal(baseline, p1, alpha, power)
    if method is SampleSizeMethod.T_TEST:
        return stats.ev_sample_size(effect, pnl_sd, alpha, power)
    return stats.ev_sample_size_normal(effect, pnl_sd, alpha, power)


def computed_sample_size(p: Preregistration) -> int:
    """Recompute the required sample size from the file's own declarations (SampleSizeError
    when the power calculation has no answer)."""
    return required_sample_size(
        p.metric,
        p.sample_size_method,
        p.baseline,
        p.minimum_effect,
        p.alpha,
        p.power,
        p.pnl_sd,
        p.price_model,
    )
