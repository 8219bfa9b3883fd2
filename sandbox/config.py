"""Typed, validated configuration of one sandbox exchange."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sandbox.realism import PROFILES, Realism, Span, check_span

KNOWN_ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB")


class SettlementRule(StrEnum):
    SPOT_AT_CLOSE = "spot_at_close"
    TWAP_60S = "twap_60s"


class ConfigError(ValueError):
    """A configuration value is out of range or unknown."""


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything that shapes the synthetic venue. Validated at construction."""

    host: str = "127.0.0.1"
    port: int = 8701
    seed: int = 0
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP")
    window_seconds: tuple[int, ...] = (300, 900)
    settle_delay: float = 30.0
    settlement_rule: SettlementRule = SettlementRule.SPOT_AT_CLOSE
    fee_rate: Decimal = Decimal("0.07")
    start_balance: Decimal = Decimal("1000")
    heartbeat_timeout: float = 10.0
    list_ahead: int = 2
    trade_step_seconds: float = 0.3
    tick_seconds: float = 1.0
    chain_id: int = 137
    page_size: int = 100
    # Realism (docs/sandbox.md, "Realism"): `realism` picks a profile; every option left at
    # None takes the profile's value, an explicit value overrides it. The default is `venue`
    # (Polymarket as its users report it: redeem to get paid, seconds-to-tens-of-seconds
    # settlement, Data API lag); `instant` only where a test says why.
    realism: Realism = Realism.VENUE
    payout_at_resolution: bool | None = None
    auto_redeem_delay: float | None = None
    trade_mined_seconds: Span | None = None
    trade_confirmed_seconds: Span | None = None
    hold_seconds: Span | None = None
    tx_mined_seconds: Span | None = None
    tx_confirmed_seconds: Span | None = None
    data_lag_seconds: float | None = None
    settled_spend_only: bool | None = None
    trade_status_prefixed: bool | None = None
    delayed_share: float | None = None
    delayed_seconds: Span | None = None
    balance_cache: bool | None = None
    fee_reported_zero: bool | None = None
    order_status_prefixed: bool | None = None
    # L2 authentication (issue 14, no profile value: a drill sets them): an API key stops
    # authenticating `credential_lifetime_s` after it was created or last derived; a request
    # whose POLY_TIMESTAMP is more than `max_timestamp_age_s` from the venue's clock is refused.
    credential_lifetime_s: float | None = None
    max_timestamp_age_s: float | None = None
    # Price-path pinning (tests and reproducible demos): the oracle path is a pure function of
    # (seed, asset, unix second), so by default what the venue quotes depends on the time of
    # day it runs. With `path_start` set (a unix second), the path is read from that second
    # onwards: the window in progress when the exchange is built maps to the path window
    # containing `path_start`, and every later second keeps the same offset. Slugs, order
    # timestamps and the oracle's report times stay wall-clock.
    path_start: int | None = None

    def __post_init__(self) -> None:
        self._apply_profile()
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be in 0..65535, got {self.port}")
        if not self.assets:
            raise ConfigError("at least one asset is required")
        for asset in self.assets:
            if asset not in KNOWN_ASSETS:
                raise ConfigError(f"unknown asset {asset!r}; known: {','.join(KNOWN_ASSETS)}")
        if not self.window_seconds:
            raise ConfigError("at least one window length is required")
        for length in self.window_seconds:
            if not 5 <= length <= 86400:
                raise ConfigError(f"window length must be 5..86400 seconds, got {length}")
        if not 0 <= self.settle_delay <= 3600:
            raise ConfigError(f"settle delay must be 0..3600 seconds, got {self.settle_delay}")
        if not Decimal(0) <= self.fee_rate <= Decimal("0.25"):
            raise ConfigError(f"fee rate must be 0..0.25, got {self.fee_rate}")
        if self.start_balance < 0:
            raise ConfigError("start balance must be non-negative")
        if not 0.05 <= self.tick_seconds <= 5:
            raise ConfigError("tick seconds must be 0.05..5")
        if self.path_start is not None and not 0 <= self.path_start <= 4_102_444_800:
            raise ConfigError(
                f"path start must be a unix second in 0..4102444800, got {self.path_start}"
            )
        if not 0 < self.trade_step_seconds <= 60:
            raise ConfigError(f"trade step must be 0..60 seconds, got {self.trade_step_seconds}")

    def _apply_profile(self) -> None:
        """Fill every realism option left at None from the chosen profile, then check it."""
        try:
            realism = Realism(self.realism)
        except ValueError as exc:
            known = ",".join(r.value for r in Realism)
            raise ConfigError(f"unknown realism {self.realism!r}; known: {known}") from exc
        object.__setattr__(self, "realism", realism)
        for name, value in PROFILES[realism].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        step = self.trade_step_seconds
        if self.trade_mined_seconds is None:
            object.__setattr__(self, "trade_mined_seconds", (step, step))
        if self.trade_confirmed_seconds is None:
            object.__setattr__(self, "trade_confirmed_seconds", (2 * step, 2 * step))
        for name in (
            "trade_mined_seconds",
            "trade_confirmed_seconds",
            "hold_seconds",
            "tx_mined_seconds",
            "tx_confirmed_seconds",
            "delayed_seconds",
        ):
            try:
                object.__setattr__(self, name, check_span(name, getattr(self, name)))
            except (TypeError, ValueError) as exc:
                raise ConfigError(str(exc)) from exc
        for name in ("auto_redeem_delay", "data_lag_seconds"):
            value = getattr(self, name)
            if not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be 0..3600 seconds, got {value}")
        if not 0 <= float(self.delayed_share) <= 1:
            raise ConfigError(f"delayed_share must be 0..1, got {self.delayed_share}")
        for name in ("credential_lifetime_s", "max_timestamp_age_s"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 86400:
                raise ConfigError(f"{name} must be 0..86400 seconds, got {value}")


def window_label(length: int) -> str:
    """Slug label of a window length: 5m/15m for the real ones, 30s/1m/... for test lengths."""
    if length % 3600 == 0:
        return f"{length // 3600}h"
    if length % 60 == 0:
        return f"{length // 60}m"
    return f"{length}s"


def parse_assets(text: str) -> tuple[str, ...]:
    """Parse `BTC,ETH` into a tuple, upper-cased, rejecting blanks and duplicates."""
    items = tuple(part.strip().upper() for part in text.split(","))
    if any(not item for item in items):
        raise ConfigError(f"bad asset list {text!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"duplicate asset in {text!r}")
    return items


def parse_lengths(text: str) -> tuple[int, ...]:
    """Parse `60,300` into window lengths in seconds."""
    try:
        items = tuple(int(part.strip()) for part in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"bad window length list {text!r}") from exc
    if len(set(items)) != len(items):
        raise ConfigError(f"duplicate window length in {text!r}")
    return items


def parse_span(text: str, name: str = "span") -> Span:
    """Parse `1,5` (or a single `3`) into a (low, high) pair of seconds for a realism option;
    ConfigError naming `name` if malformed or out of 0..3600."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [float(part) for part in parts]
    except ValueError as exc:
        raise ConfigError(f"{name}: bad seconds {text!r} (want LOW,HIGH)") from exc
    if len(values) == 1:
        values *= 2
    try:
        return check_span(name, tuple(values))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
