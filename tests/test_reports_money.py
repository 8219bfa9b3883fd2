"""The one money rule (live.reports.money): cents, half to even, rounded once from the exact
value; in a P&L statement fees and net are rounded and gross = net + fees."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live.reports import money

USDC = st.decimals(min_value=-100_000, max_value=100_000, places=6)
FEES = st.decimals(min_value=0, max_value=1_000, places=5)


@given(gross=USDC, fees=FEES)
def test_gross_minus_fees_is_net_to_the_cent_and_net_is_the_true_net_rounded(gross, fees):
    shown = money.pnl(gross=gross, fees=fees, net=gross - fees)
    assert shown.gross - shown.fees == shown.net
    assert shown.net == (gross - fees).quantize(Decimal("0.01"))  # half-even: Decimal's default
    assert shown.fees == fees.quantize(Decimal("0.01"))
    assert abs(shown.gross - gross) <= Decimal("0.01")
    assert all(v == v.quantize(Decimal("0.01")) for v in shown)


@given(amounts=st.lists(USDC, max_size=50))
def test_a_float_sum_of_stored_amounts_rounds_as_the_exact_sum(amounts):
    """The dashboard reads NUMERIC as float: snapping to 1e-6 recovers the exact sum."""
    as_read = sum(float(a) for a in amounts)
    assert money.exact(as_read) == sum(amounts, Decimal(0))
    assert money.cents(as_read) == money.cents(sum(amounts, Decimal(0)))


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [
        (Decimal("0.125"), False, "$0.12"),  # a tie goes to the even cent
        (Decimal("0.135"), False, "$0.14"),
        (0.135, True, "+$0.14"),  # a float tie is the stored decimal's tie, not binary's
        (Decimal("-0.004"), True, "+$0.00"),  # no negative zero
        (Decimal("-0.38745"), False, "-$0.39"),
        (1234.5, True, "+$1,234.50"),
        (None, False, "—"),
        (float("nan"), True, "—"),
    ],
)
def test_usd_text(value, signed, text):
    assert money.usd(value, signed=signed) == text


def test_an_open_position_shows_gross_and_fees_without_a_net():
    shown = money.pnl(gross=Decimal("-0.004999"), fees=None, net=None)
    assert (shown.gross, shown.fees, shown.net) == (Decimal("-0.00"), Decimal("0.00"), None)


def test_an_infinite_amount_is_refused():
    with pytest.raises(ValueError, match="money amount is inf"):
        money.cents(float("inf"))
