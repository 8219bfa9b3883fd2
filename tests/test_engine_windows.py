"""A window's lifecycle in the engine: UPCOMING → OPEN → CLOSED → RESOLVED, moved by the engine's
own timers and the venue's resolution, never backwards."""

from __future__ import annotations

from engine_kit import CLOSE, OPEN, listed, make_engine, resolved, run, timer, window

from live.kernel.domain import WindowStatus
from live.kernel.state import TRANSITIONS

ORDER = list(WindowStatus)


def test_window_moves_upcoming_open_closed_resolved_as_time_passes() -> None:
    engine = make_engine()
    w = window()
    seen = []
    for event in (
        listed(w),
        timer(OPEN - 1),
        timer(OPEN),
        timer(CLOSE),
        resolved(CLOSE + 5, w, "UP"),
    ):
        run(engine, [event])
        seen.append(engine.market.windows[w.slug].status)
    assert seen == ["UPCOMING", "UPCOMING", "OPEN", "CLOSED", "RESOLVED"]
    assert seen[-1] is WindowStatus.RESOLVED and not engine.breaker.tripped


def test_resolution_that_overtakes_our_close_timer_leaves_the_window_resolved() -> None:
    """The `resolved` handler runs before the timers due at its instant: the close timer that
    fires right after it changes nothing, and nothing trips."""
    engine = make_engine()
    w = window()
    run(engine, [listed(w), timer(OPEN + 1), resolved(CLOSE + 2_000, w, "DOWN")])
    assert engine.market.windows[w.slug].status is WindowStatus.RESOLVED
    assert not engine.breaker.tripped


def test_window_listed_after_its_close_is_opened_and_closed_at_once() -> None:
    engine = make_engine()
    w = window()
    run(engine, [listed(w, CLOSE + 10)])
    assert engine.market.windows[w.slug].status is WindowStatus.CLOSED
    assert not engine.breaker.tripped


def test_window_table_never_moves_a_window_backwards() -> None:
    for (state, _step), after in TRANSITIONS.items():
        assert ORDER.index(after) >= ORDER.index(state)
