"""Records the engine emits for persistence, one type per table (migrations 001, 003 and 007).

Field names are the table's column names. Conventions the sink relies on: a field named `ts` or
ending in `_ts` is epoch milliseconds (the sink turns it into timestamptz); Decimal fields are
NUMERIC; Mapping fields are jsonb; enums are their string value. `Order` and `Position` (from
`domain`) are themselves records: the engine emits the whole row after every change, and the
sink upserts them by primary key. All other records are appended (ids are bigserial in the DB).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import Enum
from typing import Any

from live.kernel.domain import Fill, Mode, Order, Position


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """Table `signals`."""

    signal_id: str
    ts: int
    mode: Mode
    run_id: str | None
    strategy: str
    window_slug: str
    asset: str
    side: str
    usd: Decimal
    max_price: Decimal | None
    confidence: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing_stop: Decimal | None
    inputs: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """Table `decisions`: one risk verdict, its inputs and the audit sentence."""

    ts: int
    mode: Mode
    run_id: str | None
    signal_id: str | None
    strategy: str
    window_slug: str
    verdict: str  # APPROVED | DENIED
    code: str | None
    detail: Mapping[str, Any]
    inputs: Mapping[str, Any]
    audit: str


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """Table `order_events`: one order state transition."""

    client_order_id: str
    ts: int
    from_state: str | None
    to_state: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PositionEventRecord:
    """Table `position_events`: one position state transition with its prices. An exit's events
    (trigger, exit order sent, exit fills, closed; a time exit and its settlement) carry the exit's
    inputs in `detail` and their sentence in `audit` (audit.exit_sentence; migration 007)."""

    position_id: str
    ts: int
    from_state: str | None
    to_state: str
    trigger_price: Decimal | None = None
    intended_price: Decimal | None = None
    actual_price: Decimal | None = None
    mark_price: Decimal | None = None
    pnl_gross: Decimal | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    audit: str | None = None


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    """Table `settlements`: our resolution against the venue's (unique per window, mode, run),
    with its sentence (audit.settlement_sentence of the row's own fields; migration 007)."""

    window_slug: str
    mode: Mode
    run_id: str | None
    ours: str  # UP | DOWN | UNCERTAIN
    venue: str | None
    agreement: str  # agree | disagree | uncertain | pending
    rule: str
    strike: Decimal | None
    settlement_price: Decimal | None
    ts: int
    confirmed_ts: int | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    audit: str | None = None


@dataclass(frozen=True, slots=True)
class RedemptionRecord:
    """Table `redemptions` (migration 003): a resolved position's way to cash. PENDING from the
    resolution ("resolved, awaiting redemption": a receivable of `expected_usd`, $1 a winning
    share, $0 a losing one) until a confirmed redemption makes it REDEEMED (the cash arrived);
    the latest row per position wins. `venue_paid_usd` is what the venue said the redemption of
    the whole window paid, when it says."""

    position_id: str
    mode: Mode
    run_id: str | None
    window_slug: str
    condition_id: str
    token_id: str
    shares: Decimal
    won: bool
    expected_usd: Decimal
    status: str  # PENDING | REDEEMED
    resolved_ts: int
    redeemed_ts: int | None = None
    via: str | None = None  # rpc | relayer | operator | none
    tx_hash: str | None = None
    attempts: int = 0
    venue_paid_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    """Table `balances`: source is venue (reported), expected (our ledger's cash), engine (the
    simulated venue's) or receivable (resolved, awaiting redemption; migration 003)."""

    ts: int
    mode: Mode
    run_id: str | None
    source: str
    usd: Decimal
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AssertionRecord:
    """Table `assertion_results`: one runtime assertion's result."""

    ts: int
    name: str
    ok: bool
    detail: Mapping[str, Any]
    mode: Mode | None
    run_id: str | None
    window_slug: str | None = None


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """Table `breaker_events`: the circuit breaker tripped (or was reset), with its sentence
    (audit.breaker_sentence of the row's own fields; migration 007)."""

    ts: int
    tripped: bool
    reason: str
    detail: Mapping[str, Any]
    mode: Mode | None
    run_id: str | None
    instance_id: str | None = None
    audit: str | None = None


Record = (
    SignalRecord
    | DecisionRecord
    | Order
    | OrderEventRecord
    | Fill
    | Position
    | PositionEventRecord
    | SettlementRecord
    | RedemptionRecord
    | BalanceRecord
    | AssertionRecord
    | BreakerRecord
)

TABLE: dict[type, str] = {
    SignalRecord: "signals",
    DecisionRecord: "decisions",
    Order: "orders",
    OrderEventRecord: "order_events",
    Fill: "fills",
    Position: "positions",
    PositionEventRecord: "position_events",
    SettlementRecord: "settlements",
    RedemptionRecord: "redemptions",
    BalanceRecord: "balances",
    AssertionRecord: "assertion_results",
    BreakerRecord: "breaker_events",
}

# Upserted by these keys; every other table is append-only.
PRIMARY_KEY: dict[type, str] = {
    Order: "client_order_id",
    Position: "position_id",
    Fill: "fill_id",
    SignalRecord: "signal_id",
    RedemptionRecord: "position_id",
}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def as_row(record: Record) -> tuple[str, dict[str, Any]]:
    """(table, {column: value}) with enums as strings; times stay epoch ms, money Decimal."""
    return TABLE[type(record)], {f.name: _plain(getattr(record, f.name)) for f in fields(record)}


def time_columns(record_type: type) -> tuple[str, ...]:
    """Columns holding epoch ms that the sink must convert to timestamptz."""
    return tuple(f.name for f in fields(record_type) if f.name == "ts" or f.name.endswith("_ts"))
