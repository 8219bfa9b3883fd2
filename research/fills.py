"""Backtest fill models (FM15): `book` walks the recorded L2 book (live's PaperExecutor);
`conservative` fills the whole order at 1 % worse than the mid, for data without usable depth.

Both are in-process venues built on the executors' public `SimVenue` (a fill model implements
only `matches`): the same ack / fill / cancel answers and ledger as PAPER, so everything after
the fill is the live code path.
"""

from __future__ import annotations

from decimal import Decimal

from live.kernel.book import Book
from live.kernel.domain import Order, OrderSide, shares_down
from live.kernel.executors import Match, PaperExecutor, SimExecutor, SimVenue

FILL_MODELS = ("book", "conservative")
SLIPPAGE = Decimal("0.01")  # 1 % of the mid


class ConservativeExecutor(SimVenue):
    """Fills a BUY at mid × 1.01 and a SELL at mid × 0.99 (rounded against us to 0.0001), all
    or nothing, within the order's worst price; no mid (a one-sided book) means no fill."""

    def matches(self, order: Order, book: Book) -> list[Match]:
        mid = book.mid
        if mid is None:
            return []
        buy = order.side is OrderSide.BUY
        factor = 1 + SLIPPAGE if buy else 1 - SLIPPAGE
        rounding = "ROUND_CEILING" if buy else "ROUND_FLOOR"
        # the float mid carries binary noise ((0.40 + 0.44) / 2 = 0.42000000000000004), which the
        # rounding against us would turn into a whole extra 0.0001: drop it below 1e-9 first
        exact_mid = Decimal(repr(mid)).quantize(Decimal("1e-9"))
        price = (exact_mid * factor).quantize(Decimal("0.0001"), rounding=rounding)
        if (buy and price > order.worst_price) or (not buy and price < order.worst_price):
            return []
        if not (0 < price < 1):
            return []
        shares = shares_down(order.requested_usd / price) if buy else order.requested_shares
        return [] if not shares or shares <= 0 else [Match(price, shares)]


def make_executor(model: str, cash: Decimal) -> SimExecutor:
    """The executor of fill model `model` (one of FILL_MODELS)."""
    if model == "book":
        return PaperExecutor(cash)
    if model == "conservative":
        return ConservativeExecutor(cash)
    raise ValueError(f"unknown fill model {model!r}; known: {', '.join(FILL_MODELS)}")
