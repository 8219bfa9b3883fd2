"""Gamma API shapes for the window markets and their one-market events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sandbox.markets import WindowState
from sandbox.windows import WindowStatus
from sandbox.wire import num

ASSET_NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "XRP": "XRP",
    "DOGE": "Dogecoin",
    "BNB": "BNB",
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _outcome_prices(state: WindowState) -> list[str]:
    if state.status is WindowStatus.RESOLVED:
        return ["1", "0"] if state.winner == "Up" else ["0", "1"]
    up = round(state.fair, 3)
    return [str(up), str(round(1 - up, 3))]


def market_json(state: WindowState, fee_rate: str, include_event: bool = True) -> dict:
    """A Gamma market as the real API returns it (`clobTokenIds` is a JSON string)."""
    w = state.window
    resolved = state.status is WindowStatus.RESOLVED
    closed = state.status in (WindowStatus.CLOSED, WindowStatus.RESOLVED)
    body = {
        "id": w.market_id,
        "slug": w.slug,
        "conditionId": w.condition_id,
        "questionID": w.question_id,
        "question": f"{ASSET_NAMES.get(w.asset, w.asset)} Up or Down - {iso(w.open_ts)}",
        "description": "Resolves Up if the sandbox oracle price at the end of the window is "
        "greater than or equal to the price at its start; otherwise Down.",
        "resolutionSource": "sandbox-oracle",
        "outcomes": json.dumps(["Up", "Down"]),
        "outcomePrices": json.dumps(_outcome_prices(state)),
        "clobTokenIds": json.dumps([w.token_up, w.token_down]),
        "startDate": iso(w.open_ts - 86400),
        "createdAt": iso(w.open_ts - 86400),
        "eventStartTime": iso(w.open_ts),
        "endDate": iso(w.close_ts),
        "endDateIso": iso(w.close_ts)[:10],
        "active": True,
        "closed": closed,
        "archived": False,
        "acceptingOrders": not closed,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(state.tick),
        "orderMinSize": 5,
        "negRisk": False,
        "version": "v1",  # CTF market: the SDK's redeem_positions needs the protocol version
        "feesEnabled": True,
        "feeType": "crypto_fees_v2",
        "feeSchedule": {
            "rate": float(fee_rate),
            "exponent": 1,
            "takerOnly": True,
            "rebateRate": 0.2,
        },
        "umaResolutionStatus": "resolved" if resolved else None,
        "umaResolutionStatuses": "[]",
        "volume": num(state.volume),
        "volumeNum": float(state.volume),
        "eventMetadata": {
            "priceToBeat": num(state.strike)
            if state.strike is not None and state.status is not WindowStatus.UPCOMING
            else None,
            "finalPrice": num(state.final) if state.final is not None else None,
        },
        "cryptoMarketConfig": {"twapEnabled": False, "twapLookbackSeconds": 60},
    }
    if include_event:
        body["events"] = [_event_stub(state)]
    return body


def _event_stub(state: WindowState) -> dict:
    w = state.window
    return {
        "id": w.market_id,
        "slug": w.slug,
        "title": market_json(state, "0", False)["question"],
        "startTime": iso(w.open_ts),
        "endDate": iso(w.close_ts),
    }


def event_json(state: WindowState, fee_rate: str) -> dict:
    """The one-market event that shares the market's slug."""
    body = _event_stub(state)
    closed = state.status in (WindowStatus.CLOSED, WindowStatus.RESOLVED)
    body.update(
        active=True,
        closed=closed,
        archived=False,
        negRisk=False,
        markets=[market_json(state, fee_rate, include_event=False)],
        seriesSlug=f"{w_asset(state)}-up-or-down-{state.window.length}s",
    )
    return body


def w_asset(state: WindowState) -> str:
    return state.window.asset.lower()
