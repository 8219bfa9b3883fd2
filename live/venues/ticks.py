"""Stale ticks: the market's tick moves between 0.01 and 0.001 as the price nears 0 or 1
(`tick_size_change` on the market channel). The engine prices to the tick it last heard; in the
moment between the venue's change and our receipt of it, a worst price on the finer grid (0.995)
can be off the venue's coarser grid. The SDK (polymarket-client 0.14.0) re-reads the market's
tick for every order it signs (`order_metadata.fetch_current_market`, force=True, in
_internal/actions/orders/market.py and limit.py) and refuses an off-grid price locally
(UserInputError from `validate_price_on_tick_grid`, "must conform to tick size" / "must be a
multiple of tick size" / "must be between"). Every price on the 0.01 grid inside [0.01, 0.99] is
valid under both ticks, so one re-sign at the worst price rounded AWAY from the market (a BUY
pays no more, a SELL takes no less) onto that grid never fails for the tick again."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

COARSE_TICK = Decimal("0.01")
_TICK_WORDS = ("tick size", "minimum tick")


def is_tick_refusal(error: BaseException | str) -> bool:
    """Whether an SDK or venue refusal is about the price's tick grid or tick range."""
    text = str(error).lower()
    return any(word in text for word in _TICK_WORDS)


def coarse_worst_price(side: str, price: Decimal) -> Decimal:
    """`price` on the 0.01 grid, rounded so the bound only tightens (BUY down, SELL up), and
    kept inside [0.01, 0.99] (valid at both ticks). Prices in USDC per share."""
    rounding = ROUND_FLOOR if side.upper() == "BUY" else ROUND_CEILING
    coarse = price.quantize(COARSE_TICK, rounding=rounding)
    return min(max(coarse, COARSE_TICK), 1 - COARSE_TICK)
