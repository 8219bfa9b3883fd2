"""Gamma market records → `window` and `resolved` events.

Input: `gamma_btc_5m_markets_*.jsonl.gz` rows (a wrapper with slug, start_sec, end_sec,
token_ids, outcome_prices, strike_value and the `raw` Gamma market) or a bare Gamma market.

Look-ahead: a `window` event carries no outcome. It is first stamped at the listing time
(`createdAt`, ~24 h ahead) WITHOUT the strike, and stamped again at open_ts WITH the strike (a later
`window` line for the same slug replaces the earlier one): the strike is the Chainlink price at
the open, so putting it in the listing line would leak a price a day early. The `resolved` event
is stamped when Gamma recorded the resolution (umaEndDate / closedTime, 15–85 s after the close on
real days), or `resolve_delay_s` after the close when the record has no such time.
Token ids are mapped by outcome label (`outcomes` and `clobTokenIds` are JSON strings in the same
order), never by position.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live.convert.common import (
    ConvertError,
    Event,
    FieldError,
    decimal_str,
    iso_ms,
    sort_events,
)

TWAP_SINCE_MS = 1786060800000  # 2026-08-07T00:00:00Z: Chainlink 60 s TWAP settles from here on


@dataclass(frozen=True, slots=True)
class GammaOptions:
    """Choices a Gamma record does not state: when TWAP settlement starts, resolution delay."""

    twap_since_ms: int = TWAP_SINCE_MS
    resolve_delay_s: int = 60
    fee_rate: str | None = None  # used only when a record has no feeSchedule
    listing_tick_size: str = "0.01"  # the tick of a record captured after its close (see _tick)


def convert(path: Path, *, options: GammaOptions = GammaOptions()) -> list[Event]:
    """Every record of a Gamma JSON-lines file as window (+ resolved) events, ordered by ts."""
    return sort_events(_file_events(Path(path), options))


def _file_events(path: Path, options: GammaOptions) -> Iterator[Event]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as stream:
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConvertError(path, line_no, "(json)", f"invalid JSON: {exc.msg}") from None
            yield from record_events(record, path=path, line=line_no, options=options)


def record_events(
    record: Any, *, path: Path | str, line: int, options: GammaOptions = GammaOptions()
) -> list[Event]:
    """The window and, once resolved, the resolved event of one record; ConvertError if bad."""
    try:
        return _record_events(record, options)
    except FieldError as exc:
        raise ConvertError(path, line, exc.field, str(exc)) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # a shape no field check foresaw: refused at its line, never a traceback
        raise ConvertError(path, line, "(record)", f"malformed record ({exc!r})") from None


def is_updown_window(record: dict) -> bool:
    """Whether a Gamma market (or a recorded `{raw: market}` record) is an Up/Down window: the
    outcomes are exactly Up and Down and it has a window start (`eventStartTime`, or the
    recorder's `start_sec`). Other markets (a sports game, a yes/no question) are no error."""
    market = record.get("raw", record)
    if not isinstance(market, dict):
        return True  # malformed: let record_events name the field
    try:
        labels = sorted(str(label).strip().upper() for label in _json_list(market, "outcomes"))
    except FieldError:
        return True
    has_start = market.get("eventStartTime") not in (None, "") or "start_sec" in record
    return labels == ["DOWN", "UP"] and has_start


def _record_events(record: Any, options: GammaOptions) -> list[Event]:
    if not isinstance(record, dict):
        raise FieldError("(record)", "expected a JSON object")
    market = record.get("raw", record)
    if not isinstance(market, dict):
        raise FieldError("raw", "expected a JSON object")
    window = _window(record, market, options)
    events = _listed_then_opened(market, window)
    resolved = _resolved(record, market, window, options)
    if resolved is not None:
        events.append(resolved)
    return events


def _window(record: dict, market: dict, options: GammaOptions) -> Event:
    slug = _text(record, "slug")
    open_ts, close_ts = _window_times(record, market)
    asset = str(record.get("asset") or slug.split("-", 1)[0]).upper()
    token_up, token_down = _tokens_by_label(record, market)
    event: Event = {
        "ts": open_ts,
        "kind": "window",
        "slug": slug,
        "asset": asset,
        "length_s": (close_ts - open_ts) // 1000,
        "open_ts": open_ts,
        "close_ts": close_ts,
        "condition_id": _text(market, "conditionId"),
        "token_up": token_up,
        "token_down": token_down,
        "tick_size": _tick_size(record, market, options),
        "min_size": _decimal(market, "orderMinSize"),
    }
    event["fee_rate"] = _fee_rate(market, options)
    event["settlement_rule"] = _settlement_rule(market, open_ts, options)
    strike = _strike(record, market)
    if strike is not None:
        event["strike"] = strike
    return event


def _listed_then_opened(market: dict, window: Event) -> list[Event]:
    """The window at its listing time without the strike, then at open_ts with it."""
    listed_ts = _iso(market, "createdAt") if market.get("createdAt") else window["open_ts"]
    if listed_ts >= window["open_ts"]:
        return [window]
    listed = {key: value for key, value in window.items() if key != "strike"}
    listed["ts"] = listed_ts
    return [listed, window] if "strike" in window else [listed]


def _window_times(record: dict, market: dict) -> tuple[int, int]:
    if "start_sec" in record and "end_sec" in record:
        open_ts, close_ts = _seconds(record, "start_sec") * 1000, _seconds(record, "end_sec") * 1000
    else:
        open_ts, close_ts = _iso(market, "eventStartTime"), _iso(market, "endDate")
    if close_ts <= open_ts:
        raise FieldError("end_sec", f"window closes ({close_ts}) before it opens ({open_ts})")
    return open_ts, close_ts


def _tokens_by_label(record: dict, market: dict) -> tuple[str, str]:
    labels = [str(label).strip().upper() for label in _json_list(market, "outcomes")]
    tokens = [str(token) for token in _json_list(market, "clobTokenIds")]
    if len(labels) != len(tokens) or sorted(labels) != ["DOWN", "UP"]:
        raise FieldError("outcomes", f"expected the labels Up and Down, one token each: {labels}")
    by_label = dict(zip(labels, tokens, strict=True))
    if any(not token for token in tokens):
        raise FieldError("clobTokenIds", "empty token id")
    listed = record.get("token_ids")
    if listed is not None and sorted(map(str, listed)) != sorted(tokens):
        raise FieldError("token_ids", "differ from raw.clobTokenIds")
    return by_label["UP"], by_label["DOWN"]


def _tick_size(record: dict, market: dict, options: GammaOptions) -> str:
    """The tick a trader saw while the window traded. A record captured after the close holds the
    FINAL tick (0.001 once the price went above 0.96 or below 0.04), which would tell a strategy
    how the window ended: for closed records the listing tick is used instead."""
    if record.get("resolved") is True or market.get("closed") is True:
        return options.listing_tick_size
    return _decimal(market, "orderPriceMinTickSize")


def _fee_rate(market: dict, options: GammaOptions) -> str:
    schedule = market.get("feeSchedule")
    if isinstance(schedule, dict) and schedule.get("rate") is not None:
        return _decimal(schedule, "rate", "feeSchedule.rate")
    if market.get("feesEnabled") is False:
        return "0"
    if options.fee_rate is not None:
        return options.fee_rate
    raise FieldError(
        "feeSchedule", "missing and fees are not disabled: the rate is unknown (pass --fee-rate)"
    )


def _settlement_rule(market: dict, open_ts: int, options: GammaOptions) -> str:
    config = market.get("cryptoMarketConfig")
    if isinstance(config, dict) and config.get("twapEnabled") is not None:
        return "twap_60s" if config["twapEnabled"] else "spot_at_close"
    return "twap_60s" if open_ts >= options.twap_since_ms else "spot_at_close"


def _strike(record: dict, market: dict) -> str | None:
    if record.get("strike_value") not in (None, ""):
        return _decimal(record, "strike_value", scale=-18)
    metadata = market.get("eventMetadata")
    if isinstance(metadata, str) and metadata.strip():
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise FieldError("eventMetadata", "not valid JSON") from None
    if isinstance(metadata, dict) and metadata.get("priceToBeat") not in (None, ""):
        return _decimal(metadata, "priceToBeat", "eventMetadata.priceToBeat")
    return None


def _resolved(record: dict, market: dict, window: Event, options: GammaOptions) -> Event | None:
    if record.get("resolved", market.get("closed")) is not True:
        return None
    labels = [str(label).strip().upper() for label in _json_list(market, "outcomes")]
    key = "outcome_prices" if record.get("outcome_prices") else "outcomePrices"
    prices = _json_list(record if key == "outcome_prices" else market, key)
    if len(prices) != len(labels):
        raise FieldError(key, f"{len(prices)} prices for {len(labels)} outcomes: {prices}")
    try:
        by_label = dict(zip(labels, (decimal_str(p) for p in prices), strict=True))
    except ValueError as exc:
        raise FieldError(key, str(exc)) from None
    winners = [label for label, price in by_label.items() if price == "1"]
    if len(winners) != 1 or sorted(by_label.values()) != ["0", "1"]:
        if record.get("resolved") is True:
            raise FieldError(
                "outcome_prices", f"resolved but prices are not one 1 and one 0: {prices}"
            )
        return None  # closed, not yet resolved
    return {
        "ts": _resolved_ts(market, window["close_ts"], options),
        "kind": "resolved",
        "slug": window["slug"],
        "winner": winners[0],
    }


def _resolved_ts(market: dict, close_ts: int, options: GammaOptions) -> int:
    for key in ("umaEndDate", "closedTime"):
        if market.get(key):
            ts = _iso(market, key)
            if ts > close_ts:
                return ts
    return close_ts + options.resolve_delay_s * 1000


# ------------------------------------------------------------------ field readers


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise FieldError(key, "missing or empty")
    return value


def _seconds(record: dict, key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(key, f"expected epoch seconds as an integer, got {value!r}")
    return value


def _iso(record: dict, key: str) -> int:
    try:
        return iso_ms(_text(record, key))
    except ValueError as exc:
        raise FieldError(key, str(exc)) from None


def _decimal(record: dict, key: str, name: str | None = None, *, scale: int = 0) -> str:
    try:
        return decimal_str(record.get(key), scale=scale)
    except ValueError as exc:
        raise FieldError(name or key, str(exc)) from None


def _json_list(record: dict, key: str) -> list:
    value = record.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise FieldError(key, "not a JSON-encoded list") from None
    if not isinstance(value, list):
        raise FieldError(key, f"expected a list, got {type(value).__name__}")
    return value
