"""Trade History model: every trade, filters, settlement verification, slippage, CSV export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import param

from live.reports import money
from panel_app.models.money import shown
from panel_app.models.state import CockpitState, Snapshot

ALL = "All"
OUTCOMES = (ALL, "win", "loss", "flat", "open")
COLUMNS = [
    "position_id",
    "opened",
    "closed",
    "mode",
    "strategy",
    "instrument",
    "window",
    "side",
    "state",
    "order_state",
    "requested_usd",
    "filled_shares",
    "entry_intended",
    "entry_actual",
    "entry_slippage",
    "exit_intended",
    "exit_actual",
    "exit_slippage",
    "impact_flag",
    "book_ratio",
    "fees",
    "pnl_gross",
    "pnl_net",
    "outcome",
    "ours",
    "venue",
    "settlement",
    "venue_order_id",
]
STATEMENT = ("pnl_gross", "fees", "pnl_net")  # money columns, shown by live.reports.money's rule


def _f(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _outcome(row) -> str:
    if row["state"] != "CLOSED" or _f(row["pnl_net"]) is None:
        return "open"
    net = _f(row["pnl_net"])
    return "win" if net > 0 else "loss" if net < 0 else "flat"


def _diff(actual, intended) -> float | None:
    a, i = _f(actual), _f(intended)
    return None if a is None or i is None else round(a - i, 4)


_MEMO: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


def trade_rows(snap: Snapshot) -> pd.DataFrame:
    """One row per position (a trade): entry/exit intended vs actual, fees, gross/net, settlement.
    Memoised on the raw frame's identity so many sessions share one computation."""
    raw = snap.frame("trades")
    cached = _MEMO.get("trades")
    if cached is not None and cached[0] is raw:
        return cached[1]
    rows = _trade_rows(raw)
    _MEMO["trades"] = (raw, rows)
    return rows


def _trade_rows(raw: pd.DataFrame) -> pd.DataFrame:
    if raw.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for _, r in raw.iterrows():
        exit_actual = _f(r["exit_price"]) if r["exit_reason"] != "expiry" else None
        rows.append(
            {
                "position_id": r["position_id"],
                "opened": r["opened_ts"],
                "closed": r["closed_ts"],
                "mode": r["mode"],
                "strategy": r["strategy"],
                "instrument": r["asset"],
                "window": r["window_slug"],
                "side": r["side"],
                "state": r["state"],
                "order_state": r["order_state"],
                # an entry is a BUY sized in USDC (live.kernel.entry_desk): its request is USD
                "requested_usd": _f(r["requested_usd"]),
                "filled_shares": _f(r["filled_shares"]),
                "entry_intended": _f(r["intended_entry"]),
                "entry_actual": _f(r["entry_price"]),
                "entry_slippage": _diff(r["entry_price"], r["intended_entry"]),
                "exit_intended": _f(r["intended_exit"]),
                "exit_actual": exit_actual,
                "exit_slippage": _diff(exit_actual, r["intended_exit"]),
                "impact_flag": bool(r["impact_flag"]),
                "book_ratio": _f(r["book_ratio"]),
                "fees": money.exact(r["fees"]),  # exact: summed by the money rule
                "pnl_gross": money.exact(r["pnl_gross"]),  # exact: summed by the money rule
                "pnl_net": money.exact(r["pnl_net"]),  # exact: summed by the money rule
                "outcome": _outcome(r),
                "ours": r["ours"] if isinstance(r["ours"], str) else "",
                "venue": r["venue_resolution"] if isinstance(r["venue_resolution"], str) else "",
                "settlement": r["agreement"] if isinstance(r["agreement"], str) else "",
                "venue_order_id": r["venue_order_id"] or "",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


class TradeHistoryModel(param.Parameterized):
    """Per-session filters over the shared trade rows (exact money); `shown` is what the table
    shows and the CSV holds: the filtered rows with money rounded by the one rule."""

    cockpit = param.ClassSelector(class_=CockpitState)
    strategy = param.Selector(default=ALL, objects=[ALL])
    instrument = param.Selector(default=ALL, objects=[ALL])
    mode = param.Selector(default=ALL, objects=[ALL])
    outcome = param.Selector(default=ALL, objects=list(OUTCOMES))
    date_from = param.Date(default=None, allow_None=True)
    date_to = param.Date(default=None, allow_None=True)
    trades = param.DataFrame(default=pd.DataFrame(columns=COLUMNS))
    runs = param.DataFrame(default=pd.DataFrame())

    def refresh(self) -> None:
        snap = self.cockpit.snapshot
        trades = trade_rows(snap)
        for name, column in (
            ("strategy", "strategy"),
            ("instrument", "instrument"),
            ("mode", "mode"),
        ):
            self.param[name].objects = [ALL, *sorted(set(trades[column]))]
        self.param.update(trades=trades, runs=snap.frame("runs"))

    def filtered(self) -> pd.DataFrame:
        """The trades passing every filter, newest first."""
        t = self.trades
        mask = pd.Series(True, index=t.index)
        for name, column in (
            ("strategy", "strategy"),
            ("instrument", "instrument"),
            ("mode", "mode"),
            ("outcome", "outcome"),
        ):
            value = getattr(self, name)
            if value != ALL:
                mask &= t[column] == value
        opened = pd.to_datetime(t["opened"], utc=True)
        if self.date_from is not None:
            mask &= opened >= _utc(self.date_from)
        if self.date_to is not None:
            mask &= opened < _utc(self.date_to) + pd.Timedelta(days=1)
        return t[mask]

    def shown(self) -> pd.DataFrame:
        """The filtered rows with fees, gross and net as shown (cents; gross − fees = net)."""
        return shown(self.filtered(), statement=STATEMENT)

    def to_csv(self) -> str:
        return self.shown().to_csv(index=False)

    def settlement_summary(self) -> dict[str, int]:
        """How many filtered trades' settlements agree / disagree / are uncertain or pending."""
        counts = self.filtered()["settlement"].replace("", "n/a").value_counts()
        return {k: int(v) for k, v in counts.items()}

    def gross_net(self) -> money.Pnl:
        """Gross − fees = net over the filtered trades that have a P&L (closed), as shown: fees
        and net rounded from their exact sums, gross = net + fees."""
        f = self.filtered()
        closed = f[f["pnl_net"].notna()]
        return money.pnl(
            fees=sum((money.exact(v) or 0 for v in closed["fees"]), Decimal(0)),
            net=sum((money.exact(v) for v in closed["pnl_net"]), Decimal(0)),
        )

    def slippage(self) -> pd.Series:
        """Entry and exit slippage values (actual − intended) of the filtered trades."""
        f = self.filtered()
        return pd.concat([f["entry_slippage"], f["exit_slippage"]]).dropna().astype(float)


def _utc(day: dt.date | dt.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(day)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
