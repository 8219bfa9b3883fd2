"""1-second top-of-book CSV (`btc_15m_top_of_book_1s_*.csv.gz`) → `window` and `book` events.

The file has no token ids and no timezone, so the asset and the timezone are parameters and the
token ids are derived from the slug (sha256 of "slug:UP" / "slug:DOWN" as a decimal integer, the
shape of real CLOB token ids): stable across runs and machines. A 0 in a bid or ask column means
that side of the book is EMPTY (in a decided window's last minute the winner often has no offer),
never a price of 0. Rows are not strictly time-ordered, so they are sorted stably by time. Each row
becomes one full `book` snapshot per token (one level a side: the top and its liquidity).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from live.convert.common import EPOCH, ONE_MS, ConvertError, Event, decimal_str, sort_events

COLUMNS = (
    "Timestamp",
    "TargetTime",
    "Expiration",
    "UpBid",
    "UpAsk",
    "UpBidLiquidity",
    "UpAskLiquidity",
    "DownBid",
    "DownAsk",
    "DownBidLiquidity",
    "DownAskLiquidity",
)


@dataclass(frozen=True, slots=True)
class TopOfBookOptions:
    """What the file does not say: asset, timezone and the window's market parameters."""

    asset: str = "BTC"
    tz: str = "UTC"
    tick_size: str = "0.01"
    min_size: str = "5"
    fee_rate: str | None = None  # the file does not state it: required
    settlement_rule: str = "spot_at_close"


def token_id(slug: str, outcome: str) -> str:
    """The stable stand-in token id of `outcome` (UP/DOWN) in window `slug`."""
    digest = hashlib.sha256(f"{slug}:{outcome}".encode()).hexdigest()
    return str(int(digest, 16))


def convert(path: Path, *, options: TopOfBookOptions = TopOfBookOptions()) -> list[Event]:
    """Windows and book snapshots of the whole file, ordered by ts (stable)."""
    path = Path(path)
    if options.fee_rate is None:
        raise ConvertError(path, 0, "--fee-rate", "the file does not state the fee rate: pass it")
    try:
        zone = ZoneInfo(options.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConvertError(path, 0, "--tz", f"unknown timezone {options.tz!r}") from None
    books: list[Event] = []
    windows: dict[str, Event] = {}
    for line, row in _rows(path):
        reader = _RowReader(path, line, row, zone)
        window = _window(reader, options)
        known = windows.setdefault(window["slug"], window)
        ts = reader.time("Timestamp")
        known["ts"] = min(known["ts"], ts)
        books.extend(_books(reader, ts, known))
    return sort_events([*windows.values(), *books])


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ConvertError(path, 1, missing[0], "missing column in the header")
        for row in reader:
            yield reader.line_num, row


class _RowReader:
    """Typed access to one CSV row; every failure names file, line and column."""

    def __init__(self, path: Path, line: int, row: dict[str, str], zone: ZoneInfo) -> None:
        self.path, self.line, self.row, self.zone = path, line, row, zone

    def fail(self, column: str, message: str) -> ConvertError:
        return ConvertError(self.path, self.line, column, message)

    def time(self, column: str) -> int:
        try:
            local = datetime.fromisoformat((self.row[column] or "").strip())
        except ValueError:
            raise self.fail(column, f"not a timestamp: {self.row[column]!r}") from None
        if local.tzinfo is not None:
            raise self.fail(column, "has its own offset; the file is expected to have none")
        return (local.replace(tzinfo=self.zone) - EPOCH) // ONE_MS

    def decimal(self, column: str) -> str:
        try:
            value = decimal_str(self.row[column])
        except ValueError as exc:
            raise self.fail(column, str(exc)) from None
        if value.startswith("-"):
            raise self.fail(column, f"negative: {self.row[column]!r}")
        return value


def _window(reader: _RowReader, options: TopOfBookOptions) -> Event:
    open_ts, close_ts = reader.time("TargetTime"), reader.time("Expiration")
    if close_ts <= open_ts or (close_ts - open_ts) % 60_000:
        raise reader.fail("Expiration", "must be a whole number of minutes after TargetTime")
    length_s = (close_ts - open_ts) // 1000
    asset = options.asset.upper()
    slug = f"{asset.lower()}-updown-{length_s // 60}m-{open_ts // 1000}"
    event: Event = {
        "ts": open_ts,
        "kind": "window",
        "slug": slug,
        "asset": asset,
        "length_s": length_s,
        "open_ts": open_ts,
        "close_ts": close_ts,
        "condition_id": "0x" + hashlib.sha256(slug.encode()).hexdigest(),
        "token_up": token_id(slug, "UP"),
        "token_down": token_id(slug, "DOWN"),
        "tick_size": options.tick_size,
        "min_size": options.min_size,
    }
    event["fee_rate"] = options.fee_rate
    event["settlement_rule"] = options.settlement_rule
    return event


def _books(reader: _RowReader, ts: int, window: Event) -> list[Event]:
    return [
        {
            "ts": ts,
            "kind": "book",
            "token_id": window[f"token_{outcome.lower()}"],
            "bids": _side(reader, f"{outcome.title()}Bid"),
            "asks": _side(reader, f"{outcome.title()}Ask"),
        }
        for outcome in ("UP", "DOWN")
    ]


def _side(reader: _RowReader, column: str) -> list[list[str]]:
    price = reader.decimal(column)
    if price == "0":
        return []  # 0 = nothing on this side, not a price of 0
    if not price.startswith("0."):
        raise reader.fail(column, f"price outside (0, 1): {price}")
    size = reader.decimal(f"{column}Liquidity")
    if size == "0":
        raise reader.fail(f"{column}Liquidity", f"zero size at a non-empty price {price}")
    return [[price, size]]
