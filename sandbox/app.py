"""HTTP and WebSocket routes: one port, fixed prefixes /gamma, /clob, /data, /relayer, /ws/*,
and the sandbox's own /_sandbox control surface. Its admin routes (faults, fund) are for local
testing: they need the server's admin token (`Authorization: Bearer …`, printed by
`updown sandbox`) and, with a body, exactly `application/json`, so a web page the operator
visits cannot drive them."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from sandbox import restart, views
from sandbox.app_chain import ChainRoutes
from sandbox.app_private import PrivateRoutes
from sandbox.auth import AuthError, verify_l2
from sandbox.clockwork import advance
from sandbox.credentials import l2_fresh
from sandbox.exchange import Exchange
from sandbox.faults import FaultKind
from sandbox.gamma import event_json, market_json
from sandbox.refusals import VenueError
from sandbox.ws import Hub

Handler = Callable[[Request], Awaitable[Response]]


def build_app(ex: Exchange, base_url_of: Callable[[], str], admin_token: str) -> Starlette:
    """The ASGI app over one exchange. `base_url_of` gives http://host:port once bound;
    `admin_token` guards the /_sandbox admin routes."""
    if not admin_token:
        raise ValueError("the sandbox's admin routes need a non-empty admin token")
    hub = Hub(ex)
    api = Api(ex, hub, base_url_of, admin_token)

    async def ticker() -> None:
        while True:
            advance(ex, ex.clock())
            await asyncio.sleep(min(ex.config.tick_seconds, 0.2))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette):
        task = asyncio.create_task(ticker())
        yield
        task.cancel()

    return Starlette(routes=api.routes(), lifespan=lifespan)


class Api(PrivateRoutes, ChainRoutes):
    def __init__(
        self, ex: Exchange, hub: Hub, base_url_of: Callable[[], str], admin_token: str
    ) -> None:
        self.ex, self.hub, self.base_url_of = ex, hub, base_url_of
        self._admin_token = admin_token

    def urls(self) -> dict:
        base = self.base_url_of()
        ws = base.replace("http://", "ws://")
        return {
            "gamma": f"{base}/gamma",
            "clob": f"{base}/clob",
            "data": f"{base}/data",
            "relayer": f"{base}/relayer",
            "rpc": f"{base}/rpc",
            "ws_market": f"{ws}/ws/market",
            "ws_user": f"{ws}/ws/user",
            "ws_prices": f"{ws}/ws/prices",
        }

    def routes(self) -> list:
        v = self.venue
        get, post, delete = ["GET"], ["POST"], ["DELETE"]
        table = [
            ("/gamma/markets/slug/{slug}", self.gamma_market, get),
            ("/gamma/events/slug/{slug}", self.gamma_event, get),
            ("/gamma/markets", self.gamma_markets, get),
            ("/gamma/events", self.gamma_events, get),
            ("/clob/", self.ok, get),
            ("/clob/time", self.time, get),
            ("/clob/book", self.book, get),
            ("/clob/books", self.books, post),
            ("/clob/price", self.price, get),
            ("/clob/midpoint", self.midpoint, get),
            ("/clob/spread", self.spread, get),
            ("/clob/tick-size", self.tick_size, get),
            ("/clob/neg-risk", self.neg_risk, get),
            ("/clob/fee-rate", self.fee_rate, get),
            ("/clob/last-trade-price", self.last_trade, get),
            ("/clob/markets-by-token/{token}", self.market_by_token, get),
            ("/clob/clob-markets/{cid}", self.clob_market, get),
            ("/clob/markets/{cid}", self.legacy_market, get),
            ("/clob/auth/api-key", self.create_key, post),
            ("/clob/auth/derive-api-key", self.derive_key, get),
            ("/clob/auth/api-keys", self.list_keys, get),
            ("/clob/auth/api-key", self.delete_key, delete),
            ("/clob/auth/ban-status/closed-only", self.closed_only, get),
            ("/clob/order", self.post_order, post),
            ("/clob/orders", self.post_orders, post),
            ("/clob/order", self.cancel_order, delete),
            ("/clob/orders", self.cancel_orders, delete),
            ("/clob/cancel-all", self.cancel_all, delete),
            ("/clob/cancel-market-orders", self.cancel_market, delete),
            ("/clob/data/order/{order_id}", self.get_order, get),
            ("/clob/data/orders", self.list_orders, get),
            ("/clob/data/trades", self.list_trades, get),
            ("/clob/balance-allowance", self.balance, get),
            ("/clob/balance-allowance/update", self.balance_update, get),
            ("/clob/v1/heartbeats", self.heartbeat, post),
            ("/data/positions", self.positions, get),
            ("/data/v2/positions", self.positions_v2, get),
            ("/relayer/deployed", self.deployed, get),
            # settling to cash (sandbox.app_chain)
            ("/gamma/markets/keyset", self.gamma_keyset, get),
            ("/clob/notifications", self.notifications, get),
            ("/clob/notifications", self.notifications, delete),
            ("/data/v2/approvals", self.approvals, get),
            ("/relayer/submit", self.relayer_submit, post),
            ("/relayer/v1/account/transactions/params", self.relayer_params, get),
            ("/relayer/relay-payload", self.relayer_params, get),
            ("/relayer/v1/account/transactions/{tx_id}", self.relayer_transaction, get),
            ("/rpc", self.rpc, post),
        ]
        merged: dict[str, dict[str, Handler]] = {}
        for path, handler, methods in table:
            for method in methods:
                merged.setdefault(path, {})[method] = v(handler)
        routes: list = [Route(p, self._dispatch(h), methods=list(h)) for p, h in merged.items()]
        routes += [
            Route("/_sandbox/state", self.state, methods=["GET"]),
            Route("/_sandbox/faults", self.admin(self.faults), methods=["POST", "DELETE"]),
            Route("/_sandbox/fund", self.admin(self.fund), methods=["POST"]),
            WebSocketRoute("/ws/market", self.ws("market")),
            WebSocketRoute("/ws/user", self.ws("user")),
            WebSocketRoute("/ws/prices", self.ws("prices")),
            WebSocketRoute("/ws/realtime", self.ws("realtime")),
        ]
        return routes

    @staticmethod
    def _dispatch(handlers: dict[str, Handler]) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await handlers[request.method](request)

        return endpoint

    def venue(self, handler: Handler) -> Handler:
        """Wrap a venue route: injected HTTP errors, venue-style error bodies, counters."""

        async def wrapped(request: Request) -> Response:
            self.ex.counters["http_requests"] += 1
            not_ready = restart.refusal(self.ex, request.method, request.url.path)
            if not_ready is not None:
                self.ex.counters["http_425_restart"] += 1
                return JSONResponse({"error": not_ready}, status_code=425)
            fault = self.ex.faults.fire(FaultKind.HTTP_ERROR, path=request.url.path)
            if fault is not None:
                self.ex.counters["http_errors_injected"] += 1
                if fault.processed:  # the venue did the work; only the answer is lost
                    with contextlib.suppress(VenueError, AuthError):
                        await handler(request)
                headers = {"Retry-After": "1"} if fault.status == 429 else None
                return JSONResponse(
                    {"error": fault.message or f"sandbox injected {fault.status}"},
                    status_code=fault.status or 500,
                    headers=headers,
                )
            try:
                return await handler(request)
            except VenueError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except AuthError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)

        return wrapped

    def admin(self, handler: Handler) -> Handler:
        """Wrap an admin route: the bearer token, then exactly JSON for a POST."""

        async def wrapped(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            expected = f"Bearer {self._admin_token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return JSONResponse(
                    {"error": "admin token required (Authorization: Bearer <token>, printed by"
                     " `updown sandbox`)"},
                    status_code=401,
                )  # fmt: skip
            if request.method == "POST":
                mime, _, params = request.headers.get("content-type", "").partition(";")
                params = params.strip().lower().replace(" ", "")
                if mime.strip().lower() != "application/json" or params not in (
                    "",
                    "charset=utf-8",
                ):
                    return JSONResponse({"error": "send application/json"}, status_code=415)
            return await handler(request)

        return wrapped

    def ws(self, channel: str):
        async def endpoint(socket: WebSocket) -> None:
            await self.hub.serve(socket, channel)

        return endpoint

    # ---- helpers ----------------------------------------------------------------------
    async def _json(self, request: Request) -> object:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError as exc:  # not JSON, or not UTF-8 text
            raise VenueError("Invalid order payload") from exc

    async def _l2(self, request: Request):
        try:
            body = (await request.body()).decode()
        except UnicodeDecodeError as exc:
            raise VenueError("Invalid payload: not UTF-8 text") from exc
        path = request.url.path.removeprefix("/clob")
        headers = {k.lower(): v for k, v in request.headers.items()}
        creds = verify_l2(headers, request.method, path, body, self.ex.keys)
        l2_fresh(self.ex, creds.key, headers.get("poly_timestamp", ""))
        return creds

    def _window(self, slug: str):
        state = self.ex.markets.states.get(slug)
        if state is None:
            raise VenueError("market not found", status=404)
        return state

    def _fee(self) -> str:
        return str(self.ex.config.fee_rate)

    # ---- gamma --------------------------------------------------------------------------
    async def gamma_market(self, request: Request) -> Response:
        return JSONResponse(market_json(self._window(request.path_params["slug"]), self._fee()))

    async def gamma_event(self, request: Request) -> Response:
        return JSONResponse(event_json(self._window(request.path_params["slug"]), self._fee()))

    async def gamma_markets(self, request: Request) -> Response:
        slugs = request.query_params.getlist("slug")
        states = self.ex.markets.states
        return JSONResponse([market_json(states[s], self._fee()) for s in slugs if s in states])

    async def gamma_events(self, request: Request) -> Response:
        slugs = request.query_params.getlist("slug")
        states = self.ex.markets.states
        return JSONResponse([event_json(states[s], self._fee()) for s in slugs if s in states])

    # ---- clob public ----------------------------------------------------------------------
    async def ok(self, _request: Request) -> Response:
        return JSONResponse("OK")

    async def time(self, _request: Request) -> Response:
        return JSONResponse(int(self.ex.venue_now()))

    async def book(self, request: Request) -> Response:
        return JSONResponse(views.book(self.ex, request.query_params.get("token_id", "")))

    async def books(self, request: Request) -> Response:
        body = await self._json(request)
        if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
            raise VenueError("Invalid payload: expected a list of {token_id} objects")
        return JSONResponse([views.book(self.ex, str(i.get("token_id"))) for i in body])

    async def price(self, request: Request) -> Response:
        bid, ask = views.best(self.ex, request.query_params.get("token_id", ""))
        value = bid if request.query_params.get("side") == "SELL" else ask
        return JSONResponse({"price": str(value or 0)})

    async def midpoint(self, request: Request) -> Response:
        bid, ask = views.best(self.ex, request.query_params.get("token_id", ""))
        mid = ((bid or Decimal(0)) + (ask or Decimal(1))) / 2
        return JSONResponse({"mid": str(mid.normalize())})

    async def spread(self, request: Request) -> Response:
        bid, ask = views.best(self.ex, request.query_params.get("token_id", ""))
        return JSONResponse(
            {"spread": str(((ask or Decimal(1)) - (bid or Decimal(0))).normalize())}
        )

    async def tick_size(self, request: Request) -> Response:
        state = views.state_for(self.ex, request.query_params.get("token_id", ""))
        return JSONResponse({"minimum_tick_size": float(state.tick)})

    async def neg_risk(self, request: Request) -> Response:
        views.state_for(self.ex, request.query_params.get("token_id", ""))
        return JSONResponse({"neg_risk": False})

    async def fee_rate(self, request: Request) -> Response:
        views.state_for(self.ex, request.query_params.get("token_id", ""))
        return JSONResponse({"base_fee": int(self.ex.fee_bps()), "fee_rate": self._fee()})

    async def last_trade(self, request: Request) -> Response:
        token = request.query_params.get("token_id", "")
        views.state_for(self.ex, token)
        price, side = self.ex.markets.last_trade.get(token, (Decimal("0.5"), ""))
        return JSONResponse({"price": str(price), "side": side})

    async def market_by_token(self, request: Request) -> Response:
        state = views.state_for(self.ex, request.path_params["token"])
        return JSONResponse({"condition_id": state.window.condition_id})

    def _by_condition(self, cid: str):
        for state in self.ex.markets.states.values():
            if state.window.condition_id == cid:
                return state
        raise VenueError("market not found", status=404)

    async def clob_market(self, request: Request) -> Response:
        return JSONResponse(
            views.clob_market(self.ex, self._by_condition(request.path_params["cid"]))
        )

    async def legacy_market(self, request: Request) -> Response:
        return JSONResponse(
            views.legacy_market(self.ex, self._by_condition(request.path_params["cid"]))
        )
