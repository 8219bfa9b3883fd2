"""An L2 order book for one token: price → size maps with the best prices cached.

Market data, so floats (DESIGN §3): prices are tick multiples parsed from decimal strings, and a
float parsed from "0.54" compares exactly with another parsed from "0.54". Prices become Decimal
only when they turn into an order or a fill. `version` changes on every update, which is how the
paper executor knows its consumed liquidity is stale.
"""

from __future__ import annotations

from collections.abc import Iterable


class Book:
    """The current book of one token. Levels are unsorted dicts; sorting happens only on demand
    (when an order walks the book), so updates stay O(1) except when the best level empties."""

    __slots__ = ("token_id", "bids", "asks", "best_bid", "best_ask", "version", "ts")

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.best_bid: float | None = None
        self.best_ask: float | None = None
        self.version = 0
        self.ts = 0

    def apply_snapshot(
        self, bids: Iterable[tuple[float, float]], asks: Iterable[tuple[float, float]], ts: int
    ) -> None:
        """Replace the whole book (levels of size 0 are dropped)."""
        self.bids = {p: s for p, s in bids if s > 0}
        self.asks = {p: s for p, s in asks if s > 0}
        self.best_bid = max(self.bids) if self.bids else None
        self.best_ask = min(self.asks) if self.asks else None
        self.version += 1
        self.ts = ts

    def apply_delta(self, side: str, price: float, size: float, ts: int) -> None:
        """Set one level ('bid' or 'ask'); size 0 removes it."""
        self.version += 1
        self.ts = ts
        if side == "bid":
            levels = self.bids
            if size > 0:
                levels[price] = size
                if self.best_bid is None or price > self.best_bid:
                    self.best_bid = price
            elif levels.pop(price, None) is not None and price == self.best_bid:
                self.best_bid = max(levels) if levels else None
        else:
            levels = self.asks
            if size > 0:
                levels[price] = size
                if self.best_ask is None or price < self.best_ask:
                    self.best_ask = price
            elif levels.pop(price, None) is not None and price == self.best_ask:
                self.best_ask = min(levels) if levels else None

    def levels(self, side: str) -> list[tuple[float, float]]:
        """Levels of one side, best first (bids high→low, asks low→high)."""
        if side == "bid":
            return sorted(self.bids.items(), reverse=True)
        return sorted(self.asks.items())

    def visible(self, side: str) -> float:
        """Total visible size (shares) on one side."""
        return sum((self.bids if side == "bid" else self.asks).values())

    @property
    def mid(self) -> float | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    def snapshot(self, depth: int = 5) -> dict[str, object]:
        """A JSON-able copy of the top `depth` levels, stored with orders (DRY_RUN, audit)."""
        return {
            "token_id": self.token_id,
            "ts": self.ts,
            "bids": [[repr(p), repr(s)] for p, s in self.levels("bid")[:depth]],
            "asks": [[repr(p), repr(s)] for p, s in self.levels("ask")[:depth]],
        }
