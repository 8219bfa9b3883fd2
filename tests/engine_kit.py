"""Builders for engine tests: windows, books, scenario events and a ready engine (no mocks)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from live.kernel.controls import Controls
from live.kernel.domain import Asset, Mode, Outcome, SettlementRule, Window
from live.kernel.engine import Engine, EngineConfig
from live.kernel.events import (
    BookSnapshot,
    ControlChange,
    OracleTick,
    Resolved,
    SignalLine,
    Timer,
    WindowListed,
)
from live.kernel.strategy import Strategy
from strategies import resolve

OPEN = 1_780_000_000_000
LENGTH_MS = 300_000
CLOSE = OPEN + LENGTH_MS


def window(
    asset: str = "BTC",
    open_ts: int = OPEN,
    length_ms: int = LENGTH_MS,
    strike: str | None = "100000",
    rule: SettlementRule = SettlementRule.SPOT_AT_CLOSE,
    fee_rate: str = "0.07",
    tick: str = "0.01",
) -> Window:
    slug = f"{asset.lower()}-updown-5m-{open_ts // 1000}"
    return Window(
        slug=slug,
        asset=Asset(asset),
        length_s=length_ms // 1000,
        open_ts=open_ts,
        close_ts=open_ts + length_ms,
        condition_id=f"0x{slug}",
        token_up=f"{slug}-up",
        token_down=f"{slug}-down",
        tick_size=Decimal(tick),
        min_size=Decimal("5"),
        fee_rate=Decimal(fee_rate),
        settlement_rule=rule,
        strike=None if strike is None else Decimal(strike),
    )


def listed(w: Window, ts: int | None = None) -> WindowListed:
    return WindowListed(w.open_ts - 60_000 if ts is None else ts, w)


def book(
    ts: int,
    token_id: str,
    bids: Iterable[tuple[float, float]] = (),
    asks: Iterable[tuple[float, float]] = (),
) -> BookSnapshot:
    return BookSnapshot(ts, token_id, tuple(bids), tuple(asks))


def two_sided(ts: int, w: Window, up_bid: float, up_ask: float, size: float = 100.0):
    """Books for both tokens around an Up price (Down mirrors it)."""
    return [
        book(ts, w.token_up, [(up_bid, size)], [(up_ask, size)]),
        book(ts, w.token_down, [(round(1 - up_ask, 3), size)], [(round(1 - up_bid, 3), size)]),
    ]


def signal(ts: int, w: Window, side: str = "UP", usd: str = "1", **extra: Any) -> SignalLine:
    risk = {
        k: Decimal(v)
        for k, v in extra.items()
        if k in ("stop_loss", "take_profit", "trailing_stop", "max_price")
    }
    ident = extra.get("signal_id")
    return SignalLine(ts, w.slug, Outcome(side), Decimal(usd), signal_id=ident, **risk)


def oracle(ts: int, price: str, asset: str = "BTC") -> OracleTick:
    return OracleTick(ts, Asset(asset), Decimal(price), "test")


def resolved(ts: int, w: Window, winner: str) -> Resolved:
    return Resolved(ts, w.slug, Outcome(winner))


def control(ts: int, key: str, value: str) -> ControlChange:
    return ControlChange(ts, key, value)


def timer(ts: int) -> Timer:
    return Timer(ts)


def make_engine(
    strategies: str | Sequence[Strategy] = "scripted",
    mode: Mode = Mode.PAPER,
    balance: str | None = "100",
    controls: Controls | None = None,
    promoted: Any = None,
    **kw: Any,
) -> Engine:
    chosen = resolve(strategies) if isinstance(strategies, str) else list(strategies)
    if controls is None:
        controls = Controls(allowed_strategies=None)
        if mode is Mode.DRY_RUN:
            controls = controls.with_value("trading_mode", "DRY_RUN")
        if mode is Mode.LIVE:
            controls = controls.with_value("trading_mode", "LIVE")
    config = EngineConfig(
        mode=mode,
        strategies=chosen,
        run_id="t",
        controls=controls,
        balance_usd=None if balance is None else Decimal(balance),
        promoted=promoted or (lambda name: False),
        **kw,
    )
    return Engine(config)


def run(engine: Engine, events: Iterable[Any]) -> list[Any]:
    """Feed events; return all commands."""
    commands = []
    for event in events:
        commands.extend(engine.process(event))
    return commands


def of_type(records: Iterable[Any], cls: type) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]
