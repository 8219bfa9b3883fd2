"""The fee of one of our fills (issue 14, docs/venue.md "Order-path behaviours", O4).

The venue's trade records may say `fee_rate_bps: 0` (and carry no `fee`) while the taker fee is
charged in USDC (the fee schedule of the crypto Up/Down markets; SDK `ClobTrade` has no fee
field). The rule, the same in replay, PAPER, DRY_RUN and LIVE:
- a MAKER fill pays nothing;
- a TAKER fill pays `taker_fee(shares, rate, price)` = shares × rate × p × (1 − p), rounded to
  5 decimals (USDC), where `rate` is the market's fee schedule (Gamma `feeSchedule`, the rate
  PAPER charges) when known; the trade's own non-zero `fee_rate_bps` or explicit `fee` only when
  the market's schedule is not known.
The drill checks the result against the venue's balance delta (cost + fee)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from live.kernel.domain import taker_fee
from live.venues.messages import OurFill

RateOf = Callable[[str], Decimal | None]


def fill_fee(fill: OurFill, token_id: str, rate_of: RateOf | None) -> Decimal:
    """The fee of `fill` (USDC) on `token_id` under the rule above."""
    if fill.role != "TAKER":
        return Decimal(0)
    rate = rate_of(token_id) if rate_of is not None else None
    if rate is None:
        return fill.fee
    return taker_fee(fill.shares, rate, fill.price)
