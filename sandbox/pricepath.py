"""The synthetic oracle: a per-asset GBM-with-jumps price path that is a pure function of
(seed, asset, unix second). Paths are generated a UTC day at a time from a generator seeded by
(seed, asset, day), so any second can be computed without simulating from the epoch; each day
starts from its own seeded level (a visible jump at 00:00 UTC, documented in docs/sandbox.md)."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

import numpy as np

from sandbox.config import SettlementRule

DAY = 86_400
YEAR_SECONDS = 365 * DAY
PRICE_QUANTUM = Decimal("0.00000001")

# (reference level, annualised volatility): roughly what these assets did in 2025-2026.
ASSET_PARAMS: dict[str, tuple[float, float]] = {
    "BTC": (63_000.0, 0.50),
    "ETH": (3_200.0, 0.65),
    "SOL": (150.0, 0.80),
    "XRP": (0.60, 0.85),
    "DOGE": (0.15, 0.95),
    "BNB": (580.0, 0.55),
}
JUMP_RATE_PER_SECOND = 1 / 1800
JUMP_SIGMA = 0.0015


def sigma_per_second(asset: str) -> float:
    """Per-second volatility of the asset's log price."""
    return ASSET_PARAMS[asset][1] / math.sqrt(YEAR_SECONDS)


def _asset_index(asset: str) -> int:
    return sorted(ASSET_PARAMS).index(asset)


@lru_cache(maxsize=64)
def day_path(seed: int, asset: str, day: int) -> np.ndarray:
    """Log prices for every second of one UTC day (DAY + 1 points)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _asset_index(asset), day])
    level, _ = ASSET_PARAMS[asset]
    sigma = sigma_per_second(asset)
    start = math.log(level) + 0.03 * rng.standard_normal()
    diffusion = sigma * rng.standard_normal(DAY) - 0.5 * sigma * sigma
    jumps = (rng.random(DAY) < JUMP_RATE_PER_SECOND) * rng.normal(0.0, JUMP_SIGMA, DAY)
    path = np.empty(DAY + 1)
    path[0] = start
    np.cumsum(diffusion + jumps, out=path[1:])
    path[1:] += start
    path.flags.writeable = False
    return path


def spot(seed: int, asset: str, ts: int) -> float:
    """Oracle price at unix second `ts` as a float (for the fair-value model)."""
    day, offset = divmod(int(ts), DAY)
    return math.exp(day_path(seed, asset, day)[offset])


def oracle_price(seed: int, asset: str, ts: int) -> Decimal:
    """Oracle price at unix second `ts`, quantised to 8 decimals like a Chainlink report."""
    return Decimal(repr(spot(seed, asset, ts))).quantize(PRICE_QUANTUM)


def twap(seed: int, asset: str, end_ts: int, seconds: int) -> Decimal:
    """Mean oracle price over the `seconds` one-second ticks ending at `end_ts` (inclusive)."""
    total = sum(oracle_price(seed, asset, ts) for ts in range(end_ts - seconds + 1, end_ts + 1))
    return (total / seconds).quantize(PRICE_QUANTUM)


def settlement_price(
    seed: int, asset: str, close_ts: int, length: int, rule: SettlementRule
) -> Decimal:
    """Final price of a window. TWAP windows shorter than 60 s average over the whole window."""
    if rule is SettlementRule.SPOT_AT_CLOSE:
        return oracle_price(seed, asset, close_ts)
    return twap(seed, asset, close_ts, min(60, length))


def path_sample(seed: int, asset: str, start_ts: int, seconds: int) -> tuple[Decimal, ...]:
    """A slice of the oracle path, for determinism checks and charts."""
    return tuple(oracle_price(seed, asset, ts) for ts in range(start_ts, start_ts + seconds))
