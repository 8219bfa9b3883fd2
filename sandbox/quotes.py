"""The market maker: fair probability of Up and a noisy, deterministic ladder around it.
`maker_book` is a pure function of (seed, token key, second, fair, tick) so the book sequence
replays exactly for a seed."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

TICK_COARSE = Decimal("0.01")
TICK_FINE = Decimal("0.001")
FINE_TICK_BAND = Decimal("0.04")
LEVELS = 5


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class Ladder:
    """Bids best-first and asks best-first (the wire order is produced by the serialiser)."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


def fair_up(spot: float, strike: float, seconds_left: float, sigma_per_s: float) -> float:
    """Probability that the close is at or above the strike (driftless lognormal)."""
    if seconds_left <= 0:
        return 1.0 if spot >= strike else 0.0
    d = math.log(spot / strike) / (sigma_per_s * math.sqrt(seconds_left))
    return 0.5 * (1.0 + math.erf(d / math.sqrt(2.0)))


def tick_for(fair: float) -> Decimal:
    """Tick size: 0.01, switching to 0.001 above 0.96 / below 0.04 (as the venue does)."""
    if fair > 1 - float(FINE_TICK_BAND) or fair < float(FINE_TICK_BAND):
        return TICK_FINE
    return TICK_COARSE


def _snap(value: float, tick: Decimal, rounding: str) -> Decimal:
    return (Decimal(repr(value)) / tick).to_integral_value(rounding=rounding) * tick


def maker_book(seed: int, key: str, second: int, fair: float, tick: Decimal) -> Ladder:
    """Five levels a side around `fair` with spread, depth and noise; pure for its inputs."""
    rng = random.Random(f"{seed}:{key}:{second}")
    mid = min(max(fair + rng.gauss(0.0, 0.004), 0.0), 1.0)
    half = float(tick) * rng.choice((1, 1, 2, 3))
    lo, hi = tick, Decimal(1) - tick
    best_bid = min(max(_snap(mid - half, tick, ROUND_FLOOR), lo), hi - tick)
    best_ask = max(min(_snap(mid + half, tick, ROUND_CEILING), hi), best_bid + tick)
    bids = _side(rng, best_bid, -tick, lo, hi)
    asks = _side(rng, best_ask, tick, lo, hi)
    return Ladder(bids=bids, asks=asks)


def _side(
    rng: random.Random, best: Decimal, step: Decimal, lo: Decimal, hi: Decimal
) -> tuple[Level, ...]:
    levels = []
    price = best
    for depth in range(LEVELS):
        if not lo <= price <= hi:
            break
        size = Decimal(repr(round(rng.uniform(20, 300) * (1 + depth * 0.6), 2)))
        levels.append(Level(price=price, size=size.quantize(Decimal("0.01"))))
        price += step * rng.choice((1, 1, 2))
    return tuple(levels)
