"""The live set of windows: schedule, strikes, fair value, market-maker ladders and the
liquidity takers have consumed from them in the current second."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sandbox import pricepath
from sandbox.config import SandboxConfig, window_label
from sandbox.matching import Offer
from sandbox.quotes import Ladder, Level, fair_up, maker_book, tick_for
from sandbox.windows import Window, WindowStatus, make_window, scheduled_opens

ONE = Decimal(1)


@dataclass(slots=True)
class WindowState:
    """Changing state of one window."""

    window: Window
    status: WindowStatus = WindowStatus.UPCOMING
    strike: Decimal | None = None
    final: Decimal | None = None
    winner: str | None = None
    true_winner: str | None = None
    fair: float = 0.5
    tick: Decimal = Decimal("0.01")
    resolve_at: float | None = None
    volume: Decimal = Decimal(0)


def mirror(ladder: Ladder) -> Ladder:
    """The Down ladder implied by the Up ladder (complementary prices, same sizes)."""
    return Ladder(
        bids=tuple(Level(ONE - lvl.price, lvl.size) for lvl in ladder.asks),
        asks=tuple(Level(ONE - lvl.price, lvl.size) for lvl in ladder.bids),
    )


@dataclass(slots=True)
class Markets:
    config: SandboxConfig
    states: dict[str, WindowState] = field(default_factory=dict)
    by_token: dict[str, tuple[str, str]] = field(default_factory=dict)
    by_cid: dict[str, str] = field(default_factory=dict)  # condition id (lower) -> slug
    rotation: dict[str, int] = field(default_factory=dict)
    ladders: dict[str, Ladder] = field(default_factory=dict)
    consumed: dict[str, dict[Decimal, Decimal]] = field(default_factory=dict)
    last_trade: dict[str, tuple[Decimal, str]] = field(default_factory=dict)
    # seconds added to a wall-clock second to read the price path (config.path_start); 0 = none
    shift: int = 0

    def pin(self, now: float) -> None:
        """Fix the price-path offset from `config.path_start` (no-op when unset): the window of
        the longest length in progress at `now` reads the path from the window containing
        `path_start`, so the run sees the same prices whatever the time of day."""
        if self.config.path_start is None:
            return
        step = max(self.config.window_seconds)
        self.shift = self.config.path_start // step * step - int(now) // step * step

    def path_second(self, second: int) -> int:
        """The price-path second that wall-clock `second` reads."""
        return second + self.shift

    def refresh(self, now: float) -> list[WindowState]:
        """Create the windows due to be listed; return the new ones."""
        created = []
        for asset in self.config.assets:
            for length in self.config.window_seconds:
                for open_ts in scheduled_opens(length, now, self.config.list_ahead, 1):
                    window = make_window(
                        self.config.seed, asset, length, open_ts, self.rotation.get(asset, 0)
                    )
                    if window.slug not in self.states:
                        created.append(self._add(window))
        return created

    def _add(self, window: Window) -> WindowState:
        state = WindowState(window=window)
        state.strike = self.strike_of(window)
        self.states[window.slug] = state
        self.by_token[window.token_up] = (window.slug, "Up")
        self.by_token[window.token_down] = (window.slug, "Down")
        self.by_cid[window.condition_id.lower()] = window.slug
        return state

    def strike_of(self, window: Window) -> Decimal:
        """The previous window's final price (published once this one opens)."""
        return pricepath.settlement_price(
            self.config.seed,
            window.asset,
            self.path_second(window.open_ts),
            window.length,
            self.config.settlement_rule,
        )

    def rotate(self, asset: str, now: float) -> list[tuple[WindowState, Window]]:
        """Give the asset's unresolved windows new token/condition ids; return (state, old)."""
        self.rotation[asset] = self.rotation.get(asset, 0) + 1
        changed = []
        for state in list(self.states.values()):
            old = state.window
            if old.asset != asset or state.status is WindowStatus.RESOLVED:
                continue
            new = make_window(
                self.config.seed, asset, old.length, old.open_ts, self.rotation[asset]
            )
            for token in old.tokens:
                self.by_token.pop(token, None)
                self.ladders.pop(token, None)
            state.window = new
            self.by_cid.pop(old.condition_id.lower(), None)
            self.by_cid[new.condition_id.lower()] = new.slug
            self.by_token[new.token_up] = (new.slug, "Up")
            self.by_token[new.token_down] = (new.slug, "Down")
            changed.append((state, old))
        return changed

    def lookup(self, token: str) -> tuple[WindowState, str] | None:
        hit = self.by_token.get(token)
        if hit is None:
            return None
        return self.states[hit[0]], hit[1]

    def by_condition(self, condition_id: str) -> WindowState | None:
        slug = self.by_cid.get(condition_id.lower())
        return None if slug is None else self.states[slug]

    def requote(self, state: WindowState, second: int, forced_tick: Decimal | None = None) -> None:
        """Recompute fair value, tick and both ladders for `second`; reset consumption. The tick
        follows the fair (0.001 near 0 and 1) unless the tick_size fault forces one."""
        window = state.window
        if state.status is WindowStatus.OPEN and state.strike is not None:
            spot = pricepath.spot(self.config.seed, window.asset, self.path_second(second))
            state.fair = fair_up(
                spot,
                float(state.strike),
                window.close_ts - second,
                pricepath.sigma_per_second(window.asset),
            )
        state.tick = forced_tick if forced_tick is not None else tick_for(state.fair)
        # keyed like the slug, on the path's clock (the slug itself when the path is not pinned)
        opened = self.path_second(window.open_ts)
        key = f"{window.asset.lower()}-updown-{window_label(window.length)}-{opened}"
        up = maker_book(self.config.seed, key, self.path_second(second), state.fair, state.tick)
        self.ladders[window.token_up] = up
        self.ladders[window.token_down] = mirror(up)
        self.consumed[window.token_up] = {}
        self.consumed[window.token_down] = {}

    def bot_offers(self, token: str, side: str) -> list[Offer]:
        """Maker liquidity a taker on `side` can hit, best first, net of consumption."""
        ladder = self.ladders.get(token)
        if ladder is None:
            return []
        levels = ladder.asks if side == "BUY" else ladder.bids
        used = self.consumed.get(token, {})
        offers = []
        for lvl in levels:
            left = lvl.size - used.get(lvl.price, Decimal(0))
            if left > 0:
                offers.append(Offer(price=lvl.price, size=left))
        return offers

    def consume(self, token: str, price: Decimal, size: Decimal) -> None:
        used = self.consumed.setdefault(token, {})
        used[price] = used.get(price, Decimal(0)) + size
