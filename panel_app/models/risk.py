"""Risk model: drawdown, per-strategy P&L, exit-trigger history, assertions, state machines."""

from __future__ import annotations

import json

import pandas as pd
import param

from panel_app.models.money import USDC_DP, shown
from panel_app.models.state import CockpitState, Snapshot

# The spec's ten runtime assertions (Phase 1), by the names the engine records them under.
ASSERTIONS = (
    ("signal_exactly_one_order", "Every signal → exactly one order"),
    (
        "order_confirmed_within_10s",
        "Every order → confirmation within 10 s (or explicit rejection)",
    ),
    ("fill_has_position", "Every fill → position record in the same tick"),
    ("position_count_matches_venue", "Position count in DB = count on the venue"),
    ("settlement_pnl_matches_balance", "P&L at settlement = actual balance delta"),
    ("no_null_order_ids", "No null order ids"),
    ("positions_on_allowed_instruments", "No positions on instruments outside allowed_instruments"),
    ("no_entries_on_future_windows", "No entries on future windows"),
    ("deployed_within_session_loss", "Capital deployed ≤ max_session_loss"),
    ("tick_under_5s", "Heartbeat: no tick takes longer than 5 s"),
)
POSITION_STATES = (
    "ENTRY",
    "MONITORING",
    "STOP_TRIGGERED",
    "TAKE_PROFIT_TRIGGERED",
    "TRAILING_TRIGGERED",
    "FLATTEN_REQUESTED",
    "EXPIRY",
    "EXIT_PENDING",
    "SETTLEMENT",
    "CLOSED",
)
ORDER_STATES = (
    "NEW",
    "SUBMITTED",
    "ACKED",
    "PARTIALLY_FILLED",
    "FILLED",
    "REJECTED",
    "CANCELLED",
    "UNKNOWN",
)


def _f(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def drawdown(snap: Snapshot) -> pd.DataFrame:
    """Session equity (realised net, then unrealised at the mark now) and its drawdown."""
    positions = snap.frame("positions")
    if positions.empty:
        return pd.DataFrame(columns=["ts", "equity", "drawdown"])
    real = positions[positions["mode"] != "BACKTEST"]
    closed = real[real["state"] == "CLOSED"].sort_values("closed_ts")
    points = [(real["opened_ts"].min(), 0.0)]
    equity = 0.0
    for _, row in closed.iterrows():
        equity += _f(row["pnl_net"])
        points.append((row["closed_ts"], equity))
    live = real[real["state"] != "CLOSED"]
    unreal = sum(
        (_f(r["mark_price"]) - _f(r["entry_price"])) * _f(r["shares"])
        for _, r in live.iterrows()
        if r["mark_price"] is not None
    )
    points.append((pd.Timestamp(snap.taken_at), equity + unreal))
    frame = pd.DataFrame(points, columns=["ts", "equity"])
    frame["drawdown"] = (frame["equity"] - frame["equity"].cummax()).round(6)
    return frame


def per_strategy(snap: Snapshot) -> pd.DataFrame:
    positions = snap.frame("positions")
    cols = ["strategy", "mode", "trades", "open", "wins", "gross", "fees", "net"]
    if positions.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (strategy, mode), g in positions.groupby(["strategy", "mode"]):
        closed = g[g["state"] == "CLOSED"]
        rows.append(
            {
                "strategy": strategy,
                "mode": mode,
                "trades": len(g),
                "open": len(g) - len(closed),
                "wins": int(sum(_f(v) > 0 for v in closed["pnl_net"])),
                "gross": round(sum(_f(v) for v in closed["pnl_gross"]), USDC_DP),
                "fees": round(sum(_f(v) for v in closed["fees"]), USDC_DP),
                "net": round(sum(_f(v) for v in closed["pnl_net"]), USDC_DP),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def triggers(snap: Snapshot) -> pd.DataFrame:
    rows = snap.frame("triggers")
    cols = [
        "time",
        "position",
        "strategy",
        "asset",
        "mode",
        "trigger",
        "trigger_price",
        "intended_price",
        "actual_price",
        "slippage",
        "sentence",
    ]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    out = rows.rename(columns={"position_id": "position"}).copy()
    out["time"] = out["ts"].dt.strftime("%H:%M:%S")
    out["slippage"] = [
        round(_f(a) - _f(i), 4) if a is not None and i is not None else None
        for a, i in zip(out["actual_price"], out["intended_price"], strict=True)
    ]
    return out[cols]


def assertions(snap: Snapshot) -> pd.DataFrame:
    """The ten assertions (plus any other recorded) with latest status and last failure. The
    status is per mode this session (`modes`: "LIVE ok · PAPER FAILED"), FAILED when any mode's
    latest result failed: the latest row across modes alone let a copy's pass, written at the
    same instant, hide LIVE's failure. Without results this session, the latest ever."""
    latest = {r["name"]: r for _, r in snap.frame("assertions").iterrows()}
    failures = {r["name"]: r for _, r in snap.frame("assertion_failures").iterrows()}
    by_mode: dict[str, dict[str, bool]] = {}
    for _, r in snap.frame("assertions_by_mode").iterrows():
        by_mode.setdefault(r["name"], {})[str(r["mode"])] = bool(r["ok"])
    recorded = set(latest) | set(by_mode)
    names = [n for n, _ in ASSERTIONS] + sorted(recorded - {n for n, _ in ASSERTIONS})
    label = dict(ASSERTIONS)
    rows = []
    for i, name in enumerate(names, start=1):
        last, fail, modes = latest.get(name), failures.get(name), by_mode.get(name, {})
        if modes:
            status = "ok" if all(modes.values()) else "FAILED"
        else:
            status = "no result" if last is None else ("ok" if last["ok"] else "FAILED")
        shown = " · ".join(f"{m} {'ok' if ok else 'FAILED'}" for m, ok in sorted(modes.items()))
        rows.append(
            {
                "n": i,
                "assertion": name,
                "check": label.get(name, "(not in the spec's ten)"),
                "status": status,
                "modes": shown or "—",
                "checked": "—" if last is None else f"{last['ts']:%H:%M:%S}",
                "last_failure": "never" if fail is None else f"{fail['ts']:%Y-%m-%d %H:%M:%S}",
                "failure_detail": "" if fail is None else json.dumps(fail["detail"], default=str),
            }
        )
    return pd.DataFrame(rows).set_index("n")


def state_counts(frame: pd.DataFrame, states: tuple[str, ...], count_col: str | None = None):
    """Count per state in the state machine's order (zeros kept so the diagram is complete)."""
    if frame.empty:
        return dict.fromkeys(states, 0)
    grouped = frame.groupby("state")
    totals = grouped[count_col].sum() if count_col else grouped.size()
    return {s: int(totals.get(s, 0)) for s in states}


class RiskModel(param.Parameterized):
    cockpit = param.ClassSelector(class_=CockpitState)
    drawdown = param.DataFrame(default=pd.DataFrame())
    per_strategy = param.DataFrame(default=pd.DataFrame())
    triggers = param.DataFrame(default=pd.DataFrame())
    assertions = param.DataFrame(default=pd.DataFrame())
    controls = param.DataFrame(default=pd.DataFrame())
    position_states = param.Dict(default={})
    order_states = param.Dict(default={})
    breakers = param.DataFrame(default=pd.DataFrame())

    def refresh(self) -> None:
        snap = self.cockpit.snapshot
        self.param.update(
            drawdown=drawdown(snap),
            per_strategy=per_strategy(snap),
            triggers=triggers(snap),
            assertions=assertions(snap),
            controls=snap.frame("controls"),
            position_states=state_counts(snap.frame("positions"), POSITION_STATES),
            order_states=state_counts(snap.frame("order_states"), ORDER_STATES, "orders"),
            breakers=snap.frame("breakers"),
        )

    def ensure_fresh(self) -> None:
        """Refresh lazily, once per change of the trading records (only the Risk tab needs it,
        so it stays off the poller's publish path)."""
        seen = self.cockpit.events_version
        if getattr(self, "_seen_events", None) != seen:
            self._seen_events = seen
            self.refresh()

    def per_strategy_shown(self) -> pd.DataFrame:
        """Per-strategy realised P&L as shown: gross, fees, net to the cent (the one rule)."""
        return shown(self.per_strategy, statement=("gross", "fees", "net"))

    def max_drawdown(self) -> float:
        """The largest fall of session equity from its running peak, USD, a positive amount
        (0.0 when equity never fell)."""
        return 0.0 if self.drawdown.empty else abs(float(self.drawdown["drawdown"].min()))

    def drawdown_limit(self) -> dict[str, str | bool | None]:
        """The drawdown breaker as configured (`max_drawdown_usd`, the alert level in USD) and
        whether the latest breaker event is a drawdown trip still in force."""
        frame = self.controls
        values = {} if frame.empty else dict(zip(frame["key"], frame["value"], strict=True))
        limit, fraction = values.get("max_drawdown_usd"), values.get("drawdown_alert_fraction")
        alert_at = None
        if limit is not None and fraction is not None:
            alert_at = f"{float(limit) * float(fraction):.2f}"
        latest = None if self.breakers.empty else self.breakers.iloc[0]
        tripped = (
            latest is not None
            and bool(latest["tripped"])
            and str(latest["reason"]).startswith("drawdown limit")
        )
        return {"limit": limit, "alert_at": alert_at, "tripped": tripped}

    def failing(self) -> list[str]:
        table = self.assertions
        return [] if table.empty else list(table[table["status"] == "FAILED"]["assertion"])
