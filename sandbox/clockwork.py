"""Time: each tick lists new windows, opens and closes them, requotes the maker, lets the maker
cross resting user orders, resolves (and, in the instant profile, pays out), expires heartbeats
and GTD orders, moves trades towards the chain (sandbox.lifecycle), mines transactions and runs
the auto-redeem operator (sandbox.chain), and publishes the oracle price."""

from __future__ import annotations

from decimal import Decimal

from sandbox import crossing, delays, lifecycle, pricepath
from sandbox.exchange import Exchange
from sandbox.faults import FaultKind
from sandbox.markets import WindowState
from sandbox.quotes import Ladder
from sandbox.records import OrderStatus
from sandbox.windows import WindowStatus
from sandbox.wire import levels_json, num

E18 = Decimal(10) ** 18
# The maker reacts to each oracle second half a second later. Quoting exactly on whole seconds
# made every book change coincide with the whole-second instants where windows open and close
# and strategies' T-x timers fire: a decision taken on second s-1's book always reached a venue
# already quoting second s (on short windows the fair moves several ticks a second), so about
# half of all marketable entries were killed. Real books do not move in step with our timers.
QUOTE_PHASE_S = 0.5


def advance(ex: Exchange, now: float) -> None:
    """Bring the venue up to `now` (idempotent within a second except for trade steps)."""
    ex.counters["windows_listed"] += len(ex.markets.refresh(now))
    second = int(now)
    quote_second = int(now - QUOTE_PHASE_S)
    for state in list(ex.markets.states.values()):
        _step_window(ex, state, now, quote_second)
    _expire_heartbeats(ex, now)
    _expire_gtd(ex, now)
    delays.release(ex, now)
    lifecycle.progress(ex, now)
    ex.chain.progress(now)
    if ex.counters.get("_last_price_second") != second:
        ex.counters["_last_price_second"] = second
        _publish_prices(ex, second)


def _step_window(ex: Exchange, state: WindowState, now: float, quote_second: int) -> None:
    window = state.window
    if state.status is WindowStatus.UPCOMING and now >= window.open_ts:
        state.status = WindowStatus.OPEN
    if state.status is WindowStatus.OPEN and now >= window.close_ts:
        _close(ex, state, now)
    if (
        state.status is WindowStatus.CLOSED
        and state.resolve_at is not None
        and now >= state.resolve_at
    ):
        _resolve(ex, state)
    if state.status in (WindowStatus.UPCOMING, WindowStatus.OPEN):
        _requote(ex, state, quote_second)


def _requote(ex: Exchange, state: WindowState, second: int) -> None:
    window = state.window
    key = f"_q:{window.slug}"
    if ex.counters.get(key) == second and window.token_up in ex.markets.ladders:
        return
    ex.counters[key] = second
    old_tick = state.tick
    before = {t: ex.markets.ladders.get(t) for t in window.tokens}
    forced = ex.faults.find(FaultKind.TICK_SIZE, window.asset)
    ex.markets.requote(state, second, forced.tick if forced is not None else None)
    for token in window.tokens:
        if state.tick != old_tick and before[token] is not None:
            ex.publish(
                "market",
                token,
                window.asset,
                {
                    "event_type": "tick_size_change",
                    "asset_id": token,
                    "market": window.condition_id,
                    "old_tick_size": str(old_tick),
                    "new_tick_size": str(state.tick),
                    "timestamp": str(ex.now_ms()),
                },
            )
        _cross_resting(ex, state, token)
        _publish_changes(ex, state, token, before[token])


def _cross_resting(ex: Exchange, state: WindowState, token: str) -> None:
    """The maker takes user orders its new quotes cross (the user is maker: no fee); under the
    cross_match fault a taker on the other token takes them first (sandbox/crossing.py)."""
    crossing.take_resting(ex, state, token)
    for order in list(ex.resting.get(token, [])):
        side = "SELL" if order.side == "BUY" else "BUY"
        for offer in ex.markets.bot_offers(token, side):
            crossed = (
                offer.price <= order.price if order.side == "BUY" else offer.price >= order.price
            )
            if not crossed or order.remaining <= 0:
                break
            size = min(offer.size, order.remaining)
            ex.markets.consume(token, offer.price, size)
            ex.fill_resting_by_maker(order, state, order.price, size)


def book_levels(ex: Exchange, token: str) -> tuple[list, list]:
    """Displayed book (maker net of consumption + resting user orders) as (bids, asks)."""
    from sandbox.quotes import Level

    def side(levels_side: str, user_side: str) -> list[Level]:
        agg: dict[Decimal, Decimal] = {}
        for offer in ex.markets.bot_offers(token, levels_side):
            agg[offer.price] = agg.get(offer.price, Decimal(0)) + offer.size
        for order in ex.resting.get(token, []):
            if order.side == user_side:
                agg[order.price] = agg.get(order.price, Decimal(0)) + order.remaining
        return [Level(p, s) for p, s in agg.items()]

    return side("SELL", "BUY"), side("BUY", "SELL")


def book_message(ex: Exchange, state: WindowState, token: str) -> dict:
    bids, asks = book_levels(ex, token)
    return {
        "event_type": "book",
        "market": state.window.condition_id,
        "asset_id": token,
        "bids": levels_json(bids, descending=False),
        "asks": levels_json(asks, descending=True),
        "timestamp": str(ex.now_ms()),
        "hash": f"{token[-8:]}{ex.now_ms()}",
        "min_order_size": "5",
        "tick_size": str(state.tick),
        "neg_risk": False,
        "last_trade_price": num(ex.markets.last_trade.get(token, (Decimal("0.5"), ""))[0]),
    }


def _publish_changes(ex: Exchange, state: WindowState, token: str, before: Ladder | None) -> None:
    if before is None:
        ex.publish("market", token, state.window.asset, book_message(ex, state, token))
        return
    bids, asks = book_levels(ex, token)
    now = {("BUY", lvl.price): lvl.size for lvl in bids}
    now.update({("SELL", lvl.price): lvl.size for lvl in asks})
    old = {("BUY", lvl.price): lvl.size for lvl in before.bids}
    old.update({("SELL", lvl.price): lvl.size for lvl in before.asks})
    best_bid = max((lvl.price for lvl in bids), default=Decimal(0))
    best_ask = min((lvl.price for lvl in asks), default=Decimal(1))
    changes = [
        {
            "asset_id": token,
            "price": num(price),
            "size": num(now.get((side, price), Decimal(0))),
            "side": side,
            "hash": f"{token[-6:]}{ex.now_ms()}",
            "best_bid": num(best_bid),
            "best_ask": num(best_ask),
        }
        for side, price in sorted(set(now) | set(old))
        if now.get((side, price)) != old.get((side, price))
    ]
    if changes:
        ex.publish(
            "market",
            token,
            state.window.asset,
            {
                "event_type": "price_change",
                "market": state.window.condition_id,
                "price_changes": changes,
                "timestamp": str(ex.now_ms()),
            },
        )


def _close(ex: Exchange, state: WindowState, now: float) -> None:
    state.status = WindowStatus.CLOSED
    delay = ex.config.settle_delay
    fault = ex.faults.find(FaultKind.DELAY_SETTLEMENT, state.window.asset)
    if fault is not None and fault.seconds:
        delay += fault.seconds
        fault.fired += 1
    state.resolve_at = state.window.close_ts + delay
    for token in state.window.tokens:
        for order in list(ex.resting.get(token, [])):
            ex.cancel(order.owner, [order.id], OrderStatus.CANCELED_MARKET_RESOLVED)


def _resolve(ex: Exchange, state: WindowState) -> None:
    window = state.window
    state.final = pricepath.settlement_price(
        ex.config.seed,
        window.asset,
        ex.markets.path_second(window.close_ts),
        window.length,
        ex.config.settlement_rule,
    )
    state.true_winner = "Up" if state.strike is None or state.final >= state.strike else "Down"
    state.winner = state.true_winner
    fault = ex.faults.find(FaultKind.CONTRADICT_SETTLEMENT, window.asset)
    if fault is not None:
        state.winner = "Down" if state.true_winner == "Up" else "Up"
        fault.fired += 1
    state.status = WindowStatus.RESOLVED
    winning = window.token_up if state.winner == "Up" else window.token_down
    if ex.config.payout_at_resolution:
        ex.ledger.settle(winning, Decimal(1))
        ex.ledger.settle(
            window.token_down if winning == window.token_up else window.token_up, Decimal(0)
        )
    else:  # the venue: positions stay, redeemable, until redeemed (by the owner or operator)
        ex.chain.resolved(state)
    ex.counters["windows_resolved"] += 1
    for token in window.tokens:
        ex.publish(
            "market",
            token,
            window.asset,
            {
                "event_type": "market_resolved",
                "id": window.market_id,
                "market": window.condition_id,
                "assets_ids": list(window.tokens),
                "winning_asset_id": winning,
                "winning_outcome": state.winner,
                "timestamp": str(ex.now_ms()),
            },
        )


def _expire_heartbeats(ex: Exchange, now: float) -> None:
    for owner, (_, last) in list(ex.heartbeats.items()):
        if now - last > ex.config.heartbeat_timeout:
            del ex.heartbeats[owner]
            ex.counters["heartbeat_cancels"] += 1
            ex.cancel_all(owner)


def _expire_gtd(ex: Exchange, now: float) -> None:
    for order in ex.open_orders():
        if order.order_type == "GTD" and 0 < order.expiration <= now:
            ex.cancel(order.owner, [order.id], OrderStatus.CANCELED_EXPIRED_ORDER)


def _publish_prices(ex: Exchange, second: int) -> None:
    ts_ms = int((second + ex.faults.skew()) * 1000)
    path_second = ex.markets.path_second(second)
    for asset in ex.config.assets:
        price = pricepath.oracle_price(ex.config.seed, asset, path_second)
        twap = pricepath.twap(ex.config.seed, asset, path_second, 60)
        base = asset.lower()
        for topic, symbol, value in (
            ("crypto_prices_chainlink", f"{base}/usd", price),
            ("crypto_prices", f"{base}usdt", price),
        ):
            ex.publish(
                "prices",
                topic,
                asset,
                {
                    "topic": topic,
                    "type": "update",
                    "timestamp": ts_ms,
                    "payload": {
                        "symbol": symbol,
                        "timestamp": ts_ms,
                        "value": float(value),
                        "full_accuracy_value": str(value),
                    },
                },
            )
        ex.publish(
            "prices",
            "crypto_prices_twap_sixty",
            asset,
            {
                "topic": "crypto_prices_twap_sixty",
                "type": "update",
                "timestamp": ts_ms,
                "payload": {
                    "symbol": f"{base}/usd",
                    "timestamp": ts_ms,
                    "window_s": 60,
                    "value": float(twap),
                    "full_accuracy_value": str(int(twap * E18)),
                },
            },
        )
