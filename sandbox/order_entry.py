"""Order entry at the sandbox venue: what a POST /order must be for the venue to take it — the
payload, the owner and signer, the window's state, the price grid and size minimums, the
signature, and the balance net of resting orders (a mixin of `sandbox.exchange.Exchange`)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from sandbox import balance_cache, lifecycle
from sandbox.auth import ApiCreds, order_signature_ok
from sandbox.config import SandboxConfig
from sandbox.ledger import ZERO, Ledger
from sandbox.markets import Markets, WindowState
from sandbox.records import Order
from sandbox.refusals import BALANCE_MSG, VenueError
from sandbox.windows import WindowStatus

UNIT = Decimal(1_000_000)  # amounts on the wire are in millionths (USDC and shares)
MIN_SIZE = Decimal(5)
MIN_MARKETABLE_USD = Decimal(1)
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")


class OrderEntry:
    """Needs from the host: config, markets, ledger, orders, resting, counters, venue_now."""

    config: SandboxConfig
    markets: Markets
    ledger: Ledger
    orders: dict[str, Order]
    resting: dict[str, list[Order]]
    counters: Counter[str]
    venue_now: Callable[[], float]

    def validate_order(
        self, creds: ApiCreds, body: object
    ) -> tuple[Order, WindowState, Decimal | None]:
        """The order a POST /order body describes, its window and (marketable BUY) its dollar
        budget; VenueError with the venue's message if the venue would refuse it."""
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            raise VenueError("Invalid order payload")
        raw = body["order"]
        order_type = body.get("orderType", "GTC")
        if order_type not in ORDER_TYPES:
            raise VenueError(f"invalid order type: {order_type}")
        if body.get("owner") != creds.key:
            raise VenueError("the order owner has to be the owner of the API KEY")
        try:
            maker, taker = int(raw["makerAmount"]), int(raw["takerAmount"])
            side, token = raw["side"], str(raw["tokenId"])
            expiration = int(raw.get("expiration", 0))
        except (KeyError, ValueError, TypeError) as exc:
            raise VenueError("Invalid order payload") from exc
        if side not in ("BUY", "SELL") or maker <= 0 or taker <= 0:
            raise VenueError("invalid order: amounts must be positive")
        hit = self.markets.lookup(token)
        if hit is None:
            self.counters["orders_unknown_token"] += 1  # e.g. a token id rotated away
            raise VenueError("market not found")
        state, outcome = hit
        if state.status not in (WindowStatus.UPCOMING, WindowStatus.OPEN):
            raise VenueError(
                "the market is not yet ready to process new orders"
                if state.status is None
                else "market is closed"
            )
        if (
            str(raw.get("maker", "")).lower() != creds.address.lower()
            and int(raw.get("signatureType", 0)) == 0
        ):
            raise VenueError("the order signer address has to be the address of the API KEY")
        dollars, shares = (maker, taker) if side == "BUY" else (taker, maker)
        price = Decimal(dollars) / Decimal(shares)
        order_id = (
            "0x"
            + hashlib.sha256(
                str(raw.get("signature", "")).encode() + str(raw.get("salt")).encode()
            ).hexdigest()
        )
        if order_id in self.orders:
            raise VenueError("order already exists")
        marketable = order_type in ("FOK", "FAK")
        budget = Decimal(maker) / UNIT if marketable and side == "BUY" else None
        size = Decimal(shares) / UNIT
        check_price_and_size(order_id, price, size, state.tick, marketable, side, budget)
        if not order_signature_ok(raw, self.config.chain_id):
            raise VenueError("invalid order signature")
        # A deposit/proxy/Safe wallet's orders are booked on the API key's address; the Data
        # API and the relayer then know that wallet as the same account.
        self.ledger.alias(str(raw.get("maker", "")), creds.address)
        if not marketable:
            price = price.quantize(state.tick)
        order = Order(
            id=order_id,
            owner=creds.key,
            address=creds.address,
            slug=state.window.slug,
            condition_id=state.window.condition_id,
            token=token,
            outcome=outcome,
            side=side,
            price=price,
            original_size=size,
            order_type=order_type,
            expiration=expiration,
            created_at=int(self.venue_now()),
        )
        return order, state, budget

    def check_balance(self, order: Order, budget: Decimal | None) -> None:
        """VenueError(BALANCE_MSG) unless the owner's free USDC (BUY) or shares (SELL) cover it.
        With `settled_spend_only`, what trades not yet on chain brought in is not free: shares
        bought and USDC from sells that are still MATCHED (py-clob-client-v2#34); without it,
        only what a trade doomed by the fail_trades fault brought in (it is about to be undone)."""
        failing_only = not self.config.settled_spend_only
        if order.side == "BUY":
            need = budget if budget is not None else order.original_size * order.price
            need += need * self.config.fee_rate / 4
            free = balance_cache.spendable(self, order.address, "COLLATERAL")
            free -= self.reserved_usdc(order.address)
            free -= lifecycle.unsettled_proceeds(self, order.address, failing_only)
            if need > free:
                raise VenueError(BALANCE_MSG)
        else:
            held = balance_cache.spendable(self, order.address, order.token)
            held -= self.reserved_shares(order.address, order.token)
            held -= lifecycle.unsettled_shares(self, order.address, order.token, failing_only)
            if order.original_size > held:
                raise VenueError(BALANCE_MSG)

    def reserved_usdc(self, address: str) -> Decimal:
        """USDC held by the address's resting BUY orders."""
        return sum((o.remaining * o.price for o in self._open_of(address) if o.side == "BUY"), ZERO)

    def reserved_shares(self, address: str, token: str) -> Decimal:
        """Shares of `token` held by the address's resting SELL orders."""
        return sum(
            (o.remaining for o in self._open_of(address) if o.side == "SELL" and o.token == token),
            ZERO,
        )

    def _open_of(self, address: str) -> list[Order]:
        low = address.lower()
        return [o for orders in self.resting.values() for o in orders if o.address.lower() == low]


def check_price_and_size(
    order_id: str,
    price: Decimal,
    size: Decimal,
    tick: Decimal,
    marketable: bool,
    side: str,
    budget: Decimal | None,
) -> None:
    """The venue's price and size rules: a resting order's price on the tick grid and inside
    [tick, 1 - tick], its size at least MIN_SIZE shares; a marketable order's price (at the
    tick's precision) inside [tick, 1 - tick] and its worth at least MIN_MARKETABLE_USD. The
    tick is the market's current one (it moves, see the tick_size fault). Raises VenueError
    with the venue's message."""
    if not marketable:
        try:
            on_grid = (price / tick) == (price / tick).to_integral_value()
        except InvalidOperation:
            on_grid = False
        if not on_grid:
            raise VenueError(
                f"order {order_id} is invalid. Price ({price.normalize()}) "
                f"breaks minimum tick size rule: {tick}"
            )
        if not tick <= price <= 1 - tick:
            raise VenueError(
                f"order {order_id} is invalid. Price ({price.normalize()}) "
                f"out of range: min {tick} - max {1 - tick}"
            )
        if size < MIN_SIZE:
            raise VenueError(
                f"order {order_id} is invalid. Size ({size.normalize()}) "
                f"lower than the minimum: {MIN_SIZE}"
            )
        return
    # A marketable order's price is its amounts' ratio, which the SDK rounds to the tick's
    # price decimals (polymarket _internal/actions/orders/context.py ROUNDING by tick): at that
    # precision it must lie in [tick, 1 - tick] of the CURRENT tick, as the SDK's own
    # validate_price_on_tick_grid ("mirrors the exchange's own validation") requires.
    shown = price.quantize(tick)
    if not tick <= shown <= 1 - tick:
        raise VenueError(
            f"order {order_id} is invalid. Price ({shown.normalize()}) "
            f"out of range: min {tick} - max {1 - tick}"
        )
    notional = budget if budget is not None else size * price
    if notional < MIN_MARKETABLE_USD:
        raise VenueError(
            f"invalid amount for a marketable {side} order (${notional.normalize()}), min size: $1"
        )
