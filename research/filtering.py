"""The window filter (FM14) and gap detection (FM1, FM13) behind research.data;
its Gap and WindowInfo types live in research.coverage.

One pass over the time-ordered events keeps each selected window's listings and resolutions,
its CLOB data only from `open_ts` until `close_ts`, the oracle ticks of the range and the wanted
assets, and counts what it drops. It also measures feed gaps (> GAP_MS without data) per oracle
asset and per window's CLOB stream, and the books as they stood at each close.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from live.kernel.book import Book
from live.kernel.domain import Window
from live.kernel.events import BookDelta, BookSnapshot, OracleTick, Resolved, Trade, WindowListed
from research.coverage import GAP_MS, Gap, WindowInfo

SETTLE_TAIL_MS = 120_000  # oracle ticks kept after the range end (settlement of the last window)


class WindowFilter:
    """Filters one dataset's events; see the module docstring."""

    def __init__(self, windows: dict[str, Window], start_ms: int, end_ms: int, wanted) -> None:
        self.windows = windows
        self.start_ms, self.end_ms, self.wanted = start_ms, end_ms, wanted
        self.token_slug = {}
        for w in windows.values():
            self.token_slug[w.token_up] = self.token_slug[w.token_down] = w.slug
        self.dropped_pre_open = 0
        self.dropped: Counter[str] = Counter()
        self.clob_ts: dict[str, list[int]] = {slug: [] for slug in windows}
        self.oracle_ts: dict[str, list[int]] = {}
        self._books: dict[str, Book] = {}
        self.books_at_close: dict[str, tuple[int, Book, Book]] = {}

    # ---------------------------------------------------------------- the pass
    def apply(self, parsed: list[tuple[int, str, Any]]) -> list[tuple[int, str, Any]]:
        keep = []
        for item in parsed:
            if self._keep(item[2]):
                keep.append(item)
        return keep

    def _keep(self, ev: Any) -> bool:
        kind = type(ev)
        if kind is BookSnapshot or kind is BookDelta or kind is Trade:
            return self._keep_clob(ev)
        if kind is OracleTick:
            return self._keep_oracle(ev)
        if kind is WindowListed:
            return self._count(ev.window.slug in self.windows, "window outside range or assets")
        if kind is Resolved:
            return self._count(ev.slug in self.windows, "resolution of another window")
        return True  # control and signal lines

    def _count(self, keep: bool, reason: str) -> bool:
        if not keep:
            self.dropped[reason] += 1
        return keep

    def _keep_clob(self, ev: Any) -> bool:
        slug = self.token_slug.get(ev.token_id)
        if slug is None:
            return self._count(False, "CLOB data of another window")
        window = self.windows[slug]
        if ev.ts < window.open_ts:
            self.dropped_pre_open += 1  # FM14: the pre-window book is not this window's market
            return False
        if ev.ts >= window.close_ts:
            return self._count(False, "CLOB data after the close")
        self.clob_ts[slug].append(ev.ts)
        if type(ev) is not Trade:
            self._track_book(ev, window)
        return True

    def _track_book(self, ev: Any, window: Window) -> None:
        book = self._books.get(ev.token_id)
        if book is None:
            book = self._books[ev.token_id] = Book(ev.token_id)
        if type(ev) is BookSnapshot:
            book.apply_snapshot(ev.bids, ev.asks, ev.ts)
        else:
            book.apply_delta(ev.side, ev.price, ev.size, ev.ts)
        up = self._books.get(window.token_up) or Book(window.token_up)
        down = self._books.get(window.token_down) or Book(window.token_down)
        self.books_at_close[window.slug] = (ev.ts, up, down)

    def _keep_oracle(self, ev: OracleTick) -> bool:
        asset = str(ev.asset)
        if self.wanted is not None and asset not in self.wanted:
            return self._count(False, "oracle of another asset")
        if not (self.start_ms <= ev.ts < self.end_ms + SETTLE_TAIL_MS):
            return self._count(False, "oracle outside range")
        self.oracle_ts.setdefault(asset, []).append(ev.ts)
        return True

    # ---------------------------------------------------------------- gaps and verdicts
    def gaps(self) -> list[Gap]:
        """Every stretch of more than GAP_MS without data, per oracle asset and window."""
        found: list[Gap] = []
        for asset, stamps in self.oracle_ts.items():
            found += _gaps(f"oracle:{asset}", stamps, None, None)
        for slug, stamps in self.clob_ts.items():
            if stamps:
                w = self.windows[slug]
                found += _gaps(f"clob:{slug}", stamps, w.open_ts, w.close_ts)
        return found

    def verdicts(self, gaps: list[Gap]) -> dict[str, WindowInfo]:
        """used / tainted (kept, with the gaps that touch it) / excluded (with the reason)."""
        infos = {}
        for slug, w in sorted(self.windows.items(), key=lambda kv: kv[1].open_ts):
            info = WindowInfo(slug, str(w.asset), w.length_s, w.open_ts, w.close_ts)
            info.clob_rows = len(self.clob_ts[slug])
            if not info.clob_rows:
                info.status, info.reasons = "excluded", ["no CLOB data (nothing to fill against)"]
            else:
                touching = [g for g in gaps if _touches(g, w)]
                if touching:
                    info.status = "tainted"
                    info.reasons = [f"{g.feed} {g.reason}" for g in touching]
            infos[slug] = info
        return infos


def _gaps(feed: str, stamps: list[int], open_ts: int | None, close_ts: int | None) -> list[Gap]:
    out = []
    if open_ts is not None and stamps[0] - open_ts > GAP_MS:
        out.append(
            Gap(feed, open_ts, stamps[0], f"no data for {_s(stamps[0] - open_ts)} from open")
        )
    for a, b in zip(stamps, stamps[1:], strict=False):
        if b - a > GAP_MS:
            out.append(Gap(feed, a, b, f"no data for {_s(b - a)}"))
    if close_ts is not None and close_ts - stamps[-1] > GAP_MS:
        out.append(
            Gap(feed, stamps[-1], close_ts, f"no data for the last {_s(close_ts - stamps[-1])}")
        )
    return out


def _s(ms: int) -> str:
    return f"{ms / 1000:.0f} s"


def _touches(gap: Gap, w: Window) -> bool:
    mine = gap.feed == f"clob:{w.slug}" or gap.feed.endswith(f":{w.asset}")
    return mine and gap.start_ms < w.close_ts and gap.end_ms > w.open_ts
