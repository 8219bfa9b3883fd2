"""Money as people read it: the ONE rounding rule for every figure the dashboard shows, every
file it exports (the trades CSV) and every report (the daily summary and its alert).

Stored money is exact: USDC to 1e-6 (`live.kernel.domain.usd`), fees to 1e-5. Nothing here
changes a stored value; these functions only produce what is shown. The rule:

1. A money figure is rounded once, from its exact value, to the cent, half to even
   (`ROUND_HALF_EVEN`, what `format(Decimal, ".2f")` does). A total is rounded from the exact
   sum, never summed from rounded parts, so a column of rounded rows may differ from the
   rounded total by a few cents ("figures may not add up due to rounding").
2. In a P&L statement (gross, fees, net), fees and net are rounded by rule 1 and gross is shown
   as net + fees. So gross − fees = net holds exactly, to the cent, in every row and every total,
   and the net shown is the faithful rounding of the true net: it agrees to the cent with the
   balance change it explains. (Stored rows keep pnl_net = pnl_gross − fees exactly; the shown
   gross differs from the rounded stored gross by at most one cent.)
3. A figure without a net (an open position's unrealised gross) is rounded by rule 1 alone.

The dashboard reads NUMERIC as float; `exact` snaps such a float back to the USDC unit, which
recovers the stored decimal value (and a float sum of them) exactly before rounding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
USD_UNIT = Decimal("0.000001")  # the venue's USDC unit (live.kernel.domain.USD_UNIT)

Amount = Decimal | float | int | None


def exact(value: Amount) -> Decimal | None:
    """`value` as an exact Decimal: a Decimal or int as it is, a float snapped to the USDC unit
    (1e-6); None for a missing value (None, NaN). Raises ValueError for ±infinity."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    number = float(value)  # float, numpy.float64
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"money amount is {number}")
    return Decimal(repr(number)).quantize(USD_UNIT, rounding=ROUND_HALF_EVEN)


def cents(value: Amount) -> Decimal | None:
    """Rule 1: `value` rounded to the cent, half to even (a Decimal with two places)."""
    amount = exact(value)
    return None if amount is None else amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Pnl:
    """A P&L statement as shown, in dollars to the cent; `net` is None while a position is open."""

    gross: Decimal | None
    fees: Decimal | None
    net: Decimal | None

    def __iter__(self) -> Iterator[Decimal | None]:
        """`gross, fees, net = statement`."""
        return iter((self.gross, self.fees, self.net))


def pnl(*, fees: Amount, net: Amount, gross: Amount = None) -> Pnl:
    """Rule 2: fees and net rounded, gross shown as net + fees (`gross` is then ignored; the
    stored gross is net + fees exactly). Without a net, rule 3: gross and fees rounded alone.
    A missing fee counts as zero."""
    shown_fees = cents(fees) if exact(fees) is not None else Decimal("0.00")
    shown_net = cents(net)
    if shown_net is None:
        return Pnl(gross=cents(gross), fees=shown_fees, net=None)
    return Pnl(gross=shown_net + shown_fees, fees=shown_fees, net=shown_net)


def usd(value: Amount, *, signed: bool = False) -> str:
    """A money figure as text: `$1,234.57`, `-$0.39`, with `signed` `+$0.00`; `—` when missing."""
    amount = cents(value)
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else "+" if signed else ""
    return f"{sign}${abs(amount):,.2f}"
