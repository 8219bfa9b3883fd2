"""Money columns of a dashboard frame as shown and exported, by the one rule of
`live.reports.money` (cents, half to even; in a P&L statement gross = net + fees)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from live.reports import money

USDC_DP = 6  # models keep money exact at the venue's unit (1e-6 USDC); `shown` rounds for display
Statement = tuple[str, str, str]  # the (gross, fees, net) columns of a P&L statement


def _float(value) -> float | None:
    return None if value is None else float(value)


def shown(
    frame: pd.DataFrame, *, statement: Statement | None = None, amounts: Sequence[str] = ()
) -> pd.DataFrame:
    """A copy of `frame` whose money is rounded as shown: the `statement` columns (gross, fees,
    net) by `money.pnl`, each of `amounts` by `money.cents`. Values are floats of whole cents
    (NaN when missing); other columns are untouched."""
    out = frame.copy()
    if out.empty:
        return out
    if statement is not None:
        gross, fees, net = statement
        rows = [
            money.pnl(gross=g, fees=f, net=n)
            for g, f, n in zip(frame[gross], frame[fees], frame[net], strict=True)
        ]
        out[gross] = [_float(r.gross) for r in rows]
        out[fees] = [_float(r.fees) for r in rows]
        out[net] = [_float(r.net) for r in rows]
    for column in amounts:
        out[column] = [_float(money.cents(v)) for v in frame[column]]
    return out
