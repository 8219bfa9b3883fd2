"""The exchange: all venue state, and an order's way through it — entry (checked by
`sandbox.order_entry`), matching against the maker and other users, execution, fills, trades
and their events. Cancels and heartbeats are `sandbox.desk`; time advances in
`sandbox.clockwork`."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from sandbox import crossing, delays, lifecycle, restart
from sandbox.auth import ApiCreds
from sandbox.chain import Chain
from sandbox.config import SandboxConfig
from sandbox.desk import OrderDesk
from sandbox.faults import FaultBook, FaultKind
from sandbox.ledger import ZERO, Booking, Ledger, taker_fee
from sandbox.lifecycle import Schedule
from sandbox.markets import Markets, WindowState
from sandbox.matching import Fill, Offer, take
from sandbox.notifications import Notifications
from sandbox.order_entry import OrderEntry
from sandbox.realism import chance, draw
from sandbox.records import Order, OrderStatus, Trade
from sandbox.refusals import FAK_MSG, FOK_MSG, VenueError, rejection
from sandbox.wire import MAKER_BOT_ADDRESS, MAKER_BOT_OWNER, order_event, trade_event

Publisher = Callable[[str, str, str | None, dict], None]


class Exchange(OrderEntry, OrderDesk):
    """All venue state; every method runs on the server's event loop (no locking)."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.markets = Markets(config)
        self.ledger = Ledger(config.start_balance, clock, config.data_lag_seconds or 0.0)
        self.faults = FaultBook()
        self.keys: dict[str, ApiCreds] = {}
        self.orders: dict[str, Order] = {}
        self.resting: dict[str, list[Order]] = {}
        self.trades: list[Trade] = []
        self.delayed: list[delays.Delayed] = []  # marketable orders answered "delayed"
        self.pending: list[Trade] = []  # not yet CONFIRMED or FAILED (sandbox.lifecycle)
        self.fill_seq = 0  # ordinal of the next fill: its latencies are drawn from (seed, it)
        self.chain = Chain(self)
        self.notifications = Notifications()
        self.heartbeats: dict[str, tuple[str, float]] = {}
        self.hidden: set[str] = set()  # order ids REST must not reveal (drop_confirmations)
        self.counters: Counter[str] = Counter()
        self.restart: restart.Restart | None = None  # the engine_restart fault, while it lasts
        self.balance_snapshots: dict[tuple[str, str], Decimal] = {}  # sandbox.balance_cache
        self.key_issued: dict[str, float] = {}  # API key -> when created or last derived
        self.publish: Publisher = lambda channel, key, asset, payload: None
        self.server_secret = hashlib.sha256(f"sandbox:{config.seed}".encode()).digest()
        self.markets.pin(clock())
        self.markets.refresh(clock())

    # ---- time as the venue reports it -------------------------------------------------
    def venue_now(self) -> float:
        return self.clock() + self.faults.skew()

    def now_ms(self) -> int:
        return int(self.venue_now() * 1000)

    # ---- order entry --------------------------------------------------------------------
    def post_order(self, creds: ApiCreds, body: object) -> dict:
        """Validate, match and (for GTC/GTD) rest one order; return the venue response."""
        self.counters["orders_posted"] += 1
        order, state, budget = self.validate_order(creds, body)
        marketable = order.order_type in ("FOK", "FAK")
        if marketable and restart.post_only(self):
            self.counters["orders_refused_post_only"] += 1
            raise VenueError(restart.POST_ONLY_MSG)
        fault = self.faults.fire(FaultKind.REJECT_ORDERS, state.window.asset)
        if fault is not None:
            self.counters["orders_rejected"] += 1
            return rejection(fault.message or "")
        self.check_balance(order, budget)
        dropped = self.faults.fire(FaultKind.DROP_CONFIRMATIONS, state.window.asset)
        order.silent = dropped is not None
        if dropped is not None and dropped.hide_trades:
            self.hidden.add(order.id)  # until the faults are cleared
        held = self.faults.fire(FaultKind.DELAY_ORDERS, state.window.asset)
        if held is not None and marketable:
            return delays.delay(self, order, state, budget, held.seconds)
        if marketable and self.config.delayed_share:
            # Realism: a seeded share of taker orders is answered "delayed" (docs/sandbox.md).
            nth = self.counters["taker_posts"]
            self.counters["taker_posts"] += 1
            if chance(self.config.seed, "delayed", nth) < float(self.config.delayed_share):
                span = self.config.delayed_seconds or (1.0, 1.0)
                wait = draw(self.config.seed, "delayed_s", nth, span)
                return delays.delay(self, order, state, budget, wait)
        fills = self.match(order, budget, state.window.asset)
        return self.execute(order, state, fills, budget)

    # ---- matching -------------------------------------------------------------------------
    def offers(self, token: str, side: str, exclude_owner: str | None = None) -> list[Offer]:
        """Everything a taker on `side` can hit: maker ladder plus other users' resting orders."""
        users = [
            Offer(o.price, o.remaining, o.id)
            for o in self.resting.get(token, [])
            if o.side != side and o.owner != exclude_owner
        ]
        merged = self.markets.bot_offers(token, side) + users
        merged.sort(key=lambda off: off.price, reverse=(side == "SELL"))
        return merged

    def match(self, order: Order, budget: Decimal | None, asset: str) -> list[Fill]:
        max_shares = None if budget is not None else order.original_size
        fault = self.faults.fire(FaultKind.PARTIAL_FILL, asset)
        if fault is not None and fault.ratio is not None:
            if max_shares is not None:
                max_shares = (max_shares * fault.ratio).quantize(Decimal("0.01"))
            if budget is not None:
                budget = budget * fault.ratio
        return take(
            order.side,
            order.price,
            self.offers(order.token, order.side, order.owner),
            max_shares=max_shares,
            max_dollars=budget,
        )

    def execute(
        self, order: Order, state: WindowState, fills: list[Fill], budget: Decimal | None
    ) -> dict:
        filled = sum((f.size for f in fills), ZERO)
        spent = sum((f.size * f.price for f in fills), ZERO)
        if order.order_type == "FOK":
            complete = (
                spent >= budget - Decimal("0.01")
                if budget is not None
                else (filled >= order.original_size)
            )
            if not complete or not fills:
                return rejection(FOK_MSG)
        if order.order_type == "FAK" and not fills:
            self.counters["orders_fak_killed"] += 1
            return rejection(FAK_MSG)
        if budget is not None:
            order.original_size = filled
        self.orders[order.id] = order
        self.emit_order(order, "PLACEMENT")
        for fill in fills:
            self._apply_fill(order, state, fill)
        resting = order.order_type in ("GTC", "GTD") and order.remaining > 0
        if resting:
            self.resting.setdefault(order.token, []).append(order)
        elif order.remaining <= 0:
            order.status = OrderStatus.MATCHED
        else:
            order.status = OrderStatus.CANCELED
        if fills:
            self.emit_order(order, "UPDATE")
        making, taking = (spent, filled) if order.side == "BUY" else (filled, spent)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.id,
            "status": "live" if resting else "matched",
            "makingAmount": str(making.normalize()),
            "takingAmount": str(taking.normalize()),
            "tradeIDs": list(order.trade_ids),
            "transactionsHashes": [],
        }

    def _apply_fill(self, taker: Order, state: WindowState, fill: Fill) -> None:
        fee = taker_fee(fill.size, fill.price, self.config.fee_rate)
        trade_id = str(uuid.uuid4())
        plan = lifecycle.schedule(self, state.window.asset, self.clock())
        book = self.ledger.buy if taker.side == "BUY" else self.ledger.sell
        booking = book(taker.address, taker.token, fill.size, fill.price, fee)
        taker.size_matched += fill.size
        taker.trade_ids.append(trade_id)
        maker = self.orders.get(fill.order_id) if fill.order_id else None
        if maker is None:
            self.markets.consume(taker.token, fill.price, fill.size)
        else:
            self._fill_maker(maker, fill, trade_id, plan)
        self._record_trade(trade_id, taker, fill, fee, "TAKER", maker, booking, plan)
        state.volume += fill.size * fill.price
        self.markets.last_trade[taker.token] = (fill.price, taker.side)
        self.counters["trades"] += 1
        self.publish(
            "market",
            taker.token,
            state.window.asset,
            {
                "event_type": "last_trade_price",
                "asset_id": taker.token,
                "market": taker.condition_id,
                "price": str(fill.price),
                "side": taker.side,
                "size": str(fill.size),
                "fee_rate_bps": str(self.fee_bps()),
                "timestamp": str(self.now_ms()),
            },
        )

    def fill_resting_by_maker(
        self, order: Order, state: WindowState, price: Decimal, size: Decimal
    ) -> None:
        """The market maker crossed a user's resting order: the user is the maker (no fee)."""
        trade_id = str(uuid.uuid4())
        plan = lifecycle.schedule(self, state.window.asset, self.clock())
        cross = crossing.taker_token(self, state, order)
        fill = Fill(price=price, size=size, order_id=order.id)
        self._fill_maker(order, fill, trade_id, plan, cross)
        state.volume += size * price

    def _fill_maker(
        self, maker: Order, fill: Fill, trade_id: str, plan: Schedule, cross: tuple = ()
    ) -> None:
        book = self.ledger.buy if maker.side == "BUY" else self.ledger.sell
        booking = book(maker.address, maker.token, fill.size, maker.price, ZERO)
        maker.size_matched += fill.size
        maker.trade_ids.append(trade_id)
        if maker.remaining <= 0:
            maker.status = OrderStatus.MATCHED
            self._unrest(maker)
        maker_fill = Fill(maker.price, fill.size, maker.id)
        self._record_trade(trade_id, maker, maker_fill, ZERO, "MAKER", maker, booking, plan, cross)
        self.emit_order(maker, "UPDATE")

    def _record_trade(
        self,
        trade_id: str,
        order: Order,
        fill: Fill,
        fee: Decimal,
        trader_side: str,
        maker: Order | None,
        booking: Booking,
        plan: Schedule,
        cross: tuple = (),
    ) -> None:
        now = self.venue_now()
        trade = Trade(
            id=trade_id,
            owner=order.owner,
            address=order.address,
            taker_order_id=order.id,
            condition_id=order.condition_id,
            token=order.token,
            outcome=order.outcome,
            side=order.side,
            price=fill.price,
            size=fill.size,
            fee=fee,
            # `fee_reported_zero`: the record says 0 bps while the taker fee is charged.
            fee_rate_bps=self.fee_bps()
            if trader_side == "TAKER" and not self.config.fee_reported_zero
            else ZERO,
            trader_side=trader_side,
            match_time=int(now),
            maker_order_id=maker.id if maker else "0x" + uuid.uuid4().hex * 2,
            maker_address=maker.address if maker else MAKER_BOT_ADDRESS,
            maker_owner=maker.owner if maker else MAKER_BOT_OWNER,
            last_update=int(now),
            matched_at=plan.matched_at,
            mined_at=plan.mined_at,
            confirmed_at=plan.confirmed_at,
            fails=plan.fails,
            booking=booking,
            silent=order.silent,
            rest_prefix=bool(self.config.trade_status_prefixed),
        )
        if cross:
            trade.cross_token, trade.cross_outcome = cross
        self.trades.append(trade)
        self.pending.append(trade)
        if not trade.silent:
            self.publish("user", trade.owner, None, trade_event(trade, self.now_ms()))

    def emit_order(self, order: Order, kind: str) -> None:
        if not order.silent:
            self.publish("user", order.owner, None, order_event(order, kind, self.now_ms()))

    def fee_bps(self) -> Decimal:
        return self.config.fee_rate * 10_000

    def clear_faults(self, kind: FaultKind | None = None) -> None:
        """Switch faults off (all, or one kind); once drop_confirmations is off, the orders
        and trades it hid reappear in REST lookups; clearing engine_restart ends a restart."""
        self.faults.clear(kind)
        if kind in (None, FaultKind.DROP_CONFIRMATIONS):
            self.hidden.clear()
        if kind in (None, FaultKind.ENGINE_RESTART):
            self.restart = None  # the engine is back (and out of post-only) at once

    def visible(self, order_id: str) -> bool:
        """Whether REST lookups may reveal this order (and trades it took part in)."""
        return order_id not in self.hidden
