"""Fault injection: what can be switched on through POST /_sandbox/faults, and queries the
exchange, the HTTP layer and the WebSocket hub make against the active set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from sandbox.restart import DEFAULT_POST_ONLY_S, DEFAULT_RESTART_S


class FaultKind(StrEnum):
    STALL_FEED = "stall_feed"
    DISCONNECT = "disconnect"
    REJECT_ORDERS = "reject_orders"
    DROP_CONFIRMATIONS = "drop_confirmations"
    PARTIAL_FILL = "partial_fill"
    ROTATE_TOKEN_IDS = "rotate_token_ids"
    DELAY_SETTLEMENT = "delay_settlement"
    CONTRADICT_SETTLEMENT = "contradict_settlement"
    CLOCK_SKEW = "clock_skew"
    HTTP_ERROR = "http_error"
    BALANCE_OFFSET = "balance_offset"
    HOLD_CONFIRMATIONS = "hold_confirmations"  # trades stay MATCHED 30-60 s (or `seconds`)
    FAIL_TRADES = "fail_trades"  # trades go MATCHED -> RETRYING -> FAILED, fill undone
    FAIL_REDEMPTIONS = "fail_redemptions"  # redemption transactions revert (nothing paid)
    DELAY_ORDERS = "delay_orders"  # marketable orders answered "delayed", matched `seconds` later
    CROSS_MATCH = "cross_match"  # a resting order is filled by a taker on the OTHER token (mint)
    TICK_SIZE = "tick_size"  # the market's tick forced to `tick` (0.01 | 0.001) while active
    ENGINE_RESTART = "engine_restart"  # 425 on posts/cancels for `seconds`, then post-only
    EXPIRE_CREDENTIALS = "expire_credentials"  # every API key answers 401 until re-derived


CHANNELS = ("market", "user", "prices")
HTTP_STATUSES = (425, 429, 500, 503)
TICKS = (Decimal("0.01"), Decimal("0.001"))


class FaultError(ValueError):
    """A fault request is malformed; the message says which field."""


@dataclass(slots=True)
class Fault:
    """One active fault. `count` (when set) is decremented as the fault fires."""

    kind: FaultKind
    channel: str | None = None
    asset: str | None = None
    count: int | None = None
    message: str | None = None
    ratio: Decimal | None = None
    seconds: float | None = None
    status: int | None = None
    path: str | None = None
    usd: Decimal | None = None
    tick: Decimal | None = None  # tick_size: the forced tick
    hide_trades: bool = False  # drop_confirmations: REST hides the order and its trades too
    processed: bool = False  # http_error: the request is handled, then the error is returned
    post_only_seconds: float | None = None  # engine_restart: the post-only period after it
    heartbeats: bool = False  # engine_restart: heartbeats are answered 425 too
    fired: int = 0

    def to_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if v is not None and v is not False}
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in out.items()}


def _decimal(body: dict, name: str) -> Decimal:
    try:
        return Decimal(str(body[name]))
    except (KeyError, InvalidOperation) as exc:
        raise FaultError(f"{name} must be a number") from exc


def parse_fault(body: object) -> Fault:
    """Validate a JSON fault request into a Fault."""
    if not isinstance(body, dict) or "kind" not in body:
        raise FaultError('body must be a JSON object with "kind"')
    try:
        kind = FaultKind(body["kind"])
    except ValueError as exc:
        raise FaultError(f"unknown fault kind {body['kind']!r}") from exc
    fault = Fault(kind=kind, asset=_asset(body), count=_count(body), message=body.get("message"))
    channel = body.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise FaultError(f"channel must be one of {CHANNELS}")
    fault.channel = channel
    fault.path = body.get("path")
    if kind is FaultKind.PARTIAL_FILL:
        fault.ratio = _decimal(body, "ratio")
        if not Decimal(0) < fault.ratio < Decimal(1):
            raise FaultError("ratio must be between 0 and 1")
    if kind in (FaultKind.DELAY_SETTLEMENT, FaultKind.CLOCK_SKEW):
        fault.seconds = float(_decimal(body, "seconds"))
    if kind in (FaultKind.HOLD_CONFIRMATIONS, FaultKind.DELAY_ORDERS) and "seconds" in body:
        fault.seconds = float(_decimal(body, "seconds"))
        if not 0 <= fault.seconds <= 3600:
            raise FaultError("seconds must be 0..3600")
    if kind is FaultKind.ENGINE_RESTART:
        fault.seconds = float(_decimal(body, "seconds")) if "seconds" in body else DEFAULT_RESTART_S
        fault.post_only_seconds = (
            float(_decimal(body, "post_only_seconds"))
            if "post_only_seconds" in body
            else DEFAULT_POST_ONLY_S
        )
        if not 0 < fault.seconds <= 3600 or not 0 <= fault.post_only_seconds <= 3600:
            raise FaultError("seconds must be 0..3600 (above 0), post_only_seconds 0..3600")
        fault.heartbeats = _flag(body, "heartbeats")
    if kind is FaultKind.HTTP_ERROR:
        fault.status = int(body.get("status", 0))
        if fault.status not in HTTP_STATUSES:
            raise FaultError(f"status must be one of {HTTP_STATUSES}")
        fault.processed = _flag(body, "processed")
    if kind is FaultKind.DROP_CONFIRMATIONS:
        fault.hide_trades = _flag(body, "hide_trades")
    if kind is FaultKind.TICK_SIZE:
        fault.tick = _decimal(body, "tick")
        if fault.tick not in TICKS:
            raise FaultError(f"tick must be one of {[str(t) for t in TICKS]}")
    if kind is FaultKind.BALANCE_OFFSET:
        fault.usd = _decimal(body, "usd")
    if kind is FaultKind.ROTATE_TOKEN_IDS and fault.asset is None:
        raise FaultError("rotate_token_ids needs an asset")
    return fault


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _asset(body: dict) -> str | None:
    asset = body.get("asset")
    return None if asset is None else str(asset).upper()


def _count(body: dict) -> int | None:
    count = body.get("count")
    if count is None:
        return None
    if not isinstance(count, int) or count < 1:
        raise FaultError("count must be a positive integer")
    return count


@dataclass(slots=True)
class FaultBook:
    """The active faults, in the order they were injected."""

    active: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> None:
        self.active.append(fault)

    def clear(self, kind: FaultKind | None = None) -> None:
        """Switch off every fault, or every fault of one kind."""
        self.active[:] = [f for f in self.active if kind is not None and f.kind is not kind]

    def find(self, kind: FaultKind, asset: str | None = None) -> Fault | None:
        for fault in self.active:
            if fault.kind is kind and (
                fault.asset is None or asset is None or fault.asset == asset
            ):
                return fault
        return None

    def fire(
        self, kind: FaultKind, asset: str | None = None, path: str | None = None
    ) -> Fault | None:
        """Return a matching fault and consume one use of its count (removing it at zero)."""
        for fault in self.active:
            if fault.kind is not kind:
                continue
            if fault.asset is not None and asset is not None and fault.asset != asset:
                continue
            if fault.path is not None and (path is None or not path.startswith(fault.path)):
                continue
            fault.fired += 1
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.active.remove(fault)
            return fault
        return None

    def stalled(self, channel: str, asset: str | None) -> bool:
        for fault in self.active:
            if fault.kind is not FaultKind.STALL_FEED:
                continue
            if fault.channel not in (None, channel):
                continue
            if fault.asset is None or asset is None or fault.asset == asset:
                return True
        return False

    def skew(self) -> float:
        fault = self.find(FaultKind.CLOCK_SKEW)
        return fault.seconds if fault and fault.seconds else 0.0

    def balance_offset(self) -> Decimal:
        fault = self.find(FaultKind.BALANCE_OFFSET)
        return fault.usd if fault and fault.usd is not None else Decimal(0)
