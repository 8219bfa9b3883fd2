"""The demo's expected timeline, worked out from the sandbox's window schedule before anything
starts, and the announcement that opens `updown demo` with it.

Windows of length L open at every multiple of L seconds since the epoch (the sandbox's schedule).
The canary enters each window once, at T−60 s, or at half the window when that is shorter
(`strategies.canary`); entries stop `ENTRY_CUTOFF_MS` before the close (`live.kernel.risk`), so a
window of 10 s or less is never traded. A DRY_RUN window counts towards the gate once the venue
has resolved it (`settle_delay_s` after the close) and the runner has seen that (it polls every
≤ 2 s); the gate needs `EVIDENCE_WINDOWS` of them. After the promotion the LIVE canary enters the
next window whose entry time is still ahead. Pure functions; no IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from live.kernel.risk import ENTRY_CUTOFF_MS
from strategies.canary import CANARY

EVIDENCE_WINDOWS = 10  # research.gate.WINDOWS_REQUIRED (a test keeps the two in step)
STARTUP_S = 8.0  # start to the runner trading: sandbox, runner, first discovery (measured 6-8 s)
RESOLUTION_LAG_S = 2.0  # the runner polls the venue's resolution every <= 2 s, then flushes rows
GATE_LAG_S = 2.0  # the demo checks the gate every second; the runner caches promotions for 1 s
ENTRY_LAG_S = 1.0  # entry time to the order's row: a tick (250 ms), the SDK's round trip


def entry_offset_s(length_s: int) -> float:
    """Seconds before the close at which the canary enters a window of `length_s` seconds."""
    return min(CANARY.timing.before_close_ms, length_s * 1000 // 2) / 1000


def tradable(length_s: int) -> bool:
    """Whether the canary's entry falls before the entry cutoff in a window this long."""
    return entry_offset_s(length_s) * 1000 > ENTRY_CUTOFF_MS


@dataclass(frozen=True, slots=True)
class Entry:
    """One window the canary enters: when (epoch seconds) it enters and when the window closes."""

    entry_s: float
    close_s: float
    length_s: int


def entries(lengths: Sequence[int], after_s: float, until_s: float) -> list[Entry]:
    """Every window of `lengths` whose canary entry falls in [after_s, until_s), by entry time."""
    found = []
    for length in lengths:
        if not tradable(length):
            continue
        close = (int(after_s) // length + 1) * length
        while close - entry_offset_s(length) < until_s:
            entry = close - entry_offset_s(length)
            if entry >= after_s:
                found.append(Entry(entry, close, length))
            close += length
    return sorted(found, key=lambda e: (e.entry_s, e.length_s))


# Seconds from a LIVE window's resolution to its confirmed redemption on the sandbox's venue
# profile: the runner waits for the window's fills to be CONFIRMED (2-15 s after the match),
# then the redemption transaction confirms 4-12 s after it is sent (docs/sandbox.md).
REDEEM_S = 10


@dataclass(frozen=True, slots=True)
class Expected:
    """Expected seconds from the demo's start to each step of the path. `promotion_s` is 0 when
    the canary is already promoted; `live_entry` is the window of the first LIVE order (a
    shorter window entered later may settle first)."""

    promotion_s: float
    live_order_s: float
    live_settled_s: float
    live_entry: Entry


def expected(
    start_s: float,
    lengths: Sequence[int],
    assets: int,
    settle_delay_s: float,
    *,
    ready_s: float = STARTUP_S,
    evidence: int = 0,
    promoted: bool = False,
) -> Expected:
    """The timeline of a demo started at `start_s` (epoch seconds) trading `assets` assets on
    windows of `lengths` seconds, the runner trading `ready_s` after the start, with `evidence`
    settled DRY_RUN windows already on record. Raises ValueError when no length is tradable."""
    if not any(tradable(length) for length in lengths):
        raise ValueError(f"no window length in {list(lengths)} leaves time for an entry")
    ready = start_s + ready_s
    horizon = ready + (EVIDENCE_WINDOWS + 2) * max(lengths)  # enough windows on one asset
    settle_lag = settle_delay_s + RESOLUTION_LAG_S
    promotion = ready
    if not promoted:
        settled = sorted(e.close_s + settle_lag for e in entries(lengths, ready, horizon))
        needed = max(0, EVIDENCE_WINDOWS - evidence)
        per_window = [t for t in settled for _ in range(assets)]
        promotion = (per_window[needed - 1] if needed else ready) + GATE_LAG_S
    live = entries(lengths, promotion, promotion + 2 * max(lengths))
    return Expected(
        promotion_s=0.0 if promoted else promotion - start_s,
        live_order_s=live[0].entry_s + ENTRY_LAG_S - start_s,
        live_settled_s=min(e.close_s for e in live) + settle_lag - start_s,
        live_entry=live[0],
    )


def _about(seconds: float) -> str:
    """A rough figure for the announcement: `~45 s`, `~2 min` past 100 s, `~3 h` past 100 min."""
    if seconds >= 6000:
        return f"~{seconds / 3600:.0f} h"
    if seconds >= 100:
        return f"~{seconds / 60:.0f} min"
    return f"~{max(5, round(seconds / 5) * 5):.0f} s"


def _lengths_text(lengths: Sequence[int]) -> str:
    words = [f"{n} s" for n in sorted(lengths)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def announcement(
    lengths: Sequence[int],
    assets: Sequence[str],
    when: Expected,
    dashboard: bool,
    embedded: bool = False,
) -> list[str]:
    """The demo's first lines: what is about to start and roughly when each step happens
    (`embedded`: the database is the embedded server)."""
    parts = "the live runner" + (" and the dashboard" if dashboard else "")
    database = "the embedded PostgreSQL" if embedded else "PostgreSQL"
    return [
        "updown demo: a strategy's whole path, from evidence to LIVE orders, on a local sandbox.",
        f"  now        start {database}, the sandbox exchange ({','.join(assets)}; windows of "
        f"{_lengths_text(lengths)}), {parts}",
        f"  {_about(STARTUP_S):<10} the canary enters every window (T-60 s, or half a shorter "
        "window): its LIVE entries are",
        "             denied NOT_PROMOTED, its DRY_RUN and PAPER copies trade - the evidence",
        f"  {_about(when.promotion_s):<10} {EVIDENCE_WINDOWS} DRY_RUN windows settled cleanly: "
        "the gate promotes the canary to paper (the sandbox's rung)",
        f"  {_about(when.live_order_s):<10} first LIVE order reaches the sandbox, through "
        "Polymarket's own SDK",
        f"  {_about(when.live_settled_s):<10} first LIVE position settled by the venue's "
        "resolution, P&L booked",
        f"  {_about(when.live_settled_s + REDEEM_S):<10} first redemption confirmed: the runner "
        "redeems each resolved LIVE window through",
        "             the SDK (resolution pays nothing on Polymarket); the cash arrives with the "
        "confirmed redemption ('redeemed' in the status line)",
        "  any time   the canary's pre-registered kill criterion ($10 drawdown over all its LIVE "
        "sessions) may stop LIVE trading: said if it does",
        "Each step is printed as it happens; a status line follows the path. Ctrl-C stops "
        "everything.",
    ]
