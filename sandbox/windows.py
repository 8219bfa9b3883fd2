"""The window schedule: which Up/Down markets exist at a moment, with deterministic ids.
Windows start on epoch multiples of their length; the slug is `{asset}-updown-{label}-{epoch}`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sandbox.config import window_label


class WindowStatus(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Window:
    """One binary market: identity and schedule (its changing state lives in the exchange)."""

    slug: str
    asset: str
    length: int
    open_ts: int
    close_ts: int
    market_id: str
    condition_id: str
    question_id: str
    token_up: str
    token_down: str

    @property
    def tokens(self) -> tuple[str, str]:
        return (self.token_up, self.token_down)

    def status_at(self, now: float) -> WindowStatus:
        if now < self.open_ts:
            return WindowStatus.UPCOMING
        if now < self.close_ts:
            return WindowStatus.OPEN
        return WindowStatus.CLOSED


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()


def _token_id(seed: int, slug: str, rotation: int, outcome: str) -> str:
    # 255-bit decimal ids like the real ones (and outside the SDK's "v2 position id" space).
    value = int.from_bytes(_digest(seed, slug, rotation, outcome), "big") >> 1
    return str(value | (1 << 200))


def make_window(seed: int, asset: str, length: int, open_ts: int, rotation: int = 0) -> Window:
    """Build the window starting at `open_ts` (must be a multiple of `length`)."""
    slug = f"{asset.lower()}-updown-{window_label(length)}-{open_ts}"
    market_num = int.from_bytes(_digest(seed, slug, "id"), "big") % 9_000_000 + 1_000_000
    return Window(
        slug=slug,
        asset=asset,
        length=length,
        open_ts=open_ts,
        close_ts=open_ts + length,
        market_id=str(market_num),
        condition_id="0x" + _digest(seed, slug, rotation, "condition").hex(),
        question_id="0x" + _digest(seed, slug, "question").hex(),
        token_up=_token_id(seed, slug, rotation, "Up"),
        token_down=_token_id(seed, slug, rotation, "Down"),
    )


def scheduled_opens(length: int, now: float, ahead: int, behind: int) -> list[int]:
    """Start times of the windows from `behind` before the current one to `ahead` after it."""
    current = int(now) // length * length
    return [current + k * length for k in range(-behind, ahead + 1)]


def parse_slug(slug: str) -> tuple[str, str, int] | None:
    """`btc-updown-5m-1773307200` -> ("BTC", "5m", 1773307200), or None if not a window slug."""
    parts = slug.split("-")
    if len(parts) != 4 or parts[1] != "updown" or not parts[3].isdigit():
        return None
    return parts[0].upper(), parts[2], int(parts[3])
