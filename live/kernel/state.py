"""Market state the kernel keeps: windows (and their lifecycle), books per token, oracle tapes per
asset.

A window's status moves UPCOMING → OPEN → CLOSED → RESOLVED by the table below, and only through
`WindowState.advance`. The engine's timers open and close it; the venue's `resolved` resolves it.
That resolution is applied by its event's handler, before the timers due at the same instant
fire, so it can overtake our close (or, for a window listed late, even our open) timer: a step
that arrives after a later state was reached leaves the status where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from live.kernel.book import Book
from live.kernel.domain import Asset, Outcome, Window, WindowStatus
from live.kernel.fsm import transition
from live.kernel.settlement import OracleTape, OurResolution

W = WindowStatus
OPEN, CLOSE, RESOLVE = "open", "close", "resolve"

TRANSITIONS: dict[tuple[WindowStatus, str], WindowStatus] = {
    (W.UPCOMING, OPEN): W.OPEN,
    (W.OPEN, CLOSE): W.CLOSED,
    (W.CLOSED, RESOLVE): W.RESOLVED,
    # The venue's resolution overtook our timers (see above): late steps change nothing.
    (W.UPCOMING, RESOLVE): W.RESOLVED,
    (W.OPEN, RESOLVE): W.RESOLVED,
    (W.RESOLVED, OPEN): W.RESOLVED,
    (W.RESOLVED, CLOSE): W.RESOLVED,
}


@dataclass(slots=True)
class WindowState:
    """A window and what the engine learnt about it (status, our and the venue's resolution)."""

    window: Window
    status: WindowStatus = WindowStatus.UPCOMING
    ours: OurResolution | None = None
    winner: Outcome | None = None

    def advance(self, step: str) -> WindowStatus:
        """Move the status by `step` (OPEN, CLOSE or RESOLVE) through TRANSITIONS; a step the
        table does not allow raises InvalidTransition (the engine trips its breaker)."""
        self.status = transition(TRANSITIONS, "window", self.window.slug, self.status, step)
        return self.status


class MarketState:
    """Everything known about the market at `now`: only data with ts ≤ now ever gets here."""

    __slots__ = ("windows", "token_window", "books", "tapes", "last_oracle")

    def __init__(self) -> None:
        self.windows: dict[str, WindowState] = {}
        self.token_window: dict[str, str] = {}
        self.books: dict[str, Book] = {}
        self.tapes: dict[Asset, OracleTape] = {}
        self.last_oracle: dict[Asset, Decimal] = {}

    def book(self, token_id: str) -> Book:
        book = self.books.get(token_id)
        if book is None:
            book = self.books[token_id] = Book(token_id)
        return book

    def oracle(self, asset: Asset) -> OracleTape:
        tape = self.tapes.get(asset)
        if tape is None:
            tape = self.tapes[asset] = OracleTape()
        return tape

    def list_window(self, window: Window) -> bool:
        """Add or update a window; True when it is new. Token ids that a re-listing dropped are
        no longer valid for it (FM8)."""
        known = self.windows.get(window.slug)
        if known is not None:
            for token in (known.window.token_up, known.window.token_down):
                if self.token_window.get(token) == window.slug:
                    del self.token_window[token]
            known.window = window
        else:
            self.windows[window.slug] = WindowState(window)
        self.token_window[window.token_up] = window.slug
        self.token_window[window.token_down] = window.slug
        return known is None
