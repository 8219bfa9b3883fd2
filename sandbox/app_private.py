"""Authenticated CLOB routes, Data API, relayer stub and the /_sandbox control surface,
mixed into `sandbox.app.Api`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox import balance_cache, restart, views
from sandbox.auth import derive_creds, verify_l1
from sandbox.faults import FaultError, FaultKind, parse_fault
from sandbox.refusals import VenueError
from sandbox.wire import order_json, trade_json

MAX_FUND_USD = Decimal(10) ** 12  # more than any drill needs; keeps the ledger's sums finite


class PrivateRoutes:
    """Handlers that need `self.ex`, `self.hub`, `self._l2`, `self._json`, `self.urls`."""

    # ---- api keys ---------------------------------------------------------------------
    def _l1(self, request: Request):
        headers = {k.lower(): v for k, v in request.headers.items()}
        address, nonce = verify_l1(headers, self.ex.config.chain_id)
        return derive_creds(self.ex.server_secret, address, nonce)

    def _creds_json(self, creds) -> JSONResponse:
        self.ex.keys[creds.key] = creds
        self.ex.key_issued[creds.key] = self.ex.clock()
        self.ex.ledger.account(creds.address)
        return JSONResponse(
            {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase}
        )

    async def create_key(self, request: Request) -> Response:
        creds = self._l1(request)
        if creds.key in self.ex.keys:
            raise VenueError("Could not create api key")
        return self._creds_json(creds)

    async def derive_key(self, request: Request) -> Response:
        return self._creds_json(self._l1(request))

    async def list_keys(self, request: Request) -> Response:
        creds = await self._l2(request)
        keys = [k for k, c in self.ex.keys.items() if c.address.lower() == creds.address.lower()]
        return JSONResponse({"apiKeys": keys})

    async def delete_key(self, request: Request) -> Response:
        creds = await self._l2(request)
        self.ex.keys.pop(creds.key, None)
        return JSONResponse("OK")

    async def closed_only(self, request: Request) -> Response:
        await self._l2(request)
        return JSONResponse({"closed_only": False})

    # ---- orders -------------------------------------------------------------------------
    async def post_order(self, request: Request) -> Response:
        creds = await self._l2(request)
        return JSONResponse(self.ex.post_order(creds, await self._json(request)))

    async def post_orders(self, request: Request) -> Response:
        creds = await self._l2(request)
        body = await self._json(request)
        if not isinstance(body, list):
            raise VenueError("Invalid order payload")
        out = []
        for item in body:
            try:
                out.append(self.ex.post_order(creds, item))
            except VenueError as exc:
                out.append(
                    {
                        "success": False,
                        "errorMsg": exc.message,
                        "orderID": "",
                        "status": "",
                        "makingAmount": "",
                        "takingAmount": "",
                    }
                )
        return JSONResponse(out)

    async def cancel_order(self, request: Request) -> Response:
        creds = await self._l2(request)
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("orderID"), str):
            raise VenueError("Invalid order payload")
        return JSONResponse(self.ex.cancel(creds.key, [body["orderID"]]))

    async def cancel_orders(self, request: Request) -> Response:
        creds = await self._l2(request)
        body = await self._json(request)
        if not isinstance(body, list):
            raise VenueError("Invalid order payload")
        return JSONResponse(self.ex.cancel(creds.key, [str(i) for i in body]))

    async def cancel_all(self, request: Request) -> Response:
        creds = await self._l2(request)
        return JSONResponse(self.ex.cancel_all(creds.key))

    async def cancel_market(self, request: Request) -> Response:
        creds = await self._l2(request)
        body = await self._json(request) or {}
        if not isinstance(body, dict):
            raise VenueError("Invalid payload")
        return JSONResponse(
            self.ex.cancel_all(creds.key, body.get("market") or None, body.get("asset_id") or None)
        )

    async def get_order(self, request: Request) -> Response:
        creds = await self._l2(request)
        order = self.ex.orders.get(request.path_params["order_id"])
        if order is None or order.owner != creds.key or not order.is_open:
            raise VenueError("order not found", status=404)
        if not self.ex.visible(order.id):
            raise VenueError("order not found", status=404)
        return JSONResponse(order_json(order, bool(self.ex.config.order_status_prefixed)))

    async def list_orders(self, request: Request) -> Response:
        creds = await self._l2(request)
        q = request.query_params
        prefixed = bool(self.ex.config.order_status_prefixed)
        orders = [
            order_json(o, prefixed)
            for o in self.ex.open_orders(creds.key)
            if self.ex.visible(o.id)
            and q.get("id") in (None, o.id)
            and q.get("market") in (None, o.condition_id)
            and q.get("asset_id") in (None, o.token)
        ]
        return JSONResponse(views.page(orders, q.get("next_cursor"), 100))

    async def list_trades(self, request: Request) -> Response:
        creds = await self._l2(request)
        q = request.query_params
        after, before = _whole(q, "after", 0), _whole(q, "before", 2**62)
        trades = [
            trade_json(t)
            for t in reversed(self.ex.trades)
            if t.owner == creds.key
            and self.ex.visible(t.taker_order_id)
            and q.get("id") in (None, t.id)
            and q.get("market") in (None, t.condition_id)
            and q.get("asset_id") in (None, t.cross_token or t.token)
            and after <= t.match_time <= before
        ]
        return JSONResponse(views.page(trades, q.get("next_cursor"), self.ex.config.page_size))

    async def balance(self, request: Request) -> Response:
        creds = await self._l2(request)
        q = request.query_params
        asset_type = q.get("asset_type", "COLLATERAL")
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            raise VenueError("invalid asset_type")
        if asset_type == "CONDITIONAL":
            views.state_for(self.ex, q.get("token_id", ""))
        return JSONResponse(views.balance(self.ex, creds.address, asset_type, q.get("token_id")))

    async def balance_update(self, request: Request) -> Response:
        creds = await self._l2(request)
        q = request.query_params
        asset_type = q.get("asset_type", "COLLATERAL")
        if asset_type not in ("COLLATERAL", "CONDITIONAL"):
            raise VenueError("invalid asset_type")
        if asset_type == "CONDITIONAL":
            views.state_for(self.ex, q.get("token_id", ""))
        asset = "COLLATERAL" if asset_type == "COLLATERAL" else q.get("token_id", "")
        balance_cache.refresh(self.ex, creds.address, asset)
        return JSONResponse({})

    async def heartbeat(self, request: Request) -> Response:
        creds = await self._l2(request)
        body = await self._json(request)
        hb_id = body.get("heartbeat_id", "") if isinstance(body, dict) else ""
        status, payload = self.ex.heartbeat(creds.key, str(hb_id or ""))
        return JSONResponse(payload, status_code=status)

    # ---- data api / relayer -------------------------------------------------------------
    async def positions(self, request: Request) -> Response:
        user = request.query_params.get("user", "")
        return JSONResponse([r for r in views.positions(self.ex, user) if r["size"] > 0])

    async def positions_v2(self, request: Request) -> Response:
        user = request.query_params.get("user", "")
        rows = views.positions_v2(self.ex, user, request.query_params.get("status"))
        cid = request.query_params.get("condition_id")
        if cid:
            rows = [r for r in rows if r["condition_id"] == cid]
        return JSONResponse({"data": rows, "pagination": {"has_more": False, "next_cursor": None}})

    async def deployed(self, _request: Request) -> Response:
        return JSONResponse({"deployed": True})

    # ---- sandbox control ------------------------------------------------------------------
    async def state(self, _request: Request) -> Response:
        return JSONResponse(views.sandbox_state(self.ex, self.urls()))

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            kind = request.query_params.get("kind")
            try:
                self.ex.clear_faults(FaultKind(kind) if kind else None)
            except ValueError:
                return JSONResponse({"error": f"unknown fault kind {kind!r}"}, status_code=400)
            return JSONResponse({"faults": [f.to_json() for f in self.ex.faults.active]})
        try:
            fault = parse_fault(await self._json(request))
        except (FaultError, VenueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if fault.kind is FaultKind.DISCONNECT:
            closed = await self.hub.disconnect(fault.channel)
            return JSONResponse({"disconnected": closed})
        if fault.kind is FaultKind.ROTATE_TOKEN_IDS:
            return JSONResponse({"rotated": self._rotate(fault.asset or "")})
        if fault.kind is FaultKind.ENGINE_RESTART:
            began = restart.begin(
                self.ex, fault.seconds or 0.0, fault.post_only_seconds or 0.0, fault.heartbeats
            )
            return JSONResponse({"ready_at": began.ready_at, "open_at": began.open_at})
        if fault.kind is FaultKind.EXPIRE_CREDENTIALS:
            expired = len(self.ex.keys)
            self.ex.keys.clear()
            self.ex.counters["credentials_expired"] += expired
            return JSONResponse({"expired": expired})
        self.ex.faults.add(fault)
        return JSONResponse({"faults": [f.to_json() for f in self.ex.faults.active]})

    def _rotate(self, asset: str) -> list[dict]:
        out = []
        for state, old in self.ex.markets.rotate(asset, self.ex.clock()):
            for token in old.tokens:
                for order in list(self.ex.resting.get(token, [])):
                    self.ex.cancel(order.owner, [order.id])
            out.append(
                {
                    "slug": state.window.slug,
                    "old": list(old.tokens),
                    "new": list(state.window.tokens),
                }
            )
        return out

    async def fund(self, request: Request) -> Response:
        try:
            body = await self._json(request)
            usd = Decimal(str(body["usd"]))
            if not usd.is_finite() or abs(usd) > MAX_FUND_USD:
                raise InvalidOperation
            acct = self.ex.ledger.fund(str(body["address"]), usd)
            balance_cache.forget(self.ex, acct.address)
        except (KeyError, TypeError, InvalidOperation, VenueError):
            error = f"need address and usd (a decimal of at most {MAX_FUND_USD} in size)"
            return JSONResponse({"error": error}, status_code=400)
        return JSONResponse({"address": acct.address, "usdc": str(acct.usdc)})


def _whole(query, name: str, default: int) -> int:
    """A whole-number query parameter (unix seconds), or the venue's 400 naming it."""
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.lstrip("-").isdigit()):
        raise VenueError(f"{name} must be a whole number of seconds, got {raw!r}")
    return int(raw)
