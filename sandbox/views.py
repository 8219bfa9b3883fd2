"""Read-side JSON for the CLOB and Data API: books, prices, markets, balances, positions,
and the sandbox's own state document."""

from __future__ import annotations

import base64
from decimal import Decimal

from sandbox import balance_cache
from sandbox import contracts as cx
from sandbox.clockwork import book_message
from sandbox.exchange import Exchange
from sandbox.gamma import iso
from sandbox.ledger import Holdings
from sandbox.markets import WindowState
from sandbox.refusals import VenueError
from sandbox.windows import WindowStatus
from sandbox.wire import num

END_CURSOR = "LTE="
ORDERS_IN_STATE = 500


def state_for(ex: Exchange, token: str) -> WindowState:
    hit = ex.markets.lookup(token or "")
    if hit is None:
        raise VenueError("No orderbook exists for the requested token id", status=404)
    return hit[0]


def book(ex: Exchange, token: str) -> dict:
    return book_message(ex, state_for(ex, token), token) | {"event_type": None}


def best(ex: Exchange, token: str) -> tuple[Decimal | None, Decimal | None]:
    msg = book_message(ex, state_for(ex, token), token)
    bid = Decimal(msg["bids"][-1]["price"]) if msg["bids"] else None
    ask = Decimal(msg["asks"][-1]["price"]) if msg["asks"] else None
    return bid, ask


def clob_market(ex: Exchange, state: WindowState) -> dict:
    """The compact `/clob-markets/{condition}` shape the SDK reads before signing."""
    w = state.window
    return {
        "c": w.condition_id,
        "t": [{"t": w.token_up, "o": "Up"}, {"t": w.token_down, "o": "Down"}],
        "mts": float(state.tick),
        "nr": False,
        "mos": 5,
        "fd": {"r": float(ex.config.fee_rate), "e": 1, "to": True},
    }


def legacy_market(ex: Exchange, state: WindowState) -> dict:
    w = state.window
    resolved = state.status is WindowStatus.RESOLVED
    return {
        "condition_id": w.condition_id,
        "question_id": w.question_id,
        "market_slug": w.slug,
        "active": True,
        "closed": state.status in (WindowStatus.CLOSED, WindowStatus.RESOLVED),
        "accepting_orders": state.status in (WindowStatus.UPCOMING, WindowStatus.OPEN),
        "minimum_order_size": 5,
        "minimum_tick_size": float(state.tick),
        "neg_risk": False,
        "tokens": [
            {"token_id": t, "outcome": o, "price": 0.5, "winner": resolved and state.winner == o}
            for t, o in ((w.token_up, "Up"), (w.token_down, "Down"))
        ],
    }


def page(items: list, cursor: str | None, size: int) -> dict:
    """CLOB-style offset pagination with base64 cursors and the "LTE=" end marker."""
    start = int(base64.b64decode(cursor).decode()) if cursor and cursor != "MA==" else 0
    chunk = items[start : start + size]
    end = start + size
    next_cursor = base64.b64encode(str(end).encode()).decode() if end < len(items) else END_CURSOR
    return {"data": chunk, "next_cursor": next_cursor, "limit": size, "count": len(chunk)}


def balance(ex: Exchange, address: str, asset_type: str, token: str | None) -> dict:
    if asset_type == "COLLATERAL":
        value = balance_cache.cached(ex, address, "COLLATERAL") + ex.faults.balance_offset()
    else:
        value = balance_cache.cached(ex, address, token or "")
    units = int((value * 1_000_000).to_integral_value())
    allowance = str(2**256 - 1)
    return {
        "balance": str(units),
        "allowances": {
            "0xE111180000d2663C0091e4f400237545B87B996B": allowance,
            "0xe2222d279d744050d28e00520010520000310F59": allowance,
        },
    }


def positions(ex: Exchange, address: str) -> list[dict]:
    """Rows for every token the wallet holds or has held (legacy and v2 fields together), as
    the Data API's index saw them `data_lag_seconds` ago (resolution flags are current)."""
    seen = ex.ledger.holdings_as_of(address, ex.clock() - (ex.config.data_lag_seconds or 0.0))
    rows = []
    for token, size in seen.shares.items():
        hit = ex.markets.lookup(token)
        if hit is None:
            continue
        state, outcome = hit
        rows.append(_position_row(ex, address, seen, state, token, outcome, size))
    return rows


def positions_v2(ex: Exchange, address: str, status: str | None) -> list[dict]:
    """`/v2/positions` rows: open and redeemable ones by default; `status` narrows to OPEN,
    REDEEMABLE, REDEEMABLE_LOST (resolved to a zero payout) or CLOSED (sold or redeemed)."""
    rows = positions(ex, address)
    if status is None:
        return [r for r in rows if r["status"] != "CLOSED"]
    if status == "REDEEMABLE_LOST":
        return [r for r in rows if r["status"] == "REDEEMABLE" and r["curPrice"] == 0]
    if status not in ("OPEN", "REDEEMABLE", "CLOSED", "MERGEABLE"):
        raise VenueError(f"invalid status {status!r}")
    return [r for r in rows if r["status"] == status]


def approvals(ex: Exchange, address: str) -> dict:
    """`/v2/approvals`: the wallet's trading approvals, one row per (token, spender) pair the
    SDK requires (every one granted from the start except the auto-redeem operator's)."""
    chain = ex.chain
    rows = [
        {
            "token": cx.COLLATERAL_TOKEN,
            "spender": spender,
            "standard": "ERC20",
            "approved": chain.allowance(address, spender) > 0,
            "amount": _amount(chain.allowance(address, spender)),
        }
        for spender in cx.ERC20_SPENDERS
    ]
    rows += [
        {
            "token": token,
            "spender": operator,
            "standard": "ERC1155",
            "approved": chain.approved(address, token, operator),
        }
        for token, operator in cx.ERC1155_OPERATORS
    ]
    return {"address": address, "chain_id": ex.config.chain_id, "contracts": rows}


def _amount(value: int) -> str:
    return "max" if value == cx.MAX_UINT256 else str(value)


def _position_row(
    ex: Exchange,
    wallet: str,
    seen: Holdings,
    state: WindowState,
    token: str,
    outcome: str,
    size: Decimal,
) -> dict:
    w = state.window
    cost = seen.cost.get(token, Decimal(0))
    avg = cost / size if size else Decimal(0)
    resolved = state.status is WindowStatus.RESOLVED
    cur = (
        (Decimal(1) if state.winner == outcome else Decimal(0))
        if resolved
        else Decimal(repr(round(state.fair if outcome == "Up" else 1 - state.fair, 4)))
    )
    value = size * cur
    realized = seen.realized.get(token, Decimal(0))
    index = 0 if outcome == "Up" else 1
    status = "REDEEMABLE" if resolved and size else ("OPEN" if size else "CLOSED")
    return {
        "proxyWallet": wallet,
        "asset": token,
        "conditionId": w.condition_id,
        "size": float(size),
        "avgPrice": float(avg),
        "curPrice": float(cur),
        "cashPnl": float(value - cost),
        "realizedPnl": float(realized),
        "redeemable": resolved and size > 0,
        "outcome": outcome,
        "outcomeIndex": index,
        "endDate": iso(w.close_ts),
        "negativeRisk": False,
        "slug": w.slug,
        "eventSlug": w.slug,
        # v2 (SDK) field names
        "proxy_wallet": wallet,
        "token_id": token,
        "condition_id": w.condition_id,
        "current_size": num(size),
        "avg_price": num(avg),
        "entry_cost_usdc": num(cost),
        "entry_fees_usdc": "0",
        "total_cost_usdc": num(cost),
        "current_price": num(cur),
        "current_value": num(value),
        "total_size": num(size),
        "realized_pnl": num(realized),
        "unrealized_pnl": num(value - cost),
        "total_pnl": num(value - cost + realized),
        "percent_pnl": "0",
        "percent_realized_pnl": "0",
        "status": status,
        "mergeable": False,
        "negative_risk": False,
        "archived": False,
        "verified": True,
        "outcome_index": index,
        "opposite_token_id": w.token_down if index == 0 else w.token_up,
        "opposite_outcome": "Down" if index == 0 else "Up",
    }


def sandbox_state(ex: Exchange, urls: dict) -> dict:
    return {
        "urls": urls,
        "now": ex.clock(),
        "venue_now": ex.venue_now(),
        "seed": ex.config.seed,
        "windows": [_window_row(s) for s in ex.markets.states.values()],
        "balances": {a.address: num(a.usdc) for a in ex.ledger.accounts.values()},
        "positions": {
            a.address: {t: num(s) for t, s in a.shares.items() if s}
            for a in ex.ledger.accounts.values()
        },
        "fees_paid": {a.address: num(a.fees_paid) for a in ex.ledger.accounts.values()},
        "payouts": {a.address: num(a.payouts) for a in ex.ledger.accounts.values()},
        "open_orders": len(ex.open_orders()),
        "orders": [_order_row(ex, o) for o in list(ex.orders.values())[-ORDERS_IN_STATE:]],
        "trades": [_trade_row(t) for t in ex.trades[-ORDERS_IN_STATE:]],
        "transactions": [_tx_row(t) for t in list(ex.chain.txs.values())[-ORDERS_IN_STATE:]],
        "realism": ex.config.realism.value,
        "faults": [f.to_json() for f in ex.faults.active],
        "counters": {k: v for k, v in ex.counters.items() if not k.startswith("_")},
    }


def _order_row(ex: Exchange, order) -> dict:
    """Every order the venue accepted (hidden ones too: this is the test's view, not REST)."""
    return {
        "id": order.id,
        "owner": order.owner,
        "slug": order.slug,
        "token": order.token,
        "side": order.side,
        "order_type": order.order_type,
        "status": str(order.status),
        "size_matched": num(order.size_matched),
        "trades": len(order.trade_ids),
        "hidden": not ex.visible(order.id),
    }


def _trade_row(trade) -> dict:
    """A fill as the venue schedules it (the test's view): status and its latencies."""
    return {
        "id": trade.id,
        "owner": trade.owner,
        "order_id": trade.taker_order_id,
        "side": trade.side,
        "size": num(trade.size),
        "status": trade.status.value,
        "mined_after_s": round(trade.mined_at - trade.matched_at, 6),
        "confirmed_after_s": round(trade.confirmed_at - trade.matched_at, 6),
        "fails": trade.fails,
    }


def _tx_row(tx) -> dict:
    return {
        "id": tx.id,
        "hash": tx.hash,
        "via": tx.via,
        "account": tx.account,
        "state": tx.state.value,
        "calls": [c.function for c in tx.calls],
        "paid": num(tx.paid),
        "error": tx.error,
        "mined_after_s": round(tx.mined_at - tx.submitted_at, 6),
        "confirmed_after_s": round(tx.confirmed_at - tx.submitted_at, 6),
    }


def _window_row(state: WindowState) -> dict:
    w = state.window
    return {
        "slug": w.slug,
        "asset": w.asset,
        "length": w.length,
        "open_ts": w.open_ts,
        "close_ts": w.close_ts,
        "condition_id": w.condition_id,
        "token_up": w.token_up,
        "token_down": w.token_down,
        "status": state.status.value,
        "strike": num(state.strike) if state.strike is not None else None,
        "final": num(state.final) if state.final is not None else None,
        "winner": state.winner,
        "true_winner": state.true_winner,
        "resolve_at": state.resolve_at,
        "tick": str(state.tick),
    }
