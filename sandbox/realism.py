"""How much like the real venue the sandbox behaves: the two profiles (`instant`, the old
test-friendly behaviour, and `venue`, what Polymarket's users report), and the seeded draws that
make every latency a pure function of (seed, what, ordinal). docs/sandbox.md tabulates each
behaviour, its option, its default per profile and the public report it models."""

from __future__ import annotations

import random
from enum import StrEnum

Span = tuple[float, float]  # (low, high) seconds; low == high is a fixed delay


class Realism(StrEnum):
    INSTANT = "instant"  # pays at resolution, confirms in trade_step_seconds steps, no lag
    VENUE = "venue"  # redeem to get paid, seconds-to-tens-of-seconds settlement, Data API lag


# Option -> value per profile. `None` for the trade spans means "derived from
# trade_step_seconds" (MINED one step after the match, CONFIRMED two steps after).
PROFILES: dict[Realism, dict[str, object]] = {
    Realism.INSTANT: {
        "payout_at_resolution": True,
        "auto_redeem_delay": 0.0,
        "trade_mined_seconds": None,
        "trade_confirmed_seconds": None,
        "hold_seconds": (30.0, 60.0),
        "tx_mined_seconds": (0.0, 0.0),
        "tx_confirmed_seconds": (0.0, 0.0),
        "data_lag_seconds": 0.0,
        "settled_spend_only": False,
        "trade_status_prefixed": False,
        "delayed_share": 0.0,
        "delayed_seconds": (1.0, 1.0),
        "balance_cache": False,
        "fee_reported_zero": False,
        "order_status_prefixed": False,
    },
    Realism.VENUE: {
        "payout_at_resolution": False,
        "auto_redeem_delay": 60.0,
        "trade_mined_seconds": (1.0, 5.0),
        "trade_confirmed_seconds": (2.0, 15.0),
        "hold_seconds": (30.0, 60.0),
        "tx_mined_seconds": (2.0, 6.0),
        "tx_confirmed_seconds": (4.0, 12.0),
        "data_lag_seconds": 10.0,
        "settled_spend_only": True,
        "trade_status_prefixed": True,
        # Order path (issue 14): a share of taker orders answered "delayed", the venue's cached
        # balances (only /balance-allowance/update refreshes them), trades reporting
        # fee_rate_bps 0 while the taker fee is charged, V2 order statuses with their prefix.
        "delayed_share": 0.1,
        "delayed_seconds": (0.5, 2.0),
        "balance_cache": True,
        "fee_reported_zero": True,
        "order_status_prefixed": True,
    },
}

MAX_SPAN_S = 3600.0


def check_span(name: str, span: object) -> Span:
    """A validated (low, high) pair of seconds in [0, 3600]; ValueError naming `name`."""
    if not isinstance(span, tuple | list) or len(span) != 2:
        raise ValueError(f"{name} must be a (low, high) pair of seconds, got {span!r}")
    low, high = (float(v) for v in span)
    if not 0 <= low <= high <= MAX_SPAN_S:
        raise ValueError(f"{name} must satisfy 0 <= low <= high <= {MAX_SPAN_S:g}, got {span!r}")
    return (low, high)


def chance(seed: int, stream: str, ordinal: int) -> float:
    """A uniform [0, 1) value, a pure function of (seed, stream, ordinal)."""
    return random.Random(f"{seed}:{stream}:{ordinal}").random()


def draw(seed: int, stream: str, ordinal: int, span: Span) -> float:
    """A seconds value in `span`, a pure function of (seed, stream, ordinal): the same seed
    gives the same latencies for the n-th fill or transaction, run after run."""
    low, high = span
    if low == high:
        return low
    return low + (high - low) * random.Random(f"{seed}:{stream}:{ordinal}").random()
