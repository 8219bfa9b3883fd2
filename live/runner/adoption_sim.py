"""Adoption of the simulated copies (issue 15): a PAPER or DRY_RUN engine (a copy beside the LIVE
primary, or a simulated primary) takes over, at the trader's start and on takeover, what the
database says earlier runs of its mode left open — open positions with their stops, take-profits,
trailing peaks and lifecycle state, per-window entry counts, decided signals and the session's
realised P&L (live/store/adoption.py, the same loader LIVE uses). Its venue is in-process, so
there is no venue to ask: the simulated venue's ledger is rebuilt from the adopted positions (it
holds their shares; its cash is the paper balance less what they cost), a working order left by
the stop (a simulated venue answers at once, so only a kill between the send and its answer
leaves one) is cancelled, a fill still settling is final (a simulated venue's trades never fail),
and the windows that closed while nobody watched get the venue's resolution (read-only listing)
so the adopted positions settle. A copy that cannot adopt trips its own breaker and alerts; the
primary is not affected."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from live.kernel.adoption import Adoption, AdoptionError
from live.kernel.domain import ZERO, Mode, OrderState
from live.kernel.events import FillSettled, OrderAck, OrderCancel
from live.runner.adoption import _resolutions
from live.runner.slots import EngineSlot
from live.store import adoption as store
from live.venues.port import Venue

log = logging.getLogger(__name__)
CANCELLED_AT_ADOPTION = "simulated order left working by the stop: cancelled at the adoption"


def simulated(slots: list[EngineSlot]) -> list[EngineSlot]:
    """The slots whose engine trades on an in-process venue (PAPER, DRY_RUN)."""
    return [s for s in slots if s.engine.mode in (Mode.PAPER, Mode.DRY_RUN)]


def with_sim_cash(adoption: Adoption, balance: Decimal) -> Adoption:
    """`adoption` with the simulated venue's cash: `balance` (the run's paper balance, its starting
    cash) less what the adopted positions still tie up (cost + fees − proceeds, USDC), so that the
    balance assertion holds at the instant of the adoption."""
    tied = sum(
        (p.position.cost + p.position.fees - p.position.proceeds for p in adoption.positions),
        ZERO,
    )
    return replace(adoption, cash=balance - tied, initial_cash=balance)


def adopt_sim_ledger(engine: Any, adoption: Adoption) -> None:
    """The simulated venue's own ledger (its cash and holdings, the other book of assertions 4
    and 5) as the adopted positions left it: their shares held, their cost spent."""
    venue = engine.ledger.venue
    if venue is None:
        raise AdoptionError(f"{engine.mode} engine without a simulated venue")
    venue.cash = adoption.cash
    for ap in adoption.positions:
        token = ap.position.token_id
        venue.holdings[token] = venue.holdings.get(token, ZERO) + ap.position.shares


def answers(adoption: Adoption, now_ms: int) -> list[Any]:
    """The in-process venue's answers to what the stop left in flight: working orders cancelled
    (acked first if they never were), fills still settling final (CONFIRMED)."""
    events: list[Any] = []
    for ao in adoption.orders:
        order = ao.order
        if order.state in (OrderState.NEW, OrderState.SUBMITTED, OrderState.UNKNOWN):
            events.append(OrderAck(now_ms, order.client_order_id, f"sim-{order.client_order_id}"))
        events.append(OrderCancel(now_ms, order.client_order_id, CANCELLED_AT_ADOPTION))
    for fill in adoption.unsettled:
        events.append(FillSettled(now_ms, fill.client_order_id, fill.fill_id, "CONFIRMED"))
    return events


async def adopt_simulated(
    venue: Venue,
    pool: ConnectionPool,
    slot: EngineSlot,
    dispatch: Callable[[EngineSlot, Any], None],
    now_ms: int,
    instance_id: str,
    balance: Decimal,
) -> dict[str, Any]:
    """Adopt into `slot`'s simulated engine what the database holds for its mode; returns the
    adoption's summary (also recorded in `adoptions`). Raises AdoptionError or psycopg.Error
    when nothing could be adopted (the engine is then unchanged)."""
    mode = str(slot.engine.mode)
    adoption, excluded = await asyncio.to_thread(_load, pool, mode, now_ms)
    adoption = with_sim_cash(adoption, balance)
    slot.engine.adopt(adoption)
    adopt_sim_ledger(slot.engine, adoption)
    events = answers(adoption, now_ms) + await _resolutions(venue, adoption, now_ms)
    for event in events:
        dispatch(slot, event)
    await slot.persist.flush()
    summary = {
        **adoption.summary(),
        "mode": mode,
        "venue_answers": [f"{type(e).__name__} {_key(e)}" for e in events],
    }
    await asyncio.to_thread(_record, pool, instance_id, slot.engine.run_id, summary, excluded)
    log.info(
        "%s copy adopted %d position(s), %d working order(s); %d answer(s)",
        mode,
        len(adoption.positions),
        len(adoption.orders),
        len(events),
    )
    return summary


async def adopt_copies(runner: Any) -> dict[str, dict[str, Any]]:
    """Every simulated slot of `runner` adopts its mode's rows; a slot that fails trips its own
    breaker and raises `reconciliation_mismatch` (its adoption summary then holds the error)."""
    out: dict[str, dict[str, Any]] = {}
    for slot in simulated(runner.slots):
        try:
            out[slot.name] = await adopt_simulated(
                runner.venue,
                runner.pool,
                slot,
                runner.dispatch_to,
                runner.now_ms(),
                runner.config.instance_id,
                runner.config.paper_balance_usd,
            )
        except (AdoptionError, psycopg.Error) as exc:
            reason = f"{slot.name} adoption failed: {type(exc).__name__}: {exc}"
            out[slot.name] = {"error": reason}
            slot.engine.trip(reason)
            slot.persist.add(slot.engine.take_records())
            runner.alarms.raise_(
                "reconciliation_mismatch",
                runner.config.instance_id,
                reason,
                f"{slot.name} breaker tripped; the primary trades on",
            )
    return out


def _key(event: Any) -> str:
    return getattr(event, "client_order_id", None) or getattr(event, "slug", "")


def _load(pool: ConnectionPool, mode: str, now_ms: int) -> tuple[Adoption, list]:
    with pool.connection() as conn:
        return store.load_adoption(conn, mode, now_ms)


def _record(pool: ConnectionPool, instance_id: str, run_id: str, summary: dict, excluded) -> None:
    with pool.connection() as conn:
        store.record_adoption(conn, instance_id, run_id, summary, excluded)
