"""Command Center model: who is trading what, where, in which mode, and what it is worth."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import pandas as pd
import param

from live.reports import money
from panel_app.models.money import USDC_DP, shown
from panel_app.models.state import CockpitState, Snapshot

STRATEGY_STATES = ("active", "paused", "disabled_kill_criterion", "not_promoted")
KILL_TO_STATE = {
    "off": "ACTIVE",
    "pause": "PAUSED",
    "flatten": "FLATTENING",
    "emergency": "EMERGENCY",
}
POSITION_COLUMNS = [
    "asset",
    "instrument",
    "side",
    "entry",
    "mark",
    "pnl",
    "mode",
    "state",
    "lifecycle",
    "strategy",
]


PNL_STATEMENT = ("gross", "fees", "net")


def _num(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _mark(row) -> float:
    """The mark price, or the entry price when no mark exists yet (0.0 is a real mark)."""
    mark = row["mark_price"]
    return _num(row["entry_price"]) if mark is None or pd.isna(mark) else float(mark)


def length_label(seconds: int) -> str:
    """A window length as people say it: '5m', '15m', '20s'."""
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def venue_label(venue: str | None) -> str:
    """SANDBOX for anything that is not the real venue; POLYMARKET only for the real one."""
    if not venue:
        return "NO RUNNER"
    return "POLYMARKET" if venue.strip().lower() in ("polymarket", "live") else "SANDBOX"


def badge(snap: Snapshot) -> dict[str, str]:
    """Mode, venue and trading state, from the runner's health, else its instance row/controls."""
    doc = snap.health.document
    instances = snap.frame("instances")
    row = instances.iloc[0] if not instances.empty else None
    mode = doc.get("mode") or (row["mode"] if row is not None else None)
    venue = doc.get("venue") or (row["venue"] if row is not None else None)
    kill = snap.control("kill_switch", "off")
    return {
        "mode": mode or snap.control("trading_mode", "?"),
        "venue": venue_label(venue),
        "trading_state": doc.get("trading_state") or KILL_TO_STATE.get(kill, kill.upper()),
        "kill_switch": kill,
        "control_mode": snap.control("trading_mode", "?"),
    }


def open_positions(snap: Snapshot) -> pd.DataFrame:
    positions = snap.frame("positions")
    if positions.empty:
        return pd.DataFrame(columns=POSITION_COLUMNS)
    live = positions[positions["state"] != "CLOSED"].copy()
    lengths = snap.frame("windows")
    length_of = dict(zip(lengths.get("slug", []), lengths.get("length_s", []), strict=False))
    paths = snap.frame("lifecycle")
    path_of = dict(zip(paths.get("position_id", []), paths.get("path", []), strict=False))
    rows = {}
    for _, p in live.iterrows():
        entry, mark = _num(p["entry_price"]), _mark(p)
        length = int(length_of.get(p["window_slug"], 300))
        rows[p["position_id"]] = {
            "asset": p["asset"],
            "instrument": f"{p['asset']} {length_label(length)}",
            "side": p["outcome"],
            "entry": entry,
            "mark": mark,
            "pnl": round((mark - entry) * _num(p["shares"]), USDC_DP),
            "mode": p["mode"],
            "state": p["state"],
            "lifecycle": path_of.get(p["position_id"]) or p["state"],
            "strategy": p["strategy"],
        }
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=POSITION_COLUMNS)
    frame.index.name = "position"
    return frame


def session_pnl(snap: Snapshot) -> pd.DataFrame:
    """Gross and net P&L per mode: realised (closed) plus unrealised at the mark (open)."""
    positions = snap.frame("positions")
    if positions.empty:
        return pd.DataFrame(columns=["mode", "gross", "fees", "net", "open", "closed"])
    out = []
    for mode, group in positions.groupby("mode"):
        closed = group[group["state"] == "CLOSED"]
        live = group[group["state"] != "CLOSED"]
        unreal = sum(
            (_mark(r) - _num(r["entry_price"])) * _num(r["shares"]) for _, r in live.iterrows()
        )
        gross = sum(_num(v) for v in closed["pnl_gross"]) + unreal
        net = sum(_num(v) for v in closed["pnl_net"]) + unreal - sum(_num(v) for v in live["fees"])
        out.append(
            {
                "mode": mode,
                "gross": round(gross, USDC_DP),
                "fees": round(sum(_num(v) for v in group["fees"]), USDC_DP),
                "net": round(net, USDC_DP),
                "open": len(live),
                "closed": len(closed),
            }
        )
    return pd.DataFrame(out)


def balance(snap: Snapshot, mode: str) -> dict:
    """Latest venue and expected balance for `mode` (USD) and whether they agree, the ledger's
    cash (`ledger`: the engine's own, else the expected row — a simulated copy's only cash),
    what resolved positions are owed (receivable: awaiting redemption) and redemptions done."""
    rows = snap.frame("balances")
    if rows.empty:
        empty = {"venue": None, "expected": None, "ledger": None, "agree": None}
        return {**empty, **redemptions(snap, mode)}
    mine = {r["source"]: r for _, r in rows[rows["mode"] == mode].iterrows()}
    venue, expected = mine.get("venue"), mine.get("expected")
    book = mine.get("engine") if mine.get("engine") is not None else expected
    ledger = None if book is None else _num(book["usd"])
    usd = {
        k: None if r is None else _num(r["usd"])
        for k, r in (("venue", venue), ("expected", expected))
    }
    agree = (
        None if venue is None or expected is None else abs(usd["venue"] - usd["expected"]) < 1e-6
    )
    # The runner writes an `expected` row at each settlement, not at each fill: after a later
    # fill the latest one describes another instant, so there is nothing to compare yet.
    last_fill = None if expected is None else expected.get("last_fill_ts")
    if agree is not None and not pd.isna(last_fill) and last_fill > expected["ts"]:
        agree = None
    return {**usd, "ledger": ledger, "agree": agree, **redemptions(snap, mode)}


def exposure(snap: Snapshot, mode: str) -> float:
    """USDC at risk in `mode`'s open positions: what they cost (entry price × shares)."""
    positions = snap.frame("positions")
    if positions.empty:
        return 0.0
    live = positions[(positions["state"] != "CLOSED") & (positions["mode"] == mode)]
    return round(
        sum(_num(r["entry_price"]) * _num(r["shares"]) for _, r in live.iterrows()), USDC_DP
    )


def modes_present(snap: Snapshot, primary: str) -> list[str]:
    """The primary mode first, then the copies (simulated modes) that traded or wrote a balance
    this session (since the trader instance started); BACKTEST never."""
    seen = set(snap.frame("positions").get("mode", []))  # the session's positions
    balances, instances = snap.frame("balances"), snap.frame("instances")
    if not balances.empty and not instances.empty:  # balances written since the trader started
        started = instances.iloc[0]["started_at"]
        seen |= set(balances[balances["ts"] >= started]["mode"])
    copies = sorted(m for m in seen if m not in (primary, "BACKTEST"))
    return [primary, *copies]


def redemptions(snap: Snapshot, mode: str) -> dict:
    """Resolved positions of `mode` by redemption status: awaiting (count, USD owed: the
    receivable) and redeemed (count, USD that arrived as cash)."""
    rows = snap.frame("redemptions")
    out = {"awaiting": 0, "receivable": None, "redeemed": 0, "redeemed_usd": None}
    if rows.empty:
        return out
    for _, r in rows[rows["mode"] == mode].iterrows():
        if r["status"] == "PENDING":
            out["awaiting"], out["receivable"] = int(r["positions"]), _num(r["usd"])
        elif r["status"] == "REDEEMED":
            out["redeemed"], out["redeemed_usd"] = int(r["positions"]), _num(r["usd"])
    if out["redeemed"] and out["receivable"] is None:
        out["receivable"] = 0.0  # settling by redemption, nothing owed right now
    return out


@functools.cache
def canonical(name: str) -> str:
    """A strategy's registered name for an alias in allowed_strategies ('canary' →
    'always-trade-canary'), so one strategy is not listed twice; unknown names stay as they are."""
    from strategies import get_strategy

    try:
        return get_strategy(name.strip()).name
    except Exception:  # noqa: BLE001 - an unknown or broken name is shown as written
        return name


def strategies(snap: Snapshot) -> pd.DataFrame:
    """Every known strategy with its state: the runner's word when it reports one, else
    derived from controls, promotions and kill-criterion alerts."""
    reported = snap.health.document.get("strategies") or {}
    allowed = snap.control("allowed_strategies", "")
    names = set(reported) | set(snap.frame("signals_latest").get("strategy", []))
    names |= set(snap.frame("promotions").get("strategy", []))
    names |= {n if n in names else canonical(n) for n in allowed.split(",") if n and n != "*"}
    killed = set(snap.frame("kill_criteria").get("strategy", []))
    promoted = snap.frame("promotions")
    live_ok = (
        set(promoted[promoted["target"] == "live"]["strategy"]) if not promoted.empty else set()
    )
    mode, kill = snap.control("trading_mode", "PAPER"), snap.control("kill_switch", "off")
    rows = []
    for name in sorted(names):
        state = reported_state(reported.get(name))
        if state is None:
            if name in killed:
                state = "disabled_kill_criterion"
            elif mode == "LIVE" and name not in live_ok:
                state = "not_promoted"
            elif kill != "off" or (
                allowed != "*" and name not in {canonical(n) for n in allowed.split(",")}
            ):
                state = "paused"
            else:
                state = "active"
        rows.append(
            {
                "strategy": name,
                "state": state,
                "source": "runner" if name in reported else "derived",
            }
        )
    return pd.DataFrame(rows, columns=["strategy", "state", "source"])


# The runner's health (live.runner.status) reports {"name": "state"} with its own state names.
RUNNER_STATES = {"disabled_by_kill_criterion": "disabled_kill_criterion", "not_allowed": "paused"}


def reported_state(entry: Any) -> str | None:
    """A strategy's state from the runner's health: a plain string (the runner) or a
    {"state": ...} mapping; None when the runner does not report the strategy."""
    state = entry.get("state") if isinstance(entry, dict) else entry
    return RUNNER_STATES.get(state, state) if state else None


def spot_prices(snap: Snapshot) -> dict[str, float]:
    spot = snap.frame("spot")
    return {r["asset"]: float(r["price"]) for _, r in spot.iterrows()}


def activity(snap: Snapshot) -> pd.DataFrame:
    feed = snap.frame("activity")
    if feed.empty:
        return pd.DataFrame(columns=["time", "kind", "event"])
    return pd.DataFrame(
        {"time": feed["ts"].dt.strftime("%H:%M:%S"), "kind": feed["kind"], "event": feed["text"]}
    ).set_axis(feed["kind"] + ":" + feed["ref"])


class CommandCenterModel(param.Parameterized):
    """Everything the Command Center shows, derived from the shared snapshot."""

    cockpit = param.ClassSelector(class_=CockpitState)
    badge = param.Dict(default={})
    spot = param.Dict(default={})
    balance = param.Dict(default={})
    money_by_mode = param.List(default=[])
    pnl = param.DataFrame(default=pd.DataFrame())
    strategies = param.DataFrame(default=pd.DataFrame())
    positions = param.DataFrame(default=pd.DataFrame())
    activity = param.DataFrame(default=pd.DataFrame())

    def refresh(self) -> None:
        snap = self.cockpit.snapshot
        the_badge = badge(snap)
        pnl = session_pnl(snap)
        self.param.update(
            badge=the_badge,
            spot=spot_prices(snap),
            balance=balance(snap, the_badge["mode"]),
            money_by_mode=[
                {
                    "mode": m,
                    **balance(snap, m),
                    "exposure": exposure(snap, m),
                    "pnl": self._statement(pnl, m),
                }
                for m in modes_present(snap, the_badge["mode"])
            ],
            pnl=pnl,
            strategies=strategies(snap),
            positions=open_positions(snap),
            activity=activity(snap),
        )

    def session_total(self, mode: str | None = None) -> tuple[float, float]:
        """Session (gross, net) of one mode (the primary mode by default), exact (1e-6 USDC).
        Modes are never added together: a copy's simulated money is not the primary's."""
        mode = mode or self.badge.get("mode")
        pnl = self.pnl
        if pnl.empty or mode not in set(pnl["mode"]):
            return 0.0, 0.0
        row = pnl[pnl["mode"] == mode].iloc[0]
        return round(float(row["gross"]), USDC_DP), round(float(row["net"]), USDC_DP)

    def session_shown(self, mode: str | None = None) -> money.Pnl:
        """One mode's session gross − fees = net as shown (the primary mode by default)."""
        return self._statement(self.pnl, mode or self.badge.get("mode"))

    @staticmethod
    def _statement(pnl: pd.DataFrame, mode: str | None) -> money.Pnl:
        mine = pnl if pnl.empty else pnl[pnl["mode"] == mode]
        return money.pnl(
            fees=sum((money.exact(v) for v in mine.get("fees", [])), Decimal(0)),
            net=sum((money.exact(v) for v in mine.get("net", [])), Decimal(0)),
        )

    def pnl_shown(self) -> pd.DataFrame:
        """P&L by mode as shown: gross, fees, net to the cent by the one money rule."""
        return shown(self.pnl, statement=PNL_STATEMENT)

    def positions_shown(self) -> pd.DataFrame:
        """Open positions as shown: the unrealised P&L to the cent."""
        return shown(self.positions, amounts=("pnl",))
