"""Cross-matching (the `cross_match` fault): the venue matches a BUY of Up against a BUY of Down
at prices summing to 1 by minting a pair (and a SELL against a SELL by merging one). The trade
record then names the TAKER's token, outcome and price at its top level, while each maker entry
carries its own `asset_id`, `side` and `price`. Sources: Polymarket/ctf-exchange
docs/mixins/Trading.md (`_fillFacingExchange`: "a buy + buy is being matched, a mint (split)
happens"; `_validateTakerAndMaker`: for MINT and MERGE the token ids are complementary); SDK
polymarket-client 0.14.0 models/clob/account.py MakerOrder and models/clob/user_events.py
UserTradeMakerOrder (asset_id, side, outcome per maker entry). Deterministic: while the fault is
active (`count` uses), every maker fill of a user order is a cross-match, and resting user orders
are taken at once (take_resting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.faults import FaultKind

if TYPE_CHECKING:
    from sandbox.exchange import Exchange
    from sandbox.markets import WindowState
    from sandbox.records import Order


def taker_token(ex: Exchange, state: WindowState, maker: Order) -> tuple[str, str] | tuple[()]:
    """(token, outcome) of the taker on the other side of the market when the cross_match
    fault fires for this maker fill, else () (an ordinary fill on the maker's own token)."""
    if ex.faults.fire(FaultKind.CROSS_MATCH, state.window.asset) is None:
        return ()
    window = state.window
    if maker.token == window.token_up:
        return (window.token_down, "Down")
    return (window.token_up, "Up")


def take_resting(ex: Exchange, state: WindowState, token: str) -> int:
    """While the cross_match fault is active for the window's asset, a taker on the other token
    takes every user order resting on `token` at once, in full, at the order's price (a BUY of
    Down at p meets a BUY of Up at 1 - p). Returns the orders filled."""
    filled = 0
    for order in list(ex.resting.get(token, [])):
        if ex.faults.find(FaultKind.CROSS_MATCH, state.window.asset) is None:
            break
        if order.remaining > 0:
            ex.fill_resting_by_maker(order, state, order.price, order.remaining)
            filled += 1
    return filled
