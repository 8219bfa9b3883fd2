"""Chainlink price ticks (`chainlink_btcusd_*.csv.gz`) → `oracle` events.

Columns: feed_ts_ms, value, full_accuracy_value, server_ts_ms, recv_ms. The price is
full_accuracy_value / 1e18, exact; `ts` is the feed (observation) time and `recv_ts` the time the
recorder received it, kept so replay can apply a latency offset.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path

from live.convert.common import ConvertError, Event, decimal_str, int_ms, sort_events

COLUMNS = ("feed_ts_ms", "value", "full_accuracy_value", "server_ts_ms", "recv_ms")
SOURCE = "chainlink"


def convert(path: Path, *, asset: str = "BTC") -> list[Event]:
    """All ticks of the file as `oracle` events, ordered by ts."""
    return sort_events(_events(Path(path), asset.upper()))


def _events(path: Path, asset: str) -> Iterator[Event]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or ())]
        if missing:
            raise ConvertError(path, 1, missing[0], "missing column in the header")
        for row in reader:
            yield _oracle(path, reader.line_num, row, asset)


def _oracle(path: Path, line: int, row: dict[str, str], asset: str) -> Event:
    event: Event = {"ts": _int(path, line, row, "feed_ts_ms"), "kind": "oracle", "asset": asset}
    try:
        event["price"] = decimal_str(row["full_accuracy_value"], scale=-18)
    except (ValueError, TypeError) as exc:
        raise ConvertError(path, line, "full_accuracy_value", str(exc)) from None
    if event["price"].startswith("-") or event["price"] == "0":
        raise ConvertError(path, line, "full_accuracy_value", "price must be positive")
    event["source"] = SOURCE
    if row.get("recv_ms"):
        event["recv_ts"] = _int(path, line, row, "recv_ms")
    return event


def _int(path: Path, line: int, row: dict[str, str], column: str) -> int:
    try:
        return int_ms(row[column])
    except (ValueError, TypeError) as exc:
        raise ConvertError(path, line, column, str(exc)) from None
