"""Discovery: window slugs by epoch arithmetic and Gamma market records → windows.

A window's slug is `{asset}-updown-{label}-{epoch}` with epoch = the window START in unix seconds
(floor(now / length) * length). Gamma's `startDate` is the row's creation, not the window start:
the window is `eventStartTime` → `endDate`. Token ids are mapped by outcome LABEL (`outcomes` and
`clobTokenIds` are JSON-encoded strings in the same order), never by position. A market right
after creation may have no conditionId or empty token ids: it is reported as not tradable yet
(FM7), never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from live.kernel.domain import Asset, Outcome, SettlementRule, Window, dec
from live.venues.errors import GammaShapeError


def window_label(length_s: int) -> str:
    """Slug label of a window length: 5m, 15m, 1h; test lengths in seconds (e.g. 10s)."""
    if length_s <= 0:
        raise ValueError(f"window length must be positive, got {length_s}")
    if length_s % 3600 == 0:
        return f"{length_s // 3600}h"
    if length_s % 60 == 0:
        return f"{length_s // 60}m"
    return f"{length_s}s"


def window_epoch(now_s: float, length_s: int) -> int:
    """Start (unix seconds) of the window of `length_s` containing `now_s`."""
    return int(now_s // length_s) * length_s


def window_slug(asset: str, length_s: int, epoch: int) -> str:
    return f"{asset.lower()}-updown-{window_label(length_s)}-{epoch}"


def current_and_next_slugs(asset: str, length_s: int, now_s: float) -> tuple[str, str]:
    """Slugs of the window open at `now_s` and of the one after it."""
    epoch = window_epoch(now_s, length_s)
    return window_slug(asset, length_s, epoch), window_slug(asset, length_s, epoch + length_s)


@dataclass(frozen=True, slots=True)
class Listing:
    """A tradable window as Gamma describes it, with the venue flags the engine's Window lacks."""

    window: Window
    neg_risk: bool
    accepting_orders: bool
    closed: bool
    winner: Outcome | None = None  # set once Gamma shows a resolved market


@dataclass(frozen=True, slots=True)
class NotTradable:
    """A market that exists but cannot be traded (yet), and why (FM7)."""

    slug: str
    reason: str


Discovered = Listing | NotTradable  # what a lookup of one slug finds


def parse_gamma_market(
    raw: Any,
    *,
    fallback_fee_rate: Decimal | None = None,
    twap_since_ms: int = 1786060800000,
) -> Listing | NotTradable:
    """One Gamma market record (the sandbox's or the real shape) → Listing or NotTradable.
    Raises GammaShapeError for a record that is not an Up/Down market or is malformed."""
    if not isinstance(raw, dict):
        raise GammaShapeError("", "(record)", "expected a JSON object")
    slug = _text(raw, "slug", "")
    asset_text = slug.split("-", 1)[0].upper()
    if "-updown-" not in slug:
        raise GammaShapeError(slug, "slug", "not an Up/Down window market")
    condition_id = raw.get("conditionId")
    if not isinstance(condition_id, str) or not condition_id:
        return NotTradable(slug, "no conditionId yet (market just created)")
    tokens = _tokens_by_label(raw, slug)
    if tokens is None:
        return NotTradable(slug, "empty clobTokenIds (market just created)")
    if asset_text not in Asset.__members__:
        return NotTradable(slug, f"asset {asset_text} is not traded by the engine")
    fee_rate = _fee_rate(raw, fallback_fee_rate)
    if fee_rate is None:
        return NotTradable(slug, "fee rate unknown: no feeSchedule and no configured fallback")
    open_ts, close_ts = _window_times(raw, slug)
    window = Window(
        slug=slug,
        asset=Asset(asset_text),
        length_s=(close_ts - open_ts) // 1000,
        open_ts=open_ts,
        close_ts=close_ts,
        condition_id=condition_id,
        token_up=tokens[Outcome.UP],
        token_down=tokens[Outcome.DOWN],
        tick_size=_decimal(raw, "orderPriceMinTickSize", slug),
        min_size=_decimal(raw, "orderMinSize", slug),
        fee_rate=fee_rate,
        settlement_rule=_settlement_rule(raw, open_ts, twap_since_ms),
        strike=_strike(raw, slug),
    )
    return Listing(
        window=window,
        neg_risk=bool(raw.get("negRisk", False)),
        accepting_orders=bool(raw.get("acceptingOrders", True)),
        closed=bool(raw.get("closed", False)),
        winner=_winner(raw, slug),
    )


def tokens_of(raw: dict[str, Any]) -> dict[Outcome, str] | None:
    """Token ids by outcome label of a Gamma record, or None when not (yet) listed."""
    return _tokens_by_label(raw, str(raw.get("slug", "")))


# ------------------------------------------------------------------ fields


def _text(raw: dict, key: str, slug: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise GammaShapeError(slug, key, f"missing or empty (got {value!r})")
    return value


def _json_list(raw: dict, key: str, slug: str) -> list:
    value = raw.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise GammaShapeError(slug, key, "not a JSON-encoded list") from None
    if not isinstance(value, list):
        raise GammaShapeError(slug, key, "expected a list")
    return value


def _tokens_by_label(raw: dict, slug: str) -> dict[Outcome, str] | None:
    labels = [str(label).strip().upper() for label in _json_list(raw, "outcomes", slug)]
    tokens = [str(t) for t in _json_list(raw, "clobTokenIds", slug)]
    if not tokens or any(not t for t in tokens):
        return None
    if len(labels) != len(tokens) or sorted(labels) != ["DOWN", "UP"]:
        raise GammaShapeError(slug, "outcomes", f"expected labels Up and Down, got {labels}")
    return {Outcome(label): token for label, token in zip(labels, tokens, strict=True)}


def _iso_ms(raw: dict, key: str, slug: str) -> int:
    text = _text(raw, key, slug)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GammaShapeError(slug, key, f"not an ISO timestamp: {text!r}") from None
    if moment.tzinfo is None:
        raise GammaShapeError(slug, key, "timestamp without a time zone")
    return int(moment.timestamp() * 1000)


def _window_times(raw: dict, slug: str) -> tuple[int, int]:
    """eventStartTime (else the event's startTime, else the slug's epoch) → endDate."""
    if raw.get("eventStartTime"):
        open_ts = _iso_ms(raw, "eventStartTime", slug)
    else:
        events = raw.get("events") or []
        first = events[0] if events and isinstance(events[0], dict) else {}
        if first.get("startTime"):
            open_ts = _iso_ms(first, "startTime", slug)
        else:
            try:
                open_ts = int(slug.rsplit("-", 1)[1]) * 1000
            except (IndexError, ValueError):
                raise GammaShapeError(slug, "eventStartTime", "missing") from None
    close_ts = _iso_ms(raw, "endDate", slug)
    if close_ts <= open_ts:
        raise GammaShapeError(slug, "endDate", "not after eventStartTime")
    return open_ts, close_ts


def _decimal(raw: dict, key: str, slug: str) -> Decimal:
    value = raw.get(key)
    if value is None or isinstance(value, bool):
        raise GammaShapeError(slug, key, "missing")
    try:
        return dec(value, key)
    except ValueError as exc:
        raise GammaShapeError(slug, key, str(exc)) from None


def _fee_rate(raw: dict, fallback: Decimal | None) -> Decimal | None:
    schedule = raw.get("feeSchedule")
    if isinstance(schedule, dict) and schedule.get("rate") is not None:
        return _decimal(schedule, "rate", str(raw.get("slug")))
    if raw.get("feesEnabled") is False:
        return Decimal(0)
    return fallback


def _settlement_rule(raw: dict, open_ts: int, twap_since_ms: int) -> SettlementRule:
    config = raw.get("cryptoMarketConfig")
    if isinstance(config, dict) and config.get("twapEnabled") is not None:
        return SettlementRule.TWAP_60S if config["twapEnabled"] else SettlementRule.SPOT_AT_CLOSE
    return SettlementRule.TWAP_60S if open_ts >= twap_since_ms else SettlementRule.SPOT_AT_CLOSE


def _metadata(raw: dict, slug: str) -> dict:
    metadata = raw.get("eventMetadata")
    if isinstance(metadata, str) and metadata.strip():
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise GammaShapeError(slug, "eventMetadata", "not valid JSON") from None
    return metadata if isinstance(metadata, dict) else {}


def _strike(raw: dict, slug: str) -> Decimal | None:
    metadata = _metadata(raw, slug)
    if metadata.get("priceToBeat") in (None, ""):
        return None
    return _decimal(metadata, "priceToBeat", slug)


def _winner(raw: dict, slug: str) -> Outcome | None:
    """The winning outcome once Gamma shows a closed market priced 1 / 0 — and resolved: a
    closed market can trade at 1 / 0 before the venue resolves and pays out (real Gamma rows say
    `umaResolutionStatus: "resolved"` once it has; when the field is absent, prices decide)."""
    if raw.get("closed") is not True:
        return None
    if "umaResolutionStatus" in raw and raw["umaResolutionStatus"] != "resolved":
        return None
    labels = [str(label).strip().upper() for label in _json_list(raw, "outcomes", slug)]
    prices = [str(p) for p in _json_list(raw, "outcomePrices", slug)]
    if len(labels) != len(prices):
        return None
    winners = [lbl for lbl, p in zip(labels, prices, strict=True) if dec(p, "outcomePrices") == 1]
    losers = [lbl for lbl, p in zip(labels, prices, strict=True) if dec(p, "outcomePrices") == 0]
    if len(winners) == 1 and len(losers) == len(labels) - 1 and winners[0] in ("UP", "DOWN"):
        return Outcome(winners[0])
    return None
