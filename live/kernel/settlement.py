"""Settlement: our resolution of a window from the oracle, checked against the venue's.

Rules (per window, DESIGN §3; ties go Up: Up if settlement price ≥ strike):
- `spot_at_close`: the first oracle tick with close_ts ≤ ts < close_ts + 1000 (the close second).
- `twap_60s`: the 60 one-second buckets [close_ts − 59 s + k s, close_ts − 58 s + k s), k = 0..59,
  i.e. the minute ending with the close second. Covered means at least 55 of the 60 buckets hold a
  tick. Each bucket's price is its last tick, or the previous bucket's price when it has none
  (the value in force); the TWAP is the mean of the bucket prices (buckets before the first tick
  and with no earlier tick are left out).
Without that coverage, or without a strike, our resolution is UNCERTAIN — never a guess from a
neighbouring tick. Ours is only a cross-check: the final resolution is the venue's `resolved`;
`settlement_record` stores the two side by side with their agreement.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from live.kernel.audit import settlement_sentence
from live.kernel.domain import Agreement, Mode, Outcome, Resolution, SettlementRule, Window
from live.kernel.records import SettlementRecord

TWAP_BUCKETS = 60
TWAP_MIN_COVERED = 55
KEEP_MS = 600_000  # oracle history kept per asset (ten minutes)


class OracleTape:
    """Recent oracle ticks of one asset, in ts order."""

    __slots__ = ("ts", "prices")

    def __init__(self) -> None:
        self.ts: deque[int] = deque()
        self.prices: deque[Decimal] = deque()

    def add(self, ts: int, price: Decimal) -> None:
        self.ts.append(ts)
        self.prices.append(price)
        if ts - self.ts[0] > 2 * KEEP_MS:
            while self.ts and ts - self.ts[0] > KEEP_MS:
                self.ts.popleft()
                self.prices.popleft()

    def between(self, lo: int, hi: int) -> list[tuple[int, Decimal]]:
        """Ticks with lo ≤ ts < hi."""
        ts = self.ts
        start = bisect_left(ts, lo)
        out = []
        for i in range(start, len(ts)):
            if ts[i] >= hi:
                break
            out.append((ts[i], self.prices[i]))
        return out

    def last_before(self, t: int) -> Decimal | None:
        i = bisect_left(self.ts, t)
        return self.prices[i - 1] if i > 0 else None


@dataclass(frozen=True, slots=True)
class OurResolution:
    resolution: Resolution
    price: Decimal | None
    detail: dict[str, Any] = field(default_factory=dict)


def spot_at_close(window: Window, tape: OracleTape) -> tuple[Decimal | None, dict[str, Any]]:
    ticks = tape.between(window.close_ts, window.close_ts + 1000)
    if not ticks:
        return None, {"reason": "no oracle tick in the close second"}
    return ticks[0][1], {"tick_ts": ticks[0][0]}


def twap_60s(window: Window, tape: OracleTape) -> tuple[Decimal | None, dict[str, Any]]:
    start = window.close_ts - (TWAP_BUCKETS - 1) * 1000
    ticks = tape.between(start, window.close_ts + 1000)
    last: list[Decimal | None] = [None] * TWAP_BUCKETS
    for ts, price in ticks:
        last[(ts - start) // 1000] = price
    covered = sum(p is not None for p in last)
    detail: dict[str, Any] = {"covered_buckets": covered, "buckets": TWAP_BUCKETS}
    if covered < TWAP_MIN_COVERED:
        detail["reason"] = f"only {covered} of {TWAP_BUCKETS} seconds have oracle ticks"
        return None, detail
    in_force = tape.last_before(start)
    values = []
    for price in last:
        in_force = price if price is not None else in_force
        if in_force is not None:
            values.append(in_force)
    return sum(values, Decimal(0)) / len(values), detail


def resolve_ours(window: Window, tape: OracleTape | None) -> OurResolution:
    """Our resolution of `window` by its rule from the oracle ticks seen so far."""
    if window.strike is None:
        return OurResolution(Resolution.UNCERTAIN, None, {"reason": "no strike"})
    if tape is None:
        return OurResolution(Resolution.UNCERTAIN, None, {"reason": "no oracle data"})
    rule = spot_at_close if window.settlement_rule is SettlementRule.SPOT_AT_CLOSE else twap_60s
    price, detail = rule(window, tape)
    if price is None:
        return OurResolution(Resolution.UNCERTAIN, None, detail)
    up = price >= window.strike
    return OurResolution(Resolution.UP if up else Resolution.DOWN, price, detail)


def agreement(ours: Resolution, venue: Outcome) -> Agreement:
    if ours is Resolution.UNCERTAIN:
        return Agreement.UNCERTAIN
    return Agreement.AGREE if str(ours) == str(venue) else Agreement.DISAGREE


def settlement_record(
    window: Window, ours: OurResolution, winner: Outcome, ts: int, mode: Mode, run_id: str
) -> SettlementRecord:
    """The `settlements` row of `window`: our resolution (and the price it came from), the venue's
    winner at `ts`, whether they agree, and the sentence rendered from these fields."""
    record = SettlementRecord(
        window_slug=window.slug,
        mode=mode,
        run_id=run_id,
        ours=str(ours.resolution),
        venue=str(winner),
        agreement=str(agreement(ours.resolution, winner)),
        rule=str(window.settlement_rule),
        strike=window.strike,
        settlement_price=ours.price,
        ts=ts,
        confirmed_ts=ts,
        detail={k: str(v) for k, v in ours.detail.items()},
    )
    return replace(record, audit=settlement_sentence(settlement_inputs(record)))


SENTENCE_FIELDS = (
    "window_slug", "rule", "strike", "settlement_price", "ours", "venue", "agreement", "detail",
    "ts",
)  # fmt: skip


def settlement_inputs(record: SettlementRecord) -> dict[str, Any]:
    """What a settlement's sentence is rendered from: the row's own fields."""
    return {name: getattr(record, name) for name in SENTENCE_FIELDS}
