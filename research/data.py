"""The research data loader: recorded market data → a time-ordered, filtered `Dataset`.

The loader, not strategies, applies the rules that make a backtest honest:
- FM14: a window's CLOB data is used only from its open time (`ts >= open_ts`): quotes from
  before the open (the pre-window $0.50 book) are dropped and counted.
- FM13: windows with feed gaps are KEPT and flagged `tainted` with the gap; a window is excluded
  only when it cannot be replayed at all (no CLOB data to fill against, no resolution), and every
  exclusion is reported with its reason.
- Resolutions: the venue's `resolved` event when recorded; otherwise (the 1 s top-of-book files
  carry none) the book-implied outcome at the close, stamped 60 s after it and flagged `book`.
Sources: journal / public-format files (research.sources) or the DB (research.store), with a
Parquet cache of the parsed rows under `$UPDOWN_HOME/cache` (research.cache).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from live.journal.codec import parse_event
from live.kernel.book import Book
from live.kernel.domain import Outcome
from live.kernel.events import Resolved, WindowListed
from research import cache, store
from research.cache_columns import EventRow
from research.coverage import Gap, WindowInfo
from research.filtering import WindowFilter
from research.sources import CLOB_KINDS, RawRow, file_rows

RESOLVE_DELAY_MS = 60_000  # book-implied resolutions are stamped a minute after the close
LATE_BOOK_MS = 60_000  # a book-implied resolution needs a quote in the last minute

LAST_MS = 253_402_128_000_000  # 9999-12-30T00:00Z: ranges end a day before datetime does

Item = tuple[int, str, Any]  # (ts, source, event)


@dataclass
class Dataset:
    """Time-ordered `(ts, source, event)` items plus the per-window verdicts and feed gaps."""

    start_ms: int
    end_ms: int
    items: list[Item]
    windows: dict[str, WindowInfo]
    gaps: list[Gap]
    dropped_pre_open: int = 0
    dropped_other: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> list[Any]:
        return [event for _, _, event in self.items]

    def count(self, status: str) -> int:
        return sum(1 for w in self.windows.values() if w.status == status)

    def exclusion_reasons(self) -> Counter[str]:
        return Counter(w.reasons[0] for w in self.windows.values() if w.status == "excluded")

    def windows_frame(self) -> pd.DataFrame:
        """One row per window: times, status, reasons, CLOB rows and resolution."""
        rows = [
            {
                "slug": w.slug,
                "asset": w.asset,
                "length_s": w.length_s,
                "open": pd.Timestamp(w.open_ts, unit="ms", tz="UTC"),
                "close": pd.Timestamp(w.close_ts, unit="ms", tz="UTC"),
                "status": w.status,
                "reasons": "; ".join(w.reasons),
                "clob_rows": w.clob_rows,
                "resolution": w.resolution,
                "winner": w.winner,
            }
            for w in sorted(self.windows.values(), key=lambda w: (w.open_ts, w.slug))
        ]
        return pd.DataFrame(rows)

    def events_frame(self) -> pd.DataFrame:
        """The events as a frame: ts, source, kind, slug/token/asset and top of book or price."""
        return pd.DataFrame([_event_row(ts, source, ev) for ts, source, ev in self.items])


# ------------------------------------------------------------------ dates


def day_range(start: str | date, end: str | date | None = None) -> tuple[int, int]:
    """[start 00:00 UTC, end + 1 day 00:00 UTC) in epoch ms; ISO datetimes are taken as given.
    Raises ValueError naming the value if it is no date / ISO time or lies outside
    1970-01-01 .. 9999-12-29."""
    lo = _moment(start)
    hi = _moment(end if end is not None else start, end_of_day=True)
    return lo, hi


def _moment(value: str | date, end_of_day: bool = False) -> int:
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        ms = _epoch_ms(text, end_of_day)
    except OverflowError:
        ms = -1
    if not 0 <= ms <= LAST_MS:
        raise ValueError(f"{text!r} is outside 1970-01-01 .. 9999-12-29")
    return ms


def _epoch_ms(text: str, end_of_day: bool) -> int:
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return int((day + timedelta(days=1 if end_of_day else 0)).timestamp() * 1000)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# ------------------------------------------------------------------ loading


def load_files(
    paths: Sequence[str | Path],
    start: str | date | None = None,
    end: str | date | None = None,
    *,
    assets: Iterable[str] | None = None,
    use_cache: bool = True,
) -> Dataset:
    """Load journal / public-format files (cached as Parquet) and build the Dataset."""
    rows: list[EventRow] = []
    for path in paths:
        rows.extend(_file_events(Path(path), use_cache))
    rows.sort(key=lambda r: r[0])
    lo, hi = day_range(start, end) if start is not None else _whole(rows)
    return build_dataset(rows, lo, hi, assets=assets)


def _file_events(path: Path, use_cache: bool) -> list[EventRow]:
    """A file's rows with their events: from the cache, else read, parsed and cached."""
    if not use_cache:
        return cache.parsed(file_rows(path))
    key = cache.file_key(path)
    rows = cache.read(key)
    if rows is None:
        rows = cache.parsed(file_rows(path))
        cache.write(key, rows)
    return rows


def load_db(
    conn: Any,
    start: str | date,
    end: str | date | None = None,
    *,
    assets: Iterable[str] | None = None,
    use_cache: bool = True,
) -> Dataset:
    """Load the range from `market_events` (cached as Parquet, keyed by the table's state)."""
    lo, hi = day_range(start, end)
    rows = store.fetch_events(conn, lo, hi, use_cache=use_cache)
    gaps = store.recorded_gaps(conn, lo, hi)
    return build_dataset(rows, lo, hi, assets=assets, recorded_gaps=gaps)


def load(
    files: Sequence[str | Path] = (),
    day: str | date | None = None,
    end: str | date | None = None,
    *,
    assets: Iterable[str] | None = None,
) -> Dataset:
    """What the notebooks call: `files` if given (papermill `-p files '[...]'`), else the
    database ($UPDOWN_DATABASE_URL or the embedded server; `make demo` or `updown data import`
    fill it) for `day` .. `end`, default the last UTC day with a recorded window. ValueError when
    the database has no window at all (the message says how to import data)."""
    if files:
        return load_files(files, day, end, assets=assets)
    from live.store import db

    with db.connect() as conn:
        if day is None:
            row = conn.execute("SELECT max(open_ts) FROM windows").fetchone()
            if row is None or row[0] is None:
                raise ValueError(
                    "no market windows in the database: run `make demo`, or `updown data import "
                    "FILE...` (journal, chainlink, gamma-markets, top-of-book, polymarket-ws), or "
                    "pass files with papermill -p files '[\"day.csv.gz\"]'"
                )
            day = row[0].date().isoformat()
        return load_db(conn, day, end, assets=assets)  # fmt: skip


def _whole(rows: list[EventRow]) -> tuple[int, int]:
    """The span of the rows, widened to the close of every window they list."""
    if not rows:
        return 0, 0
    windows = [e.window for _, _, _, e in rows if type(e) is WindowListed]
    opens, closes = [w.open_ts for w in windows], [w.close_ts for w in windows]
    return min([rows[0][0], *opens]), max([rows[-1][0] + 1, *closes])


def build_dataset(
    rows: Iterable[RawRow | EventRow],
    start_ms: int,
    end_ms: int,
    *,
    assets: Iterable[str] | None = None,
    recorded_gaps: Iterable[Gap] = (),
) -> Dataset:
    """Parse (a raw row's payload; a cached row's event is already built), select the range's
    windows, apply the window filter, flag gaps, add resolutions."""
    wanted = {a.upper() for a in assets} if assets else None
    parsed = [
        (ts, source, parse_event(payload) if type(payload) is dict else payload)
        for ts, _, source, payload in rows
    ]
    windows = _select_windows(parsed, start_ms, end_ms, wanted)
    flt = WindowFilter(windows, start_ms, end_ms, wanted)
    items = flt.apply(parsed)
    gaps = flt.gaps() + [g for g in recorded_gaps if _relevant(g, wanted)]
    infos = flt.verdicts(gaps)
    items = _with_resolutions(items, infos, flt.books_at_close)
    items = [it for it in items if _keep(it, infos, flt.token_slug)]
    return Dataset(start_ms, end_ms, items, infos, gaps, flt.dropped_pre_open, flt.dropped)


def _relevant(gap: Gap, wanted: set[str] | None) -> bool:
    return wanted is None or gap.feed.split(":")[-1] in wanted or gap.feed.startswith("clob")


def _select_windows(parsed, start_ms: int, end_ms: int, wanted) -> dict[str, Any]:
    """The latest listing of each window that opens and closes inside [start, end)."""
    windows: dict[str, Any] = {}
    for _, _, event in parsed:
        if type(event) is WindowListed:
            w = event.window
            inside = start_ms <= w.open_ts and w.close_ts <= end_ms
            if inside and (wanted is None or str(w.asset) in wanted):
                windows[w.slug] = w
    return windows


def _with_resolutions(items: list[Item], infos: dict[str, WindowInfo], books) -> list[Item]:
    """Mark venue resolutions; add a book-implied one where the venue's is missing."""
    for _, _, event in items:
        if type(event) is Resolved and event.slug in infos:
            infos[event.slug].resolution, infos[event.slug].winner = "venue", str(event.winner)
    added: list[Item] = []
    for slug, info in infos.items():
        if info.status == "excluded" or info.resolution is not None:
            continue
        winner = _implied_winner(books.get(slug), info.close_ts)
        if winner is None:
            info.status, info.reasons = "excluded", ["no resolution (no venue result, no book)"]
            continue
        info.resolution, info.winner = "book", str(winner)
        ts = info.close_ts + RESOLVE_DELAY_MS
        added.append((ts, "book-implied", Resolved(ts, slug, winner)))
    if not added:
        return items
    return sorted(items + added, key=lambda it: it[0])


def _implied_winner(state: tuple[int, Book, Book] | None, close_ts: int) -> Outcome | None:
    """UP if the Up token's last price before the close is above 0.50 (from its mid, else its
    one quoted side, else 1 − the Down token's), DOWN if below; None if unknown or 0.50."""
    if state is None or close_ts - state[0] > LATE_BOOK_MS:
        return None
    up_book, down_book = state[1], state[2]
    up = _value(up_book)
    if up is None:
        down = _value(down_book)
        up = None if down is None else 1.0 - down
    if up is None or up == 0.5:
        return None
    return Outcome.UP if up > 0.5 else Outcome.DOWN


def _value(book: Book) -> float | None:
    bid, ask = book.best_bid, book.best_ask
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    return bid if bid is not None else ask


def _keep(item: Item, infos: dict[str, WindowInfo], token_slug: dict[str, str]) -> bool:
    """Drop an excluded window's listing, resolution and CLOB data (it is reported instead)."""
    event = item[2]
    slug = _slug_of(event)
    if slug is None and hasattr(event, "token_id"):
        slug = token_slug.get(event.token_id)
    return slug is None or slug not in infos or infos[slug].status != "excluded"


def _slug_of(event: Any) -> str | None:
    if type(event) is WindowListed:
        return event.window.slug
    if type(event) is Resolved:
        return event.slug
    return getattr(event, "window_slug", None)


def _event_row(ts: int, source: str, ev: Any) -> dict[str, Any]:
    from live.kernel.events import kind_of

    row: dict[str, Any] = {"ts": ts, "source": source, "kind": kind_of(ev)}
    if hasattr(ev, "token_id"):
        row["token_id"] = ev.token_id
    if hasattr(ev, "bids"):
        row["best_bid"] = ev.bids[0][0] if ev.bids else None
        row["best_ask"] = ev.asks[0][0] if ev.asks else None
    if hasattr(ev, "price"):
        row["price"] = float(ev.price)
    if hasattr(ev, "asset"):
        row["asset"] = str(ev.asset)
    slug = _slug_of(ev)
    if slug is not None:
        row["slug"] = slug
    return row


__all__ = ["CLOB_KINDS", "Dataset", "Gap", "WindowInfo", "build_dataset", "day_range"]
