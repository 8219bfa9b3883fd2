"""Instrument Deep Dive model: one asset's current window, book, positions, signals, history."""

from __future__ import annotations

import json

import pandas as pd
import param

from live.kernel.limits import KNOWN_ASSETS
from panel_app.models.health import completeness
from panel_app.models.state import CockpitState, Snapshot


def _level(level) -> tuple[float, float] | None:
    if isinstance(level, dict):
        return float(level.get("price")), float(level.get("size", 0))
    if isinstance(level, list | tuple) and level:
        return float(level[0]), float(level[1] if len(level) > 1 else 0)
    return None


def book_top(payload: dict) -> dict:
    """Best bid/ask and mid from a book message ({bids, asks} levels or best_bid/best_ask)."""
    bid = payload.get("best_bid")
    ask = payload.get("best_ask")
    if bid is None and payload.get("bids"):
        bid = max(_level(lv)[0] for lv in payload["bids"])
    if ask is None and payload.get("asks"):
        ask = min(_level(lv)[0] for lv in payload["asks"])
    bid = None if bid is None else float(bid)
    ask = None if ask is None else float(ask)
    mid = None if bid is None or ask is None else round((bid + ask) / 2, 4)
    return {"bid": bid, "ask": ask, "mid": mid}


def current_window(snap: Snapshot, asset: str) -> dict | None:
    """The window open now for `asset` (the shortest length if several), with time left."""
    windows = snap.frame("windows")
    if windows.empty:
        return None
    now = pd.Timestamp(snap.taken_at)
    mine = windows[
        (windows["asset"] == asset) & (windows["open_ts"] <= now) & (windows["close_ts"] > now)
    ].sort_values("length_s")
    if mine.empty:
        return None
    w = mine.iloc[0].to_dict()
    w["time_left_s"] = int((w["close_ts"] - now).total_seconds())
    return w


class InstrumentModel(param.Parameterized):
    cockpit = param.ClassSelector(class_=CockpitState)
    asset = param.Selector(default="BTC", objects=list(KNOWN_ASSETS))
    window = param.Dict(default=None, allow_None=True)
    book = param.Dict(default={})
    spot = param.Number(default=None, allow_None=True)
    positions = param.DataFrame(default=pd.DataFrame())
    signals = param.DataFrame(default=pd.DataFrame())
    history = param.DataFrame(default=pd.DataFrame())
    completeness = param.DataFrame(default=pd.DataFrame())
    token_status = param.String(default="")
    missing_condition = param.List(default=[])

    @param.depends("asset", watch=True)
    def refresh(self) -> None:
        snap, asset = self.cockpit.snapshot, self.asset
        window = current_window(snap, asset)
        self.param.update(
            window=window,
            book=self._book(snap, window),
            spot=self._spot(snap, asset),
            positions=self._positions(snap, asset),
            signals=self._signals(snap, asset),
            history=self._history(snap, asset),
            completeness=self._completeness(snap, asset),
            token_status=self._token_status(snap, asset),
            missing_condition=self._missing_condition(snap, asset),
        )

    @staticmethod
    def _book(snap: Snapshot, window: dict | None) -> dict:
        books = snap.frame("books")
        if window is None or books.empty:
            return {}
        row = books[books["token_id"] == window["token_up"]]
        if row.empty:
            return {}
        top = book_top(row.iloc[0]["payload"])
        return {**top, "age_s": round((snap.taken_at - row.iloc[0]["ts"]).total_seconds(), 1)}

    @staticmethod
    def _spot(snap: Snapshot, asset: str) -> float | None:
        spot = snap.frame("spot")
        match = spot[spot["asset"] == asset] if not spot.empty else spot
        return None if match.empty else float(match.iloc[0]["price"])

    @staticmethod
    def _positions(snap: Snapshot, asset: str) -> pd.DataFrame:
        p = snap.frame("positions")
        if p.empty:
            return p
        cols = [
            "position_id",
            "strategy",
            "mode",
            "outcome",
            "state",
            "shares",
            "entry_price",
            "mark_price",
            "pnl_gross",
        ]
        return p[(p["asset"] == asset) & (p["state"] != "CLOSED")][cols]

    @staticmethod
    def _signals(snap: Snapshot, asset: str) -> pd.DataFrame:
        s = snap.frame("signals_latest")
        if s.empty:
            return s
        mine = s[s["asset"] == asset].copy()
        mine["inputs"] = [json.dumps(v, default=str) for v in mine["inputs"]]
        # a signal without a price limit buys at any price: say so instead of an empty cell
        mine["max_price"] = [
            "no limit" if v is None or pd.isna(v) else f"{float(v):.2f}" for v in mine["max_price"]
        ]
        return mine[
            ["strategy", "ts", "window_slug", "side", "confidence", "max_price", "mode", "inputs"]
        ]

    @staticmethod
    def _history(snap: Snapshot, asset: str) -> pd.DataFrame:
        t = snap.frame("trades")
        if t.empty:
            return pd.DataFrame(columns=["window", "trades", "net"])
        closed = t[(t["asset"] == asset) & (t["state"] == "CLOSED")]
        grouped = closed.groupby("window_slug").agg(
            trades=("position_id", "count"), net=("pnl_net", lambda s: float(sum(s)))
        )
        return grouped.reset_index().rename(columns={"window_slug": "window"})

    @staticmethod
    def _completeness(snap: Snapshot, asset: str) -> pd.DataFrame:
        c = completeness(snap)
        return c[c["window"].str.startswith(asset.lower() + "-")] if not c.empty else c

    @staticmethod
    def _token_status(snap: Snapshot, asset: str) -> str:
        bad = snap.frame("token_mismatches")
        bad = bad[bad["asset"] == asset] if not bad.empty else bad
        denials = snap.frame("denials")
        token_denials = (
            0
            if denials.empty
            else int(denials[denials["code"].str.contains("TOKEN", case=False)]["denials"].sum())
        )
        if not bad.empty:
            return f"MISMATCH: {len(bad)} open position(s) hold a token not in their window"
        return f"valid (open positions match their window's tokens; {token_denials} token denials)"

    @staticmethod
    def _missing_condition(snap: Snapshot, asset: str) -> list[str]:
        w = snap.frame("windows")
        if w.empty:
            return []
        return list(w[(w["asset"] == asset) & w["condition_id"].isna()]["slug"])
