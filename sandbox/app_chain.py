"""Routes for settling to cash the way Polymarket does, mixed into `sandbox.app.Api`: the Polygon
JSON-RPC endpoint (`/rpc`), the relayer's transaction endpoints, the CLOB's notifications, the
Gamma keyset market listing `redeem_positions` reads, and the Data API's trading approvals."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox import relayer, rpc, views
from sandbox.gamma import market_json
from sandbox.refusals import VenueError
from sandbox.windows import WindowStatus


class ChainRoutes:
    """Handlers that need `self.ex`, `self._l2`, `self._json` and `self._fee` from the host."""

    async def rpc(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:  # not JSON, or not UTF-8 text
            error = {"code": -32700, "message": "parse error"}
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error})
        return JSONResponse(rpc.answer(self.ex, body))

    # ---- relayer ------------------------------------------------------------------------
    async def relayer_submit(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return JSONResponse(relayer.submit(self.ex, headers, await self._json(request)))

    async def relayer_transaction(self, request: Request) -> Response:
        return JSONResponse(relayer.transaction(self.ex, request.path_params["tx_id"]))

    async def relayer_params(self, request: Request) -> Response:
        address = request.query_params.get("address", "")
        return JSONResponse(relayer.execute_params(self.ex, address))

    # ---- clob notifications ---------------------------------------------------------------
    async def notifications(self, request: Request) -> Response:
        creds = await self._l2(request)
        if request.method == "DELETE":
            raw = request.query_params.get("ids", "")
            try:
                ids = {int(part) for part in raw.split(",") if part.strip()}
            except ValueError as exc:
                raise VenueError("ids must be a comma list of notification ids") from exc
            self.ex.notifications.drop(creds.address, ids)
            return JSONResponse("OK")
        return JSONResponse(self.ex.notifications.of(creds.address, creds.key))

    # ---- gamma keyset listing (what redeem_positions looks the market up with) ------------
    async def gamma_keyset(self, request: Request) -> Response:
        q = request.query_params
        wanted = {
            name: {v.lower() for raw in q.getlist(name) for v in raw.split(",") if v}
            for name in ("condition_ids", "slug", "id", "clob_token_ids")
        }
        closed = q.get("closed")
        rows = []
        for state in self.ex.markets.states.values():
            w = state.window
            keys = {
                "condition_ids": {w.condition_id.lower()},
                "slug": {w.slug},
                "id": {w.market_id},
                "clob_token_ids": set(w.tokens),
            }
            if any(want and not (want & keys[name]) for name, want in wanted.items()):
                continue
            is_closed = state.status in (WindowStatus.CLOSED, WindowStatus.RESOLVED)
            if closed is not None and (closed.lower() == "true") != is_closed:
                continue
            rows.append(market_json(state, self._fee()))
        limit = q.get("limit", "20")
        if not (limit.isascii() and limit.isdigit()):
            raise VenueError("limit must be a whole number")
        return JSONResponse({"markets": rows[: int(limit)], "next_cursor": None})

    # ---- data api approvals -----------------------------------------------------------------
    async def approvals(self, request: Request) -> Response:
        user = request.query_params.get("user", "")
        if not user:
            raise VenueError("user is required")
        return JSONResponse({"data": views.approvals(self.ex, user)})
