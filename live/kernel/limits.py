"""Hard limits. Constants in code, not configuration: runtime controls may tighten them, never
loosen them (DESIGN §1.2, spec Phase 0 items 2 and 8)."""

from decimal import Decimal

HARD_MAX_POSITION_USD = Decimal("5")
MAX_ORDERS_PER_WINDOW_PER_INSTRUMENT = 2
KNOWN_ASSETS = ("BTC", "ETH", "SOL", "XRP")
# The venue refuses marketable (FAK/FOK) orders under $1, buys and sells alike (POLYMARKET.md).
MIN_MARKETABLE_USD = Decimal("1")
